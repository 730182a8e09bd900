# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in engine on the Ansible side: plan, run, watch, judge and remember a GPU burn-in.

Pure functions decide (plan, record keys, aggregation, thresholds, metrics); ``BurnRunner`` owns the processes:
one worker per GPU (torch backend) or one ``gpu_burn`` (gpu_burn backend, in gpu_burn.py), each in its own process
group, sampled through NVML at 1 Hz, and every group killed on timeout, failure or a signal, so no stress process
outlives the task. torch is only ever imported by the worker, under the user's ``torch_python``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils.burn_worker import WORKER_NAME, WORKER_SOURCE

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
RECORD_VERSION = 1
PID_FILE = "burnin.pid"
METRICS_FILE = "gpufleet_burnin.prom"
SAMPLE_INTERVAL = 1.0
KILL_GRACE = 5.0

# Dense (no sparsity) peak TFLOPS of the GEMM each dtype runs on, per model variant: tensor cores where cuBLAS uses
# them (bf16/fp16/tf32, and FP64 DMMA on Hopper and A100), the FP32 CUDA-core rate for fp32. Matched on the name NVML
# reports, first match wins; a model that matches nothing has no peak and fraction_of_peak is not judged. Each
# figure is NVIDIA's datasheet number for the variant (the sparsity figure halved where only that is printed).
# Entries whose source says "recalled" were written from memory of the datasheet, not checked against it here:
# confirm them before holding a fleet to a tight min_fraction_of_peak.
_HOPPER_SXM = {"bf16": 989.0, "fp16": 989.0, "tf32": 495.0, "fp32": 67.0, "fp64": 67.0}
_HOPPER_NVL = {"bf16": 835.0, "fp16": 835.0, "tf32": 418.0, "fp32": 60.0, "fp64": 60.0}
PEAK_TFLOPS = (
    # H100 NVL datasheet (per GPU): BF16/FP16 1,671 and TF32 835 with sparsity; FP32 60, FP64 tensor 60.
    (r"\bH100 NVL\b", _HOPPER_NVL, "NVIDIA H100 NVL datasheet (recalled)"),
    # H100 PCIe datasheet: BF16/FP16 1,513 and TF32 756 with sparsity; FP32 51, FP64 tensor 51.
    (
        r"\bH100 PCIe\b",
        {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.0, "fp64": 51.0},
        "NVIDIA H100 PCIe datasheet",
    ),
    # H100 SXM5 ("NVIDIA H100 80GB HBM3"): BF16/FP16 1,979 and TF32 989 with sparsity; FP32 67, FP64 tensor 67.
    (r"\bH100 80GB HBM3\b|\bH100 SXM", _HOPPER_SXM, "NVIDIA H100 SXM5 datasheet"),
    # H200 NVL datasheet: the same figures as H100 NVL (BF16 1,671 and TF32 835 sparse; FP32 60, FP64 tensor 60).
    (r"\bH200 NVL\b", _HOPPER_NVL, "NVIDIA H200 NVL datasheet (recalled)"),
    # H200 SXM ("NVIDIA H200"): the H100 SXM5 compute figures with more and faster memory.
    (r"\bH200\b(?! NVL)", _HOPPER_SXM, "NVIDIA H200 SXM datasheet"),
    # A100 datasheet, SXM4 and PCIe alike: BF16/FP16 312, TF32 156, FP32 19.5, FP64 tensor 19.5 (dense).
    (
        r"\bA100-SXM4\b",
        {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5, "fp64": 19.5},
        "NVIDIA A100 datasheet",
    ),
    (
        r"\bA100\b.*\bPCIe\b",
        {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5, "fp64": 19.5},
        "NVIDIA A100 datasheet",
    ),
    # L40S datasheet: BF16/FP16 362.05 and TF32 183 dense (733 and 366 with sparsity), FP32 91.6 (FP64 not given: no
    # fp64 peak). Checked against the datasheet's table as a vendor reproduces it.
    (r"\bL40S\b", {"bf16": 362.0, "fp16": 362.0, "tf32": 183.0, "fp32": 91.6}, "NVIDIA L40S datasheet"),
    # RTX A6000 datasheet: FP32 38.7; its 309.7 tensor TFLOPS are with sparsity, so BF16/FP16 ~155 and TF32 ~77
    # dense are derived (not printed as such): treat those two as approximate.
    (r"\bRTX A6000\b", {"bf16": 155.0, "fp16": 155.0, "tf32": 77.4, "fp32": 38.7}, "RTX A6000 (derived, approx.)"),
)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class BurnError(Exception):
    """A burn-in cannot be planned or run; the message says why and what to do."""


