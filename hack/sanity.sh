#!/usr/bin/env bash
# ansible-test sanity needs the collection at a real path ending in ansible_collections/<ns>/<name> (a symlink does
# not do: it resolves the working directory), outside any hidden directory (it skips everything under one).
# Copy the files git would ship there and run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
root=${GPUFLEET_SANITY_ROOT:-/var/tmp/gpufleet-sanity}
dest=$root/ansible_collections/gpufleet/nvidia
rm -rf "$root"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$dest" -xf -

# --venv gives each sanity test ansible-test's own pinned tool versions from PyPI. Its pip bootstrap script lives
# on a host we cannot reach; provide our own (see the script's docstring) under the cache name it looks for.
pip_version=$("$repo/.venv/bin/python" - <<'PY'
# ansible-test pins pip in its virtualenv package list; read it from the installed ansible-test.
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
cfg = NativePythonConfig(version="3.11", path="/usr/bin/python3")
print(get_venv_packages(cfg)["pip"])
PY
)
mkdir -p "$HOME/.ansible/test/cache"
cp hack/ansible_test_pip_bootstrap.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

cd "$dest"
"$repo/.venv/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"

# Module code runs on managed hosts with Python 3.8+: also compile and import it under 3.8 when this machine has
# one (pyenv here ships 3.8). Without it, say so rather than pass silently.
py38=
for candidate in "$(command -v python3.8 2>/dev/null)" "$HOME"/.pyenv/versions/3.8*/bin/python3.8; do
  # pyenv's shim exists even where it cannot run 3.8: take the first interpreter that really starts.
  if [[ -z "$py38" && -x "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
    py38=$candidate
  fi
done
if [[ -n "$py38" && $# -eq 0 ]]; then
  # Drop pyenv's shims from PATH for this call: ansible-test would find the shim before the real interpreter.
  path_without_shims=$(tr ':' '\n' <<<"$PATH" | grep -v '/\.pyenv/shims$' | paste -sd:)
  PATH="$(dirname "$py38"):$path_without_shims" "$repo/.venv/bin/ansible-test" sanity --venv --python 3.8 --test compile --test import \
    --color no
else
  echo "sanity: no Python 3.8 on this machine: module code was not compiled/imported under 3.8" >&2
fi
