# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torch backend: the worker installed on the host and run under the user's ``torch_python``, one process per
GPU pinned by UUID, for a timed burn-in (run_torch_burn) or as detached stress (start_stress / stop_stress).

torch is only ever imported by the worker (_burn_worker_main.py, shipped by burn_worker.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import subprocess
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_judge import (
    aggregate_torch_gpu,
    parse_worker_output,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_plan import BurnError, fault_mode
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_process import (
    BurnRunner,
    exit_note,
    kill_group,
    run_timeout,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic import write_atomic
from ansible_collections.gpufleet.nvidia.plugins.module_utils.burn_worker import WORKER_NAME, WORKER_SOURCE


PID_FILE = "burnin.pid"


def install_worker(directory):
    """Write the worker script into directory (only when it changed) and return its path."""
    path = os.path.join(directory, WORKER_NAME)
    try:
        with open(path) as handle:
            if handle.read() == WORKER_SOURCE:
                return path
    except OSError:
        pass
    write_atomic(path, WORKER_SOURCE, mode=0o755)
    return path


def torch_worker_env(target):
    """The environment that makes a worker burn exactly the GPU NVML named: CUDA_VISIBLE_DEVICES=<its UUID>.

    It overrides whatever the module inherited (Slurm, a container), so the worker's cuda:0 is that GPU whatever
    the enumeration order; CUDA_DEVICE_ORDER=PCI_BUS_ID makes the index fallback (no UUID) mean NVML's index too.
    """
    if not str(target["device"]).startswith("cuda"):
        return {}
    uuid = target.get("uuid") or ""
    visible = uuid if uuid.startswith(("GPU-", "MIG-")) else str(target["index"])
    return {"CUDA_VISIBLE_DEVICES": visible, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def torch_worker_device(target):
    """The device the worker opens: cuda:0, the only GPU torch_worker_env leaves visible; cpu for the CPU."""
    return "cuda:0" if str(target["device"]).startswith("cuda") else target["device"]


def torch_worker_argv(torch_python, worker_path, plan, target, parent_pid, run_id, seconds=None):
    argv = [
        torch_python,
        worker_path,
        "--device",
        torch_worker_device(target),
        "--dtype",
        plan["dtype"],
        "--seconds",
        "%g" % (plan["duration"] if seconds is None else seconds),
        "--memory-fraction",
        "%g" % plan["memory_fraction"],
        "--matrix-size",
        str(plan["matrix_size"]),
        "--spot-check-interval",
        "%g" % max(1.0, min(30.0, plan["duration"] / 10.0)),
        "--parent-pid",
        str(parent_pid),
        "--run-id",
        run_id,
    ]
    fault = fault_mode(plan["inject_fault"])
    if fault != "none" and target is plan["targets"][0]:
        argv += ["--inject-fault", fault]  # exactly one GPU gets the fault
    return argv


def run_torch_burn(plan, torch_python, results_dir, sampler=None):
    """Run the torch workers (one per target) and return the per-GPU results (before thresholds)."""
    worker = install_worker(results_dir)
    run_id = "%d-%d" % (os.getpid(), int(time.time()))
    argvs = [torch_worker_argv(torch_python, worker, plan, t, os.getpid(), run_id) for t in plan["targets"]]
    envs = [torch_worker_env(t) for t in plan["targets"]]
    indices = [t["index"] for t in plan["targets"]] if sampler else []
    timeout = run_timeout(plan)
    with BurnRunner(sampler=sampler, sample_indices=indices) as runner:
        outputs, samples, timed_out = runner.run(argvs, timeout, envs=envs)
    results = []
    for target, output in zip(plan["targets"], outputs):
        events = parse_worker_output(output["stdout"])
        note = exit_note(output, timed_out, timeout)
        results.append(aggregate_torch_gpu(target, plan, events, samples.get(target["index"], []), note))
    return results


def _is_worker(pid):
    """True when pid runs our worker (guards against PIDs reused by unrelated processes)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return WORKER_NAME.encode() in handle.read()
    except OSError:
        return False


def read_pid_file(results_dir):
    try:
        with open(os.path.join(results_dir, PID_FILE)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def running_stress(results_dir):
    """PIDs from the PID file that are still our workers."""
    data = read_pid_file(results_dir) or {}
    return [pid for pid in data.get("pids", []) if isinstance(pid, int) and _is_worker(pid)]


def start_stress(plan, torch_python, results_dir):
    """Launch continuous workers, detached in their own sessions; returns their PIDs (written to the PID file)."""
    worker = install_worker(results_dir)
    run_id = "detached-%d" % int(time.time())
    pids = []
    try:
        for target in plan["targets"]:
            argv = torch_worker_argv(torch_python, worker, plan, target, 0, run_id, seconds=0)
            log = open(os.path.join(results_dir, f"stress-{target['index']}.log"), "wb")  # noqa: SIM115
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=dict(os.environ, **torch_worker_env(target)),
                    start_new_session=True,
                    close_fds=True,
                )
            finally:
                log.close()
            pids.append(proc.pid)
    except OSError as exc:
        for pid in pids:
            kill_group(pid)
        raise BurnError(f"cannot start the burn-in worker with {torch_python}: {exc}") from exc
    data = {"pids": pids, "started": time.time(), "plan": plan}
    write_atomic(os.path.join(results_dir, PID_FILE), json.dumps(data, indent=2, sort_keys=True) + "\n")
    return pids


def stop_stress(results_dir):
    """Kill every detached worker group from the PID file and remove it; returns the PIDs that were running."""
    running = running_stress(results_dir)
    for pid in running:
        kill_group(pid)
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(results_dir, PID_FILE))
    return running
