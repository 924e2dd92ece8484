#!/usr/bin/env bash
# Installs what virtbench needs on a fresh Debian machine: the compiler for
# the workloads, fio and nginx from Debian's packages, and the npm packages
# (which bring their own Node 22). Idempotent: already present means skipped.
#   scripts/setup.sh        what `npm run bench` needs
#   scripts/setup.sh test   and what the tests need too (Chromium for the HTML report check)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc libc6-dev fio nginx-light libaio1)
[[ "${1:-}" == test ]] && packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "virtbench setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "virtbench setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx's package would start a system nginx where an init system runs; we start our own per run.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x node_modules/.bin/vitest || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "virtbench setup: npm ci"
  npm ci --no-audit --no-fund
fi
