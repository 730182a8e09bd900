# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_burnin
short_description: Burn in NVIDIA GPUs and prove each one computes correctly at full speed
version_added: 0.1.0
description:
  - Runs matrix multiplications on every selected GPU at once for O(duration) seconds, checks every result, samples
    temperature, power, SM clock and clock-event reasons through NVML at 1 Hz, and judges each GPU against thresholds.
  - The V(torch) backend runs a worker script under O(torch_python), one process per GPU, each given its GPU by
    UUID (C(CUDA_VISIBLE_DEVICES=<uuid>), C(CUDA_DEVICE_ORDER=PCI_BUS_ID), then C(cuda:0)), so an inherited
    C(CUDA_VISIBLE_DEVICES) (Slurm, a container) or another enumeration order cannot make it burn a GPU NVML did
    not name. It fills
    O(memory_fraction) of free memory with result buffers and compares every result bitwise with the first one (a
    NaN or Inf differs too). Batches of GEMMs end by time (about half a second). The whole output of the first
    result and of one result per batch is checked against an FP64 checksum (the column sums of A times B), with a
    tolerance derived from the unit roundoff of the dtype and the matrix size, so a fault that corrupts every
    result the same way is caught too; sampled output tiles are also checked against an FP64 reference.
  - The V(gpu_burn) backend builds gpu-burn from O(gpu_burn_src) with the C(nvcc) of the discovered CUDA toolkit
    (C(NVCC) and C(CUDAPATH) for its Makefile) for the selected GPUs' compute capabilities, whichever of its
    Makefile generations the source has (C(compare.ptx) or C(compare.fatbin); a release from before CUDA 13 gets a
    compatibility header for CUDA 13's C(cuCtxCreate)). It runs C(gpu_burn) in its build directory on exactly the
    selected GPUs (C(CUDA_VISIBLE_DEVICES) with C(CUDA_DEVICE_ORDER=PCI_BUS_ID), so indices mean what NVML says).
  - gpu-burn's FAULTY and DIED, its own error lines (such as C(Couldn't init CUDA) or C(no CUDA-capable device is
    detected)), the loader's (a missing C(libcuda.so.1)) and a missing verdict fail the GPU with those lines quoted,
    although gpu-burn often exits 0. Its C(cuInit returned 0) line on success is not an error.
  - The verdict is stored under O(results_dir), keyed by the GPU UUIDs, driver version, backend, dtype and duration.
    A passing record younger than O(max_age) is returned with C(changed=false) and nothing runs.
  - The GPU's own error counters are read through NVML before and after the run and critical Xid events are
    watched during it (where the driver reports them); new uncorrectable errors or Xids fail the GPU.
  - A timeout, a signal or a failure of the module kills every burn-in process it started.
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the managed host
  - PyTorch for O(torch_python) (torch backend); nvidia-ml-py for sampling (without it the run is not sampled)
  - C(make), C(g++) and a CUDA toolkit with C(nvcc) and cuBLAS; C(libcuda) to link and run (gpu_burn backend)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gpufleet.nvidia.cuda_search_paths
