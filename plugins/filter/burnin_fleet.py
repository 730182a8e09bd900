# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: burnin_fleet
short_description: Judge a fleet's burn-in results against the median of each GPU model
version_added: 0.1.0
description:
  - Takes one record per host (the C(gpus) returned by M(gpufleet.nvidia.gpu_burnin)) and groups the GPUs by model
    name. A GPU whose median TFLOPS is below (1 - O(tolerance)) times the median of its model fails as an outlier.
  - Returns the rows of a fleet report, the medians per model and, per host, whether it passed and why not.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description:
      - A list of dicts with C(host), C(skipped) (no burn-in ran, e.g. no GPU), C(passed), C(msg) and C(gpus) (the
        module's RV(gpufleet.nvidia.gpu_burnin#module:passed), RV(gpufleet.nvidia.gpu_burnin#module:msg) and
        per-GPU results). A host that was not skipped and did not pass fails even without a failing GPU.
    type: list
    elements: dict
    required: true
  tolerance:
    description:
      - Fraction below the model's median TFLOPS that is still accepted, from V(0) to V(1).
      - V(1) switches the outlier check off (for CPU burn-ins on shared machines, whose speed says nothing).
    type: float
    default: 0.1
"""

EXAMPLES = r"""
- name: Judge the fleet
  ansible.builtin.set_fact:
    fleet: >-
      {{ [{'host': 'n1', 'skipped': false, 'passed': burnin_result.passed, 'msg': burnin_result.msg,
           'gpus': burnin_result.gpus}] | gpufleet.nvidia.burnin_fleet(0.1) }}
