# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From what a burn-in measured to a verdict: worker output parsed, figures aggregated per GPU, thresholds applied.

Pure functions: the torch and gpu_burn backends both end in the per-GPU result dict judged here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_peaks import peak_entry
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_process import SAMPLE_INTERVAL


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
    result = base_gpu_result(target, plan, tflops)
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


def base_gpu_result(target, plan, tflops):
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
