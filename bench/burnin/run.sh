#!/usr/bin/env bash
# bench/burnin: sustained GEMM TFLOPS of gpufleet's burn-in worker beside a bare torch.matmul loop of the same size
# and dtype, in the same run; prints the ratio per dtype (goal >= 0.97), then the checker's share of the worker's wall
# time per dtype (design: <= 3 %). On a GPU host it runs on cuda:0 for every dtype; without a GPU it runs the same
# code on the CPU (the ratio in fp32 only), at the matrix size the worker itself picks unless --matrix-size is given.
#   BENCH_TORCH_PYTHON=/path/to/python-with-torch bench/burnin/run.sh [--matrix-size N] [--worker OLD_WORKER.py]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
torch_python=${BENCH_TORCH_PYTHON:-}
if [[ -z "$torch_python" ]]; then
  hack/torch-venv.sh >/dev/null
  torch_python=$PWD/.build/torch-venv/bin/python
fi
exec .venv/bin/python bench/burnin/bench.py --torch-python "$torch_python" "$@"
