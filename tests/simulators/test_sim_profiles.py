"""The shipped fleet profiles (tests/simulators/profiles/*.json) describe the hosts they are named after."""

import re

import pytest

UUID = re.compile(r"GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
BUS_ID = re.compile(r"[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-7]\Z")
PER_GPU_INTEGERS = (
    "pci_device_id",
    "pci_subsystem_id",
    "memory_total_mib",
    "memory_used_mib",
    "temperature_c",
    "power_draw_mw",
    "power_limit_mw",
    "clock_event_reasons",
    "persistence_mode",
    "fan_speed_pct",
    "performance_state",
)


@pytest.mark.parametrize("name", ["a6000x8", "h100", "faulty"])
def test_gpu_profiles_are_complete_and_consistent(gpu_sim, name):
    profile = gpu_sim.load_profile(name)
    assert profile["driver_loaded"] is True
    assert profile["nvml_version"] == "12." + profile["driver_version"]
    gpus = profile["gpus"]
    for key in ("uuid", "serial", "pci_bus_id"):
        values = [gpu[key] for gpu in gpus]
        assert len(set(values)) == len(values), "duplicate %s" % key
    for gpu in gpus:
        assert UUID.match(gpu["uuid"]), gpu["uuid"]
        assert BUS_ID.match(gpu["pci_bus_id"]), gpu["pci_bus_id"]
        assert re.fullmatch(r"\d{13}", gpu["serial"])
        for key in PER_GPU_INTEGERS:
            assert gpu[key] is None or (isinstance(gpu[key], int) and gpu[key] >= 0), key
        assert 0 <= gpu["memory_used_mib"] <= gpu["memory_total_mib"]
        assert gpu["power_draw_mw"] <= gpu["power_limit_mw"]
        for clock in ("graphics", "sm", "mem", "video"):
            assert gpu["clocks_mhz"][clock] <= gpu["max_clocks_mhz"][clock]
        assert gpu["pcie"]["gen"] <= gpu["pcie"]["max_gen"] and gpu["pcie"]["width"] <= gpu["pcie"]["max_width"]
        assert gpu["ecc_mode"] == {"current": 1, "pending": 1}
        for kind in ("corrected", "uncorrected"):
            assert gpu["ecc_errors"]["volatile"][kind] <= gpu["ecc_errors"]["aggregate"][kind]
        # Ampere and Hopper remap rows instead of retiring pages
        assert gpu["retired_pages"] is None and gpu["row_remap"] is not None


def test_a6000x8(gpu_sim):
    profile = gpu_sim.load_profile("a6000x8")
    assert (profile["driver_version"], profile["cuda_driver_version"]) == ("550.54.15", 12040)
    gpus = profile["gpus"]
    assert len(gpus) == 8
    for gpu in gpus:
        assert gpu["name"] == "NVIDIA RTX A6000"
        assert gpu["memory_total_mib"] == 49140
        assert gpu["compute_capability"] == [8, 6]
        assert gpu["pci_device_id"] == 0x223010DE
        assert all(count == 0 for counter in gpu["ecc_errors"].values() for count in counter.values())
        assert gpu["row_remap"] == {"corrected": 0, "uncorrected": 0, "pending": False, "failure": False}
        assert gpu["pcie"] == {"gen": 4, "max_gen": 4, "width": 16, "max_width": 16}
        assert gpu["clock_event_reasons"] == 0x1, "idle"
        assert gpu["utilization"] == {"gpu": 0, "memory": 0}
        assert gpu["mig_mode"] is None
    assert gpus[0]["pci_bus_id"] == "00000000:01:00.0"


def test_h100(gpu_sim):
    profile = gpu_sim.load_profile("h100")
    assert (profile["driver_version"], profile["cuda_driver_version"]) == ("570.86.15", 12080)
    (gpu,) = profile["gpus"]
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["memory_total_mib"] == 81559
    assert gpu["compute_capability"] == [9, 0]
    assert gpu["fan_speed_pct"] is None
    assert gpu["power_limit_mw"] == 700000
    assert gpu["pcie"] == {"gen": 5, "max_gen": 5, "width": 16, "max_width": 16}
    assert gpu["mig_mode"] == {"current": 0, "pending": 0}


def test_cpu(gpu_sim):
    assert gpu_sim.load_profile("cpu") == {"driver_loaded": False, "gpus": []}


def test_faulty(gpu_sim):
    healthy, sick = gpu_sim.load_profile("faulty")["gpus"]
    for gpu in (healthy, sick):
        assert gpu["name"] == "NVIDIA A100-SXM4-80GB"
        assert gpu["compute_capability"] == [8, 0]
    assert healthy["ecc_errors"]["volatile"]["uncorrected"] == healthy["ecc_errors"]["aggregate"]["uncorrected"] == 0
    assert not healthy["row_remap"]["pending"] and not healthy["row_remap"]["failure"]
    assert healthy["clock_event_reasons"] & (0x8 | 0x40) == 0
    assert healthy["pcie"] == {"gen": 4, "max_gen": 4, "width": 16, "max_width": 16}
    assert sick["ecc_errors"]["volatile"]["uncorrected"] > 0
    assert sick["ecc_errors"]["aggregate"]["uncorrected"] > 0
    assert sick["row_remap"]["pending"] is True
    assert sick["clock_event_reasons"] == 0x40 | 0x8
    assert sick["temperature_c"] == 94
    assert sick["pcie"] == {"gen": 3, "max_gen": 4, "width": 8, "max_width": 16}
