# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask Python interpreters what PyTorch (and bitsandbytes) they have and whether it can use the GPU.

Each interpreter runs PROBE_SCRIPT in its own subprocess with a timeout, so torch is never imported into the
calling (Ansible) process, and a hanging, crashing or missing interpreter becomes an entry with ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import RC_NOT_FOUND, RC_TIMEOUT, run_command

DEFAULT_TORCH_TIMEOUT = 60
_MAX_PARALLEL_PROBES = 4

# Runs inside the probed interpreter (any Python, even 2.7: no f-strings, so old venvs still answer). It prints one
# JSON line per stage so that a crash inside `import torch` or a CUDA call still leaves the last completed stage to
# report; the caller reads the last JSON line of stdout, because torch and bitsandbytes may print banners there too.
PROBE_SCRIPT = r"""
import json, os, sys, platform
# Never pick up a stray torch.py from the working directory.
sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
r = {"python_version": platform.python_version(), "torch_installed": False, "torch_version": None,
     "cuda_available": None, "cuda_version": None, "cudnn_version": None, "device_count": None, "devices": [],
     "arch_list": [], "bitsandbytes": {"version": None, "error": None},
     "smoke": {"ok": None, "device": None, "error": None}, "error": None, "stage": "start"}
def emit(stage):
    r["stage"] = stage
    sys.stdout.write("\n" + json.dumps(r) + "\n")
    sys.stdout.flush()
def err(exc):
    return ("%s: %s" % (type(exc).__name__, exc)).strip()
def installed(name):
    try:
        import importlib.util
    except ImportError:  # Python 2
        import imp
        try:
            imp.find_module(name)
            return True
        except ImportError:
            return False
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return True
emit("start")
torch = None
if installed("torch"):
    r["torch_installed"] = True
    emit("import torch")
    try:
        import torch
        r["torch_version"] = str(torch.__version__)
        r["cuda_version"] = getattr(torch.version, "cuda", None)
    except Exception as exc:
        r["error"] = "import torch failed: " + err(exc)
if torch is not None:
    emit("torch.cuda")
    try:
        r["cudnn_version"] = torch.backends.cudnn.version()
    except Exception:
        pass
    try:
        r["arch_list"] = list(torch.cuda.get_arch_list())
    except Exception:
        pass
    try:
        r["cuda_available"] = bool(torch.cuda.is_available())
        r["device_count"] = int(torch.cuda.device_count()) if r["cuda_available"] else 0
        for i in range(r["device_count"]):
            p = torch.cuda.get_device_properties(i)
            r["devices"].append({"index": i, "name": p.name, "capability": "%d.%d" % (p.major, p.minor),
                                 "memory_total_mib": int(p.total_memory // (1024 * 1024))})
    except Exception as exc:
        r["error"] = "torch.cuda query failed: " + err(exc)
    if r["cuda_available"]:
        emit("smoke")
        r["smoke"]["device"] = "cuda:0"
        try:
            a = torch.arange(1024, dtype=torch.float32)
            b = torch.full((1024,), 0.5, dtype=torch.float32)
            got = (a.to("cuda:0") + b.to("cuda:0")).cpu()
            torch.cuda.synchronize()
            r["smoke"]["ok"] = bool(torch.equal(got, a + b))
            if not r["smoke"]["ok"]:
                r["smoke"]["error"] = "GPU result differs from CPU result"
        except Exception as exc:
            r["smoke"]["ok"] = False
            r["smoke"]["error"] = err(exc)
if installed("bitsandbytes"):
    emit("import bitsandbytes")
    try:
        import bitsandbytes
        r["bitsandbytes"]["version"] = str(getattr(bitsandbytes, "__version__", "unknown"))
    except Exception as exc:
        r["bitsandbytes"]["error"] = err(exc)
emit("done")
"""

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
    """The entry for an interpreter we learned nothing from."""
    return {
        "python": python,
        "python_version": None,
        "torch_installed": False,
        "torch_version": None,
        "cuda_available": None,
        "cuda_version": None,
        "cudnn_version": None,
        "device_count": None,
        "devices": [],
        "arch_list": [],
        "bitsandbytes": {"version": None, "error": None},
        "smoke": {"ok": None, "device": None, "error": None},
        "error": None,
    }


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
