# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a burn-in will do: options parsed and checked, the backend chosen, the plan and the key of what it proves.

Pure functions; every bad option raises BurnError naming the option and the problem.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re


DTYPES = ("bf16", "fp16", "tf32", "fp32", "fp64")
# inject_fault: none; transient (one bit of one result flipped once, for the result-to-result comparison);
# persistent (every product wrong the same way, for the FP64 checksum). Booleans from before: true is transient.
FAULT_MODES = ("none", "transient", "persistent")
BACKENDS = ("auto", "torch", "gpu_burn")
# What gpu-burn computes: FP32 SGEMM (fp32) and FP64 DGEMM (-d, fp64). Its -tc is no TF32 mode: it sets cuBLAS's
# CUBLAS_TENSOR_OP_MATH, which cuBLAS runs as CUBLAS_COMPUTE_32F_FAST_16F (FP32 data, FP16 tensor-core math).
GPU_BURN_DTYPES = ("fp32", "fp64")
GPU_BURN_NO_TF32 = (
    "gpu-burn has no TF32 mode: its -tc flag sets cuBLAS's CUBLAS_TENSOR_OP_MATH, which runs the FP32 GEMMs as "
    "CUBLAS_COMPUTE_32F_FAST_16F (FP16 tensor-core math), so neither the dtype nor the TF32 peak would be honest; "
    "use backend=torch (or auto) for dtype=tf32"
)
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class BurnError(Exception):
    """A burn-in cannot be planned or run; the message says why and what to do."""


def parse_duration(value, name):
    """Seconds from an int or a string like "90", "10m", "2h", "7d"; raises BurnError naming the option."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value))
        if not match:
            raise BurnError(f"{name}: {value!r} is not a duration (seconds, or a number with s, m, h or d)")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise BurnError(f"{name}: must not be negative")
    return seconds


def parse_gpu_selection(gpus, available):
    """Indices to burn from ``gpus`` (["all"] or index strings) and the available indices."""
    items = [str(item).strip() for item in (gpus or ["all"])]
    if "all" in items:
        if len(items) > 1:
            raise BurnError("gpus: 'all' cannot be combined with indices")
        return list(available)
    chosen = []
    for item in items:
        if not item.isdigit():
            raise BurnError(f"gpus: {item!r} is not 'all' or a GPU index")
        index = int(item)
        if index not in available:
            raise BurnError(f"gpus: GPU {index} does not exist; this host has {sorted(available) or 'none'}")
        if index not in chosen:
            chosen.append(index)
    return chosen


def fault_mode(value):
    """The inject_fault mode from a mode name or a boolean (true: transient, false: none)."""
    if value is None or value is False:
        return "none"
    if value is True:
        return "transient"
    text = str(value).strip().lower()
    if text in FAULT_MODES:
        return text
    if text in ("true", "yes", "on", "1"):
        return "transient"
    if text in ("false", "no", "off", "0", ""):
        return "none"
    raise BurnError(f"inject_fault: {value!r} is not one of {', '.join(FAULT_MODES)} (or a boolean)")


def choose_backend(backend, dtype, gpu_burn_src, nvcc):
    """The backend to use: auto is gpu_burn when a source is given, nvcc is found and gpu-burn has the dtype."""
    if backend == "torch":
        return "torch"
    if backend == "gpu_burn":
        if dtype == "tf32":
            raise BurnError("backend=gpu_burn cannot run dtype=tf32: " + GPU_BURN_NO_TF32)
        if dtype not in GPU_BURN_DTYPES:
            raise BurnError(f"backend=gpu_burn runs {', '.join(GPU_BURN_DTYPES)} only, not dtype={dtype}")
        if not gpu_burn_src:
            raise BurnError("backend=gpu_burn needs gpu_burn_src (a directory, an archive or a git URL)")
        if not nvcc:
            raise BurnError("backend=gpu_burn needs nvcc to build gpu-burn, and no CUDA toolkit with nvcc was found")
        return "gpu_burn"
    if gpu_burn_src and nvcc and dtype in GPU_BURN_DTYPES:
        return "gpu_burn"
    return "torch"


def plan_burn(params, gpu_facts, nvcc=None, cpu_name=None):
    """What a burn-in will do: backend, dtype, duration and the targets (one per GPU, or the CPU)."""
    dtype = params["dtype"]
    duration = parse_duration(params["duration"], "duration")
    if duration <= 0:
        raise BurnError("duration: must be more than 0 seconds")
    if not 0 < params["memory_fraction"] <= 1:
        raise BurnError(f"memory_fraction: must be in (0, 1], got {params['memory_fraction']}")
    size = str(params["matrix_size"]).strip()
    if size != "auto" and not (size.isdigit() and int(size) >= 16):
        raise BurnError(f"matrix_size: {size!r} is not 'auto' or an integer of at least 16")
    if params["device"] == "cpu":
        if params["backend"] == "gpu_burn":
            raise BurnError("device=cpu runs the torch worker on the CPU; backend=gpu_burn needs GPUs")
        targets = [{"index": 0, "uuid": "cpu", "name": cpu_name or "cpu", "device": "cpu"}]
        backend, driver = "torch", "cpu"
    else:
        if not gpu_facts.get("present"):
            raise BurnError(
                "No NVIDIA GPU found: "
                + (gpu_facts.get("error") or "no device reported")
                + " (device=cpu runs the same burn-in on the CPU for tests and demos)"
            )
        devices = {dev["index"]: dev for dev in gpu_facts["devices"]}
        chosen = parse_gpu_selection(params["gpus"], sorted(devices))
        targets = [
            {
                "index": index,
                "uuid": devices[index].get("uuid") or f"index-{index}",
                "name": devices[index].get("name"),
                "compute_capability": devices[index].get("compute_capability"),
                "device": f"cuda:{index}",
            }
            for index in chosen
        ]
        backend = choose_backend(params["backend"], dtype, params.get("gpu_burn_src"), nvcc)
        driver = gpu_facts.get("driver_version") or "unknown"
    plan = {
        "backend": backend,
        "device": params["device"],
        "dtype": dtype,
        "duration": duration,
        "memory_fraction": params["memory_fraction"],
        "matrix_size": size,
        "inject_fault": fault_mode(params.get("inject_fault")),
        "driver_version": driver,
        "targets": targets,
    }
    plan["key"] = record_key(plan)
    return plan


def describe_plan(plan):
    """One line for check mode and messages."""
    where = ", ".join(f"{t['device']} ({t['name']})" for t in plan["targets"])
    fault = fault_mode(plan["inject_fault"])
    return f"{plan['backend']} burn-in of {plan['dtype']} GEMMs for {plan['duration']:g}s on {where}" + (
        "" if fault == "none" else f" with an injected {fault} fault"
    )


def record_key(plan):
    """Stable key of what a result proves: the GPUs (UUIDs), driver, backend, dtype and duration."""
    fields = {
        "uuids": sorted(t["uuid"] for t in plan["targets"]),
        "driver_version": plan["driver_version"],
        "backend": plan["backend"],
        "dtype": plan["dtype"],
        "duration": plan["duration"],
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()[:20]
