#!/usr/bin/env bash
# The NVIDIA Container Toolkit repository of the SIMULATED fleet: NVIDIA's servers cannot be reached, so the nodes
# install the toolkit's packages (stand-ins built with dpkg-deb, tests/container_toolkit/apt_repo.py) from a real apt
# repository signed by a key made for it, in .build/toolkit-repo, mounted read-only into every node at
# /srv/nvidia-container-toolkit (molecule/node.yml, bench/fleet). Rebuilt only when what goes into it changed, so the
# fleet sees the same key on a re-run. Prints the directory on the last line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD/.build/toolkit-repo
inputs=$(cat tests/container_toolkit/apt_repo.py tests/container_toolkit/nvidia_ctk_version.py \
  tests/simulators/bin/nvidia-ctk tests/simulators/bin/nvidia-container-runtime | sha256sum | cut -c1-16)
if [[ ! -f $repo/fingerprints.json || $(cat "$repo.inputs" 2>/dev/null) != "$inputs" ]]; then
  mkdir -p "$repo"
  chmod 0755 "$repo"  # apt reads it as _apt inside the nodes
  .venv/bin/python tests/container_toolkit/apt_repo.py "$repo" >&2
  echo "$inputs" >"$repo.inputs"
fi
echo "$repo"
