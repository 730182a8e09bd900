#!/usr/bin/env bash
# Install and start what `make demo` / `make test` need on a Debian 12 host (run as root).
# Safe to run repeatedly: every step checks first.
set -euo pipefail

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need_pkgs+=(make)
# tests/command_service mounts the queue through sshfs over a private sshd on loopback.
command -v sshfs >/dev/null 2>&1 || need_pkgs+=(sshfs)
[[ -x /usr/sbin/sshd ]] || need_pkgs+=(openssh-server)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)  # tests/integration opens fleet.html in headless Chromium
# tests/container_toolkit signs its apt repository: gpg makes the keys (through gpg-agent) and signs; dpkg-deb
# and gpgv come with every Debian.
command -v gpg >/dev/null 2>&1 && command -v gpg-agent >/dev/null 2>&1 || need_pkgs+=(gpg gpg-agent)
# python3 -m venv needs ensurepip; pyenv/python.org builds have it, Debian's python3 needs python3-venv.
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)

if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "host-deps: missing ${need_pkgs[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "host-deps: installing ${need_pkgs[*]} from Debian's archive"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

docker_up() { docker info >/dev/null 2>&1; }
if ! docker_up; then
  echo "host-deps: starting dockerd (log: /var/log/gpufleet-dockerd.log)"
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl start docker || true
  fi
  if ! docker_up; then
    # Without the caller's other open files: a lock held by whoever ran this (flock) would otherwise be held by
    # dockerd for as long as it runs.
    (
      for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec ${fd}>&-" 2>/dev/null || true; fi
      done
      exec nohup dockerd >/var/log/gpufleet-dockerd.log 2>&1
    ) &
  fi
  for _ in $(seq 1 60); do
    docker_up && break
    sleep 1
  done
  if ! docker_up; then
    echo "host-deps: dockerd did not come up; last log lines:" >&2
    tail -n 20 /var/log/gpufleet-dockerd.log >&2 || true
    exit 1
  fi
fi
echo "host-deps: docker $(docker version --format '{{.Server.Version}}') ready, debootstrap present"
