#!/usr/bin/env bash
# ansible-test sanity needs the collection at a real path ending in ansible_collections/<ns>/<name> (a symlink does
# not do: it resolves the working directory). Copy the files git would ship there and run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
dest=.build/sanity/ansible_collections/gpufleet/nvidia
rm -rf .build/sanity
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$dest" -xf -
cd "$dest"
# --venv: each sanity test gets ansible-test's own pinned tool versions from PyPI (no container registry here).
exec "$repo/.venv/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
