# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in engine on the Ansible side: plan, run, watch, judge and remember a GPU burn-in.

This module is the engine's public surface (what gpu_burnin, hack/gpu_check.py and the tests call); each concern
lives in its own private module_utils:

- ``_burn_plan``: options, backend choice, the plan and the key of what a result proves;
- ``_burn_peaks``: dense peak TFLOPS per model variant, with sources;
- ``_burn_judge``: worker output, per-GPU aggregation, thresholds and the verdict;
- ``_burn_records``: the JSON record (and its reuse) and the Prometheus textfile;
- ``_burn_process``: process groups, NVML sampling, timeouts, signals (BurnRunner);
- ``_burn_torch``: the torch worker, timed (run_torch_burn) or detached (start_stress / stop_stress);
- ``gpu_burn``: the gpu_burn backend (fetch, build, run and read wilicc/gpu-burn);
- ``_burn_counters``: ECC, row-remap and retired-page counters and Xid events around a run.

torch is only ever imported by the worker, under the user's ``torch_python``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_judge import (
    aggregate_torch_gpu,
    evaluate,
    failure_message,
    judge,
    median,
    parse_worker_output,
    steady_tflops,
    summarize_samples,
    warmup_seconds,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_peaks import (
    PEAK_TFLOPS,
    peak_entry,
    peak_tflops,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_plan import (
    BACKENDS,
    DTYPES,
    FAULT_MODES,
    GPU_BURN_DTYPES,
    BurnError,
    choose_backend,
    describe_plan,
    fault_mode,
    parse_duration,
    parse_gpu_selection,
    plan_burn,
    record_key,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_process import (
    KILL_GRACE,
    SAMPLE_INTERVAL,
    BurnInterrupted,
    BurnRunner,
    kill_group,
    run_timeout,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic import write_atomic
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_records import (
    METRICS_FILE,
    RECORD_VERSION,
    build_record,
    prometheus_metrics,
    read_record,
    record_path,
    reusable,
    write_metrics,
    write_record,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_torch import (
    PID_FILE,
    install_worker,
    run_torch_burn,
    running_stress,
    start_stress,
    stop_stress,
    torch_worker_argv,
    torch_worker_device,
    torch_worker_env,
)

__all__ = [
    "BACKENDS",
    "DTYPES",
    "FAULT_MODES",
    "GPU_BURN_DTYPES",
    "KILL_GRACE",
    "METRICS_FILE",
    "PEAK_TFLOPS",
    "PID_FILE",
    "RECORD_VERSION",
    "SAMPLE_INTERVAL",
    "BurnError",
    "BurnInterrupted",
    "BurnRunner",
    "aggregate_torch_gpu",
    "build_record",
    "choose_backend",
    "describe_plan",
    "evaluate",
    "failure_message",
    "fault_mode",
    "install_worker",
    "judge",
    "kill_group",
    "median",
    "parse_duration",
    "parse_gpu_selection",
    "parse_worker_output",
    "peak_entry",
    "peak_tflops",
    "plan_burn",
    "prometheus_metrics",
    "read_record",
    "record_key",
    "record_path",
    "reusable",
    "run_timeout",
    "run_torch_burn",
    "running_stress",
    "start_stress",
    "steady_tflops",
    "stop_stress",
    "summarize_samples",
    "torch_worker_argv",
    "torch_worker_device",
    "torch_worker_env",
    "warmup_seconds",
    "write_atomic",
    "write_metrics",
    "write_record",
]
