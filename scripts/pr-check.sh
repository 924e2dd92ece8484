#!/usr/bin/env bash
# The pull-request check of this repository, as anyone runs it locally and as .ci/run runs it (an A/A):
# builds this tree's virtbench command (dist/ from src/), then runs the GitHub Action's own script,
# action/pr-check.sh, which .github/workflows/pr-bench.yml runs through the action (uses: ./, mode
# pull-request). Its inputs (environment) are listed there: BASE_REF (required), HEAD_REF,
# VIRTBENCH_PROJECTS, VIRTBENCH_PROFILE, OUT, VIRTBENCH_AB_ROUNDS, VIRTBENCH_AB_MAX_ROUNDS,
# VIRTBENCH_AB_MAX_MINUTES, VIRTBENCH_AB_RUNS, VIRTBENCH_AB_THRESHOLD, VIRTBENCH_AB_FAIL_THRESHOLD,
# PR_NUMBER, VIRTBENCH_HISTORY, VIRTBENCH_HISTORY_WINDOW, VIRTBENCH_HISTORY_GATE, PR_CHECK_DRY_RUN=1.
#   BASE_REF=origin/main scripts/pr-check.sh
# Exits with ab's code: 0 no regression, 1 a regression fails the gate, 2 bad usage or a run that could
# not measure.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${PR_CHECK_DRY_RUN:-}" != 1 ]]; then
  # Bad inputs are refused before the build, as the check itself refuses them before it runs.
  PR_CHECK_DRY_RUN=1 action/pr-check.sh >/dev/null
  # The command of this tree: npx --no virtbench runs the repository's own bin, which dist/ must match.
  npm run build --silent || {
    echo "pr-check: npm run build failed: the virtbench command of this tree cannot be built" >&2
    exit 2
  }
fi
exec action/pr-check.sh
