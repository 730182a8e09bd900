#!/usr/bin/env bash
# bench/command_service: round-trip latency (p50/p99) and throughput (commands/s) of the command service with 4
# workers on a local queue and on an sshfs mount with caching (like NFS), beside a 5-second polling loop like the one
# it replaced; prints the ratios.
# Goals: p50 <= 50 ms, >= 200 commands/s. Ollama is the SIMULATED server from tests/ollama_sim.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PWD/.venv/bin:$PATH"
exec python bench/command_service/bench.py "$@"
