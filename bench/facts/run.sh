#!/usr/bin/env bash
# bench/facts: wall time of gpu_facts (everything but the torch probe) against Ansible's own setup module, run side
# by side in this script on localhost. Goal: ratio <= 0.5. Prints the medians and the ratio; asserts nothing.
# `ansible.builtin.ping` is run too: it is the floor every ad-hoc command pays (CLI start, connection, module
# transfer), so the script also prints the ratio of the modules' own time above that floor.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_HOME="$PWD/.build/ansible-home"
runs=${BENCH_RUNS:-7}

python - "$runs" <<'PY'
import statistics, subprocess, sys, time

runs = int(sys.argv[1])
cases = {
    "gpu_facts (gather_subset=!torch)": ["ansible", "localhost", "-m", "gpufleet.nvidia.gpu_facts", "-a", "gather_subset=!torch"],
    "ansible.builtin.setup": ["ansible", "localhost", "-m", "ansible.builtin.setup"],
    "ansible.builtin.ping (floor)": ["ansible", "localhost", "-m", "ansible.builtin.ping"],
}
times = {name: [] for name in cases}
for _ in range(runs):
    # Interleaved, so drift in machine load hits both alike.
    for name, argv in cases.items():
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times[name].append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit("%s failed (rc %d): %s" % (name, proc.returncode, proc.stderr[-2000:]))
med = {name: statistics.median(v) for name, v in times.items()}
for name, value in med.items():
    print("%-34s median %.3f s over %d runs (min %.3f)" % (name, value, runs, min(times[name])))
ratio = med["gpu_facts (gather_subset=!torch)"] / med["ansible.builtin.setup"]
print("ratio gpu_facts / setup = %.2f (goal <= 0.50: %s)" % (ratio, "met" if ratio <= 0.5 else "NOT met"))
floor = med["ansible.builtin.ping (floor)"]
above = (med["gpu_facts (gather_subset=!torch)"] - floor) / max(med["ansible.builtin.setup"] - floor, 1e-9)
print("ratio above the ping floor (module work only) = %.2f" % above)
PY