class BurnInterrupted(Exception):
    """The module received a signal while workers ran; they have been killed."""


# ---------------------------------------------------------------------------------------------------------------------
# Options and plan


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


def peak_entry(name):
    """(peaks by dtype, source) of the first PEAK_TFLOPS entry matching an NVML name, or (None, None)."""
    for pattern, peaks, source in PEAK_TFLOPS:
        if name and re.search(pattern, name, re.IGNORECASE):
            return peaks, source
    return None, None


def peak_tflops(name, dtype):
    """The dense peak for a GPU model name and dtype, or None when the model (or its dtype) is not known."""
    peaks, _source = peak_entry(name)
    return None if peaks is None else peaks.get(dtype)


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


# ---------------------------------------------------------------------------------------------------------------------
# Records


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


def record_path(results_dir, key):
    return os.path.join(results_dir, f"burnin-{key}.json")


def write_atomic(path, text, mode=0o644):
    """Replace path with text in one step (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_record(results_dir, record):
    path = record_path(results_dir, record["key"])
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def read_record(results_dir, key):
    """The stored record for key, or None when there is none or it cannot be read."""
    try:
        with open(record_path(results_dir, key)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def reusable(record, thresholds, max_age, now):
    """True when record passed, still passes these thresholds, and is younger than max_age seconds."""
    if not record or record.get("version") != RECORD_VERSION or not record.get("gpus"):
        return False
    age = now - float(record.get("finished", 0))
    if age < 0 or age > max_age:
        return False
    return all(evaluate(gpu, thresholds)[0] == "pass" for gpu in record["gpus"])


# ---------------------------------------------------------------------------------------------------------------------
# Aggregation and verdict


def median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def warmup_seconds(duration):
    """Seconds of progress left out of the TFLOPS figures (clocks and caches settle first)."""
    return min(30.0, max(1.0, 0.1 * duration))


def steady_tflops(progress, duration):
    """TFLOPS of the progress windows that end after warm-up plus one window; all of them when that leaves none."""
    skip = warmup_seconds(duration) + SAMPLE_INTERVAL
    values = [p["tflops"] for p in progress if p.get("t", 0) >= skip and p.get("tflops") is not None]
    if not values:
        values = [p["tflops"] for p in progress if p.get("tflops") is not None]
    return values


def summarize_samples(samples):
    """Temperature, power and clock-event figures from NVML samples of one GPU."""
    temps = [s["temperature_c"] for s in samples if s.get("temperature_c") is not None]
    power = [s["power_draw_w"] for s in samples if s.get("power_draw_w") is not None]
    clocks = [s["sm_clock_mhz"] for s in samples if s.get("sm_clock_mhz") is not None]
    with_reasons = [s["clock_event_reasons"] for s in samples if s.get("clock_event_reasons") is not None]
    fractions = {}
    for reasons in with_reasons:
        for reason in reasons:
            fractions[reason] = fractions.get(reason, 0) + 1
    return {
        "samples": len(samples),
        "max_temperature_c": max(temps) if temps else None,
        "power_w": {
            "mean": round(sum(power) / len(power), 2) if power else None,
            "max": max(power) if power else None,
        },
        "sm_clock_mhz": {"median": median(clocks), "min": min(clocks) if clocks else None},
        "throttle_fractions": {name: round(count / len(with_reasons), 4) for name, count in sorted(fractions.items())},
    }


def parse_worker_output(text):
    """Events of a worker's JSON-lines stdout by kind; lines that are not JSON objects are kept as ``noise``."""
    events = {
        "start": None,
        "progress": [],
        "summary": None,
        "errors": [],
        "spot_check_failed": [],
        "checksum_failed": [],
        "noise": [],
    }
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            events["noise"].append(line)
            continue
        kind = event.get("event")
        if kind == "progress":
            events["progress"].append(event)
        elif kind in ("start", "summary"):
            events[kind] = event
        elif kind == "error":
            events["errors"].append(event.get("message") or "unknown worker error")
        elif kind in ("spot_check_failed", "checksum_failed"):
            events[kind].append(event)
    return events


