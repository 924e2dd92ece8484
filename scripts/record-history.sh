#!/usr/bin/env bash
# The main branch's half of the history for this repository, as anyone runs it locally: builds this
# tree's virtbench (dist/ from src/), then runs the GitHub Action's own script, action/record-history.sh
# (inputs there: VIRTBENCH_HISTORY required, VIRTBENCH_PROJECTS, VIRTBENCH_PROFILE, COMMIT, REF, KEEP,
# OUT). .github/workflows/main-history.yml does the same through the action (uses: ./, mode history).
#   VIRTBENCH_HISTORY=history/history.jsonl scripts/record-history.sh
# Exit 0 recorded, 1 the run had a failure (nothing recorded), 2 bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n "${VIRTBENCH_HISTORY:-}" ]] || {
  echo "record-history: VIRTBENCH_HISTORY is required: the history store to append to" >&2
  exit 2
}
npm run build --silent
exec action/record-history.sh
