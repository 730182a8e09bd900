# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import FilterModule, host_verdict, judge_fleet

H100 = "NVIDIA H100 80GB HBM3"
H200 = "NVIDIA H200"


def _gpu(index, tflops, name=H100, verdict="pass", reasons=()):
    return {
        "index": index,
        "uuid": f"GPU-{name[-4:]}-{index}",
        "name": name,
        "device": f"cuda:{index}",
        "dtype": "bf16",
        "tflops": {"median": tflops, "min": tflops - 5, "max": tflops + 5},
        "max_temperature_c": 70,
        "verdict": verdict,
        "reasons": list(reasons),
    }


def _host(host, gpus, skipped=False, passed=None, msg="ok"):
    if passed is None:
        passed = all(gpu["verdict"] == "pass" for gpu in gpus)
    return {"host": host, "skipped": skipped, "passed": passed, "msg": msg, "gpus": gpus}


def test_registered_as_burnin_fleet():
    assert FilterModule().filters()["burnin_fleet"] is judge_fleet


def test_uniform_fleet_passes_with_median_per_model():
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), _gpu(1, 790)]), _host("n2", [_gpu(0, 785)])])
    assert fleet["passed"] is True
    assert fleet["models"] == {f"{H100} (bf16)": {"count": 3, "median_tflops": 785}}
    assert [row["model_median_tflops"] for row in fleet["results"]] == [785, 785, 785]
    assert [(row["host"], row["index"]) for row in fleet["results"]] == [("n1", 0), ("n1", 1), ("n2", 0)]
    assert all(host["passed"] and host["failing"] == [] for host in fleet["hosts"].values())


@pytest.mark.parametrize(
    ("slow", "tolerance", "outlier"),
    [(700, 0.1, True), (707, 0.1, False), (600, 0.25, False), (780, 0.0, False), (779, 0.0, True)],
)
def test_outlier_is_judged_against_its_models_median(slow, tolerance, outlier):
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), _gpu(1, 785)]), _host("n2", [_gpu(0, slow)])], tolerance)
    row = fleet["results"][2]
    assert row["outlier"] is outlier
    assert row["verdict"] == ("fail" if outlier else "pass")
    assert fleet["hosts"]["n2"]["passed"] is not outlier
    assert fleet["hosts"]["n1"]["passed"] is True
    if outlier:
        assert row["reasons"] == [f"outlier: {slow:.4g} TFLOPS < (1-{tolerance:g}) \u00d7 median 780"]
        assert fleet["hosts"]["n2"]["failing"] == [f"GPU 0 ({H100}, GPU-HBM3-0): {row['reasons'][0]}"]


def test_models_are_judged_separately():
    fleet = judge_fleet(
        [_host("n1", [_gpu(0, 780), _gpu(1, 790)]), _host("n2", [_gpu(0, 400, H200), _gpu(1, 405, H200)])]
    )
    assert fleet["passed"] is True
    assert fleet["models"][f"{H200} (bf16)"]["median_tflops"] == 402.5


def test_tolerance_one_switches_the_outlier_check_off():
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), _gpu(1, 790)]), _host("n2", [_gpu(0, 1)])], 1)
    assert fleet["passed"] is True
    assert not any(row["outlier"] for row in fleet["results"])


def test_same_model_burned_in_another_dtype_is_not_a_peer():
    fp64 = dict(_gpu(0, 60), dtype="fp64")
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), _gpu(1, 790)]), _host("n2", [fp64])])
    assert fleet["passed"] is True
    assert sorted(fleet["models"]) == [f"{H100} (bf16)", f"{H100} (fp64)"]
    assert fleet["results"][2]["model_median_tflops"] == 60


def test_module_verdicts_are_kept_and_name_the_gpu():
    bad = _gpu(1, 785, verdict="fail", reasons=["2 result mismatch(es)"])
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), bad])])
    assert fleet["passed"] is False
    assert fleet["hosts"]["n1"]["failing"] == [f"GPU 1 ({H100}, GPU-HBM3-1): 2 result mismatch(es)"]


def test_skipped_host_passes_and_failed_run_without_gpus_fails():
    fleet = judge_fleet(
        [_host("cpu-only", [], skipped=True, passed=False, msg=""), _host("n1", [], passed=False, msg="no torch")]
    )
    assert fleet["hosts"]["cpu-only"] == {"skipped": True, "msg": "", "failing": [], "passed": True}
    assert fleet["hosts"]["n1"]["failing"] == ["burn-in did not pass: no torch"]
    assert fleet["passed"] is False


def test_gpu_without_tflops_is_not_an_outlier():
    gpu = _gpu(0, 780)
    gpu["tflops"] = {"median": None, "min": None, "max": None}
    fleet = judge_fleet([_host("n1", [gpu, _gpu(1, 780)])])
    assert fleet["results"][0]["outlier"] is False and fleet["passed"] is True


@pytest.mark.parametrize(("records", "tolerance"), [("n1", 0.1), ([{"gpus": []}], 0.1), ([], 1.01), ([], -0.1)])
def test_bad_input_is_a_filter_error(records, tolerance):
    with pytest.raises(AnsibleFilterError, match="burnin_fleet"):
        judge_fleet(records, tolerance)


def test_host_verdict_is_what_the_host_records():
    fleet = judge_fleet([_host("n1", [_gpu(0, 780), _gpu(1, 500)]), _host("n2", [_gpu(0, 790)])], 0.1)
    record = host_verdict(fleet, "n1")
    assert record["passed"] is False and record["tolerance"] == 0.1
    assert [row["index"] for row in record["gpus"]] == [0, 1] and record["gpus"][1]["outlier"] is True
    assert len(record["failing"]) == 1 and "outlier" in record["failing"][0]
    assert host_verdict(fleet, "n2")["passed"] is True


@pytest.mark.parametrize(
    ("judged", "host", "message"), [("x", "n1", "output of burnin_fleet"), ({"hosts": {}}, "n1", "n1 was not judged")]
)
def test_host_verdict_errors(judged, host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        host_verdict(judged, host)
