#!/usr/bin/env bash
# One `vitest bench` run of the project's benchmarks into a report directory: the measuring half of the
# virtbench action's modes history and machine (action.yml), and of action/record-history.sh. Runs in
# the project's directory with its own vitest and virtbench (npx --no vitest).
# Inputs (environment):
#   OUT                  required: the report directory (results.json, the table, CSV)
#   VIRTBENCH_PROJECTS   platforms, separated by spaces or commas; default "native docker"; "all": every
#                        platform of the project's config
#   VIRTBENCH_PROFILE    default quick
#   VIRTBENCH_MACHINE    the machine class results.json names (mode machine); passed on as it is
# Exit 0 measured, 1 the run had a failure, 2 bad input.
set -euo pipefail

fail() {
  echo "measure: $*" >&2
  exit 2
}
out=${OUT:-}
profile=${VIRTBENCH_PROFILE:-quick}
projects_text=${VIRTBENCH_PROJECTS:-native docker}
read -r -a projects <<<"${projects_text//,/ }"
[[ -n "$out" && "$out" != -* ]] || fail "OUT is required: the report directory, got $(printf '%q' "$out")"
[[ "$profile" =~ ^[a-z][a-z0-9-]*$ ]] || fail "bad VIRTBENCH_PROFILE $(printf '%q' "$profile")"
((${#projects[@]})) || fail "VIRTBENCH_PROJECTS names no platform"
args=(bench --run)
if [[ "${projects[*]}" != all ]]; then
  for project in "${projects[@]}"; do
    [[ "$project" =~ ^[A-Za-z0-9][A-Za-z0-9._#@-]*$ ]] || fail "bad platform name $(printf '%q' "$project")"
    args+=(--project "$project")
  done
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "measure: VIRTBENCH_PROFILE=$profile VIRTBENCH_REPORT_DIR=$(printf '%q' "$out") npx --no vitest ${args[*]}"
VIRTBENCH_PROFILE="$profile" VIRTBENCH_REPORT_DIR="$out" npx --no vitest "${args[@]}" ||
  { echo "measure: vitest bench failed" >&2; exit 1; }