"""

RETURN = r"""
_value:
  description: The judged fleet.
  type: dict
  contains:
    tolerance:
      description: The tolerance used.
      type: float
    passed:
      description: Whether every GPU of every host passed.
      type: bool
    models:
      description:
        - Per model and dtype burned (a key such as C(NVIDIA H100 80GB HBM3 (bf16))), C(count) of GPUs and
          C(median_tflops). GPUs are compared only with GPUs of the same model burned with the same dtype.
      type: dict
    results:
      description:
        - One row per GPU, sorted by host and index, with C(host), C(index), C(uuid), C(name), C(device), C(dtype),
          C(tflops), C(tflops_median), C(model_key) (the key in RV(_value.models)), C(model_median_tflops),
          C(max_temperature_c), C(outlier), C(verdict) and C(reasons) (the module's reasons plus the outlier reason).
      type: list
      elements: dict
    hosts:
      description: Per host, C(skipped), C(passed), C(msg) and C(failing) (one line per failing GPU with its reasons).
      type: dict
"""

from collections.abc import Mapping, Sequence
from statistics import median

from ansible.errors import AnsibleFilterError


def _median_tflops(gpu):
    tflops = gpu.get("tflops") or {}
    value = tflops.get("median") if isinstance(tflops, Mapping) else None
    if value is None:
        value = gpu.get("tflops_median")  # a row judged before (a recorded verdict)
    return float(value) if value is not None else None


def gpu_row(host, gpu):
    """A host's GPU as a row of the fleet: the module's per-GPU result (or a recorded row), not judged yet."""
    return {
        "host": host,
        "index": gpu.get("index"),
        "uuid": gpu.get("uuid"),
        "name": gpu.get("name") or "unknown",
        "device": gpu.get("device"),
        "dtype": gpu.get("dtype"),
        "tflops": gpu.get("tflops") or {},
        "tflops_median": _median_tflops(gpu),
        "max_temperature_c": gpu.get("max_temperature_c"),
        "outlier": False,
        "verdict": gpu.get("verdict") or "fail",
        "reasons": list(gpu.get("reasons") or []),
    }


def _gpu_label(row):
    return f"GPU {row['index']} ({row['name']}, {row['uuid']})"


def model_key(name, dtype):
    """The peer group of a GPU: its model and the dtype it was burned with, e.g. 'NVIDIA H100 80GB HBM3 (bf16)'."""
    return f"{name} ({dtype})" if dtype else str(name)


def model_medians(rows):
    """Set each row's ``model_key`` and return the per-model ``count`` and ``median_tflops`` of the rows.

    Peers are GPUs of the same model burned with the same dtype: an fp64 run is not slow next to a bf16 one.
    """
    by_model = {}
    for row in rows:
        row["model_key"] = model_key(row.get("name"), row.get("dtype"))
        if row.get("tflops_median") is not None:
            by_model.setdefault(row["model_key"], []).append(row["tflops_median"])
    return {key: {"count": len(values), "median_tflops": median(values)} for key, values in by_model.items()}


def judge_fleet(records, tolerance=0.1):
    """Rows, per-model medians and per-host verdicts for the burn-in results of a fleet."""
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise AnsibleFilterError(f"burnin_fleet expects a list of host records, got {type(records).__name__}")
    tolerance = float(tolerance)
    if not 0 <= tolerance <= 1:
        raise AnsibleFilterError(f"burnin_fleet: tolerance must be in [0, 1] (1: no outlier check), got {tolerance}")

    rows = []
    hosts = {}
    for record in records:
        if not isinstance(record, Mapping) or "host" not in record:
            raise AnsibleFilterError(f"burnin_fleet: each record needs a 'host', got {record!r}")
        host = str(record["host"])
        skipped = bool(record.get("skipped"))
        hosts[host] = {"skipped": skipped, "msg": record.get("msg") or "", "failing": []}
        # A run that failed before judging any GPU (no interpreter, a crash) has no failing row to name.
        module_failed = not skipped and record.get("passed") is not True
        if module_failed and not any(gpu.get("verdict") != "pass" for gpu in record.get("gpus") or []):
            hosts[host]["failing"].append(f"burn-in did not pass: {hosts[host]['msg'] or 'no result'}")
        rows.extend(gpu_row(host, gpu) for gpu in record.get("gpus") or [])

    models = model_medians(rows)

    for row in rows:
        model = models.get(row["model_key"])
        row["model_median_tflops"] = model["median_tflops"] if model else None
        if model is None or row["tflops_median"] is None or tolerance >= 1:
            continue
        floor = (1 - tolerance) * model["median_tflops"]
        if row["tflops_median"] < floor:
            row["outlier"] = True
            row["verdict"] = "fail"
            row["reasons"].append(
                f"outlier: {row['tflops_median']:.4g} TFLOPS < (1-{tolerance:g}) \u00d7 median"
                f" {model['median_tflops']:.4g}"
            )

    rows.sort(key=lambda row: (row["host"], row["index"] if row["index"] is not None else -1))
    for row in rows:
        if row["verdict"] != "pass":
            hosts[row["host"]]["failing"].append(f"{_gpu_label(row)}: {'; '.join(row['reasons']) or 'failed'}")
    for host in hosts.values():
        host["passed"] = not host["failing"]
    return {
        "tolerance": tolerance,
        "passed": all(host["passed"] for host in hosts.values()),
        "models": models,
        "results": rows,
        "hosts": hosts,
    }


def host_verdict(judged, host):
    """What a host records of a fleet judgement: its verdict, why it failed, the tolerance and its judged GPU rows."""
    if not isinstance(judged, Mapping) or not isinstance(judged.get("hosts"), Mapping):
        raise AnsibleFilterError("burnin_host_verdict expects the output of burnin_fleet")
    host = str(host)
    if host not in judged["hosts"]:
        raise AnsibleFilterError(f"burnin_host_verdict: {host} was not judged (no burn-in record in this play)")
    verdict = judged["hosts"][host]
    return {
        "passed": bool(verdict["passed"]),
        "failing": list(verdict["failing"]),
        "tolerance": judged.get("tolerance"),
        "gpus": [row for row in judged.get("results") or [] if row.get("host") == host],
    }


class FilterModule:
    def filters(self):
        return {"burnin_fleet": judge_fleet}
