#!/usr/bin/env bash
# bench/torch_discover: wall time of probing 40 Python environments, one of which hangs, the way gpu_facts does now
# (every probe in parallel under one overall budget) beside two baselines run for real in the same script: one
# probe after another with the same timeout per probe, and the previous gpu_facts (4 threads, a timeout per probe).
# The 39 answering environments are real venvs running the real probe program; the hanging one is a bin/python that
# sleeps. Prints the times and ratios; asserts nothing.
# With one hanging environment a sequential run pays that one timeout too, plus every other probe one after another;
# --hanging N shows where a timeout per probe costs N timeouts and the overall budget still one.
# --torch-python PY makes every answering venv import PY's torch (hack/torch-venv.sh's), as real environments do:
# then the probes themselves take seconds each and the sequential baseline pays them one after another.
#   bench/torch_discover/run.sh [--envs 40] [--timeout 3] [--hanging 1] [--torch-python .build/torch-venv/bin/python]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PYTHONPATH="$PWD/.build/collections"
exec .venv/bin/python bench/torch_discover/bench.py "$@"