def aggregate_torch_gpu(target, plan, events, samples, exit_note=None):
    """The per-GPU result of a torch worker (before thresholds)."""
    summary = events["summary"] or {}
    last = events["progress"][-1] if events["progress"] else {}
    tflops = steady_tflops(events["progress"], plan["duration"])
    if not tflops and summary.get("tflops") is not None:
        tflops = [summary["tflops"]]
    problems = list(events["errors"])
    if exit_note:
        problems.append(exit_note)
    if not events["summary"] and not exit_note:
        problems.append("the worker ended without a summary")
    start = events["start"] or {}
    result = _gpu_result(target, plan, tflops)
    result.update(
        matrix_size=summary.get("matrix_size", start.get("matrix_size")),
        iterations=summary.get("iterations", last.get("iterations", 0)),
        errors=summary.get("errors", last.get("errors", 0)),
        nans=summary.get("nans", last.get("nans", 0)),
        spot_checks=summary.get("spot_checks", 0),
        spot_check_failures=summary.get("spot_check_failures", len(events["spot_check_failed"])),
        spot_check_max_error=summary.get("spot_check_max_error"),
        checksum_checks=summary.get("checksum_checks", 0),
        checksum_failures=summary.get("checksum_failures", len(events["checksum_failed"])),
        checksum_max_excess=summary.get("checksum_max_excess"),
        checksum_tolerance_max=start.get("checksum_tolerance_max"),
        gemm_seconds=summary.get("gemm_seconds"),
        check_seconds=summary.get("check_seconds"),
        worker_problems=problems,
    )
    result.update(summarize_samples(samples))
    return result


def _gpu_result(target, plan, tflops):
    peaks, source = peak_entry(target.get("name")) if plan["device"] == "cuda" else (None, None)
    peak = None if peaks is None else peaks.get(plan["dtype"])
    tflops_median = median(tflops)
    return {
        "index": target["index"],
        "uuid": target["uuid"],
        "name": target.get("name"),
        "device": target["device"],
        "backend": plan["backend"],
        "dtype": plan["dtype"],
        "duration": plan["duration"],
        "tflops": {
            "median": None if tflops_median is None else round(tflops_median, 6),
            "min": round(min(tflops), 6) if tflops else None,
            "max": round(max(tflops), 6) if tflops else None,
        },
        "peak_tflops": peak,
        "peak_source": source if peak is not None else None,
        "fraction_of_peak": round(tflops_median / peak, 4) if peak and tflops_median is not None else None,
    }


def evaluate(result, thresholds):
    """("pass" | "fail", reasons) for one GPU result; thresholds that are None are not applied."""
    reasons = list(result.get("worker_problems") or [])
    reasons.extend(result.get("hardware_problems") or [])
    max_errors = thresholds.get("max_errors") or 0
    errors = result.get("errors") or 0
    if errors > max_errors:
        reasons.append(f"{errors} result mismatch(es) against the first result (max_errors {max_errors})")
    if (result.get("nans") or 0) > 0:
        reasons.append(f"{result['nans']} NaN/Inf value(s) in results")
    if (result.get("checksum_failures") or 0) > 0:
        reasons.append(
            f"{result['checksum_failures']} result(s) disagree with the FP64 checksum of the whole output "
            f"(worst column {result.get('checksum_max_excess') or 0:.3g}x its tolerance; a fault that corrupts "
            "every product the same way)"
        )
    if (result.get("spot_check_failures") or 0) > 0:
        reasons.append(
            f"{result['spot_check_failures']} spot check(s) disagree with the FP64 reference "
            "(results are wrong the same way every time)"
        )
    if result.get("gpu_burn_verdict") not in (None, "OK"):
        reasons.append(f"gpu-burn verdict {result['gpu_burn_verdict']}")
    median_tflops = (result.get("tflops") or {}).get("median")
    if thresholds.get("min_tflops") is not None:
        if median_tflops is None:
            reasons.append("no TFLOPS measured (min_tflops is set)")
        elif median_tflops < thresholds["min_tflops"]:
            reasons.append(f"{median_tflops:.3f} TFLOPS is below min_tflops {thresholds['min_tflops']:g}")
    fraction = result.get("fraction_of_peak")
    minimum = thresholds.get("min_fraction_of_peak")
    if minimum is not None and fraction is not None and fraction < minimum:
        reasons.append(
            f"{fraction:.1%} of the {result['peak_tflops']:g} TFLOPS peak is below min_fraction_of_peak {minimum:.1%}"
        )
    temperature = result.get("max_temperature_c")
    hottest = thresholds.get("max_temperature_c")
    if hottest is not None and temperature is not None and temperature > hottest:
        reasons.append(f"reached {temperature} C, above max_temperature_c {hottest}")
    return ("fail" if reasons else "pass"), reasons


