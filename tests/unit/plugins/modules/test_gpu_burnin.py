# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_burnin module run in-process: option checks, check mode, record reuse, without running a worker."""

import contextlib
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_counters as burn_counters
from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn
from ansible_collections.gpufleet.nvidia.plugins.modules import gpu_burnin
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main


def run_module(args, expect_failure=False):
    return run_module_main(gpu_burnin.main, args, expect_failure=expect_failure)


@pytest.fixture
def no_runs(monkeypatch):
    """Fail the test if the module tries to start a worker."""

    def _refuse(*_args, **_kwargs):
        raise AssertionError("a burn-in ran")

    monkeypatch.setattr(burn, "run_torch_burn", _refuse)
    monkeypatch.setattr(burn, "start_stress", _refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"torch_python": "python3"}, "torch_python: 'python3' is not an absolute path"),
        ({"max_errors": -1}, "max_errors: must not be negative"),
        ({"min_fraction_of_peak": 2.0}, "min_fraction_of_peak: must be between 0 and 1"),
        ({"duration": "soon"}, "duration: 'soon' is not a duration"),
        ({"max_age": "forever"}, "max_age: 'forever' is not a duration"),
        ({"cuda_search_paths": ["relative/cuda"]}, "is relative"),
    ],
)
def test_bad_options_fail_naming_the_option(tmp_path, no_runs, args, message):
    args = dict({"device": "cpu", "results_dir": str(tmp_path)}, **args)
    result = run_module(args, expect_failure=True)
    assert message in result["msg"]


def test_check_mode_says_what_would_run(tmp_path, no_runs):
    result = run_module(
        {"device": "cpu", "duration": "2m", "results_dir": str(tmp_path / "r"), "_ansible_check_mode": True}
    )
    assert result["changed"] is True and result["passed"] is None
    assert result["msg"].startswith("Would run a torch burn-in of bf16 GEMMs for 120s on cpu")
    assert not (tmp_path / "r").exists()


def test_no_gpu_fails_and_suggests_cpu(tmp_path, no_runs, monkeypatch):
    monkeypatch.setattr(gpu_burnin, "collect_gpu_facts", lambda: {"present": False, "error": "NVML: no driver"})
    result = run_module({"results_dir": str(tmp_path)}, expect_failure=True)
    assert result["msg"].startswith("No NVIDIA GPU found: NVML: no driver")
    assert "device=cpu" in result["msg"]


def test_passing_record_is_reused_and_force_runs_again(tmp_path, monkeypatch):
    plan = burn.plan_burn(
        {
            "backend": "auto",
            "duration": 5,
            "gpus": ["all"],
            "dtype": "bf16",
            "memory_fraction": 0.9,
            "matrix_size": "auto",
            "device": "cpu",
            "inject_fault": False,
        },
        {},
        cpu_name=gpu_burnin.cpu_model_name(),
    )
    result = {"index": 0, "uuid": "cpu", "device": "cpu", "dtype": "bf16", "backend": "torch", "errors": 0}
    result.update(tflops={"median": 0.1, "min": 0.1, "max": 0.1}, fraction_of_peak=None, max_temperature_c=None)
    burn.judge([result], {})
    burn.write_record(str(tmp_path), burn.build_record(plan, [result], time.time() - 10, time.time() - 5))
    args = {"device": "cpu", "duration": 5, "results_dir": str(tmp_path)}

    reused = run_module(args)
    assert reused["changed"] is False and reused["reused"] is True and reused["passed"] is True

    # A threshold the stored result does not meet means a new run.
    ran = []

    def fake_run(plan, torch_python, results_dir, sampler=None):
        ran.append(plan["key"])
        return [dict(result, worker_problems=[])]

    monkeypatch.setattr(burn, "run_torch_burn", fake_run)
    stricter = run_module(dict(args, min_tflops=1.0), expect_failure=True)
    assert "below min_tflops 1" in stricter["msg"] and stricter["changed"] is True
    forced = run_module(dict(args, force=True))
    assert forced["changed"] is True and forced["reused"] is False
    assert ran == [plan["key"], plan["key"]]


@pytest.mark.parametrize(
    ("value", "mode"),
    [(True, "transient"), (False, None), ("transient", "transient"), ("persistent", "persistent"), ("none", None)],
)
def test_inject_fault_takes_modes_and_the_old_booleans(tmp_path, no_runs, value, mode):
    args = {"device": "cpu", "inject_fault": value, "results_dir": str(tmp_path), "_ansible_check_mode": True}
    result = run_module(args)
    assert result["plan"]["inject_fault"] == (mode or "none")
    assert (f"with an injected {mode} fault" in result["msg"]) is (mode is not None)


def test_inject_fault_rejects_other_values(tmp_path, no_runs):
    result = run_module({"device": "cpu", "inject_fault": "sometimes", "results_dir": str(tmp_path)}, True)
    assert "inject_fault" in result["msg"] and "sometimes" in result["msg"]


@contextlib.contextmanager
def no_sampler(_plan):
    yield None, None


def test_new_uncorrectable_errors_fail_the_gpu_naming_it_and_the_counter(tmp_path, monkeypatch):
    facts = {
        "present": True,
        "driver_version": "570.86.15",
        "devices": [{"index": 0, "uuid": "GPU-0", "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}],
    }
    reads = iter(
        [
            {0: {"ecc_uncorrected_volatile": 0, "ecc_corrected_volatile": 4}},
            {0: {"ecc_uncorrected_volatile": 3, "ecc_corrected_volatile": 9}},
        ]
    )
    passing = {"index": 0, "uuid": "GPU-0", "name": "NVIDIA H100 80GB HBM3", "device": "cuda:0", "errors": 0}
    passing.update(dtype="bf16", backend="torch", nans=0, worker_problems=[], tflops={"median": 800.0})
    monkeypatch.setattr(gpu_burnin, "collect_gpu_facts", lambda: facts)
    monkeypatch.setattr(burn_counters, "read_error_counters", lambda plan: next(reads))
    monkeypatch.setattr(burn_counters, "nvml_sampler", no_sampler)
    monkeypatch.setattr(burn, "run_torch_burn", lambda *args, **kwargs: [dict(passing)])
    result = run_module({"duration": 5, "results_dir": str(tmp_path)}, expect_failure=True)
    assert result["msg"] == (
        "Burn-in failed on 1 device(s): cuda:0 (NVIDIA H100 80GB HBM3): "
        "NVML counter ecc_uncorrected_volatile went from 0 to 3 during the burn-in"
    )
    (gpu,) = result["gpus"]
    assert gpu["error_counters"]["changed"] == {"ecc_corrected_volatile": [4, 9], "ecc_uncorrected_volatile": [0, 3]}
    assert gpu["xid_events"] is None
