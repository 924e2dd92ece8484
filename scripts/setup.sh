#!/usr/bin/env bash
# Sets up a fresh Debian machine for virtbench: the npm packages first (they bring their own Node 22 and
# build dist/; nothing of them needs a Debian package), then `virtbench setup --install`, which installs
# the Debian packages each platform declares (src/platforms/<family>/) and prints what every
# platform still lacks here. Needs root and Node 20 or later with npm. Idempotent: a second run takes seconds.
#   scripts/setup.sh        what `npm run bench` needs, for every platform
#   scripts/setup.sh test   and what the tests need too
# Images (container image, guest image) are built by the first run that needs them and cached in
# $VIRTBENCH_CACHE_DIR (default ~/.cache/virtbench).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x node_modules/.bin/vitest || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "virtbench setup: npm ci"
  npm ci --no-audit --no-fund
elif [[ ! -f dist/cli/main.js || -n $(find src -newer dist/cli/main.js -print -quit) ]]; then
  # A pull since the last npm ci: the CLI in dist/ may lack what src/ has.
  echo "virtbench setup: npm run build"
  npm run build
fi

args=(setup --install)
[[ "${1:-}" == test ]] && args+=(--test)
# 1: installed, and some platform cannot run here all the same (no KVM on this machine): the table says why.
status=0
node_modules/.bin/node bin/virtbench.js "${args[@]}" || status=$?
((status <= 1)) || exit "$status"
