#!/usr/bin/env bash
# Runs a command of the virtbench action as root when VIRTBENCH_AS_ROOT is true and the runner user is
# not root (sudo, keeping the environment and PATH: the project's npx and node); otherwise as it is.
# The platforms need root: the setup installs packages, docker and the guests start daemons.
set -euo pipefail
if [[ "${VIRTBENCH_AS_ROOT:-false}" == true && "$(id -u)" -ne 0 ]]; then
  exec sudo -E env "PATH=$PATH" "$@"
fi
exec "$@"
