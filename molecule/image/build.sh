#!/usr/bin/env bash
# Build the Molecule node image: a Debian bookworm rootfs with systemd, python3 and sudo, made with debootstrap
# from Debian's archive (no container registry is reachable), plus the SIMULATED GPU stack from tests/simulators
# (fake libnvidia-ml.so.1, nvidia-smi, nvidia-ctk) and the real nvidia-ml-py bindings.
#
# The image is tagged by a hash of everything that goes into it, so a second run reuses it.
# Prints the image reference on the last line of stdout.
#
#   build.sh                  the simulated node (gpufleet/node:<hash>)
#   build.sh --real-userland  the same base plus NVIDIA's REAL userland from Debian's contrib/non-free, no simulator
#                             (gpufleet/node-real:<hash>, molecule/image/real-userland/): for the real_userland scenario
set -euo pipefail

variant=sim
case "${1:-}" in
  "") ;;
  --real-userland) variant=real ;;
  *) echo "usage: $0 [--real-userland]" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

suite=bookworm
mirror=${GPUFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${GPUFLEET_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# NVIDIA's userland as bookworm ships it (driver 535, CUDA 11.8), plus what building gpu-burn needs.
real_packages="nvidia-smi libnvidia-ml1 libcuda1 python3-pynvml nvidia-cuda-toolkit g++ make"
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,procps,kmod,ca-certificates,gnupg,curl,less
nvml_py_req=$(grep -E '^nvidia-ml-py==' requirements/dev.txt)

base_hash=$(printf '%s\n' "$suite" "$packages" "$(sed -n '/^# --- base ---/,/^# --- end base ---/p' molecule/image/build.sh)" | sha256sum | cut -c1-16)
base="gpufleet/node-base:${base_hash}"

log() { echo "node-image: $*" >&2; }

work=$(mktemp -d /var/tmp/gpufleet-node.XXXXXX)
cleanup() {
  # debootstrap mounts /proc, /sys and /dev inside the rootfs while it works; never rm -rf through a mount.
  local m
  for m in proc sys dev/pts dev; do
    mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m"
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# --- base ---
# Debian rootfs with systemd; slow (debootstrap), so cached as its own image keyed by suite, packages and this block.
if ! docker image inspect "$base" >/dev/null 2>&1; then
  log "debootstrap $suite from $mirror (a few minutes; cached as $base afterwards)"
  if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" \
      >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
  fi
  chroot "$work/rootfs" /bin/sh -e <<'SH'
# Units that make no sense (or fail) inside a container.
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
            systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-remount-fs.service getty.target console-getty.service \
            systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done
echo gpufleet-node > /etc/hostname
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
SH
  tar -C "$work/rootfs" --one-file-system -c . | docker import \
    --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=docker' \
    - "$base" >/dev/null
  rm -rf "$work/rootfs"
  log "built $base"
fi
# --- end base ---

if [[ $variant == real ]]; then
  ctx=molecule/image/real-userland
  hash=$( { printf '%s\n' "$base" "$mirror" "$security_mirror" "$real_packages"; cat "$ctx"/*; } | sha256sum | cut -c1-16)
  image="gpufleet/node-real:${hash}"
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "reusing $image (inputs unchanged)"
  else
    log "installing NVIDIA's real userland from Debian's archive on $base (~1.6 GB of packages, a few minutes)"
    # Host network: the build's apt reaches the archive the way the host does, with no NAT rules needed.
    if ! docker build --quiet --network host --build-arg "BASE=$base" --build-arg "MIRROR=$mirror" \
        --build-arg "SECURITY_MIRROR=$security_mirror" --build-arg "PACKAGES=$real_packages" \
        -t "$image" "$ctx" >"$work/real-build.log" 2>&1; then
      tail -n 30 "$work/real-build.log" >&2
      log "building $image failed"
      exit 1
    fi
    log "built $image"
    # Each is ~3 GB: drop the older builds that no container uses (docker refuses the ones still in use).
    docker image ls --format '{{.Repository}}:{{.Tag}}' gpufleet/node-real | grep -vx -e "$image" -e 'gpufleet/node-real:latest' \
      | xargs -r docker image rm >/dev/null 2>&1 || true
  fi
  docker tag "$image" gpufleet/node-real:latest
  echo "$image"
  exit 0
fi

inputs=(
  molecule/image/Dockerfile
  molecule/image/README.sim
  tests/simulators/nvml/fake_nvml.c
  tests/simulators/nvml/Makefile
  tests/simulators/bin/nvidia-smi
  tests/simulators/bin/nvidia-ctk
)
hash=$( { printf '%s\n' "$base" "$nvml_py_req"; cat "${inputs[@]}"; } | sha256sum | cut -c1-16)
image="gpufleet/node:${hash}"

if docker image inspect "$image" >/dev/null 2>&1; then
  log "reusing $image (inputs unchanged)"
  docker tag "$image" gpufleet/node:latest
  echo "$image"
  exit 0
fi


log "building the SIMULATED GPU layer on $base"
ctx="$work/context"
mkdir -p "$ctx/wheel"
make -s -C tests/simulators/nvml clean all >/dev/null
cp tests/simulators/nvml/libnvidia-ml.so.1 tests/simulators/bin/nvidia-smi tests/simulators/bin/nvidia-ctk "$ctx/"
cp molecule/image/Dockerfile molecule/image/README.sim "$ctx/"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheels" "$nvml_py_req"
# A wheel is a zip of files laid out for site-packages; the node has no pip, so unpack it for COPY.
python3 -c 'import sys, zipfile, glob; [zipfile.ZipFile(w).extractall(sys.argv[2]) for w in glob.glob(sys.argv[1] + "/*.whl")]' \
  "$work/wheels" "$ctx/wheel"
docker build --quiet --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
docker tag "$image" gpufleet/node:latest
log "built $image"
echo "$image"
