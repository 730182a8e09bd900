# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_facts module run in-process, the way ansible-core's own module unit tests run modules.

Most tests replace the four module_utils entry points with recording stand-ins, so they check the module's own
logic (gather_subset, option checks, result shape). The simulator tests run the real NVML path against the simulated
GPU library (tests/simulators/nvml), loaded into pynvml explicitly because LD_LIBRARY_PATH only counts at start-up.
"""

import ctypes
import json
import os

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml
from ansible_collections.gpufleet.nvidia.plugins.modules import gpu_facts
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import (
    run_module_main,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SIM_DIR = os.path.join(REPO, "tests", "simulators")
SIM_BIN = os.path.join(SIM_DIR, "bin")
PROFILES_DIR = os.path.join(SIM_DIR, "profiles")


def run_module(args, expect_failure=False):
    """Run gpu_facts.main() with args; return the exit_json (or fail_json) keyword arguments."""
    return run_module_main(gpu_facts.main, args, expect_failure)


class Recorder:
    """Stand-ins for the module_utils entry points, recording how the module calls them."""

    NVML_FACTS = {
        "present": True,
        "count": 1,
        "source": "nvml",
        "driver_version": "550.54.15",
        "cuda_driver_version": "12.4",
        "nvml_version": "12.550.54.15",
        "devices": [{"index": 0, "health": "ok"}],
        "healthy": True,
        "error": None,
    }

    def __init__(self, nvml_facts=None):
        self.nvml_facts = dict(self.NVML_FACTS if nvml_facts is None else nvml_facts)
        self.calls = {}

    def install(self, monkeypatch):
        monkeypatch.setattr(gpu_facts, "collect_gpu_facts", self.collect_gpu_facts)
        monkeypatch.setattr(gpu_facts, "discover_cuda", self.discover_cuda)
        monkeypatch.setattr(gpu_facts, "inspect_container_runtime", self.inspect_container_runtime)
        monkeypatch.setattr(gpu_facts, "gather_torch", self.gather_torch)
        return self

    def collect_gpu_facts(self, **kwargs):
        self.calls["nvml"] = kwargs
        return dict(self.nvml_facts)

    def discover_cuda(self, search_paths=None, **kwargs):
        self.calls["cuda"] = {"search_paths": search_paths}
        return {"toolkits": [], "default": None, "nvcc_on_path": False}

    def inspect_container_runtime(self, **kwargs):
        self.calls["container"] = kwargs
        return {"docker": {"installed": False}}

    def gather_torch(self, torch_python=None, discover=False, search_roots=None, max_envs=64, budget=60, **kwargs):
        self.calls["torch"] = {
            "pythons": torch_python,
            "discover": discover,
            "search_roots": search_roots,
            "max_envs": max_envs,
            "timeout": budget,
            "driver": kwargs.get("driver"),
        }
        pythons = torch_python or ["/usr/bin/python3"]
        return [{"python": python, "error": None} for python in pythons], {"probed": len(pythons)}


@pytest.fixture
def recorder(monkeypatch):
    return Recorder().install(monkeypatch)


# --- gather_subset ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["all"], {"nvml", "cuda", "container", "torch"}),
        ([], {"nvml", "cuda", "container", "torch"}),
        (["!torch"], {"nvml", "cuda", "container"}),
        (["all", "!torch", "!container"], {"nvml", "cuda"}),
        (["nvml"], {"nvml"}),
        (["nvml", "cuda"], {"nvml", "cuda"}),
        (["!all", "cuda"], {"cuda"}),
        (["!all"], set()),
        (["all", "!all"], set()),
        (["torch", "!torch"], set()),
        ([" nvml "], {"nvml"}),
    ],
)
def test_resolve_gather_subset(requested, expected):
    assert gpu_facts.resolve_gather_subset(requested) == (expected, [])


@pytest.mark.parametrize("bad", ["gpu", "!hardware", "NVML", ""])
def test_resolve_gather_subset_rejects_unknown_names(bad):
    _subsets, errors = gpu_facts.resolve_gather_subset(["nvml", bad])
    assert len(errors) == 1
    assert errors[0].startswith(f"gather_subset: unknown subset {bad!r}")


def test_default_gathers_everything(recorder):
    result = run_module({})
    assert result["changed"] is False
    gpu = result["ansible_facts"]["gpu"]
    assert gpu["gather_subset"] == ["container", "cuda", "nvml", "torch"]
    for key in Recorder.NVML_FACTS:  # the NVML keys sit directly under gpu
        assert gpu[key] == Recorder.NVML_FACTS[key]
    assert gpu["cuda"] == {"toolkits": [], "default": None, "nvcc_on_path": False}
    assert gpu["container"] == {"docker": {"installed": False}}
    assert gpu["torch"] == [{"python": "/usr/bin/python3", "error": None}]
    assert gpu["torch_discovery"] == {"probed": 1}
    assert set(recorder.calls) == {"nvml", "cuda", "container", "torch"}
    assert recorder.calls["cuda"] == {"search_paths": None}  # module_utils applies its defaults
    assert recorder.calls["torch"] == {
        "pythons": None,  # torch_probe applies its defaults
        "discover": False,
        "search_roots": ["/opt", "/srv", "/home/*", "/root"],
        "max_envs": 64,
        "timeout": 60,
        # judged against the nvml subset gathered in the same run, not read again
        "driver": {"cuda_driver_version": "12.4", "driver_version": "550.54.15", "count": 1},
    }


def test_not_torch_skips_the_probe(recorder):
    gpu = run_module({"gather_subset": ["!torch"]})["ansible_facts"]["gpu"]
    assert "torch" not in gpu
    assert "torch" not in recorder.calls
    assert gpu["gather_subset"] == ["container", "cuda", "nvml"]
    assert gpu["present"] is True


def test_only_cuda_leaves_out_the_gpu_keys(recorder):
    gpu = run_module({"gather_subset": ["cuda"], "cuda_search_paths": ["/opt/cuda-*", "$CUDA_HOME"]})["ansible_facts"][
        "gpu"
    ]
    assert set(gpu) == {"cuda", "gather_subset", "gathered"}
    assert gpu["gathered"]["cuda"]["options"] == {"cuda_search_paths": ["/opt/cuda-*", "$CUDA_HOME"]}
    assert set(recorder.calls) == {"cuda"}
    assert recorder.calls["cuda"]["search_paths"][0] == "/opt/cuda-*"


def test_torch_options_reach_the_probe(recorder):
    run_module(
        {"gather_subset": ["torch"], "torch_python": ["/opt/a/bin/python", "/opt/b/bin/python"], "torch_timeout": 5}
    )
    assert recorder.calls["torch"]["pythons"] == ["/opt/a/bin/python", "/opt/b/bin/python"]
    assert recorder.calls["torch"]["timeout"] == 5
    # only torch asked for: the driver is read for the build verdicts all the same, and not reported as nvml facts
    assert recorder.calls["nvml"] == {}
    assert recorder.calls["torch"]["driver"]["cuda_driver_version"] == "12.4"


def test_discovery_options_reach_the_probe_and_are_recorded(recorder):
    gpu = run_module(
        {
            "gather_subset": ["torch"],
            "torch_python": ["/opt/venvs/*/bin/python"],
            "torch_discover": True,
            "torch_search_roots": ["/data/envs"],
            "torch_max_envs": 3,
        }
    )["ansible_facts"]["gpu"]
    assert recorder.calls["torch"]["discover"] is True
    assert recorder.calls["torch"]["search_roots"] == ["/data/envs"]
    assert recorder.calls["torch"]["max_envs"] == 3
    assert "present" not in gpu
    assert gpu["gathered"]["torch"]["options"] == {
        "torch_python": ["/opt/venvs/*/bin/python"],
        "torch_discover": True,
        "torch_search_roots": ["/data/envs"],
        "torch_max_envs": 3,
    }


def test_check_mode_gathers_the_same(recorder):
    result = run_module({"_ansible_check_mode": True, "gather_subset": ["nvml"]})
    assert result["changed"] is False
    assert result["ansible_facts"]["gpu"]["present"] is True


# --- bad options ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        ({"gather_subset": ["nvml", "gpus"]}, "gather_subset"),
        ({"gather_subset": ["!everything"]}, "gather_subset"),
        ({"cuda_search_paths": ["cuda-12.4"]}, "cuda_search_paths"),
        ({"cuda_search_paths": ["/usr/local/cuda", "opt/cuda"]}, "cuda_search_paths"),
        ({"torch_python": ["venv/bin/python"]}, "torch_python"),
        ({"torch_timeout": 0}, "torch_timeout"),
        ({"torch_max_envs": 0}, "torch_max_envs"),
        ({"torch_search_roots": ["home/*"]}, "torch_search_roots"),
        ({"gather_subset": ["cuda"], "fail_on_missing_gpu": True}, "fail_on_missing_gpu"),
        ({"unknown_option": 1}, "unknown_option"),
        ({"torch_timeout": "soon"}, "torch_timeout"),
    ],
)
def test_bad_options_fail_naming_the_option(recorder, args, option):
    result = run_module(args, expect_failure=True)
    assert option in result["msg"]
    assert recorder.calls == {}  # nothing gathered


# --- fail_on_missing_gpu ----------------------------------------------------------------------------------------------


def test_missing_gpu_is_a_normal_answer(monkeypatch):
    Recorder(nvml.no_gpu_facts(error="NVML: Driver Not Loaded")).install(monkeypatch)
    gpu = run_module({"gather_subset": ["nvml"]})["ansible_facts"]["gpu"]
    assert gpu["present"] is False
    assert gpu["error"] == "NVML: Driver Not Loaded"


def test_fail_on_missing_gpu(monkeypatch):
    Recorder(nvml.no_gpu_facts(error="NVML: Driver Not Loaded")).install(monkeypatch)
    result = run_module({"gather_subset": ["nvml"], "fail_on_missing_gpu": True}, expect_failure=True)
    assert "NVML: Driver Not Loaded" in result["msg"]
    assert result["ansible_facts"]["gpu"]["present"] is False


def test_fail_on_missing_gpu_passes_when_present(recorder):
    result = run_module({"gather_subset": ["nvml"], "fail_on_missing_gpu": True})
    assert result["ansible_facts"]["gpu"]["count"] == 1


# --- against the simulated GPU library --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sim_library(fake_nvml_dir):
    """Path of the simulated libnvidia-ml.so.1 (built fresh by tests/conftest.py)."""
    return str(fake_nvml_dir / "libnvidia-ml.so.1")


@pytest.fixture
def simulated_host(sim_library, monkeypatch):
    """Point pynvml at the simulator and nvidia-smi at its double; returns a function that selects a profile."""
    pynvml = pytest.importorskip("pynvml")
    monkeypatch.setattr(pynvml, "nvmlLib", ctypes.CDLL(sim_library))
    monkeypatch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
    monkeypatch.setenv("PATH", SIM_BIN + os.pathsep + os.environ.get("PATH", ""))

    def use_profile(name):
        path = os.path.join(PROFILES_DIR, name + ".json")
        monkeypatch.setenv("GPUFLEET_SIM_GPU_PROFILE", path)
        with open(path) as handle:
            return json.load(handle)

    return use_profile


def test_cpu_host_reports_no_gpu(simulated_host):
    simulated_host("cpu")
    gpu = run_module({"gather_subset": ["nvml"]})["ansible_facts"]["gpu"]
    assert gpu["present"] is False
    assert gpu["count"] == 0
    assert gpu["devices"] == []
    assert gpu["error"]  # says why
    assert gpu["error"].startswith("NVML: ")


def test_cpu_host_with_fail_on_missing_gpu(simulated_host):
    simulated_host("cpu")
    result = run_module({"gather_subset": ["nvml"], "fail_on_missing_gpu": True}, expect_failure=True)
    assert "fail_on_missing_gpu" in result["msg"]


@pytest.mark.parametrize("profile", ["a6000x8", "h100", "faulty"])
def test_gpu_hosts_report_their_devices(simulated_host, profile):
    expected = simulated_host(profile)
    gpu = run_module({"gather_subset": ["nvml"], "fail_on_missing_gpu": True})["ansible_facts"]["gpu"]
    assert gpu["source"] == "nvml"
    assert gpu["present"] is True
    assert gpu["count"] == len(expected["gpus"])
    assert [device["uuid"] for device in gpu["devices"]] == [item["uuid"] for item in expected["gpus"]]
    assert gpu["driver_version"] == expected["driver_version"]
    assert gpu["healthy"] is (profile != "faulty")
    json.dumps(gpu)  # plain data only
