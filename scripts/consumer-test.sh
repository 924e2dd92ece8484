#!/usr/bin/env bash
# The package as a user adopts it: `npm pack` this repository, install the tarball into a fresh project
# outside it (with vitest and Node 22 from npm), with the worked example examples/syscall-latency as its
# own workload (described with commandWorkload), and run `vitest bench` on native (and docker where this
# machine can run it), then
# `virtbench report --md`. Prints the tarball's size and file count, the install time and the time from
# `vitest bench` to the first result on native.
#   scripts/consumer-test.sh
#   VIRTBENCH_CONSUMER_DOCKER=0 scripts/consumer-test.sh   skips docker
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d -t virtbench-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
pack="$work/pack"
project="$work/project"
mkdir -p "$pack" "$project/bench"
case "$project" in "$repo"/*)
  echo "consumer test: $project is inside the repository" >&2
  exit 1
  ;;
esac

now_ms() { date +%s%3N; }
say() { echo "consumer test: $*"; }

# --- the tarball ------------------------------------------------------------------------------------
# The build first (what "prepare" does), so that npm pack's JSON is all its output says.
(cd "$repo" && npm run build --silent && npm pack --ignore-scripts --pack-destination "$pack" --json --silent) >"$work/pack.json"
tarball=$(ls "$pack"/virtbench-*.tgz)
read -r size files < <(node -e '
  const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(p.size, p.entryCount);' "$work/pack.json")
say "tarball $(basename "$tarball"): $size bytes, $files files"
tar -tzf "$tarball" >"$work/files.txt"
for required in package/dist/index.js package/dist/index.d.ts package/dist/bench.js package/bin/virtbench.js \
  package/fixtures/workloads/linpack.c package/fixtures/unikernel/uni-init.c; do
  grep -qx "$required" "$work/files.txt" || {
    echo "consumer test: $required is not in the tarball" >&2
    exit 1
  }
done
if grep -E '^package/(src|test|scripts|examples)/' "$work/files.txt"; then
  echo "consumer test: the tarball holds development files (above)" >&2
  exit 1
fi

# --- the project --------------------------------------------------------------------------------------
cat >"$project/package.json" <<'EOF'
{
  "name": "virtbench-consumer",
  "version": "1.0.0",
  "private": true,
  "type": "module"
}
EOF
cat >"$project/vitest.config.ts" <<'EOF'
import { defineConfig } from 'vitest/config';
import { virtbench } from 'virtbench';

export default defineConfig({
  plugins: [virtbench({ platforms: ['native', 'docker'], profile: 'quick' })],
});
EOF
# The project's own workload: the repository's worked example (examples/syscall-latency), with its
# imports as a user writes them.
example="$repo/examples/syscall-latency"
cp "$example/syscall.c" "$project/syscall.c"
sed -e "s#'../../../src/index.js'#'virtbench'#" -e "s#'../../../src/bench.js'#'virtbench/bench'#" \
  "$example/bench/syscall.bench.ts" >"$project/bench/syscall.bench.ts"
if grep -q "src/" "$project/bench/syscall.bench.ts"; then
  echo "consumer test: the example's bench file still imports the repository's sources" >&2
  exit 1
fi

cd "$project"
start=$(now_ms)
npm install --no-audit --no-fund --loglevel=error "$tarball" vitest@^5.1 node@22 >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}
say "install (tarball + vitest + node@22): $(($(now_ms) - start)) ms"
say "node in the project: $(npx node --version)"

results=virtbench-report/results.json

# The platform's line of results.json: ran (samples), or why it did not.
platform_outcome() {
  node -e '
    const file = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const r = file.results.find((x) => x.platform === process.argv[2] && x.benchmark === "syscall");
    if (!r) { console.log("missing"); process.exit(1); }
    if (r.status === "passed" && r.samples.length > 0) console.log(`passed ${r.samples.length} samples, median ${r.summary?.median ?? "?"} ${r.unit}`);
    else { console.log(`${r.status}: ${r.skipReason ?? r.error ?? "no samples"}`); process.exit(r.status === "skipped" ? 3 : 1); }
  ' "$results" "$1"
}

# --- native ---------------------------------------------------------------------------------------------
start=$(now_ms)
first=""
last=""
while IFS= read -r line; do
  printf '%s\n' "$line"
  last=$line
  # Vitest's line for a finished benchmark ("✓ syscall 123ms") is the first result.
  if [[ -z "$first" && "$line" =~ ✓.*syscall ]]; then first=$(($(now_ms) - start)); fi
done < <(npx vitest bench --run --project native 2>&1; echo "exit=$?")
native_total=$(($(now_ms) - start))
[[ "$last" == exit=0 ]] || {
  echo "consumer test: vitest bench --project native failed ($last)" >&2
  exit 1
}
[[ -f "$results" ]] || {
  echo "consumer test: no $results" >&2
  exit 1
}
ls virtbench-report/*.csv >/dev/null 2>&1 || {
  echo "consumer test: no CSV in virtbench-report/" >&2
  exit 1
}
outcome=$(platform_outcome native) || {
  echo "consumer test: native: $outcome" >&2
  exit 1
}
say "native: $outcome"
say "native: vitest bench to the first result: ${first:-?} ms (whole run ${native_total} ms)"

npx virtbench report --md >"$work/report.log"
grep -q syscall virtbench-report/report.md || {
  echo "consumer test: virtbench report --md wrote no syscall row" >&2
  exit 1
}
say "virtbench report --md: virtbench-report/report.md ($(wc -c <virtbench-report/report.md) bytes)"

# --- docker -----------------------------------------------------------------------------------------------
if [[ "${VIRTBENCH_CONSUMER_DOCKER:-1}" == 0 ]]; then
  say "docker: skipped (VIRTBENCH_CONSUMER_DOCKER=0)"
elif ! command -v docker >/dev/null && ! command -v dockerd >/dev/null; then
  say "docker: skipped (no docker or dockerd on this machine)"
else
  start=$(now_ms)
  # A docker engine virtbench cannot reach or start makes the benchmark skip with the reason (exit 0).
  npx vitest bench --run --project docker || {
    echo "consumer test: vitest bench --project docker failed" >&2
    exit 1
  }
  if outcome=$(platform_outcome docker); then
    say "docker: $outcome ($(($(now_ms) - start)) ms)"
  else
    status=$?
    ((status == 3)) || {
      echo "consumer test: docker: $outcome" >&2
      exit 1
    }
    say "docker: skipped by virtbench: $outcome"
  fi
fi
say "passed"
