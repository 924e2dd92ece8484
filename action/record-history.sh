#!/usr/bin/env bash
# The main branch's half of the history, and the body of scripts/record-history.sh: measure this commit
# with `vitest bench` (action/measure.sh), then append its results to the history store with
# `virtbench history append`. Pull requests are then also judged against the last runs of the store
# (action/pr-check.sh, VIRTBENCH_HISTORY). The action (mode history) measures with action/measure.sh
# and appends in action/push-history.sh, on a fresh copy of the history branch.
#   VIRTBENCH_HISTORY=history/history.jsonl action/record-history.sh
# Inputs (environment):
#   VIRTBENCH_HISTORY    required: the store to append to (created when missing)
#   VIRTBENCH_PROJECTS   platforms, separated by spaces or commas; default "native docker" (the PR check's)
#   VIRTBENCH_PROFILE    default quick (the PR check's: a window only pools runs of one profile)
#   COMMIT               the commit measured; default: git rev-parse HEAD
#   REF                  the branch; default main
#   KEEP                 runs the store keeps; default 500
#   OUT                  where the run's report goes; default a temporary directory, removed after
# Exit 0 recorded, 1 the run had a failure (nothing recorded), 2 bad input.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

fail() {
  echo "record-history: $*" >&2
  exit 2
}
store=${VIRTBENCH_HISTORY:-}
commit=${COMMIT:-$(git rev-parse HEAD)}
ref=${REF:-main}
keep=${KEEP:-500}
[[ -n "$store" ]] || fail "VIRTBENCH_HISTORY is required: the history store to append to"
[[ "$commit" =~ ^[0-9a-f]{7,64}$ ]] || fail "COMMIT must be a commit hash, got $(printf '%q' "$commit")"
[[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]] || fail "bad REF $(printf '%q' "$ref")"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || fail "KEEP must be a number of runs"

report=${OUT:-}
if [[ -z "$report" ]]; then
  report=$(mktemp -d /tmp/virtbench-history-run-XXXXXX)
  trap 'rm -rf "$report"' EXIT
fi
# A run with a failed benchmark is not a figure of the main branch: nothing is recorded.
code=0
OUT="$report" "$here/measure.sh" || code=$?
((code != 2)) || exit 2
((code == 0)) || { echo "record-history: nothing recorded" >&2; exit 1; }
npx --no virtbench history append "$report/results.json" --store "$store" --commit "$commit" --ref "$ref" --keep "$keep"
