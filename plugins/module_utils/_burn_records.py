# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a burn-in leaves behind: its JSON record (reused while it still proves the thresholds) and the
node_exporter textfile-collector metrics, both replaced atomically."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic import write_atomic
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_judge import evaluate


RECORD_VERSION = 1
METRICS_FILE = "gpufleet_burnin.prom"


def record_path(results_dir, key):
    return os.path.join(results_dir, f"burnin-{key}.json")


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
