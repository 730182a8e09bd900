#!/usr/bin/env bash
# Run molecule with the node image built (or reused) and named in GPUFLEET_NODE_IMAGE.
#   hack/molecule.sh test --all | hack/molecule.sh converge -s demo | ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/host-deps.sh >/dev/null
hack/venv.sh >/dev/null
GPUFLEET_NODE_IMAGE=$(molecule/image/build.sh | tail -n 1)
export GPUFLEET_NODE_IMAGE
# The signed apt repository the nodes install the NVIDIA Container Toolkit (SIMULATED packages) from; molecule/node.yml
# mounts it into every node.
GPUFLEET_TOOLKIT_REPO=$(hack/toolkit-repo.sh | tail -n 1)
export GPUFLEET_TOOLKIT_REPO
# Every platform of molecule/*/molecule.yml merges the one node definition, molecule/node.yml, with
# `<<: {$GPUFLEET_NODE_PLATFORM}`: its keys as JSON without the outer braces, environment variables substituted.
GPUFLEET_NODE_PLATFORM=$(.venv/bin/python - molecule/node.yml <<'PY'
import json, os, string, sys
import yaml
def substitute(value):
    if isinstance(value, dict):
        return {key: substitute(item) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item) for item in value]
    return string.Template(value).substitute(os.environ) if isinstance(value, str) else value
with open(sys.argv[1], encoding="utf-8") as handle:
    print(json.dumps(substitute(yaml.safe_load(handle)))[1:-1])
PY
)
export GPUFLEET_NODE_PLATFORM
# real_userland mounts the SIMULATED NVML from the checkout; build.sh builds it only when the node image is new, and
# a fresh clone with a cached image has none (Docker would then mount an empty directory in its place).
if [[ -d tests/simulators/nvml/libnvidia-ml.so.1 ]]; then rmdir tests/simulators/nvml/libnvidia-ml.so.1; fi
make -s -C tests/simulators/nvml all >/dev/null
# The scenarios that run site.yml burn in on the CPU with the controller's PyTorch, mounted into the nodes.
GPUFLEET_TORCH_SITE=$(hack/torch-venv.sh | tail -n 1)
export GPUFLEET_TORCH_SITE
# The real_userland scenario: a node image with NVIDIA's real userland from Debian (built only when a command names
# that scenario or --all, since it installs ~1.6 GB of packages the first time), the real gpu-burn releases from
# ../shared/third_party/gpu-burn (or GPUFLEET_GPU_BURN_SRC) and NVIDIA's real CUDA toolkit of this machine, when there
# is one, for the host that has both kinds of toolkit. A missing one is an empty directory, and verify says so.
if [[ " $* " == *" real_userland "* || " $* " == *" --all "* || " $* " == *" -s real_userland "* ]]; then
  GPUFLEET_REAL_NODE_IMAGE=$(molecule/image/build.sh --real-userland | tail -n 1)
  export GPUFLEET_REAL_NODE_IMAGE
fi
mkdir -p .build/empty
gpu_burn_src=${GPUFLEET_GPU_BURN_SRC:-$(cd .. && pwd)/shared/third_party/gpu-burn}
[[ -d $gpu_burn_src ]] || gpu_burn_src=$PWD/.build/empty
GPUFLEET_GPU_BURN_DIR=$(cd "$gpu_burn_src" && pwd)
export GPUFLEET_GPU_BURN_DIR
nvidia_cuda=${GPUFLEET_NVIDIA_CUDA:-$(printf '%s\n' /usr/local/cuda-1[0-9].[0-9]* | grep -v '\*' | sort -V | tail -n 1)}
[[ -n $nvidia_cuda && -x $nvidia_cuda/bin/nvcc ]] || nvidia_cuda=$PWD/.build/empty
GPUFLEET_NVIDIA_CUDA=$nvidia_cuda
export GPUFLEET_NVIDIA_CUDA
# Reports of molecule runs stay out of ./reports (the demo's) unless asked for.
export GPUFLEET_REPORT_DIR="${GPUFLEET_REPORT_DIR:-$PWD/.build/molecule-reports}"
export PATH="$PWD/.venv/bin:$PATH"
# Own ANSIBLE_HOME: molecule installs a copy of the collection there, which must not shadow the checkout for
# ansible-lint and ansible (they use .build/ansible-home).
export ANSIBLE_HOME="$PWD/.build/molecule-home"
exec molecule "$@"
