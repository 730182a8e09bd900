# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask Python environments what PyTorch (and bitsandbytes) they have and whether it can use this host's GPUs.

Each interpreter runs the probe program (_torch_probe_main.py) in its own subprocess, so torch is never imported into
the calling (Ansible) process. All probes share one time budget (_parallel_commands.run_jobs): a hanging interpreter
costs the budget once, and every probe that did not answer within it says so. Before anything runs, _env_trust
decides whether and as whom (the environment's owner, never root for someone else's environment) each may run, in a
clean environment. Which environments: listed interpreters (globs expanded) and discovery (_torch_envs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_probe_main
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import RC_NOT_FOUND, RC_TIMEOUT
from ansible_collections.gpufleet.nvidia.plugins.module_utils._env_trust import (
    Accounts,
    Verdict,
    assess_env,
    clean_environment,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._parallel_commands import Job, run_jobs
from ansible_collections.gpufleet.nvidia.plugins.module_utils._shipped import module_source
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_build import cuda_compatibility, torch_build
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import (
    DEFAULT_MAX_ENVS,
    DEFAULT_SEARCH_ROOTS,
    describe_env,
    discover_envs,
    expand_patterns,
    select_envs,
)

DEFAULT_TORCH_TIMEOUT = 60
# Probes running at once; the budget is overall, so this bounds load (each imports torch), not the wall time. At
# least 8, so that a few hanging interpreters (which hold a slot but no CPU) do not keep the others from starting.
MAX_PARALLEL_PROBES = min(16, max(8, 2 * (os.cpu_count() or 1)))

# The probe program (_torch_probe_main.py), run as ``python -c PROBE_SCRIPT`` by each probed interpreter.
PROBE_SCRIPT = module_source(_torch_probe_main)

# Keys a probe entry always has; values reported by the script are only taken for these.
_ENTRY_KEYS = (
    "python_version",
    "torch_installed",
    "torch_version",
    "cuda_available",
    "cuda_version",
    "hip_version",
    "cudnn_version",
    "device_count",
    "devices",
    "arch_list",
    "bitsandbytes",
    "smoke",
    "uid",
    "error",
)
# Where the entry's environment is and whose it is (_torch_envs.describe_env).
_ENV_KEYS = ("kind", "name", "prefix", "owner")
PROBE_STATUSES = ("ok", "timeout", "refused", "error")


def empty_entry(python, env=None):
    """The entry for an interpreter we learned nothing from: the probe's own empty report, nothing in it known."""
    entry = {key: value for key, value in _torch_probe_main.new_report().items() if key in _ENTRY_KEYS}
    entry.update(python=python, python_version=None, uid=None, probe=None, ran_as=None, seconds=None)
    entry.update({key: (env or {}).get(key) for key in _ENV_KEYS})
    entry.update(build=None, build_tag=None, cuda_compat=None)
    return entry


def last_json_object(text):
    """Return the last line of text that parses as a JSON object, or None."""
    for line in reversed((text or "").splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def _tail(text, lines=3):
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


def build_entry(python, result, timeout, env=None):
    """Turn one probe's result (rc, stdout, stderr; a JobResult also says if it started) into an entry (pure).

    ``timeout`` is the overall budget the probe ran under.
    """
    entry = empty_entry(python, env)
    report = last_json_object(result.stdout)
    if report is not None:
        for key in _ENTRY_KEYS:
            if key in report:
                entry[key] = report[key]
    stage = report.get("stage") if report else None

    entry["probe"] = "error"
    if result.rc == RC_NOT_FOUND and report is None:
        entry["error"] = f"interpreter not found or not executable: {python}"
    elif result.rc == RC_TIMEOUT:
        entry["probe"] = "timeout"
        if not getattr(result, "started", True):
            entry["error"] = f"probe not started: the overall budget of {timeout}s was spent on the other probes"
        else:
            where = f" during '{stage}'" if stage and stage != "done" else ""
            entry["error"] = f"probe timed out: no answer within the overall budget of {timeout}s{where}"
    elif report is None:
        output = _tail(result.stderr or result.stdout) or "no output"
        entry["error"] = f"probe printed no JSON (rc {result.rc}): {output}"
    elif result.rc != 0 or stage != "done":
        how = f"was killed by signal {-result.rc}" if result.rc < 0 else f"exited with rc {result.rc}"
        detail = _tail(result.stderr)
        entry["error"] = f"probe {how} during '{stage}'" + (f": {detail}" if detail else "")
    else:
        entry["probe"] = "ok"
    seconds = getattr(result, "seconds", None)
    entry["seconds"] = round(seconds, 3) if seconds is not None else None
    return entry


def judge_build(entry, driver=None):
    """Add the torch build (build, build_tag) and cuda_compat against the driver (a dict with cuda_driver_version,
    driver_version, count, as the nvml subset has them) to an entry."""
    driver = driver or {}
    entry.update(torch_build(entry["torch_version"], entry["cuda_version"], entry["hip_version"]))
    entry["cuda_compat"] = cuda_compatibility(
        entry["torch_version"],
        entry["build"],
        entry["cuda_version"],
        driver.get("cuda_driver_version"),
        driver.get("driver_version"),
        driver.get("count"),
    )
    return entry


def probe_envs(envs, budget=DEFAULT_TORCH_TIMEOUT, driver=None, max_parallel=None, accounts=None, euid=None):
    """Probe each environment (dicts with python, kind, name, prefix, owner); one entry each, in order. Never raises.

    An environment _env_trust refuses is not run (``probe: refused``, ``error`` says why); the others run as their
    owner (or as we are, for our own and root's) in a clean environment with cwd /, all within ``budget`` seconds.
    """
    envs = list(envs)
    accounts = accounts or Accounts()
    euid = os.geteuid() if euid is None else euid
    entries, jobs, slots = [], [], []
    for env in envs:
        entry = empty_entry(env["python"], env)
        if os.path.lexists(env["prefix"]):
            verdict = assess_env(env["prefix"], env["python"], accounts, euid)
        else:  # nothing there to trust or distrust: the probe, as we are, reports the missing interpreter
            verdict = Verdict(None, accounts.name(euid), None)
        if verdict.refused:
            entry.update(probe="refused", error=verdict.refused)
        else:
            entry["ran_as"] = verdict.user
            env_vars = clean_environment(verdict.user, accounts, euid)
            jobs.append(Job([env["python"], "-c", PROBE_SCRIPT], env_vars, "/", verdict.run_as))
            slots.append(len(entries))
        entries.append(entry)
    results = run_jobs(jobs, budget, max_parallel or MAX_PARALLEL_PROBES)
    for slot, result in zip(slots, results):
        entry = entries[slot]
        probed = build_entry(entry["python"], result, budget, envs[slot])
        probed["ran_as"] = entry["ran_as"]
        entries[slot] = probed
    return [judge_build(entry, driver) for entry in entries]


def probe_torch_interpreters(pythons, timeout=DEFAULT_TORCH_TIMEOUT, driver=None):
    """Probe interpreters given by path (see probe_envs); their environments are found from their paths."""
    return probe_envs([describe_env(python) for python in pythons], budget=timeout, driver=driver)


def gather_torch(
    torch_python=None,
    discover=False,
    search_roots=DEFAULT_SEARCH_ROOTS,
    max_envs=DEFAULT_MAX_ENVS,
    budget=DEFAULT_TORCH_TIMEOUT,
    driver=None,
    current=sys.executable,
):
    """(entries, discovery summary) for gpu_facts' torch subset.

    Listed interpreters (globs expanded) come first, then what discovery finds; neither given probes the defaults
    (default_torch_pythons). At most ``max_envs`` environments are probed; the summary names those left out.
    """
    started = time.monotonic()
    listed, unmatched = expand_patterns(torch_python) if torch_python else ([], [])
    if not torch_python and not discover:
        listed = default_torch_pythons(current=current)
    discovered, notes = discover_envs(search_roots) if discover else ([], {"search_truncated": False})
    envs, left_out = select_envs([describe_env(python) for python in listed], discovered, max_envs)
    entries = probe_envs(envs, budget=budget, driver=driver)
    summary = {
        "discover": bool(discover),
        "found": len(envs) + len(left_out),
        "probed": len(envs),
        "max_envs": max_envs,
        "left_out": left_out,
        "unmatched_patterns": unmatched,
        "search_truncated": notes["search_truncated"],
        "budget_s": budget,
        "seconds": round(time.monotonic() - started, 3),
        "probes": {status: sum(1 for e in entries if e["probe"] == status) for status in PROBE_STATUSES},
    }
    return entries, summary


def _venv_root(python):
    """The virtualenv an interpreter path belongs to (pyvenv.cfg beside or above its bin/), or None."""
    bin_dir = os.path.dirname(os.path.abspath(python))
    for candidate in (bin_dir, os.path.dirname(bin_dir)):
        if os.path.isfile(os.path.join(candidate, "pyvenv.cfg")):
            return candidate
    return None


def interpreter_identity(python):
    """Dedup key: the real executable, plus the venv it runs in.

    A venv's bin/python is a symlink to the base interpreter, so the real path alone would merge a venv (with its
    own site-packages and its own torch) into the system Python.
    """
    return (os.path.realpath(python), _venv_root(python))


def default_torch_pythons(current=sys.executable, path_env=None):
    """The interpreter running this code plus ``python3`` on PATH, deduplicated (see interpreter_identity)."""
    if path_env is None:
        path_env = os.environ.get("PATH", os.defpath)
    candidates = [current, shutil.which("python3", path=path_env) if path_env else None]
    pythons = []
    seen = set()
    for python in candidates:
        if not python:
            continue
        key = interpreter_identity(python)
        if key not in seen:
            seen.add(key)
            pythons.append(python)
    return pythons
