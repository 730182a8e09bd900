# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask Python interpreters what PyTorch (and bitsandbytes) they have and whether it can use the GPU.

Each interpreter runs the probe program (_torch_probe_main.py) in its own subprocess with a timeout, so torch is
never imported into the calling (Ansible) process, and a hanging, crashing or missing interpreter becomes an entry
with ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_probe_main
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import RC_NOT_FOUND, RC_TIMEOUT, run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils._shipped import module_source

DEFAULT_TORCH_TIMEOUT = 60
_MAX_PARALLEL_PROBES = 4

# The probe program (_torch_probe_main.py), run as ``python -c PROBE_SCRIPT`` by each probed interpreter.
PROBE_SCRIPT = module_source(_torch_probe_main)

# Keys a probe entry always has; values reported by the script are only taken for these.
_ENTRY_KEYS = (
    "python_version",
    "torch_installed",
    "torch_version",
    "cuda_available",
    "cuda_version",
    "cudnn_version",
    "device_count",
    "devices",
    "arch_list",
    "bitsandbytes",
    "smoke",
    "error",
)


def empty_entry(python):
    """The entry for an interpreter we learned nothing from: the probe's own empty report, nothing in it known."""
    entry = {key: value for key, value in _torch_probe_main.new_report().items() if key in _ENTRY_KEYS}
    entry.update(python=python, python_version=None)
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


def build_entry(python, result, timeout):
    """Turn one probe's CommandResult into an entry (pure)."""
    entry = empty_entry(python)
    report = last_json_object(result.stdout)
    if report is not None:
        for key in _ENTRY_KEYS:
            if key in report:
                entry[key] = report[key]
    stage = report.get("stage") if report else None

    if result.rc == RC_NOT_FOUND and report is None:
        entry["error"] = f"interpreter not found or not executable: {python}"
    elif result.rc == RC_TIMEOUT:
        where = f" during '{stage}'" if stage and stage != "done" else ""
        entry["error"] = f"probe timed out after {timeout}s{where}"
    elif report is None:
        output = _tail(result.stderr or result.stdout) or "no output"
        entry["error"] = f"probe printed no JSON (rc {result.rc}): {output}"
    elif result.rc != 0 or stage != "done":
        how = f"was killed by signal {-result.rc}" if result.rc < 0 else f"exited with rc {result.rc}"
        detail = _tail(result.stderr)
        entry["error"] = f"probe {how} during '{stage}'" + (f": {detail}" if detail else "")
    return entry


def probe_torch_interpreters(pythons, timeout=DEFAULT_TORCH_TIMEOUT, runner=run_command):
    """Probe each interpreter in its own subprocess; return one entry per interpreter, in order. Never raises.

    Probes run concurrently (importing torch takes seconds per interpreter); each has its own timeout.
    """
    pythons = list(pythons)
    if not pythons:
        return []

    def probe(python):
        return build_entry(python, runner([python, "-c", PROBE_SCRIPT], timeout=timeout), timeout)

    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_PROBES, len(pythons))) as pool:
        return list(pool.map(probe, pythons))


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
