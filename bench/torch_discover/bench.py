"""bench/torch_discover: see run.sh."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.gpufleet.nvidia.plugins.module_utils import torch_probe
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import describe_env


def site_packages(python):
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def make_envs(root, count, hanging, torch_site=None):
    pythons = []
    hanging_indexes = {(i + 1) * count // (hanging + 1) for i in range(hanging)}
    for index in range(count):
        prefix = os.path.join(root, "env%02d" % index)
        if index in hanging_indexes:
            os.makedirs(os.path.join(prefix, "bin"))
            python = os.path.join(prefix, "bin", "python")
            with open(python, "w") as handle:
                handle.write("#!/bin/sh\nexec sleep 600\n")
            os.chmod(python, 0o755)
        else:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", prefix], check=True)
            python = os.path.join(prefix, "bin", "python")
            if torch_site:  # this venv imports the real torch of .build/torch-venv, as a venv with torch does
                with open(os.path.join(site_packages(python), "torch-venv.pth"), "w") as handle:
                    handle.write(torch_site + "\n")
        pythons.append(python)
    return pythons


def one_probe(python, timeout):
    return run_command([python, "-c", torch_probe.PROBE_SCRIPT], timeout=timeout).rc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--envs", type=int, default=40)
    parser.add_argument("--timeout", type=int, default=3)
    parser.add_argument("--hanging", type=int, default=1)
    parser.add_argument("--torch-python", help="every answering env imports this interpreter's torch")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-torch-discover-")
    try:
        torch_site = site_packages(args.torch_python) if args.torch_python else None
        pythons = make_envs(root, args.envs, args.hanging, torch_site)
        envs = [describe_env(python) for python in pythons]

        started = time.monotonic()
        entries = torch_probe.probe_envs(envs, budget=args.timeout)
        parallel = time.monotonic() - started
        statuses = {s: sum(1 for e in entries if e["probe"] == s) for s in torch_probe.PROBE_STATUSES}

        started = time.monotonic()
        rcs = [one_probe(python, args.timeout) for python in pythons]
        sequential = time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda python: one_probe(python, args.timeout), pythons))
        previous = time.monotonic() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(
        "%d environments (%s), %d hanging, timeout %ds, %d CPUs"
        % (
            args.envs,
            "each imports torch" if torch_site else "standard library only",
            args.hanging,
            args.timeout,
            os.cpu_count() or 1,
        )
    )
    print("parallel, one overall budget (gpu_facts now): %6.2f s   probes %s" % (parallel, statuses))
    print(
        "sequential, timeout per probe (baseline):     %6.2f s   %d answered, %d timed out"
        % (sequential, rcs.count(0), rcs.count(124))
    )
    print("4 threads, timeout per probe (previous):      %6.2f s" % previous)
    print("ratio parallel / sequential = %.2f" % (parallel / sequential))
    print("ratio parallel / timeout = %.2f" % (parallel / args.timeout))


if __name__ == "__main__":
    main()
