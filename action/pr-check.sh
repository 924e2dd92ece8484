#!/usr/bin/env bash
# The pull-request check of the virtbench action (action.yml, mode pull-request), and the body of
# scripts/pr-check.sh: `virtbench ab` measures the base ref and the head (default: the working tree) in
# turns on this machine, then the job summary, the annotations and the PR number for the comment job
# (mode comment, .github/workflows/pr-comment.yml) are added to what it wrote. Runs in the project's
# directory with the virtbench installed there (npx --no virtbench); builds nothing. Exits with ab's
# code: 0 no regression, 1 a regression fails the gate, 2 bad usage or a run that could not measure.
#   BASE_REF=origin/main action/pr-check.sh
# Inputs (environment):
#   BASE_REF                     required: the ref to compare against (e.g. origin/main)
#   HEAD_REF                     the ref under test; default: the working tree, uncommitted changes included
#   VIRTBENCH_PROJECTS           platforms, separated by spaces or commas; default "native docker"; "all":
#                                every platform of the project's config
#   VIRTBENCH_PROFILE            default quick
#   OUT                          ab's output directory; default virtbench-ab
#   VIRTBENCH_AB_ROUNDS          exactly this many runs per side (ab's --rounds); default: ab adds rounds until
#                                every row is decided, from 2 to VIRTBENCH_AB_MAX_ROUNDS
#   VIRTBENCH_AB_MAX_ROUNDS      ab's --max-rounds; default ab's own (6)
#   VIRTBENCH_AB_MAX_MINUTES     ab's --max-minutes; default ab's own (30)
#   VIRTBENCH_AB_RUNS            runs per benchmark in each run (ab's --runs); default ab's own (6)
#   VIRTBENCH_AB_THRESHOLD       ab's --threshold values, separated by spaces or commas ("5% disk-random=10%")
#   VIRTBENCH_AB_FAIL_THRESHOLD  ab's --fail-threshold values, the same way
#   GITHUB_STEP_SUMMARY          set by GitHub Actions: summary.md is appended to it
#   GITHUB_ACTIONS=true          set by GitHub Actions: regressions are printed as annotations
#   PR_NUMBER                    the pull request's number, written to $OUT/pr-number for the comment job
#   VIRTBENCH_HISTORY            a history store of the base branch (virtbench history append; see
#                                action/record-history.sh): the head is also judged against its last runs
#   VIRTBENCH_HISTORY_WINDOW     how many of those runs; default 10
#   VIRTBENCH_HISTORY_GATE=1     that judgement fails the check too (default: reported only, since a
#                                store may hold runs of other machines)
#   PR_CHECK_DRY_RUN=1           check the inputs, print the ab command, run nothing
set -euo pipefail

fail() {
  echo "pr-check: $*" >&2
  exit 2
}
# A value in a message, shell-quoted: a newline in it cannot start a line of its own (a workflow command).
q() { printf '%q' "$1"; }

# --- inputs: checked before anything runs -------------------------------------------------------------
base_ref=${BASE_REF:-}
head_ref=${HEAD_REF:-}
profile=${VIRTBENCH_PROFILE:-quick}
out=${OUT:-virtbench-ab}
pr_number=${PR_NUMBER:-}
# Commas separate as spaces do (no platform name or threshold has one).
projects_text=${VIRTBENCH_PROJECTS:-native docker}
thresholds_text=${VIRTBENCH_AB_THRESHOLD:-}
fail_thresholds_text=${VIRTBENCH_AB_FAIL_THRESHOLD:-}
read -r -a projects <<<"${projects_text//,/ }"
read -r -a thresholds <<<"${thresholds_text//,/ }"
read -r -a fail_thresholds <<<"${fail_thresholds_text//,/ }"
# "all": no --project, so every platform of the project's config.
if [[ "${projects[*]}" == all ]]; then projects=(); all_projects=1; else all_projects=; fi

[[ -n "$base_ref" ]] || fail "BASE_REF is required: the ref to compare against, e.g. BASE_REF=origin/main $0"
# A ref is never an option (git refuses names that start with "-"), and an option is never a ref.
for ref in "$base_ref" "$head_ref"; do
  [[ "$ref" != -* && "$ref" != *[[:cntrl:][:space:]]* ]] || fail "bad ref $(q "$ref"): a ref has no spaces or control characters and cannot start with \"-\""
