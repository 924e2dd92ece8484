#!/usr/bin/env bash
# The merge of .github/workflows/machines.yml (the action's mode merge), by hand with this repository's
# own virtbench: runs the action's script, action/merge-machines.sh, which says what it writes.
#   scripts/merge-machines.sh SHARDS OUT
# Needs the package built (npm ci builds it). Exit 0 merged, 1 nothing to merge or a file refused.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# The project's own Node 22 (the devDependency "node"), as npm scripts run it; the system's may be older.
export PATH="$repo/node_modules/.bin:$PATH"
VIRTBENCH_BIN="$repo/bin/virtbench.js" exec "$repo/action/merge-machines.sh" "$@"
