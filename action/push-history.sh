#!/usr/bin/env bash
# The history mode's last step (action.yml): appends a measured run (OUT/results.json, from
# action/measure.sh) to history.jsonl on the history branch and pushes it, without force. A fresh copy
# of the branch each attempt: when another push got there first, the run is appended to that one and
# pushed again (three attempts). The branch is made, empty of everything else, the first time.
# Runs in the project's git checkout, with the project's virtbench (npx --no virtbench).
# Inputs (environment):
#   OUT                  required: the report directory of the run (results.json)
#   COMMIT               required: the commit measured
#   HISTORY_BRANCH       default virtbench-history
#   REF                  the branch measured; default main
#   KEEP                 runs the store keeps; default 500
#   GITHUB_TOKEN         a token that may push (contents: write); without it, git's own credentials
#   GITHUB_SERVER_URL    set by GitHub Actions: where the token is sent (default https://github.com)
# Exit 0 pushed (or already recorded), 1 could not push, 2 bad input.
set -euo pipefail

fail() {
  echo "push-history: $*" >&2
  exit 2
}
out=${OUT:-}
commit=${COMMIT:-}
branch=${HISTORY_BRANCH:-virtbench-history}
ref=${REF:-main}
keep=${KEEP:-500}
remote=origin
[[ -n "$out" && -f "$out/results.json" ]] || fail "no results.json in OUT $(printf '%q' "$out"): nothing to record"
[[ "$commit" =~ ^[0-9a-f]{7,64}$ ]] || fail "COMMIT must be a commit hash, got $(printf '%q' "$commit")"
[[ "$branch" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ && "$branch" != *..* ]] || fail "bad HISTORY_BRANCH $(printf '%q' "$branch")"
[[ "$ref" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]] || fail "bad REF $(printf '%q' "$ref")"
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || fail "KEEP must be a number of runs"
results=$(cd "$out" && pwd)/results.json

# The token reaches git through its environment (never a command line, never .git/config), as
# actions/checkout's persisted header would; the header's value is masked in the log.
if [[ -n "${GITHUB_TOKEN:-}" ]]; then
  header="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 | tr -d '\n')"
  [[ -z "${GITHUB_ACTIONS:-}" ]] || echo "::add-mask::${header#AUTHORIZATION: basic }"
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader" GIT_CONFIG_VALUE_0="$header"
fi

work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/virtbench-history-XXXXXX")
copy="$work/branch"
cleanup() {
  git worktree remove --force "$copy" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for attempt in 1 2 3; do
  cleanup
  mkdir -p "$work"
  code=0
  git ls-remote --exit-code --heads "$remote" "refs/heads/$branch" >/dev/null || code=$?
  if ((code == 0)); then
    git fetch --quiet --no-tags "$remote" "+refs/heads/$branch:refs/remotes/$remote/$branch"
    git worktree add --quiet --detach "$copy" "refs/remotes/$remote/$branch"
  elif ((code == 2)); then
    echo "push-history: no branch $branch yet: a new one"
    git worktree add --quiet --detach "$copy"
    git -C "$copy" switch --quiet --orphan "$branch"
  else
    echo "push-history: cannot reach $remote (git ls-remote exited $code)" >&2
    exit 1
  fi
  npx --no virtbench history append "$results" --store "$copy/history.jsonl" --commit "$commit" --ref "$ref" --keep "$keep"
  git -C "$copy" add history.jsonl
  if git -C "$copy" diff --cached --quiet; then
    echo "push-history: $commit is recorded on $branch already"
    exit 0
  fi
  git -C "$copy" -c user.name='github-actions[bot]' -c user.email='41898282+github-actions[bot]@users.noreply.github.com' \
    commit --quiet -m "virtbench history: $commit"
  if git -C "$copy" push --quiet "$remote" "HEAD:refs/heads/$branch"; then
    echo "push-history: $commit appended to history.jsonl on $branch"
    exit 0
  fi
  echo "push-history: push $attempt of 3 refused (another run pushed first?); again on a fresh copy" >&2
  sleep $((attempt * 5))
done
echo "push-history: could not push $branch" >&2
exit 1
