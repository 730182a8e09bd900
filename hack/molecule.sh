#!/usr/bin/env bash
# Run molecule with the node image built (or reused) and named in GPUFLEET_NODE_IMAGE.
#   hack/molecule.sh test --all | hack/molecule.sh converge -s demo | ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/host-deps.sh >/dev/null
hack/venv.sh >/dev/null
GPUFLEET_NODE_IMAGE=$(molecule/image/build.sh | tail -n 1)
export GPUFLEET_NODE_IMAGE
export PATH="$PWD/.venv/bin:$PATH"
# Own ANSIBLE_HOME: molecule installs a copy of the collection there, which must not shadow the checkout for
# ansible-lint and ansible (they use .build/ansible-home).
export ANSIBLE_HOME="$PWD/.build/molecule-home"
exec molecule "$@"