def judgement_notes(result, thresholds):
    """What was not judged, and why (not failures)."""
    notes = []
    if thresholds.get("min_fraction_of_peak") is not None and result.get("fraction_of_peak") is None:
        notes.append(
            f"min_fraction_of_peak not judged: no dense {result.get('dtype')} peak is known for "
            f"{result.get('name') or result.get('device')}"
        )
    return notes


def judge(results, thresholds):
    """Set verdict, reasons and notes on every result; the failing ones, in order."""
    failing = []
    for result in results:
        result["verdict"], result["reasons"] = evaluate(result, thresholds)
        result["notes"] = judgement_notes(result, thresholds)
        if result["verdict"] == "fail":
            failing.append(result)
    return failing


def failure_message(failing):
    parts = [f"{r['device']} ({r.get('name') or r['uuid']}): {'; '.join(r['reasons'])}" for r in failing]
    return f"Burn-in failed on {len(failing)} device(s): " + " | ".join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# Prometheus textfile


def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus_metrics(record):
    """node_exporter textfile-collector text for a record."""
    lines = []
    metrics = (
        ("gpufleet_burnin_passed", "1 when the last burn-in of the GPU passed", lambda g: g["verdict"] == "pass"),
        ("gpufleet_burnin_tflops", "Median steady-state TFLOPS of the last burn-in", lambda g: g["tflops"]["median"]),
        ("gpufleet_burnin_fraction_of_peak", "Median TFLOPS over the dense peak", lambda g: g["fraction_of_peak"]),
        ("gpufleet_burnin_errors", "Result mismatches in the last burn-in", lambda g: g.get("errors")),
        ("gpufleet_burnin_max_temperature_celsius", "Highest temperature seen", lambda g: g.get("max_temperature_c")),
        ("gpufleet_burnin_timestamp_seconds", "When the last burn-in finished", lambda g: record["finished"]),
    )
    for name, help_text, getter in metrics:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for gpu in record["gpus"]:
            value = getter(gpu)
            if value is None:
                continue
            labels = ",".join(
                f'{key}="{_label(gpu[field])}"'
                for key, field in (("gpu", "index"), ("uuid", "uuid"), ("device", "device"), ("backend", "backend"))
            )
            labels += f',dtype="{_label(gpu["dtype"])}"'
            lines.append(f"{name}{{{labels}}} {float(value):g}")
    return "\n".join(lines) + "\n"


def write_metrics(textfile_dir, record):
    path = os.path.join(textfile_dir, METRICS_FILE)
    write_atomic(path, prometheus_metrics(record))
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Processes


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


