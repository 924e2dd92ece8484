#!/usr/bin/env bash
# The merge of the virtbench action (action.yml, mode merge), and the body of scripts/merge-machines.sh:
# every results.json under SHARDS (one per machine, as the action's mode machine uploads them) into
# OUT/merged.json, with the machines side by side in one table (printed, and in OUT/table.txt), a
# Markdown summary (OUT/report.md, also the job summary under GitHub Actions) and an HTML report
# (OUT/report.html). A platform measured on several machines becomes one column per machine,
# "native@metal-kvm" (VIRTBENCH_MACHINE of its run, or else its host name).
#   action/merge-machines.sh SHARDS OUT
# The virtbench command: the project's (npx --no virtbench), or `node $VIRTBENCH_BIN` when that is set.
# Exit 0 merged, 1 nothing to merge or a file refused, 2 bad usage.
set -euo pipefail
virtbench() {
  if [[ -n "${VIRTBENCH_BIN:-}" ]]; then node "$VIRTBENCH_BIN" "$@"; else npx --no virtbench "$@"; fi
}
(($# == 2)) || {
  echo "usage: merge-machines.sh SHARDS OUT" >&2
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