attributes:
  check_mode:
    support: full
    details: Says whether a stored result would be reused or what would run, and runs nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  backend:
    description:
      - V(auto) is V(gpu_burn) when O(gpu_burn_src) is given, C(nvcc) is found and gpu-burn can run O(dtype)
        (V(fp32) or V(fp64)), else V(torch).
    type: str
    choices: [auto, torch, gpu_burn]
    default: auto
  duration:
    description: How long to burn, in seconds or with a unit (V(90), V(10m), V(1h)).
    type: raw
    default: 600
  gpus:
    description: V(all) or a list of GPU indices.
    type: list
    elements: str
    default: [all]
  dtype:
    description:
      - Data type of the matrix multiplications.
      - gpu-burn runs V(fp32) (SGEMM) and V(fp64) (DGEMM, its C(-d)) only. It has no TF32 mode; its C(-tc) flag sets
        cuBLAS's C(CUBLAS_TENSOR_OP_MATH), which runs FP32 GEMMs as C(CUBLAS_COMPUTE_32F_FAST_16F) (FP16
        tensor-core math). So O(backend=gpu_burn) with V(tf32) fails saying so, and V(auto) uses V(torch) for it.
    type: str
    choices: [bf16, fp16, tf32, fp32, fp64]
    default: bf16
  memory_fraction:
    description: Fraction of free GPU memory filled with result buffers (torch backend; V(-m N%) for gpu-burn).
    type: float
    default: 0.9
  matrix_size:
    description:
      - Side of the square matrices, or V(auto) for 16384, stepping down to 12288, 8192 and 4096 on out-of-memory
        (2048 down to 256 on the CPU, fp16 from 512, since CPUs have no fast fp16 GEMM).
    type: str
    default: auto
  device:
    description:
      - V(cuda) burns GPUs. V(cpu) runs the same torch worker on the CPU, for tests and demos; the result says
        C(device=cpu) and has no peak or NVML figures.
    type: str
    choices: [cuda, cpu]
    default: cuda
  torch_python:
    description:
      - Absolute path of the Python interpreter with PyTorch that runs the worker. PyTorch is never imported into
        the Ansible process.
      - Defaults to the interpreter running the module.
    type: path
  gpu_burn_src:
    description:
      - gpu-burn's source on the managed host (a directory, a tar or zip archive) or a git URL to clone. It is
        copied under O(results_dir) (without any C(gpu_burn) or compare kernel built before) and built there; it is
        never shipped with this collection.
      - Needs C(make), C(g++) and a CUDA toolkit with C(nvcc), cuBLAS and the headers (found through
        O(cuda_search_paths)), and C(libcuda) to link and run (the NVIDIA driver, or the toolkit's C(stubs) to link).
    type: str
  state:
    description:
      - V(validated) runs a burn-in for O(duration) and judges it.
      - V(started) launches a continuous stress in the background (own process groups, PID file in
        O(results_dir)); V(stopped) ends it and every process it started.
    type: str
    choices: [validated, started, stopped]
    default: validated
  max_age:
    description:
      - A passing record younger than this (seconds, or with a unit such as V(7d)) is reused, as long as it still
        passes the thresholds given now. V(0) never reuses one.
    type: raw
    default: 1d
  force:
    description: Run a new burn-in even when a passing record could be reused.
    type: bool
    default: false
  min_tflops:
    description: Fail a GPU whose median steady-state TFLOPS is below this.
    type: float
  min_fraction_of_peak:
    description: Fail a GPU whose median TFLOPS is below this fraction of its dense peak (known models only).
    type: float
  max_temperature_c:
    description: Fail a GPU whose temperature exceeded this during the run.
    type: int
  max_errors:
    description: Result mismatches (and NaN/Inf values) tolerated per GPU.
    type: int
    default: 0
  inject_fault:
    description:
      - A self-test of the checkers on the first selected device, which must then be reported faulty.
      - V(transient) flips one bit of one result once; the comparison of results catches it (C(errors)).
      - V(persistent) flips the sign of the largest element of every product, the reference included, so every
        result is wrong the same way; only the FP64 checksum catches it (C(checksum_failures)).
      - V(none) injects nothing. The booleans accepted before still work; V(true) is V(transient) and V(false) is
        V(none).
    type: str
    choices: [none, transient, persistent, "true", "false"]
    default: none
  results_dir:
    description: Where results, the worker script and the PID file are kept.
    type: path
    default: /var/lib/gpufleet/burnin
  textfile_dir:
    description:
      - node_exporter textfile-collector directory; when set, C(gpufleet_burnin.prom) with the
        C(gpufleet_burnin_*) metrics of the result is written there atomically.
    type: path
notes:
  - Failing GPUs fail the task with a message naming each of them and why; the full result is still returned.
  - TFLOPS figures leave out the first 10% of the run (at least 1 second, at most 30) as warm-up.
seealso:
  - module: gpufleet.nvidia.gpu_facts
  - name: gpu-burn
    description: Multi-GPU CUDA stress test, used by the V(gpu_burn) backend.
    link: https://github.com/wilicc/gpu-burn
"""

EXAMPLES = r"""
- name: Burn in every GPU for 10 minutes in bf16, reusing a passing result for a week
  gpufleet.nvidia.gpu_burnin:
    duration: 10m
    torch_python: /opt/venvs/torch/bin/python
    max_age: 7d
    min_fraction_of_peak: 0.6
    max_temperature_c: 85

- name: Check that the checker catches a flipped bit
  gpufleet.nvidia.gpu_burnin:
    duration: 30
    torch_python: /opt/venvs/torch/bin/python
    inject_fault: transient
    force: true
  register: self_test
  failed_when: self_test.gpus[0].verdict != 'fail'

- name: Check that the checksum catches a fault that corrupts every result the same way
  gpufleet.nvidia.gpu_burnin:
    duration: 30
    torch_python: /opt/venvs/torch/bin/python
    inject_fault: persistent
    force: true
  register: self_test
  failed_when: self_test.gpus[0].checksum_failures == 0

- name: FP64 burn-in with gpu-burn built from a local checkout
  gpufleet.nvidia.gpu_burnin:
    backend: gpu_burn
    gpu_burn_src: /opt/src/gpu-burn
    dtype: fp64
    duration: 1h
    textfile_dir: /var/lib/node_exporter/textfile_collector

- name: Start a background stress on GPUs 0 and 1
  gpufleet.nvidia.gpu_burnin:
    state: started
    gpus: [0, 1]
    torch_python: /opt/venvs/torch/bin/python

- name: Stop it
  gpufleet.nvidia.gpu_burnin:
    state: stopped
"""

RETURN = r"""
passed:
  description: Whether every device passed. V(null) for O(state=started) and O(state=stopped) and in check mode.
  returned: always
  type: bool
  sample: true
reused:
  description: Whether a stored passing record was returned instead of running.
  returned: always
  type: bool
  sample: false
key:
  description: Key of the record (GPU UUIDs, driver, backend, dtype, duration).
  returned: when state is validated
  type: str
  sample: 3f9a0c1d2e4b5a6c7d8e
record_path:
  description: The JSON record of the result.
  returned: when state is validated and not in check mode
  type: str
  sample: /var/lib/gpufleet/burnin/burnin-3f9a0c1d2e4b5a6c7d8e.json
metrics_path:
  description: The Prometheus textfile written, or V(null).
  returned: when state is validated
  type: str
  sample: /var/lib/node_exporter/textfile_collector/gpufleet_burnin.prom
backend:
  description: The backend used (V(torch) or V(gpu_burn)).
  returned: when state is validated or started
  type: str
  sample: torch
device:
  description: V(cuda), or V(cpu) when the CPU was burned.
  returned: always
  type: str
  sample: cuda
dtype:
  description: Data type burned.
  returned: always
  type: str
  sample: bf16
duration:
  description: Seconds burned.
  returned: when state is validated
  type: float
  sample: 600.0
finished:
  description: When the burn-in finished (seconds since the epoch).
  returned: when a burn-in ran or was reused
  type: float
  sample: 1795000000.0
plan:
  description: What runs (or would run in check mode).
  returned: when state is validated or started
  type: dict
  sample: {backend: torch, dtype: bf16, duration: 600.0}
pids:
  description: PIDs (process-group leaders) of the background workers started, running or stopped.
  returned: when state is started or stopped
  type: list
  elements: int
  sample: [12345]
gpus:
  description: One result per device.
  returned: when a burn-in ran or was reused
  type: list
  elements: dict
  contains:
    index:
      description: GPU index (V(0) for the CPU).
      type: int
      returned: always
      sample: 0
    uuid:
      description: GPU UUID (V(cpu) for the CPU).
      type: str
      returned: always
      sample: GPU-8f6c2b1e-0000-0000-0000-000000000000
    name:
      description: Model name.
      type: str
      returned: always
      sample: NVIDIA H100 80GB HBM3
    device:
      description: Device burned (V(cuda:0), V(cpu)).
      type: str
      returned: always
      sample: cuda:0
    backend:
      description: Backend used.
      type: str
      returned: always
      sample: torch
    dtype:
      description: Data type.
      type: str
      returned: always
      sample: bf16
    duration:
      description: Seconds burned.
      type: float
      returned: always
      sample: 600.0
    matrix_size:
      description: Side of the matrices after any out-of-memory step-down (V(null) for gpu-burn).
      type: int
      returned: always
      sample: 16384
    iterations:
      description: Matrix multiplications done (V(null) for gpu-burn).
      type: int
      returned: always
      sample: 51200
    tflops:
      description: Median, min and max TFLOPS of the steady state (warm-up left out).
      type: dict
      returned: always
      sample: {median: 781.2, min: 770.4, max: 790.1}
    peak_tflops:
      description:
        - Dense peak of the model variant for the dtype (NVIDIA's datasheet, no sparsity), matched on the NVML name,
          or V(null) when the variant or its dtype is not known; then O(min_fraction_of_peak) is not judged and
          RV(gpus[].notes) says so.
      type: float
      returned: always
      sample: 989.0
    peak_source:
      description: Where RV(gpus[].peak_tflops) comes from, or V(null).
      type: str
      returned: always
      sample: NVIDIA H100 SXM5 datasheet
    notes:
      description: What was not judged and why (for example a peak that is not known); not failures.
      type: list
      elements: str
      returned: always
      sample: []
    fraction_of_peak:
      description: Median TFLOPS over the peak, or V(null).
      type: float
      returned: always
      sample: 0.79
    errors:
      description: Result elements that differ from the first result.
      type: int
      returned: always
      sample: 0
    nans:
      description: NaN or Inf values in results.
      type: int
      returned: always
      sample: 0
    spot_checks:
      description: Output tiles checked against the FP64 reference.
      type: int
      returned: always
      sample: 60
    spot_check_failures:
      description: Spot checks outside the tolerance of the dtype.
      type: int
      returned: always
      sample: 0
    spot_check_max_error:
      description: Largest spot-check error, in units of the square root of the matrix size.
      type: float
      returned: always
      sample: 0.004
    checksum_checks:
      description: Whole results checked against the FP64 checksum (the first result, then one per batch).
      type: int
      returned: always
      sample: 1200
    checksum_failures:
      description: Results whose column sums differ from the FP64 checksum by more than the tolerance.
      type: int
      returned: always
      sample: 0
    checksum_max_excess:
      description: Largest checksum difference over its tolerance (above 1 fails), or V(null) for gpu-burn.
      type: float
      returned: always
      sample: 0.02
    checksum_tolerance_max:
      description: The largest column tolerance; a single wrong element larger than this is always caught.
      type: float
      returned: always
      sample: 520.0
    gemm_seconds:
      description: Seconds spent in GEMMs (CUDA events on a GPU), or V(null) for gpu-burn.
      type: float
      returned: always
      sample: 590.1
    check_seconds:
      description: Seconds spent checking results (bitwise comparison and checksums), or V(null) for gpu-burn.
      type: float
      returned: always
      sample: 9.2
    error_counters:
      description:
        - The GPU's own error counters read through NVML before and after the run (volatile ECC, row remaps,
          retired pages; those it does not report are left out) and the ones that changed, as V([before, after]).
        - New uncorrectable ECC errors, uncorrectable row remaps, double-bit retired pages, a pending remap or
          retirement, or a remap failure fail the GPU, naming the counter. Corrected errors are reported only.
        - V(before) and V(after) are V(null) on the CPU or without NVML.
      type: dict
      returned: always
      sample: {before: {ecc_uncorrected_volatile: 0}, after: {ecc_uncorrected_volatile: 0}, changed: {}}
    xid_events:
      description: Critical Xid events NVML reported during the run, or V(null) when it cannot report them.
      type: list
      elements: int
      returned: always
      sample: []
    hardware_problems:
      description: Why the error counters or Xid events fail the GPU; empty when they do not.
      type: list
      elements: str
      returned: always
      sample: []
    gpu_burn_verdict:
      description: gpu-burn's own verdict (V(OK), V(FAULTY) or V(null) when it printed none).
      type: str
      returned: with the gpu_burn backend
      sample: OK
    samples:
      description: NVML samples taken (V(0) on the CPU or without NVML).
      type: int
      returned: always
      sample: 600
    max_temperature_c:
      description: Highest temperature sampled, or V(null).
      type: int
      returned: always
      sample: 71
    power_w:
      description: Mean and max power draw sampled, in watts.
      type: dict
      returned: always
      sample: {mean: 650.2, max: 699.8}
    sm_clock_mhz:
      description: Median and minimum SM clock sampled.
      type: dict
      returned: always
      sample: {median: 1980, min: 1755}
    throttle_fractions:
      description: Fraction of samples in which each clock-event reason was active.
      type: dict
      returned: always
      sample: {sw_power_cap: 0.42}
    worker_problems:
      description: What went wrong with the worker process (crash, timeout, missing summary or verdict).
      type: list
      elements: str
      returned: always
      sample: []
    verdict:
      description: V(pass) or V(fail).
      type: str
      returned: always
      sample: pass
    reasons:
      description: Why the device failed; empty when it passed.
      type: list
      elements: str
      returned: always
      sample: []
msg:
  description: What happened.
  returned: always
  type: str
  sample: Burn-in passed on 8 device(s)
"""

import os
import platform
import sys
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_counters as burn_counters
from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, gpu_burn
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import find_nvcc, validate_search_paths
from ansible_collections.gpufleet.nvidia.plugins.module_utils.nvml import (
    collect_gpu_facts,
)

THRESHOLD_OPTIONS = ("min_tflops", "min_fraction_of_peak", "max_temperature_c", "max_errors")


def validate_options(params):
    """Error messages for values the argument spec cannot check, each naming its option."""
    errors = []
    if params["torch_python"] and not params["torch_python"].startswith("/"):
        errors.append(f"torch_python: {params['torch_python']!r} is not an absolute path")
    if params["cuda_search_paths"] is not None:
        errors.extend(validate_search_paths(params["cuda_search_paths"]))
    if params["max_errors"] < 0:
        errors.append("max_errors: must not be negative")
    fraction = params["min_fraction_of_peak"]
    if fraction is not None and not 0 <= fraction <= 1:
        errors.append(f"min_fraction_of_peak: must be between 0 and 1, got {fraction}")
    return errors


def cpu_model_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + (platform.processor() or platform.machine() or "unknown")


def build_gpu_burn(module, plan, nvcc, cuda_path):
    """gpu-burn built for the plan's GPUs (gpu_burn.build_gpu_burn's result)."""
    src = gpu_burn.fetch_gpu_burn_src(
        module.params["gpu_burn_src"], os.path.join(module.params["results_dir"], "build"), run_command
    )
    capabilities = [t.get("compute_capability") for t in plan["targets"]]
    return gpu_burn.build_gpu_burn(src, nvcc, cuda_path, capabilities, run_command)


def run_validated(module, plan, nvcc, cuda_path):
    params = module.params
    thresholds = {name: params[name] for name in THRESHOLD_OPTIONS}
    results_dir = params["results_dir"]
    max_age = burn.parse_duration(params["max_age"], "max_age")
    common = dict(
        key=plan["key"],
        backend=plan["backend"],
        device=plan["device"],
        dtype=plan["dtype"],
        duration=plan["duration"],
        plan=plan,
        metrics_path=None,
    )

    record = burn.read_record(results_dir, plan["key"])
    if not params["force"] and burn.reusable(record, thresholds, max_age, time.time()):
        burn.judge(record["gpus"], thresholds)
        if params["textfile_dir"] and not module.check_mode:
            common["metrics_path"] = burn.write_metrics(params["textfile_dir"], record)
        age = time.time() - record["finished"]
        module.exit_json(
            changed=False,
            reused=True,
            passed=True,
            gpus=record["gpus"],
            finished=record["finished"],
            record_path=burn.record_path(results_dir, plan["key"]),
            msg=f"Reused a passing burn-in from {age:.0f}s ago (max_age {max_age:g}s)",
            **common,
        )
    if module.check_mode:
        module.exit_json(
            changed=True, reused=False, passed=None, msg="Would run a " + burn.describe_plan(plan), **common
        )

    os.makedirs(results_dir, exist_ok=True)
    started = time.time()

    def run(sampler):
        if plan["backend"] == "gpu_burn":
            return gpu_burn.run_gpu_burn(plan, build_gpu_burn(module, plan, nvcc, cuda_path), sampler)
        return burn.run_torch_burn(plan, params["torch_python"] or sys.executable, results_dir, sampler)

    results = burn_counters.watched_run(plan, run)
    failing = burn.judge(results, thresholds)
    record = burn.build_record(plan, results, started, time.time())
    path = burn.write_record(results_dir, record)
    if params["textfile_dir"]:
        common["metrics_path"] = burn.write_metrics(params["textfile_dir"], record)
    outcome = dict(
        changed=True,
        reused=False,
        passed=not failing,
        gpus=results,
        finished=record["finished"],
        record_path=path,
        **common,
    )
    if failing:
        module.fail_json(msg=burn.failure_message(failing), **outcome)
    module.exit_json(msg=f"Burn-in passed on {len(results)} device(s): " + burn.describe_plan(plan), **outcome)


def run_stress_state(module, plan):
    results_dir = module.params["results_dir"]
    running = burn.running_stress(results_dir)
    base = dict(reused=False, passed=None, device=module.params["device"], dtype=module.params["dtype"])
    if module.params["state"] == "stopped":
        if module.check_mode or not running:
            module.exit_json(
                changed=bool(running), pids=running, msg=f"{len(running)} stress worker(s) to stop", **base
            )
        stopped = burn.stop_stress(results_dir)
        module.exit_json(changed=True, pids=stopped, msg=f"Stopped {len(stopped)} stress worker(s)", **base)
    if running:
        module.exit_json(
            changed=False,
            pids=running,
            plan=plan,
            backend=plan["backend"],
            msg=f"{len(running)} stress worker(s) already running",
            **base,
        )
    if module.check_mode:
        module.exit_json(
            changed=True,
            pids=[],
            plan=plan,
            backend=plan["backend"],
            msg="Would start a continuous " + burn.describe_plan(plan),
            **base,
        )
    if plan["backend"] != "torch":
        raise burn.BurnError("state=started runs the torch worker; use backend=torch or auto without gpu_burn_src")
    os.makedirs(results_dir, exist_ok=True)
    pids = burn.start_stress(plan, module.params["torch_python"] or sys.executable, results_dir)
    module.exit_json(
        changed=True,
        pids=pids,
        plan=plan,
        backend=plan["backend"],
        msg=f"Started {len(pids)} continuous stress worker(s)",
        **base,
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=list(burn.BACKENDS), default="auto"),
            duration=dict(type="raw", default=600),
            gpus=dict(type="list", elements="str", default=["all"]),
            dtype=dict(type="str", choices=list(burn.DTYPES), default="bf16"),
            memory_fraction=dict(type="float", default=0.9),
            matrix_size=dict(type="str", default="auto"),
            device=dict(type="str", choices=["cuda", "cpu"], default="cuda"),
            torch_python=dict(type="path"),
            gpu_burn_src=dict(type="str"),
            cuda_search_paths=dict(type="list", elements="path"),
            state=dict(type="str", choices=["validated", "started", "stopped"], default="validated"),
            max_age=dict(type="raw", default="1d"),
            force=dict(type="bool", default=False),
            min_tflops=dict(type="float"),
            min_fraction_of_peak=dict(type="float"),
            max_temperature_c=dict(type="int"),
            max_errors=dict(type="int", default=0),
            inject_fault=dict(type="str", choices=[*burn.FAULT_MODES, "true", "false"], default="none"),
            results_dir=dict(type="path", default="/var/lib/gpufleet/burnin"),
            textfile_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    errors = validate_options(params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        if params["state"] == "stopped":
            run_stress_state(module, None)
        gpu_facts, nvcc, cuda_path = {}, None, None
        if params["device"] == "cuda":
            gpu_facts = collect_gpu_facts()
            if params["gpu_burn_src"] and params["backend"] != "torch":
                nvcc, cuda_path = find_nvcc(params["cuda_search_paths"])
        plan = burn.plan_burn(params, gpu_facts, nvcc=nvcc, cpu_name=cpu_model_name())
        if params["state"] == "started":
            run_stress_state(module, plan)
        run_validated(module, plan, nvcc, cuda_path)
    except (burn.BurnError, burn.BurnInterrupted) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"burn-in I/O failed: {exc}")


if __name__ == "__main__":
    main()
