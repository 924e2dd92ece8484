#!/usr/bin/env bash
# The main branch's half of the history (.github/workflows/main-history.yml runs it on every push to
# main, and anyone can run it locally): measure this commit with `vitest bench`, then append its
# results to the history store with `virtbench history append`. Pull requests are then also judged
# against the last runs of the store (scripts/pr-check.sh, VIRTBENCH_HISTORY).
#   VIRTBENCH_HISTORY=history/history.jsonl scripts/record-history.sh
# Inputs (environment):
#   VIRTBENCH_HISTORY    required: the store to append to (created when missing)
#   VIRTBENCH_PROJECTS   platforms, space-separated; default "native docker" (the PR check's)
#   VIRTBENCH_PROFILE    default quick (the PR check's: a window only pools runs of one profile)
#   COMMIT               the commit measured; default: git rev-parse HEAD
#   REF                  the branch; default main
#   KEEP                 runs the store keeps; default 500
# Exit 0 recorded, 1 the run had a failure (nothing recorded), 2 bad input.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "record-history: $*" >&2
  exit 2
}
store=${VIRTBENCH_HISTORY:-}
profile=${VIRTBENCH_PROFILE:-quick}
commit=${COMMIT:-$(git rev-parse HEAD)}
ref=${REF:-main}
keep=${KEEP:-500}
read -r -a projects <<<"${VIRTBENCH_PROJECTS:-native docker}"
[[ -n "$store" ]] || fail "VIRTBENCH_HISTORY is required: the history store to append to"
[[ "$commit" =~ ^[0-9a-f]{7,64}$ ]] || fail "COMMIT must be a commit hash, got $(printf '%q' "$commit")"
[[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]] || fail "bad REF $(printf '%q' "$ref")"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || fail "KEEP must be a number of runs"
[[ "$profile" =~ ^[a-z][a-z0-9-]*$ ]] || fail "bad VIRTBENCH_PROFILE $(printf '%q' "$profile")"
args=(bench --run)
for project in "${projects[@]}"; do
  [[ "$project" =~ ^[A-Za-z0-9][A-Za-z0-9._#@-]*$ ]] || fail "bad platform name $(printf '%q' "$project")"
  args+=(--project "$project")
done

report=$(mktemp -d /tmp/virtbench-history-run-XXXXXX)
trap 'rm -rf "$report"' EXIT
npm run build --silent
# A run with a failed benchmark is not a figure of the main branch: nothing is recorded.
VIRTBENCH_PROFILE="$profile" VIRTBENCH_REPORT_DIR="$report" npx --no vitest "${args[@]}" ||
  { echo "record-history: vitest bench failed: nothing recorded" >&2; exit 1; }
npx --no virtbench history append "$report/results.json" --store "$store" --commit "$commit" --ref "$ref" --keep "$keep"
