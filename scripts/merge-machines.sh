#!/usr/bin/env bash
# The merge step of .github/workflows/machines.yml, and the same by hand: every results.json under SHARDS
# (one per machine, as the workflow's jobs upload them) into OUT/merged.json, with the machines side by
# side in one table (printed, and in OUT/table.txt), a Markdown summary (OUT/report.md, also the job
# summary under GitHub Actions) and an HTML report (OUT/report.html). A platform measured on several
# machines becomes one column per machine, "native@metal-kvm" (VIRTBENCH_MACHINE of its run, or else its
# host name).
#   scripts/merge-machines.sh SHARDS OUT
# Needs the package built (npm ci builds it). Exit 0 merged, 1 nothing to merge or a file refused.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# The project's own Node 22 (the devDependency "node"), as npm scripts run it; the system's may be older.
export PATH="$repo/node_modules/.bin:$PATH"
virtbench() { node "$repo/bin/virtbench.js" "$@"; }
(($# == 2)) || {
  echo "usage: scripts/merge-machines.sh SHARDS OUT" >&2
  exit 2
}
shards=$1
out=$2
[[ -d "$shards" ]] || {
  echo "merge-machines: no directory $shards: did any machine's job upload its results.json?" >&2
  exit 1
}
mapfile -t files < <(find "$shards" -name results.json -type f | sort)
case ${#files[@]} in
0)
  echo "merge-machines: no results.json under $shards: every machine's job failed before it measured" >&2
  exit 1
  ;;
1)
  echo "merge-machines: only ${files[0]}: one machine, nothing to merge; its report follows"
  mkdir -p "$out"
  cp "${files[0]}" "$out/merged.json"
  ;;
*)
  mkdir -p "$out"
  virtbench merge "${files[@]}" -o "$out/merged.json" | tee "$out/table.txt"
  ;;
esac
virtbench report "$out/merged.json" --md "$out/report.md" --html "$out/report.html"
