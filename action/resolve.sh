#!/usr/bin/env bash
# The virtbench action's first step (action.yml): checks the inputs before anything is installed or
# run, and writes what the other steps use to $GITHUB_OUTPUT: report-dir (absolute), artifact-name,
# as-root, platforms (space-separated), setup-platforms (comma-separated, empty for all), base-ref.
# Inputs: the action's, in the environment (MODE, PLATFORMS, PROFILE, ...; see action.yml).
set -euo pipefail

fail() {
  # One line, the value quoted: a newline in an input cannot start a workflow command.
  echo "::error title=virtbench action::$*"
  exit 2
}
q() { printf '%q' "$1"; }
output() { printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:-/dev/null}"; }

mode=${MODE:-pull-request}
case $mode in
pull-request | history | machine | merge | comment) ;;
*) fail "mode must be pull-request, history, machine, merge or comment, got $(q "$mode")" ;;
esac

platforms_text=${PLATFORMS:-native docker}
read -r -a platforms <<<"${platforms_text//,/ }"
((${#platforms[@]})) || fail "platforms names no platform (default: native docker; all: every platform of the config)"
for platform in "${platforms[@]}"; do
  [[ "$platform" =~ ^[A-Za-z0-9][A-Za-z0-9._#@-]*$ ]] || fail "bad platform name $(q "$platform") in platforms"
done
setup_platforms=
if [[ "${platforms[*]}" != all ]]; then setup_platforms=$(
  IFS=,
  echo "${platforms[*]}"
); fi
[[ "${PROFILE:-quick}" =~ ^[a-z][a-z0-9-]*$ ]] || fail "bad profile $(q "${PROFILE:-}")"
[[ "${UNDECIDED:-pass}" == pass || "${UNDECIDED:-pass}" == fail ]] || fail "undecided must be pass or fail, got $(q "${UNDECIDED:-}")"
for name in ROUNDS MAX_ROUNDS MAX_MINUTES; do
  value=${!name:-}
  [[ -z "$value" || "$value" =~ ^[1-9][0-9]{0,4}$ ]] || fail "${name,,} must be a whole number, got $(q "$value")"
done
thresholds="${THRESHOLD:-} ${FAIL_THRESHOLD:-}"
read -r -a thresholds <<<"${thresholds//,/ }"
for value in "${thresholds[@]}"; do
  [[ "$value" =~ ^([A-Za-z0-9][A-Za-z0-9._#@-]*=)?[0-9.]+%?$ ]] || fail "bad threshold $(q "$value"): e.g. 5% or disk-random=10%"
done
[[ -z "${HISTORY_BRANCH:-}" || ("$HISTORY_BRANCH" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ && "$HISTORY_BRANCH" != *..*) ]] ||
  fail "bad history-branch $(q "$HISTORY_BRANCH")"
[[ "${HISTORY_WINDOW:-10}" =~ ^[1-9][0-9]{0,3}$ ]] || fail "history-window must be a number of runs, got $(q "${HISTORY_WINDOW:-}")"

case $mode in
pull-request)
  [[ -z "${PR_NUMBER:-}" || "$PR_NUMBER" =~ ^[1-9][0-9]{0,9}$ ]] || fail "pr-number must be a pull request number, got $(q "$PR_NUMBER")"
  base=${BASE_REF:-}
  [[ -n "$base" || -z "${GITHUB_BASE_REF:-}" ]] || base="origin/$GITHUB_BASE_REF"
  [[ -n "$base" ]] || fail "mode pull-request needs a base: run on pull_request, or give base-ref (e.g. origin/main)"
  [[ "$base" != -* && "$base" != *[[:cntrl:][:space:]]* ]] || fail "bad base-ref $(q "$base")"
  git rev-parse --quiet --verify "$base^{commit}" >/dev/null ||
    fail "the base $(q "$base") is not in this checkout: check out with fetch-depth: 0 (actions/checkout), so that virtbench ab finds it"
  output base-ref "$base"
  default_dir=virtbench-ab default_artifact=virtbench-ab
  ;;
history)
  default_dir=virtbench-history-run default_artifact=virtbench-history-run
  ;;
machine)
  [[ "${MACHINE:-}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || fail "mode machine needs machine, the machine class (letters, digits, . _ -), got $(q "${MACHINE:-}")"
  default_dir=virtbench-report default_artifact="virtbench-machine-$MACHINE"
  ;;
merge)
  default_dir=virtbench-merged default_artifact=virtbench-merged
  ;;
comment)
  default_dir="${RUNNER_TEMP:-/tmp}/virtbench-pr-report" default_artifact=virtbench-ab
  ;;
esac

dir=${REPORT_DIR:-$default_dir}
[[ "$dir" != -* && "$dir" != *[[:cntrl:]]* ]] || fail "bad report-dir $(q "$dir")"
mkdir -p "$dir"
artifact=${ARTIFACT_NAME:-$default_artifact}
[[ "$artifact" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || fail "bad artifact-name $(q "$artifact")"

as_root=false
case ${AS_ROOT:-auto} in
true) as_root=true ;;
false) ;;
# Benchmarks need root (daemons, guests, packages); password-less sudo where the runner user is not root.
auto) if [[ "$mode" != merge && "$mode" != comment && "$(id -u)" -ne 0 ]] && sudo -n true 2>/dev/null; then as_root=true; fi ;;
*) fail "as-root must be auto, true or false, got $(q "$AS_ROOT")" ;;
esac

output report-dir "$(cd "$dir" && pwd)"
output artifact-name "$artifact"
output as-root "$as_root"
output platforms "${platforms[*]}"
output setup-platforms "$setup_platforms"
echo "virtbench action: mode $mode, platforms ${platforms[*]}, report in $dir, artifact $artifact, as root: $as_root"
