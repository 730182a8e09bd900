#!/usr/bin/env bash
# Run molecule with the node image built (or reused) and named in GPUFLEET_NODE_IMAGE.
#   hack/molecule.sh test --all | hack/molecule.sh converge -s demo | ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/host-deps.sh >/dev/null
hack/venv.sh >/dev/null
GPUFLEET_NODE_IMAGE=$(molecule/image/build.sh | tail -n 1)
export GPUFLEET_NODE_IMAGE
# The scenarios that run site.yml burn in on the CPU with the controller's PyTorch, mounted into the nodes.
GPUFLEET_TORCH_SITE=$(hack/torch-venv.sh | tail -n 1)
export GPUFLEET_TORCH_SITE
# Reports of molecule runs stay out of ./reports (the demo's) unless asked for.
export GPUFLEET_REPORT_DIR="${GPUFLEET_REPORT_DIR:-$PWD/.build/molecule-reports}"
export PATH="$PWD/.venv/bin:$PATH"
# Own ANSIBLE_HOME: molecule installs a copy of the collection there, which must not shadow the checkout for
# ansible-lint and ansible (they use .build/ansible-home).
export ANSIBLE_HOME="$PWD/.build/molecule-home"
exec molecule "$@"
