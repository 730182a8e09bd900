#!/usr/bin/env bash
# Create/refresh the project venv (.venv) from the pinned requirements and expose the checkout as the
# gpufleet.nvidia collection under .build/collections. Safe to run repeatedly: reinstalls only when the pins change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${VENV:-.venv}
req=requirements/dev.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)

if [[ ! -x "$venv/bin/python" ]]; then
  echo "venv: creating $venv"
  python3 -m venv "$venv"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "venv: installing pinned requirements from $req"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi

# ansible_collections/gpufleet/nvidia -> the checkout (ansible.cfg's collections_path, pytest's pythonpath).
mkdir -p .build/collections/ansible_collections/gpufleet
ln -sfn ../../../.. .build/collections/ansible_collections/gpufleet/nvidia
