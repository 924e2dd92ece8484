#!/usr/bin/env bash
# A "remote host" on this machine, for the remote platforms' tests and for trying them without a second
# machine: a network namespace of its own joined to the host by a veth pair (host 198.51.100.1, remote
# 198.51.100.2, a /30 of TEST-NET-2, so nothing real is ever addressed), with OpenSSH's sshd listening only
# on the remote's end. It shares this machine's file system and CPU, so its figures should match native's.
#   scripts/simulated-remote.sh up [DIR]   start it; DIR (default /run/virtbench-remote; its parents must be root's
#                                          and not world-writable, as sshd's StrictModes wants) gets its keys,
#                                          known_hosts and remotes.json ({"lab1": {...}}, for VIRTBENCH_REMOTES)
#   scripts/simulated-remote.sh down [DIR] stop sshd and everything in the namespace, remove the namespace and DIR
#   scripts/simulated-remote.sh vanish     kill everything in the namespace and remove it (a remote that goes
#                                          away mid-run), keeping DIR for `down`
# SIMULATED_REMOTE=N (0-15, default 0) makes the N-th of them, beside the others: namespace virtbench-remoteN
# (plain virtbench-remote for 0), addresses 198.51.100.(4N+1) and (4N+2), DIR default /run/virtbench-remoteN.
# Needs root, iproute2 and openssh-server (apt-get install openssh-server; on a machine with an init
# system that package also starts the system's sshd: this script never uses it).
set -euo pipefail

n=${SIMULATED_REMOTE:-0}
[[ "$n" =~ ^([0-9]|1[0-5])$ ]] || {
  echo "simulated-remote: SIMULATED_REMOTE must be 0-15, got $n" >&2
  exit 2
}
suffix=$([[ $n == 0 ]] || echo "$n")
NS=virtbench-remote$suffix
HOST_IF=vbremote${n}h
REMOTE_IF=vbremote${n}r
HOST_ADDR=198.51.100.$((4 * n + 1))
REMOTE_ADDR=198.51.100.$((4 * n + 2))
PORT=22
dir=${2:-/run/virtbench-remote$suffix}

fail() {
  echo "simulated-remote: $*" >&2
  exit 1
}

kill_namespace() {
  if [[ -e /run/netns/$NS ]]; then
    # sshd, its sessions and whatever they started (a daemonized nginx) run in the namespace.
    ip netns pids "$NS" | xargs -r kill -KILL 2>/dev/null || true
    ip netns delete "$NS"
  fi
  # Deleting the namespace deletes the veth pair; a pair left by a failed start may still be in the host's.
  ip link delete "$HOST_IF" 2>/dev/null || true
}

case "${1:-}" in
up)
  [[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces, a veth pair, sshd)"
  command -v ip >/dev/null || fail "needs iproute2: apt-get install iproute2"
  [[ -x /usr/sbin/sshd ]] || fail "needs OpenSSH's server: apt-get install openssh-server"
  [[ ! -e /run/netns/$NS ]] || fail "already up (namespace $NS exists); fix: SIMULATED_REMOTE=$n scripts/simulated-remote.sh down"
  install -d -m 0700 "$dir"
  trap 'kill_namespace; rm -rf "$dir"' ERR
  # sshd's privilege separation directory; made by the package's service, which does not run here.
  install -d -m 0755 /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C virtbench-simulated-remote -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C virtbench -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  echo "$REMOTE_ADDR $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
  cat >"$dir/sshd_config" <<EOF
ListenAddress $REMOTE_ADDR:$PORT
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
AcceptEnv LANG
# virtbench's work directories and the keys above are root's, under root-owned directories.
StrictModes yes
MaxSessions 64
MaxStartups 64
EOF
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$REMOTE_IF"
  ip link set "$REMOTE_IF" netns "$NS"
  ip addr add "$HOST_ADDR/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NS" addr add "$REMOTE_ADDR/30" dev "$REMOTE_IF"
  ip -n "$NS" link set "$REMOTE_IF" up
  ip -n "$NS" link set lo up
  # Another machine's root has no startup files of ours: in a mount namespace of its own, sshd's sessions
  # see an empty home (a .bashrc here that runs pyenv took seconds per command, and hung on a stale lock).
  install -d -m 0700 "$dir/home"
  ip netns exec "$NS" unshare --mount --propagation private \
    sh -c 'mount --bind "$1" "$HOME" && exec /usr/sbin/sshd -f "$2" -E "$3"' sh "$dir/home" "$dir/sshd_config" "$dir/sshd.log"
  for _ in $(seq 100); do
    if exec 3<>"/dev/tcp/$REMOTE_ADDR/$PORT" 2>/dev/null; then
      exec 3>&-
      break
    fi
    sleep 0.05
  done
  cat >"$dir/remotes.json" <<EOF
{
  "lab1": {
    "host": "$REMOTE_ADDR",
    "port": $PORT,
    "username": "root",
    "privateKeyPath": "$dir/client_ed25519",
    "knownHostsPath": "$dir/known_hosts"
  }
}
EOF
  echo "simulated-remote: up: root@$REMOTE_ADDR:$PORT in namespace $NS; remotes: $dir/remotes.json"
  ;;
down)
  kill_namespace
  rm -rf "$dir"
  ;;
vanish)
  kill_namespace
  ;;
*)
  echo "usage: scripts/simulated-remote.sh up|down|vanish [DIR]" >&2
  exit 2
  ;;
esac
