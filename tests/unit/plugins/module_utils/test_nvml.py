# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/module_utils/nvml.py: decoding, health, the nvidia-smi parser and both collection paths.

The parity tests run the real nvidia-ml-py bindings against the simulated NVML library (tests/simulators/nvml) in a
subprocess, because the dynamic linker reads LD_LIBRARY_PATH only when a process starts.
"""

import json
import os
import subprocess
import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SIM_DIR = os.path.join(REPO, "tests", "simulators")
SIM_BIN = os.path.join(SIM_DIR, "bin")
PROFILES_DIR = os.path.join(SIM_DIR, "profiles")
# .build/collections: the directory that makes `ansible_collections.gpufleet.nvidia` importable.
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(nvml.__file__), *[".."] * 5))


# --- clock-event reasons ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (None, None),
        (0, []),
        (0x1, ["gpu_idle"]),
        (0x2, ["applications_clocks_setting"]),
        (0x4, ["sw_power_cap"]),
        (0x8, ["hw_slowdown"]),
        (0x10, ["sync_boost"]),
        (0x20, ["sw_thermal_slowdown"]),
        (0x40, ["hw_thermal_slowdown"]),
        (0x80, ["hw_power_brake_slowdown"]),
        (0x100, ["display_clock_setting"]),
        (0x48, ["hw_slowdown", "hw_thermal_slowdown"]),
        (0x88, ["hw_slowdown", "hw_power_brake_slowdown"]),
        (0x5, ["gpu_idle", "sw_power_cap"]),
        (
            0x1FF,
            [
                "gpu_idle",
                "applications_clocks_setting",
                "sw_power_cap",
                "hw_slowdown",
                "sync_boost",
                "sw_thermal_slowdown",
                "hw_thermal_slowdown",
                "hw_power_brake_slowdown",
                "display_clock_setting",
            ],
        ),
        (0x200, ["unknown_0x200"]),
        (0x201, ["gpu_idle", "unknown_0x200"]),
        (0xC04, ["sw_power_cap", "unknown_0x400", "unknown_0x800"]),
        (1 << 40 | 0x40, ["hw_thermal_slowdown", "unknown_0x10000000000"]),
        (1 << 63, ["unknown_0x8000000000000000"]),
    ],
)
def test_decode_clock_event_reasons(mask, expected):
    assert nvml.decode_clock_event_reasons(mask) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12040, "12.4"), (13000, "13.0"), (11080, "11.8"), (10020, "10.2"), (12090, "12.9"), (0, None), (None, None)],
)
def test_format_cuda_version(value, expected):
    assert nvml.format_cuda_version(value) == expected


# --- health -----------------------------------------------------------------------------------------------------------


def _device(**changes):
    """A healthy busy-free device (idle, full link, no errors) with the given fields changed."""
    device = nvml.empty_device(0)
    device["clock_event_reasons"] = ["gpu_idle"]
    device["ecc_errors"] = {
        "volatile": {"corrected": 0, "uncorrected": 0},
        "aggregate": {"corrected": 0, "uncorrected": 0},
    }
    device["row_remap"] = {"corrected": 0, "uncorrected": 0, "pending": False, "failure": False}
    device["pcie"] = {"gen": 4, "max_gen": 4, "width": 16, "max_width": 16}
    for key, value in changes.items():
        device[key] = value
    return device


def _ecc(volatile_unc, aggregate_unc, corrected=0):
    return {
        "volatile": {"corrected": corrected, "uncorrected": volatile_unc},
        "aggregate": {"corrected": corrected, "uncorrected": aggregate_unc},
    }


def _pcie(gen, max_gen, width, max_width):
    return {"gen": gen, "max_gen": max_gen, "width": width, "max_width": max_width}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "ok", id="healthy-idle"),
        pytest.param({"clock_event_reasons": []}, "ok", id="healthy-busy"),
        pytest.param({"ecc_errors": _ecc(0, 0, corrected=12)}, "ok", id="corrected-ecc-is-ok"),
        pytest.param(
            {"ecc_errors": _ecc(2, 2)}, ["uncorrectable_ecc_errors (volatile 2, aggregate 2)"], id="uncorrectable-ecc"
        ),
        pytest.param(
            {"ecc_errors": _ecc(0, 5)}, ["uncorrectable_ecc_errors (volatile 0, aggregate 5)"], id="aggregate-only"
        ),
        pytest.param(
            {"ecc_errors": _ecc(None, 1)},
            ["uncorrectable_ecc_errors (volatile n/a, aggregate 1)"],
            id="volatile-unsupported",
        ),
        pytest.param({"ecc_errors": _ecc(None, None)}, "ok", id="ecc-unsupported"),
        pytest.param(
            {"row_remap": {"corrected": 0, "uncorrected": 1, "pending": True, "failure": False}},
            ["row_remap_pending"],
            id="remap-pending",
        ),
        pytest.param(
            {"row_remap": {"corrected": 0, "uncorrected": 1, "pending": False, "failure": True}},
            ["row_remap_failure"],
            id="remap-failure",
        ),
        pytest.param(
            {"row_remap": {"corrected": 3, "uncorrected": 1, "pending": False, "failure": False}},
            "ok",
            id="remapped-rows-done",
        ),
        pytest.param(
            {"row_remap": None, "retired_pages": {"single_bit_ecc": 1, "double_bit_ecc": 0, "pending": True}},
            ["retired_pages_pending"],
            id="retirement-pending",
        ),
        pytest.param(
            {"row_remap": None, "retired_pages": {"single_bit_ecc": 2, "double_bit_ecc": 1, "pending": False}},
            "ok",
            id="pages-retired-done",
        ),
        pytest.param(
            {"clock_event_reasons": ["hw_slowdown", "hw_thermal_slowdown"]},
            ["hw_thermal_slowdown active", "hw_slowdown active"],
            id="hw-thermal",
        ),
        pytest.param(
            {"clock_event_reasons": ["hw_slowdown", "hw_power_brake_slowdown"]},
            ["hw_power_brake_slowdown active", "hw_slowdown active"],
            id="power-brake",
        ),
        pytest.param({"clock_event_reasons": ["sw_thermal_slowdown"]}, ["sw_thermal_slowdown active"], id="sw-thermal"),
        pytest.param({"clock_event_reasons": ["sw_power_cap", "sync_boost"]}, "ok", id="power-cap-is-normal"),
        pytest.param({"clock_event_reasons": None}, "ok", id="reasons-unsupported"),
        pytest.param({"pcie": _pcie(1, 4, 16, 16)}, "ok", id="gen-drop-at-idle-is-power-saving"),
        pytest.param(
            {"pcie": _pcie(3, 4, 16, 16), "clock_event_reasons": ["sw_power_cap"]},
            ["pcie_link_degraded (gen3 x16 of gen4 x16)"],
            id="gen-drop-under-load",
        ),
        pytest.param({"pcie": _pcie(3, 4, 16, 16), "clock_event_reasons": None}, "ok", id="gen-drop-idle-unknown"),
        pytest.param(
            {"pcie": _pcie(4, 4, 8, 16)}, ["pcie_link_degraded (gen4 x8 of gen4 x16)"], id="width-drop-at-idle"
        ),
        pytest.param(
            {"pcie": _pcie(None, None, 8, 16)}, ["pcie_link_degraded (gen? x8 of gen? x16)"], id="width-only-known"
        ),
        pytest.param({"pcie": _pcie(None, None, None, None)}, "ok", id="pcie-unsupported"),
        pytest.param(
            {
                "ecc_errors": _ecc(2, 2),
                "row_remap": {"corrected": 0, "uncorrected": 2, "pending": True, "failure": False},
                "clock_event_reasons": nvml.decode_clock_event_reasons(0x48),
                "pcie": _pcie(3, 4, 8, 16),
            },
            [
                "uncorrectable_ecc_errors (volatile 2, aggregate 2)",
                "row_remap_pending",
                "hw_thermal_slowdown active",
                "hw_slowdown active",
                "pcie_link_degraded (gen3 x8 of gen4 x16)",
            ],
            id="faulty-gpu",
        ),
    ],
)
def test_assess_health(changes, expected):
    assert nvml.assess_health(_device(**changes)) == expected


def test_summarize():
    assert nvml.summarize([]) is True
    assert nvml.summarize([{"health": "ok"}, {"health": "ok"}]) is True
    assert nvml.summarize([{"health": "ok"}, {"health": ["row_remap_pending"]}]) is False


# --- nvidia-smi CSV ---------------------------------------------------------------------------------------------------

FIELDS = [
    "index",
    "name",
    "serial",
    "memory.total",
    "power.draw",
    "clocks_event_reasons.active",
    "ecc.mode.current",
    "remapped_rows.pending",
    "compute_cap",
    "pcie.link.gen.current",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "0, NVIDIA RTX A6000, 1322021001234, 49140, 21.50, 0x0000000000000001, Enabled, No, 8.6, 4\n",
            [
                {
                    "index": 0,
                    "name": "NVIDIA RTX A6000",
                    "serial": "1322021001234",
                    "memory.total": 49140,
                    "power.draw": 21.5,
                    "clocks_event_reasons.active": 1,
                    "ecc.mode.current": True,
                    "remapped_rows.pending": False,
                    "compute_cap": "8.6",
                    "pcie.link.gen.current": 4,
                }
            ],
            id="noheader-nounits",
        ),
        pytest.param(
            "index, name, serial, memory.total [MiB], power.draw [W], clocks_event_reasons.active, ecc.mode.current, "
            "remapped_rows.pending, compute_cap, pcie.link.gen.current\n"
            "0, NVIDIA H100 80GB HBM3, 1654922001234, 81559 MiB, 71.25 W, 0x0000000000000048, Disabled, Yes, 9.0, 5\n",
            [
                {
                    "index": 0,
                    "name": "NVIDIA H100 80GB HBM3",
                    "serial": "1654922001234",
                    "memory.total": 81559,
                    "power.draw": 71.25,
                    "clocks_event_reasons.active": 0x48,
                    "ecc.mode.current": False,
                    "remapped_rows.pending": True,
                    "compute_cap": "9.0",
                    "pcie.link.gen.current": 5,
                }
            ],
            id="header-units",
        ),
        pytest.param(
            "0, NVIDIA GeForce RTX 3090, [N/A], 24576 MiB, [N/A], 0x0000000000000000, [N/A], [Not Supported], 8.6, 1\n"
            "1, Tesla V100-SXM2-16GB, N/A, 16384, 41.3, 0x4, Enabled, [Unknown Error], 7.0, "
            "[Insufficient Permissions]\n",
            [
                {
                    "index": 0,
                    "name": "NVIDIA GeForce RTX 3090",
                    "serial": None,
                    "memory.total": 24576,
                    "power.draw": None,
                    "clocks_event_reasons.active": 0,
                    "ecc.mode.current": None,
                    "remapped_rows.pending": None,
                    "compute_cap": "8.6",
                    "pcie.link.gen.current": 1,
                },
                {
                    "index": 1,
                    "name": "Tesla V100-SXM2-16GB",
                    "serial": None,
                    "memory.total": 16384,
                    "power.draw": 41.3,
                    "clocks_event_reasons.active": 4,
                    "ecc.mode.current": True,
                    "remapped_rows.pending": None,
                    "compute_cap": "7.0",
                    "pcie.link.gen.current": None,
                },
            ],
            id="not-available-markers",
        ),
        pytest.param(
            "\n0, NVIDIA A100-SXM4-80GB, 1, 81920, 60.00\n\n",
            [
                {
                    "index": 0,
                    "name": "NVIDIA A100-SXM4-80GB",
                    "serial": "1",
                    "memory.total": 81920,
                    "power.draw": 60.0,
                    "clocks_event_reasons.active": None,
                    "ecc.mode.current": None,
                    "remapped_rows.pending": None,
                    "compute_cap": None,
                    "pcie.link.gen.current": None,
                }
            ],
            id="short-row-and-blank-lines",
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_parse_nvidia_smi_csv(text, expected):
    assert nvml.parse_nvidia_smi_csv(text, FIELDS) == expected


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("12", "int", 12),
        ("12 %", "int", 12),
        ("garbage", "int", None),
        ("300.00 W", "float", 300.0),
        ("0x0000000000000100", "hex", 0x100),
        ("0X10", "hex", 16),
        ("72", "hex", 72),
        ("Enabled", "bool", True),
        ("Disabled", "bool", False),
        ("Maybe", "bool", None),
        ("[N/A]", "str", None),
        ("  ", "str", None),
    ],
)
def test_smi_value(raw, kind, expected):
    assert nvml._smi_value(raw, kind) == expected


def test_legacy_alias_fields_are_typed_like_the_modern_ones():
    rows = nvml.parse_nvidia_smi_csv("0x48, 250.00", ["clocks_throttle_reasons.active", "power.limit"])
    assert rows == [{"clocks_throttle_reasons.active": 0x48, "power.limit": 250.0}]
    device = nvml.device_from_nvidia_smi_row(dict(rows[0], index=0))
    assert device["clock_event_reasons"] == ["hw_slowdown", "hw_thermal_slowdown"]
    assert device["power_limit_w"] == 250.0


def test_parse_nvidia_smi_version():
    text = (
        "NVIDIA-SMI version  : 550.54.15\n"
        "NVML version        : 550.54\n"
        "DRIVER version      : 550.54.15\n"
        "CUDA Version        : 12.4\n"
    )
    assert nvml.parse_nvidia_smi_version(text) == {"nvml_version": "550.54", "cuda_driver_version": "12.4"}
    assert nvml.parse_nvidia_smi_version("Invalid combination of input arguments.") == {
        "nvml_version": None,
        "cuda_driver_version": None,
    }


# --- nvidia-smi collection with a scripted runner ---------------------------------------------------------------------


class ScriptedRunner:
    """Answers nvidia-smi invocations like a given driver would, and records them."""

    def __init__(self, rows_by_field, rejected=(), query_result=None, version_stdout=None):
        self.rows_by_field = rows_by_field
        self.rejected = set(rejected)
        self.query_result = query_result
        self.version_stdout = version_stdout
        self.calls = []

    def __call__(self, argv, timeout=30, env=None, stdin_data=None):
        self.calls.append(list(argv))
        if argv[1] == "--version":
            if self.version_stdout is None:
                return CommandResult(2, "Invalid combination of input arguments.\n", "")
            return CommandResult(0, self.version_stdout, "")
        if self.query_result is not None:
            return self.query_result
        fields = argv[1].split("=", 1)[1].split(",")
        for field in fields:
            if field in self.rejected:
                return CommandResult(2, f'Field "{field}" is not a valid field to query.\n\n', "")
        lines = [", ".join(row.get(field, "[N/A]") for field in fields) for row in self.rows_by_field]
        return CommandResult(0, "\n".join(lines) + "\n", "")


SMI_ROW = {
    "index": "0",
    "uuid": "GPU-00000000-1111-2222-3333-444444444444",
    "name": "Tesla V100-SXM2-16GB",
    "serial": "0323017012345",
    "pci.bus_id": "00000000:1A:00.0",
    "driver_version": "470.256.02",
    "memory.total": "16384",
    "memory.used": "0",
    "compute_cap": "7.0",
    "temperature.gpu": "35",
    "power.draw": "41.30",
    "enforced.power.limit": "300.00",
    "power.limit": "300.00",
    "clocks.sm": "135",
    "clocks.max.sm": "1530",
    "clocks_event_reasons.active": "0x0000000000000001",
    "clocks_throttle_reasons.active": "0x0000000000000001",
    "ecc.mode.current": "Enabled",
    "ecc.errors.corrected.volatile.total": "0",
    "ecc.errors.uncorrected.volatile.total": "0",
    "ecc.errors.corrected.aggregate.total": "3",
    "ecc.errors.uncorrected.aggregate.total": "0",
    "retired_pages.single_bit_ecc.count": "1",
    "retired_pages.double_bit.count": "0",
    "retired_pages.pending": "No",
    "mig.mode.current": "[N/A]",
    "persistence_mode": "Enabled",
    "utilization.gpu": "0",
    "pcie.link.gen.current": "1",
    "pcie.link.gen.max": "3",
    "pcie.link.width.current": "16",
    "pcie.link.width.max": "16",
}


def test_collect_via_nvidia_smi_on_an_old_driver_retries_without_rejected_fields():
    runner = ScriptedRunner(
        [SMI_ROW],
        rejected={
            "clocks_event_reasons.active",
            "enforced.power.limit",
            "compute_cap",
            "remapped_rows.correctable",
            "remapped_rows.uncorrectable",
            "remapped_rows.pending",
            "remapped_rows.failure",
        },
    )
    facts = nvml.collect_via_nvidia_smi(runner)
    assert facts["source"] == "nvidia-smi"
    assert facts["present"] is True
    assert facts["count"] == 1
    assert facts["error"] is None
    assert facts["driver_version"] == "470.256.02"
    assert facts["nvml_version"] is None  # this driver has no `nvidia-smi --version`
    assert facts["cuda_driver_version"] is None
    device = facts["devices"][0]
    assert tuple(device) == nvml.DEVICE_KEYS
    assert device["clock_event_reasons"] == ["gpu_idle"]  # read through the legacy throttle-reasons name
    assert device["power_limit_w"] == 300.0  # read through power.limit
    assert device["compute_capability"] is None  # rejected, not aliased: dropped
    assert device["row_remap"] is None
    assert device["retired_pages"] == {"single_bit_ecc": 1, "double_bit_ecc": 0, "pending": False}
    assert device["mig_mode"] is None
    assert device["ecc_errors"]["aggregate"] == {"corrected": 3, "uncorrected": 0}
    assert device["health"] == "ok"  # gen1 of gen3 at idle is power saving
    last_query = [call for call in runner.calls if call[1] != "--version"][-1][1]
    assert "clocks_throttle_reasons.active" in last_query
    assert "compute_cap" not in last_query


def test_collect_via_nvidia_smi_reads_versions():
    runner = ScriptedRunner([SMI_ROW], version_stdout="NVML version : 550.54\nCUDA Version : 12.4\n")
    facts = nvml.collect_via_nvidia_smi(runner)
    assert facts["cuda_driver_version"] == "12.4"
    assert facts["nvml_version"] == "550.54"
    assert facts["healthy"] is True


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (CommandResult(127, "", "cannot execute nvidia-smi"), "nvidia-smi: not found"),
        (CommandResult(124, "", "nvidia-smi timed out after 30s"), "nvidia-smi: timed out"),
        (
            CommandResult(
                9,
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                "Make sure that the latest NVIDIA driver is installed and running.\n\n",
                "",
            ),
            "nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
            "Make sure that the latest NVIDIA driver is installed and running.",
        ),
        (CommandResult(6, "No devices were found\n", ""), "nvidia-smi: No devices were found"),
        (CommandResult(255, "", ""), "nvidia-smi: exited with rc 255"),
    ],
)
def test_collect_via_nvidia_smi_failures(result, error):
    facts = nvml.collect_via_nvidia_smi(ScriptedRunner([], query_result=result))
    assert facts == nvml.no_gpu_facts(error=error)
    assert facts["present"] is False
    assert facts["source"] == "none"


# --- NVML path with a stand-in pynvml ---------------------------------------------------------------------------------


class FakeNVMLError(Exception):
    def __init__(self, message):
        super().__init__(message)


class FakePynvml:
    """The pynvml functions NvmlSession uses, answering from a dict; a missing answer raises 'Not Supported'."""

    NVMLError = FakeNVMLError

    def __init__(self, answers, init_error=None, broken_handles=()):
        self.answers = answers
        self.init_error = init_error
        self.broken_handles = set(broken_handles)
        self.shutdowns = 0

    def nvmlInit(self):
        if self.init_error:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index):
        if index in self.broken_handles:
            raise FakeNVMLError("GPU is lost")
        return index

    def __getattr__(self, name):
        if not name.startswith("nvml"):
            raise AttributeError(name)

        def call(*args):
            key = (name, *args[1:]) if args and name.startswith("nvmlDevice") else (name,)
            if key in self.answers:
                return self.answers[key]
            if name in self.answers:
                return self.answers[name]
            raise FakeNVMLError("Not Supported")

        return call


class _Struct:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def test_nvml_session_reads_supported_fields_and_nulls_the_rest():
    fake = FakePynvml(
        {
            "nvmlDeviceGetCount": 2,
            "nvmlSystemGetDriverVersion": b"550.54.15",
            "nvmlSystemGetCudaDriverVersion": 12040,  # no _v2: old bindings
            "nvmlSystemGetNVMLVersion": "12.550.54.15",
            "nvmlDeviceGetUUID": "GPU-aaaa",
            "nvmlDeviceGetName": b"NVIDIA GeForce RTX 4090",
            "nvmlDeviceGetPciInfo": _Struct(busId=b"00000000:01:00.0"),
            "nvmlDeviceGetMemoryInfo": _Struct(total=24564 * 1048576, used=5 * 1048576 + 17),
            "nvmlDeviceGetCudaComputeCapability": (8, 9),
            ("nvmlDeviceGetTemperature", 0): 41,
            "nvmlDeviceGetPowerUsage": 21345,
            "nvmlDeviceGetPowerManagementLimit": 450000,  # no enforced limit: falls back
            ("nvmlDeviceGetClockInfo", 1): 210,
            ("nvmlDeviceGetMaxClockInfo", 1): 3105,
            "nvmlDeviceGetCurrentClocksThrottleReasons": 0x1,  # no "event" name: falls back
            "nvmlDeviceGetPersistenceMode": 0,
            "nvmlDeviceGetUtilizationRates": _Struct(gpu=3, memory=1),
            "nvmlDeviceGetCurrPcieLinkGeneration": 1,
            "nvmlDeviceGetMaxPcieLinkGeneration": 4,
            "nvmlDeviceGetCurrPcieLinkWidth": 16,
            "nvmlDeviceGetMaxPcieLinkWidth": 16,
        },
        broken_handles={1},
    )
    facts = nvml.collect_gpu_facts(runner=None, nvml=fake)
    assert fake.shutdowns == 1
    assert facts["source"] == "nvml"
    assert facts["present"] is True
    assert facts["count"] == 2
    assert facts["driver_version"] == "550.54.15"
    assert facts["cuda_driver_version"] == "12.4"
    assert facts["nvml_version"] == "12.550.54.15"
    assert facts["healthy"] is False  # device 1 is lost
    device, lost = facts["devices"]
    assert tuple(device) == nvml.DEVICE_KEYS
    assert device == {
        "index": 0,
        "uuid": "GPU-aaaa",
        "name": "NVIDIA GeForce RTX 4090",
        "serial": None,
        "pci_bus_id": "00000000:01:00.0",
        "memory_total_mib": 24564,
        "memory_used_mib": 5,
        "compute_capability": "8.9",
        "temperature_c": 41,
        "power_draw_w": 21.34,
        "power_limit_w": 450.0,
        "sm_clock_mhz": 210,
        "max_sm_clock_mhz": 3105,
        "clock_event_reasons": ["gpu_idle"],
        "clock_event_reasons_mask": 1,
        "ecc_enabled": None,
        "ecc_errors": {
            "volatile": {"corrected": None, "uncorrected": None},
            "aggregate": {"corrected": None, "uncorrected": None},
        },
        "row_remap": None,
        "retired_pages": None,
        "mig_mode": None,
        "persistence_mode": False,
        "utilization_gpu": 3,
        "pcie": {"gen": 1, "max_gen": 4, "width": 16, "max_width": 16},
        "health": "ok",
    }
    assert lost["index"] == 1
    assert lost["uuid"] is None
    assert lost["health"] == ["nvml_error (GPU is lost)"]


def test_nvml_session_sample_is_cheap_and_complete():
    fake = FakePynvml(
        {
            ("nvmlDeviceGetTemperature", 0): 77,
            "nvmlDeviceGetPowerUsage": 699123,
            ("nvmlDeviceGetClockInfo", 1): 1755,
            "nvmlDeviceGetCurrentClocksEventReasons": 0x4,
            "nvmlDeviceGetUtilizationRates": _Struct(gpu=100, memory=80),
        },
        broken_handles={3},
    )
    with nvml.NvmlSession(fake) as session:
        samples = session.sample([0, 3])
    lost = dict.fromkeys(nvml.SAMPLE_KEYS)
    lost["index"] = 3
    assert samples == [
        {
            "index": 0,
            "temperature_c": 77,
            "power_draw_w": 699.12,
            "sm_clock_mhz": 1755,
            "clock_event_reasons": ["sw_power_cap"],
            "utilization_gpu": 100,
        },
        lost,
    ]


def test_nvml_session_lost_device_sample_has_every_key():
    fake = FakePynvml({}, broken_handles={0})
    with nvml.NvmlSession(fake) as session:
        (sample,) = session.sample([0])
    expected = dict.fromkeys(nvml.SAMPLE_KEYS)
    expected["index"] = 0
    assert sample == expected


@pytest.mark.parametrize(
    ("nvml_module", "smi_result", "use_pynvml", "expected_error"),
    [
        (
            FakePynvml({}, init_error="Driver Not Loaded"),
            CommandResult(9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", ""),
            True,
            "NVML: Driver Not Loaded; nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the "
            "NVIDIA driver.",
        ),
        (
            FakePynvml({}, init_error="NVML Shared Library Not Found"),
            CommandResult(127, "", "cannot execute nvidia-smi"),
            True,
            "NVML: NVML Shared Library Not Found; nvidia-smi: not found",
        ),
        (None, CommandResult(127, "", "cannot execute nvidia-smi"), False, "nvidia-smi: not found"),
    ],
)
def test_collect_gpu_facts_without_any_gpu(nvml_module, smi_result, use_pynvml, expected_error):
    runner = ScriptedRunner([], query_result=smi_result)
    facts = nvml.collect_gpu_facts(runner=runner, use_pynvml=use_pynvml, nvml=nvml_module)
    assert facts == nvml.no_gpu_facts(error=expected_error)


def test_collect_gpu_facts_without_bindings_falls_back_to_nvidia_smi(monkeypatch):
    monkeypatch.setattr(nvml, "HAS_PYNVML", False)
    facts = nvml.collect_gpu_facts(runner=ScriptedRunner([SMI_ROW]))
    assert facts["source"] == "nvidia-smi"
    assert facts["error"] is None
    assert facts["devices"][0]["uuid"] == SMI_ROW["uuid"]
    monkeypatch.setattr(nvml, "HAS_PYNVML", False)
    facts = nvml.collect_gpu_facts(runner=ScriptedRunner([], query_result=CommandResult(127, "", "")))
    assert facts["error"] == "NVML: the nvidia-ml-py bindings (pynvml) are not installed; nvidia-smi: not found"


def test_nvml_init_failure_falls_back_to_nvidia_smi():
    facts = nvml.collect_gpu_facts(
        runner=ScriptedRunner([SMI_ROW]), nvml=FakePynvml({}, init_error="Insufficient Permissions")
    )
    assert facts["source"] == "nvidia-smi"
    assert facts["present"] is True
    assert facts["error"] is None


def test_nvml_session_reads_ecc_pages_and_modes():
    fake = FakePynvml(
        {
            "nvmlDeviceGetCount": 1,
            "nvmlDeviceGetEccMode": [1, 1],
            ("nvmlDeviceGetTotalEccErrors", 0, 0): 4,
            ("nvmlDeviceGetTotalEccErrors", 1, 0): 0,
            ("nvmlDeviceGetTotalEccErrors", 0, 1): 9,
            ("nvmlDeviceGetTotalEccErrors", 1, 1): 1,
            ("nvmlDeviceGetRetiredPages", 0): [0x1000, 0x2000],
            ("nvmlDeviceGetRetiredPages", 1): [0x3000],
            "nvmlDeviceGetRetiredPagesPendingStatus": 1,
            "nvmlDeviceGetMigMode": [1, 0],
            "nvmlDeviceGetPersistenceMode": 1,
            "nvmlDeviceGetCurrentClocksEventReasons": 0x0,
        }
    )
    with nvml.NvmlSession(fake) as session:
        device = session.read_device(0)
    assert device["ecc_enabled"] is True
    assert device["ecc_errors"] == {
        "volatile": {"corrected": 4, "uncorrected": 0},
        "aggregate": {"corrected": 9, "uncorrected": 1},
    }
    assert device["retired_pages"] == {"single_bit_ecc": 2, "double_bit_ecc": 1, "pending": True}
    assert device["row_remap"] is None
    assert device["mig_mode"] is True
    assert device["persistence_mode"] is True
    assert device["clock_event_reasons"] == []
    assert device["health"] == ["uncorrectable_ecc_errors (volatile 0, aggregate 1)", "retired_pages_pending"]


# --- both real paths against the simulated GPU fleet ------------------------------------------------------------------

_NVML_PROBE = """
import json
from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml
try:
    facts = nvml.collect_via_nvml()
    with nvml.NvmlSession() as session:
        facts["samples"] = session.sample(range(facts["count"]))
