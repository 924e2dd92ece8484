#!/usr/bin/env bash
# Installs what virtbench needs on a fresh Debian machine, then the npm
# packages (which bring their own Node 22). Idempotent: what is present is
# skipped, so a second run takes seconds.
#   scripts/setup.sh        what `npm run bench` needs, for every platform
#   scripts/setup.sh test   and what the tests need too
# Images (container image, guest image) are built by the first run that needs
# them and cached in $VIRTBENCH_CACHE_DIR (default ~/.cache/virtbench).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # native: the workloads are static C programs built on the host; fio and nginx are Debian's
  gcc libc6-dev fio nginx-light
  # qemu-tcg, qemu-kvm and unikernel: the emulator, qemu-img for qcow2 disks, and the guest image
  # builder (mmdebstrap builds the root file system, mkfs.ext4 -d turns it into a disk without a loop mount;
  # xz unpacks the kernel, which then boots without decompressing itself under emulation)
  qemu-system-x86 qemu-utils mmdebstrap debian-archive-keyring e2fsprogs ca-certificates xz-utils
  # docker, docker-volume, docker-hostnet: no registry is reachable, so the image's root file system
  # comes from debootstrap; iproute2 makes the private dockerd's own bridge
  debootstrap iproute2
  # docker-gvisor: gVisor's runsc, which the private dockerd registers as a runtime
  runsc
  # podman: rootful Podman 4.3 (crun, conmon) serving the Docker API; CNI's bridge plugin puts the
  # container on a bridge of ours; catatonit reaps its servers, as docker-init does for docker
  podman crun containernetworking-plugins catatonit
)
# A machine with Docker already (docker-ce, whose containerd.io conflicts with docker.io) keeps its own.
command -v dockerd >/dev/null || packages+=(docker.io)
# tests: the HTML report is checked in headless Chromium; shellcheck checks the scripts the workflows run;
# the remote-host platform is tested against OpenSSH's sshd in a namespace (scripts/simulated-remote.sh).
# Where an init system runs, openssh-server's package also starts the system's own sshd: tests never use it.
[[ "${1:-}" == test ]] && packages+=(chromium shellcheck openssh-server)

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
  # Another apt run may hold the lock: wait for it rather than fail.
  apt-get update -qq -o DPkg::Lock::Timeout=600
  # nginx's package would start a system nginx where an init system runs; we start our own per run.
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

if [[ ! -x node_modules/.bin/vitest || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "virtbench setup: npm ci"
  npm ci --no-audit --no-fund
fi
