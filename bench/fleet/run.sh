#!/usr/bin/env bash
# bench/fleet: converge playbooks/site.yml on 1 and then on 10 fresh SIMULATED nodes (systemd containers from
# molecule/image, NVIDIA stack from tests/simulators), then re-run it on each; prints wall times, changed counts and
# the 10-node / 1-node ratios, and per host the tasks run and the controller's CPU seconds. Each node gets this
# machine's CUDA toolkit (the newest /usr/local/cuda-*) mounted read-only, so cuda_env configures a real toolkit.
# Goals: re-run 0 changed; 10-node / 1-node <= 1.5 with forks >= 10; re-run <= 20 tasks per GPU host.
# Exits non-zero only when a run has failed or unreachable hosts; a missed goal prints "NOT met".
#   bench/fleet/run.sh [--sizes 1,10] [--forks 10] [--profile h100.json] [--cuda DIR]  (logs: .build/bench-fleet/)
# Containers are named gpufleet-bench-<n> (never molecule's node names); they are removed at start (stale ones),
# between phases and on exit, Ctrl-C included. Container boot is not timed: only ansible-playbook is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_HOME="$PWD/.build/ansible-home"

remove_bench_nodes() {
  local names
  names=$(docker ps -a --format '{{.Names}}' 2>/dev/null | grep -E '^gpufleet-bench-[0-9]+$' || true)
  if [[ -n "$names" ]]; then
    # shellcheck disable=SC2086  # one name per word
    docker rm -f $names >/dev/null 2>&1 || true
  fi
}

hack/host-deps.sh >&2
hack/venv.sh >&2
image=$(molecule/image/build.sh | tail -n 1)
hack/toolkit-repo.sh >/dev/null  # .build/toolkit-repo, mounted into the nodes by fleet_bench.py

remove_bench_nodes
trap remove_bench_nodes EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python bench/fleet/fleet_bench.py --image "$image" "$@"