done
((${#projects[@]})) || [[ -n "$all_projects" ]] || fail "VIRTBENCH_PROJECTS names no platform"
for project in "${projects[@]}"; do
  [[ "$project" =~ ^[A-Za-z0-9][A-Za-z0-9._#@-]*$ ]] || fail "bad platform name $(q "$project") in VIRTBENCH_PROJECTS"
done
[[ "$profile" =~ ^[a-z][a-z0-9-]*$ ]] || fail "bad VIRTBENCH_PROFILE $(q "$profile")"
[[ -n "$out" && "$out" != -* ]] || fail "bad OUT $(q "$out")"
[[ -z "$pr_number" || "$pr_number" =~ ^[1-9][0-9]{0,9}$ ]] || fail "PR_NUMBER must be a pull request number, got $(q "$pr_number")"
[[ -z "${VIRTBENCH_AB_ROUNDS:-}" || "$VIRTBENCH_AB_ROUNDS" =~ ^[0-9]+$ ]] || fail "VIRTBENCH_AB_ROUNDS must be a number"
[[ -z "${VIRTBENCH_AB_RUNS:-}" || "$VIRTBENCH_AB_RUNS" =~ ^[0-9]+$ ]] || fail "VIRTBENCH_AB_RUNS must be a number"
[[ -z "${VIRTBENCH_AB_MAX_ROUNDS:-}" || "$VIRTBENCH_AB_MAX_ROUNDS" =~ ^[0-9]+$ ]] || fail "VIRTBENCH_AB_MAX_ROUNDS must be a number"
[[ -z "${VIRTBENCH_AB_MAX_MINUTES:-}" || "$VIRTBENCH_AB_MAX_MINUTES" =~ ^[0-9]+$ ]] || fail "VIRTBENCH_AB_MAX_MINUTES must be a number of minutes"
history=${VIRTBENCH_HISTORY:-}
history_window=${VIRTBENCH_HISTORY_WINDOW:-10}
[[ "$history_window" =~ ^[1-9][0-9]{0,3}$ ]] || fail "VIRTBENCH_HISTORY_WINDOW must be a number of runs, got $(q "$history_window")"

args=(ab "$base_ref")
[[ -z "$head_ref" ]] || args+=("$head_ref")
for project in "${projects[@]}"; do args+=(--project "$project"); done
args+=(--profile "$profile" --out "$out")
[[ -z "${VIRTBENCH_AB_ROUNDS:-}" ]] || args+=(--rounds "$VIRTBENCH_AB_ROUNDS")
[[ -z "${VIRTBENCH_AB_RUNS:-}" ]] || args+=(--runs "$VIRTBENCH_AB_RUNS")
[[ -z "${VIRTBENCH_AB_MAX_ROUNDS:-}" ]] || args+=(--max-rounds "$VIRTBENCH_AB_MAX_ROUNDS")
[[ -z "${VIRTBENCH_AB_MAX_MINUTES:-}" ]] || args+=(--max-minutes "$VIRTBENCH_AB_MAX_MINUTES")
for t in "${thresholds[@]}"; do args+=("--threshold=$t"); done
for t in "${fail_thresholds[@]}"; do args+=("--fail-threshold=$t"); done

# The command as a shell would read it back (each argument quoted where it needs to be).
show_command() {
  printf 'pr-check: %s npx --no virtbench' "$1"
  printf ' %q' "${args[@]}"
  printf '\n'
}
if [[ "${PR_CHECK_DRY_RUN:-}" == 1 ]]; then
  show_command "would run:"
  exit 0
fi

# --- the A/B run ----------------------------------------------------------------------------------------
# npx --no: the project's own virtbench (node_modules/.bin), never a package of that name from the registry.
show_command "running:"
code=0
npx --no virtbench "${args[@]}" || code=$?
echo "pr-check: virtbench ab exited $code"

# --- what the workflow adds to it -------------------------------------------------------------------------
# A step below that fails is reported; it turns "no regression" into 2 and leaves ab's other codes as they are.
post_failed() {
  echo "pr-check: $*" >&2
  if ((code == 0)); then code=2; fi
}

# Against the base branch's history too: the same head, judged against the pooled last runs of the store.
if [[ -n "$history" && -f "$out/head.json" ]]; then
  if [[ -s "$history" ]]; then
    history_code=0
    npx --no virtbench history baseline --store "$history" --window "$history_window" --profile "$profile" -o "$out/history-baseline.json" &&
      npx --no virtbench compare "$out/history-baseline.json" "$out/head.json" --md "$out/history.md" --allow-missing ||
      history_code=$?
    echo "pr-check: against the last $history_window runs of $history: exit $history_code"
    if ((history_code == 1 && code == 0)) && [[ "${VIRTBENCH_HISTORY_GATE:-}" == 1 ]]; then code=1; fi
    if ((history_code > 1 && code == 0)); then post_failed "the comparison with the history $history failed"; fi
  else
    echo "pr-check: no runs in $history yet: judged by the A/B only"
  fi
fi

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  if [[ -f "$out/summary.md" ]]; then
    cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY" || post_failed "cannot append $out/summary.md to the job summary"
  else
    printf '## virtbench\n\nvirtbench ab exited %s without a summary; see the log.\n' "$code" >>"$GITHUB_STEP_SUMMARY" || true
  fi
  if [[ -f "$out/history.md" ]]; then
    { printf '\n### Against the last %s runs of the base branch\n\n' "$history_window"; cat "$out/history.md"; } >>"$GITHUB_STEP_SUMMARY" || true
  fi
fi

if [[ "${GITHUB_ACTIONS:-}" == true ]]; then
  if [[ -f "$out/comparison.json" ]]; then
    npx --no virtbench annotate "$out/comparison.json" || post_failed "virtbench annotate could not read $out/comparison.json"
  else
    echo "::error title=virtbench::virtbench ab exited $code without a comparison; see the log"
  fi
fi

if [[ -n "$pr_number" ]]; then
  mkdir -p "$out"
  printf '%s\n' "$pr_number" >"$out/pr-number" || post_failed "cannot write $out/pr-number"
fi

exit "$code"
