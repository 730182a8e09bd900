"""Checks against a REAL NVIDIA GPU (`make test-gpu`); without one the session fails first (tests/gpu/conftest.py).

They drive the module_utils directly, so they run on a GPU box whose Python has pynvml (and torch) but no Ansible.
"""

import re
import shutil
import subprocess

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml, torch_probe

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def facts(gpu_facts):
    return gpu_facts


def test_nvml_reports_every_gpu_nvidia_smi_lists(facts):
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    uuids = re.findall(r"UUID: (GPU-[0-9a-f-]+)", listing)
    assert facts["source"] == "nvml"
    assert facts["present"] is True
    assert [d["uuid"] for d in facts["devices"]] == uuids


def test_every_device_field_has_a_plausible_value(facts):
    for device in facts["devices"]:
        assert re.fullmatch(r"\d+\.\d+", device["compute_capability"]), device
        assert device["memory_total_mib"] > 1024, device
        assert 0 < device["temperature_c"] < 110, device
        assert device["power_limit_w"] and device["power_limit_w"] > 50, device
        assert device["sm_clock_mhz"] is not None and device["max_sm_clock_mhz"] >= device["sm_clock_mhz"], device
        assert device["pcie"]["max_width"] is None or device["pcie"]["max_width"] >= 1, device
        assert device["health"] == "ok" or isinstance(device["health"], list), device
    assert re.fullmatch(r"\d+\.\d+", facts["cuda_driver_version"]), facts


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="nvidia-smi not on PATH")
def test_nvidia_smi_fallback_agrees_with_nvml(facts):
    fallback = nvml.collect_via_nvidia_smi()
    assert fallback["source"] == "nvidia-smi"
    keys = ("index", "uuid", "name", "serial", "pci_bus_id", "memory_total_mib", "compute_capability", "ecc_enabled")
    assert [{k: d[k] for k in keys} for d in fallback["devices"]] == [{k: d[k] for k in keys} for d in facts["devices"]]
    assert fallback["driver_version"] == facts["driver_version"]


def test_sampler_reads_every_gpu_at_once(facts):
    indices = [d["index"] for d in facts["devices"]]
    with nvml.NvmlSession() as session:
        samples = session.sample(indices)
    assert [s["index"] for s in samples] == indices
    assert all(s["temperature_c"] is not None and s["power_draw_w"] is not None for s in samples)


def test_torch_probe_sees_the_gpus_and_passes_its_smoke_test(facts, torch_python):
    (entry,) = torch_probe.probe_torch_interpreters([torch_python], timeout=180)
    assert entry["error"] is None, entry
    assert entry["cuda_available"] is True, entry
    assert entry["device_count"] == facts["count"], entry
    assert entry["smoke"]["ok"] is True, entry
