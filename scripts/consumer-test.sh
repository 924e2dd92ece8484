#!/usr/bin/env bash
# shellcheck disable=SC2016 # the node -e programs are single-quoted JavaScript
# The package as a user adopts it: `npm pack` this repository, then, outside it,
#  1. a fresh project with a three-line vitest.config.ts and no bench file of its own: the seven shipped
#     benchmarks run on native (and docker where this machine can run it), with results.json and CSVs;
#     `virtbench --version`, `virtbench setup` and `virtbench report --md` work;
#  2. the worked example examples/syscall-latency, copied as is, installing the tarball: its own workload
#     (described with commandWorkload) runs on native, and the shipped suite does not.
# Prints the tarball's size and file count, the install times and the time to the first result.
#   scripts/consumer-test.sh
#   VIRTBENCH_CONSUMER_DOCKER=0 scripts/consumer-test.sh   skips docker
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d -t virtbench-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
pack="$work/pack"
project="$work/project"
mkdir -p "$pack" "$project"
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
  package/dist/workloads/cpu/cpu.bench.js package/dist/workloads/nginx/nginx.bench.js \
  package/src/workloads/cpu/linpack.c package/src/workloads/clock.h package/src/platforms/unikernel/uni-init.c; do
  grep -qx "$required" "$work/files.txt" || {
    echo "consumer test: $required is not in the tarball" >&2
    exit 1
  }
done
# Of src/ only the C sources and headers ship: the workloads are built from them where they are.
if grep -E '^package/(src|test|scripts|examples)/' "$work/files.txt" | grep -vE '^package/src/.*\.[ch]$'; then
  echo "consumer test: the tarball holds development files (above)" >&2
  exit 1
fi

# --- 1. a fresh project: the shipped suite ----------------------------------------------------------
cat >"$project/package.json" <<'EOF'
{
  "name": "virtbench-consumer",
  "version": "1.0.0",
  "private": true,
  "type": "module"
}
EOF
# The README's quick start: three lines of config, and no bench file.
cat >"$project/vitest.config.ts" <<'EOF'
import { defineConfig } from 'vitest/config';
import { virtbench } from 'virtbench';
export default defineConfig({ plugins: [virtbench({ platforms: ['native', 'docker'] })] });
EOF

install_here() {
  local start
  start=$(now_ms)
  npm install --prefer-offline --no-audit --no-fund --loglevel=error "$@" >"$work/install.log" 2>&1 || {
    cat "$work/install.log" >&2
    exit 1
  }
  say "install in $(basename "$PWD") ($*): $(($(now_ms) - start)) ms"
}

cd "$project"
install_here -D "$tarball" vitest@^5.1 node@22
say "node in the project: $(npx node --version)"
version=$(npx virtbench --version)
[[ "$version" == "$(node -p 'require(process.argv[1]).version' "$repo/package.json")" ]] || {
  echo "consumer test: virtbench --version printed '$version'" >&2
  exit 1
}
say "virtbench --version: $version"
# What each platform needs on this host: 0 when all are ready, 1 when some are not; never more.
setup_code=0
npx virtbench setup >"$work/setup.log" 2>&1 || setup_code=$?
cat "$work/setup.log"
((setup_code <= 1)) || {
  echo "consumer test: virtbench setup failed (exit $setup_code)" >&2
  exit 1
}

results=virtbench-report/results.json
# A benchmark's line of results.json on a platform: ran (samples), or why it did not (exit 3: skipped).
outcome() {
  node -e '
    const [file, platform, benchmark] = process.argv.slice(1);
    const results = JSON.parse(require("fs").readFileSync(file, "utf8")).results;
    const r = results.find((x) => x.platform === platform && x.benchmark === benchmark);
    if (!r) { console.log("missing"); process.exit(1); }
    if (r.status === "passed" && r.samples.length > 0) console.log(`passed ${r.samples.length} samples, median ${r.summary?.median ?? "?"} ${r.unit}`);
    else { console.log(`${r.status}: ${r.skipReason ?? r.error ?? "no samples"}`); process.exit(r.status === "skipped" ? 3 : 1); }
  ' "$results" "$1" "$2"
}

# vitest bench, quick profile, on the projects given; prints the time to Vitest's first finished benchmark.
run_bench() {
  local start first="" last="" line
  start=$(now_ms)
  while IFS= read -r line; do
    printf '%s\n' "$line"
    last=$line
    if [[ -z "$first" && "$line" =~ ✓.*(cpu|syscall) ]]; then first=$(($(now_ms) - start)); fi
  done < <(VIRTBENCH_PROFILE=quick npx vitest bench --run "$@" 2>&1; echo "exit=$?")
  [[ "$last" == exit=0 ]] || {
    echo "consumer test: vitest bench $* failed ($last)" >&2
    exit 1
  }
  say "vitest bench $*: first result after ${first:-?} ms, whole run $(($(now_ms) - start)) ms"
}

with_docker=1
if [[ "${VIRTBENCH_CONSUMER_DOCKER:-1}" == 0 ]]; then
  with_docker=0
  say "docker: skipped (VIRTBENCH_CONSUMER_DOCKER=0)"
fi
# Where docker cannot run here, virtbench skips it with the reason and exits 0: checked below.
if ((with_docker)); then run_bench --project native --project docker; else run_bench --project native; fi
[[ -f "$results" ]] || {
  echo "consumer test: no $results" >&2
  exit 1
}
for benchmark in cpu mem disk-random disk-copyup fork fork-threads nginx; do
  got=$(outcome native "$benchmark") || {
    echo "consumer test: native $benchmark: $got" >&2
    exit 1
  }
  say "native $benchmark: $got"
  ((with_docker)) || continue
  status=0
  got=$(outcome docker "$benchmark") || status=$?
  ((status == 0 || status == 3)) || {
    echo "consumer test: docker $benchmark: $got" >&2
    exit 1
  }
  say "docker $benchmark: $got"
done
csvs=$(find virtbench-report -maxdepth 1 -name '*.csv' | wc -l)
((csvs > 0)) || {
  echo "consumer test: no CSV in virtbench-report/" >&2
  exit 1
}
say "CSV files: $csvs"

npx virtbench report --md >"$work/report.log"
grep -q cpu virtbench-report/report.md || {
  echo "consumer test: virtbench report --md wrote no cpu row" >&2
  exit 1
}
say "virtbench report --md: virtbench-report/report.md ($(wc -c <virtbench-report/report.md) bytes)"

# --- 2. the example, as is ------------------------------------------------------------------------------
example="$work/syscall-latency"
cp -r "$repo/examples/syscall-latency" "$example"
rm -rf "$example/node_modules" "$example/virtbench-report"
cd "$example"
if grep -rq "src/" bench vitest.config.ts; then
  echo "consumer test: the example imports the repository's sources" >&2
  exit 1
fi
install_here -D "$tarball"
run_bench --project native
got=$(outcome native syscall) || {
  echo "consumer test: the example's syscall on native: $got" >&2
  exit 1
}
say "example syscall-latency, native: $got"
others=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  console.log(r.filter((x) => x.benchmark !== "syscall").map((x) => x.benchmark).join(" "));' "$results")
[[ -z "$others" ]] || {
  echo "consumer test: the example ran the shipped suite beside its own bench file ($others)" >&2
  exit 1
}
say "passed"
