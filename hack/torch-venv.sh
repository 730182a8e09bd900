#!/usr/bin/env bash
# A separate venv with PyTorch (the CPU build that `pip install torch==2.13.0` takes from this machine's disk), for
# tests that probe a real torch install the way gpu_facts does on a host. Kept out of .venv so Ansible's own
# interpreter stays torch-free (gpu_facts must never import torch into the Ansible process).
# Prints the venv's site-packages directory as its last line (the demo and molecule mount it into the nodes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.build/torch-venv
want="torch==2.13.0"
if [[ -x "$venv/bin/python" ]] && [[ "$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)" == "${want#torch==}" ]]; then
  "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
  exit 0
fi
echo "torch-venv: installing $want into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$want"
"$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
