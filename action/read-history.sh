#!/usr/bin/env bash
# The pull-request mode's history (action.yml): history.jsonl of the history branch (written by mode
# history on every push to the main branch) into $1, if there is one yet. From the checkout's own
# remote-tracking branch (actions/checkout with fetch-depth: 0 fetches every branch), else fetched,
# with GITHUB_TOKEN (read-only in a pull request) when it is set. Exit 0 always: no history is no error.
set -euo pipefail
branch=${HISTORY_BRANCH:-virtbench-history}
into=$1
if [[ -n "${GITHUB_TOKEN:-}" ]]; then
  header="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 | tr -d '\n')"
  [[ -z "${GITHUB_ACTIONS:-}" ]] || echo "::add-mask::${header#AUTHORIZATION: basic }"
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader" GIT_CONFIG_VALUE_0="$header"
fi
if ! git rev-parse --quiet --verify "refs/remotes/origin/$branch" >/dev/null; then
  git fetch --quiet --no-tags --depth=1 origin "+refs/heads/$branch:refs/remotes/origin/$branch" 2>/dev/null || true
fi
if git show "refs/remotes/origin/$branch:history.jsonl" >"$into" 2>/dev/null && [[ -s "$into" ]]; then
  echo "virtbench action: the history of $branch, $(wc -l <"$into") runs"
else
  rm -f "$into"
  echo "virtbench action: no history on $branch yet: judged by the A/B only"
fi