def kill_group(pid, grace=KILL_GRACE):
    """SIGTERM the process group led by pid, then SIGKILL what is left after grace seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


class BurnRunner:
    """Runs processes in their own process groups, samples NVML, and never leaves one behind.

    ``sampler`` is a callable(indices) -> list of sample dicts (NvmlSession.sample) or None to skip sampling.
    """

    def __init__(self, sampler=None, sample_indices=(), clock=time.monotonic):
        self.sampler = sampler
        self.sample_indices = list(sample_indices)
        self.clock = clock
        self.procs = []
        self._old_handlers = {}

    def _on_signal(self, signum, _frame):
        self.kill_all()
        raise BurnInterrupted(f"interrupted by signal {signum}; every burn-in process was stopped")

    def __enter__(self):
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):  # not the main thread: no handlers
                self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.kill_all()
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        return False

    def kill_all(self):
        """SIGTERM every group whose leader we have not reaped, then SIGKILL what is left after the grace time.

        A reaped leader's PID (and so its group ID) may already belong to someone else, so it is never signalled.
        """
        live = [proc for proc in self.procs if proc.returncode is None]
        for proc in live:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE
        for proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in live:
            # SIGKILL the group even when its leader exited on SIGTERM: a child of it that ignores SIGTERM (or is
            # slow to act on it) must not outlive the run.
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.returncode is None:
                proc.wait()

    def run(self, argvs, timeout, env=None, cwd=None, envs=None):
        """Run every argv at once; returns (outputs, samples by index, timed_out).

        env: variables added for every process; envs: per process (envs[i] for argvs[i]), added after env.
        outputs[i] = dict(rc, stdout, stderr) for argvs[i]; stdout is read as it comes so pipes never fill.
        """
        selector = selectors.DefaultSelector()
        buffers = []
        for position, argv in enumerate(argvs):
            full_env = dict(os.environ, **(env or {}))
            if envs:
                full_env.update(envs[position])
            err = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in run()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
            proc.stderr_file = err
            self.procs.append(proc)
            chunks = []
            buffers.append(chunks)
            selector.register(proc.stdout, selectors.EVENT_READ, chunks)
        samples = {index: [] for index in self.sample_indices}
        deadline = self.clock() + timeout
        next_sample = self.clock()
        timed_out = False
        open_pipes = len(argvs)
        while open_pipes:
            now = self.clock()
            if now >= deadline:
                timed_out = True
                break
            if self.sampler and now >= next_sample:
                for sample in self.sampler(self.sample_indices) or []:
                    samples.setdefault(sample["index"], []).append(dict(sample, t=round(now, 3)))
                next_sample = now + SAMPLE_INTERVAL
            for key, _mask in selector.select(timeout=min(0.2, max(0.0, deadline - now))):
                data = os.read(key.fileobj.fileno(), 65536)
                if data:
                    key.data.append(data)
                else:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
        selector.close()
        if timed_out:
            self.kill_all()
        outputs = []
        for proc, chunks in zip(self.procs, buffers):
            try:
                rc = proc.wait(timeout=KILL_GRACE * 2)
            except subprocess.TimeoutExpired:
                self.kill_all()
                rc = proc.wait()
            proc.stdout.close()
            proc.stderr_file.seek(0)
            stderr = proc.stderr_file.read().decode("utf-8", "replace")
            proc.stderr_file.close()
            outputs.append({"rc": rc, "stdout": b"".join(chunks).decode("utf-8", "replace"), "stderr": stderr})
        return outputs, samples, timed_out


def _exit_note(output, timed_out, timeout):
    if timed_out:
        return f"timed out after {timeout:g}s and was killed"
    if output["rc"] != 0:
        tail = [line for line in output["stderr"].strip().splitlines() if line.strip()][-3:]
        return f"exited with rc {output['rc']}" + (": " + " / ".join(tail) if tail else "")
    return None


def run_timeout(plan):
    """Seconds the whole run may take: the burn itself plus time to start (allocation, cuBLAS/CPU warm-up)."""
    return plan["duration"] * 1.1 + 120.0


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
        note = _exit_note(output, timed_out, timeout)
        results.append(aggregate_torch_gpu(target, plan, events, samples.get(target["index"], []), note))
    return results


def build_record(plan, results, started, finished):
    return {
        "version": RECORD_VERSION,
        "key": plan["key"],
        "backend": plan["backend"],
        "device": plan["device"],
        "dtype": plan["dtype"],
        "duration": plan["duration"],
        "driver_version": plan["driver_version"],
        "uuids": sorted(t["uuid"] for t in plan["targets"]),
        "started": started,
        "finished": finished,
        "passed": all(r["verdict"] == "pass" for r in results),
        "gpus": results,
    }


# ---------------------------------------------------------------------------------------------------------------------
# Detached stress (state started / stopped)


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
