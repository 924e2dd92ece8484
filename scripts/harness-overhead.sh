#!/usr/bin/env bash
# How much the harness adds on native: runs cpu, mem and fork through
# `vitest bench` (standard profile), then the very same cached binaries by
# hand with the same arguments, alternating, and prints virtbench median /
# by-hand median per benchmark (1.00 = no overhead; the goal is within 2 %).
#   scripts/harness-overhead.sh [runs-by-hand]      default 5
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT

VIRTBENCH_PROFILE=standard VIRTBENCH_REPORT_DIR="$report" npx vitest bench --project native cpu mem fork >/dev/null

bin="${VIRTBENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virtbench}/bin"
newest() { ls -t "$bin"/"$1"-* | grep -v -- '-uni-init-' | head -n 1; }
declare -A argv=(
  [cpu]="$(newest linpack) 500 1000 2"
  [mem]="$(newest memsweep) 33161216 10"
  [fork]="$(newest forksum) 100 1000"
  [fork-threads]="$(newest forksum) --threads 100 1000"
)
work=$(mktemp -d /var/tmp/virtbench-overhead-XXXXXX)
trap 'rm -rf "$report" "$work"' EXIT
for name in cpu mem fork fork-threads; do
  : >"$work/$name"
done
for ((i = 0; i < runs; i++)); do
  for name in cpu mem fork fork-threads; do
    # shellcheck disable=SC2086 # the arguments are ours, split on purpose
    (cd "$work" && ${argv[$name]}) | sed -n 's/^RESULT value=\([^ ]*\).*/\1/p' >>"$work/$name"
  done
done

node - "$report/results.json" "$work" <<'EOF'
const fs = require('node:fs');
const [file, work] = process.argv.slice(2);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const r of JSON.parse(fs.readFileSync(file, 'utf8')).results) {
  const byHand = fs.readFileSync(`${work}/${r.benchmark}`, 'utf8').trim().split('\n').map(Number);
  const harness = median(r.samples.map((s) => s.value));
  const hand = median(byHand);
  console.log(`${r.benchmark.padEnd(13)} virtbench ${harness.toPrecision(4).padStart(10)}  by hand ${hand.toPrecision(4).padStart(10)} ${r.unit.padEnd(7)} ratio ${(harness / hand).toFixed(3)} (${r.samples.length} vs ${byHand.length} runs)`);
}
EOF
