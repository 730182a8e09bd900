#!/usr/bin/env bash
# The GPU check: gpu facts, the torch burn-in in every dtype at the production size, both injected faults, the
# gpu_burn backend and bench/burnin, against a real NVIDIA GPU in one run of under 8 minutes (hack/gpu_check.py).
# Needs python3 with torch (CUDA) and nvidia-ml-py; no ansible-core, no network. Writes $OUT/gpu-check.json (else
# .build/gpu-check.json) and prints a table; exits 1 if a check failed, 2 if this machine cannot run the check.
#   hack/gpu-check.sh                                  on a GPU host
#   GPUFLEET_TORCH_PYTHON=/path/to/python hack/gpu-check.sh
#   GPUFLEET_GPU_CHECK_DEVICE=cpu hack/gpu-check.sh    the same steps on the CPU, small and short (tests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${GPUFLEET_CHECK_PYTHON:-${GPUFLEET_TORCH_PYTHON:-python3}}
exec "$python" hack/gpu_check.py "$@"