except nvml.NvmlUnavailableError as exc:
    facts = {"unavailable": str(exc)}
print(json.dumps(facts))
"""


@pytest.fixture(scope="session")
def sim_lib_dir(fake_nvml_dir):
    """The directory holding the simulated libnvidia-ml.so.1 (built fresh by tests/conftest.py)."""
    return str(fake_nvml_dir)


def _load_profile(name):
    with open(os.path.join(PROFILES_DIR, name + ".json")) as handle:
        return json.load(handle)


def _via_pynvml(lib_dir, profile_path):
    """collect_via_nvml() in a fresh interpreter whose dynamic linker finds only the simulated NVML."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=COLLECTIONS_ROOT,
        LD_LIBRARY_PATH=lib_dir,
        GPUFLEET_SIM_GPU_PROFILE=profile_path,
        PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != SIM_BIN),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _NVML_PROBE], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _via_nvidia_smi(monkeypatch, profile_path):
    monkeypatch.setenv("PATH", SIM_BIN + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("GPUFLEET_SIM_GPU_PROFILE", profile_path)
    return nvml.collect_via_nvidia_smi()


@pytest.mark.parametrize("profile", ["a6000x8", "h100", "cpu", "faulty"])
def test_pynvml_and_nvidia_smi_agree_on_simulated_hosts(sim_lib_dir, monkeypatch, profile):
    profile_path = os.path.join(PROFILES_DIR, profile + ".json")
    spec = _load_profile(profile)
    from_nvml = _via_pynvml(sim_lib_dir, profile_path)
    from_smi = _via_nvidia_smi(monkeypatch, profile_path)

    if not spec.get("driver_loaded", True) or not spec.get("gpus"):
        assert from_nvml == {"unavailable": "NVML: Driver Not Loaded"}
        assert from_smi["present"] is False
        assert from_smi["source"] == "none"
        assert from_smi["error"].startswith("nvidia-smi: ")
        return

    samples = from_nvml.pop("samples")
    assert from_nvml["source"] == "nvml"
    assert from_smi["source"] == "nvidia-smi"
    # Same keys, same types, same devices from both sources.
    assert set(from_nvml) == set(from_smi)
    for key in from_nvml:
        if key not in ("source", "nvml_version"):  # nvidia-smi reports NVML's version in its own format
            assert from_nvml[key] == from_smi[key], key
    assert isinstance(from_smi["nvml_version"], (str, type(None)))
    assert from_nvml["devices"] == from_smi["devices"]
    for device in from_nvml["devices"]:
        assert tuple(device) == nvml.DEVICE_KEYS

    # ... and they say what the profile says.
    assert from_nvml["count"] == len(spec["gpus"])
    assert from_nvml["driver_version"] == spec["driver_version"]
    assert from_nvml["nvml_version"] == spec["nvml_version"]
    assert from_nvml["cuda_driver_version"] == nvml.format_cuda_version(spec["cuda_driver_version"])
    for device, gpu in zip(from_nvml["devices"], spec["gpus"]):
        assert device["uuid"] == gpu["uuid"]
        assert device["name"] == gpu["name"]
        assert device["pci_bus_id"] == gpu["pci_bus_id"]
        assert device["memory_total_mib"] == gpu["memory_total_mib"]
        assert device["compute_capability"] == "{}.{}".format(*gpu["compute_capability"])
        assert device["power_draw_w"] == round(gpu["power_draw_mw"] / 1000.0, 2)
        assert device["clock_event_reasons_mask"] == gpu["clock_event_reasons"]
        assert device["pcie"] == gpu["pcie"]
        assert device["mig_mode"] is (None if gpu.get("mig_mode") is None else bool(gpu["mig_mode"]["current"]))
    assert [sample["index"] for sample in samples] == list(range(len(spec["gpus"])))
    assert [sample["temperature_c"] for sample in samples] == [gpu["temperature_c"] for gpu in spec["gpus"]]
    assert from_nvml["healthy"] is all(device["health"] == "ok" for device in from_nvml["devices"])


def test_faulty_simulated_gpu_reports_its_health_reasons(sim_lib_dir):
    profile_path = os.path.join(PROFILES_DIR, "faulty.json")
    facts = _via_pynvml(sim_lib_dir, profile_path)
    assert facts["healthy"] is False
    assert facts["devices"][0]["health"] == "ok"
    assert facts["devices"][1]["health"] == [
        "uncorrectable_ecc_errors (volatile 2, aggregate 2)",
        "row_remap_pending",
        "hw_thermal_slowdown active",
        "hw_slowdown active",
        "pcie_link_degraded (gen3 x8 of gen4 x16)",
    ]
