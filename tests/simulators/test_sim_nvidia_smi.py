"""The SIMULATED nvidia-smi (tests/simulators/bin/nvidia-smi): list and CSV query formats against the profiles.

Expected cells are derived here from the profile JSON and nvidia-smi's documented output formats; literal rows
pin the shipped profiles, and a cross-check compares the numbers with what pynvml reads through the fake NVML.
"""

import ast
import os
import re

import pytest

GPU_PROFILES = ("a6000x8", "h100", "faulty")
NA = "[N/A]"
DRIVER_FAILURE = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)


def dig(obj, *path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def canonical_bus_id(text):
    parts = text.split(":")
    if len(parts) == 2:
        parts.insert(0, "0")
    device, function = parts[2].split(".")
    return "%08X:%02X:%02X.%X" % (int(parts[0], 16), int(parts[1], 16), int(device, 16), int(function, 16))


def show(value, template="%s", unit=None):
    """(with units, without units) for one cell; None → [N/A] in both."""
    if value is None:
        return NA, NA
    text = template % value
    return ("%s %s" % (text, unit) if unit else text), text


def entry(header, shown):
    return header, shown[0], shown[1]


def flag(value, when_set, when_clear):
    return show(None if value is None else (when_set if value else when_clear))


def watts(milliwatts):
    return None if milliwatts is None else milliwatts / 1000.0


def expected_cells(profile, gpu, index):
    """field → (header, cell with units, cell without units), per nvidia-smi's CSV conventions."""
    total, used = gpu.get("memory_total_mib"), gpu.get("memory_used_mib")
    cc = gpu.get("compute_capability")
    reasons = gpu.get("clock_event_reasons")
    retired, remap = gpu.get("retired_pages"), gpu.get("row_remap")
    draw, limit = watts(gpu.get("power_draw_mw")), watts(gpu.get("power_limit_mw"))
    cells = {
        "index": entry("index", show(index)),
        "uuid": entry("uuid", show(gpu["uuid"])),
        "name": entry("name", show(gpu["name"])),
        "serial": entry("serial", show(gpu.get("serial"))),
        "pci.bus_id": entry("pci.bus_id", show(canonical_bus_id(gpu["pci_bus_id"]))),
        "memory.total": entry("memory.total [MiB]", show(total, unit="MiB")),
        "memory.used": entry("memory.used [MiB]", show(used, unit="MiB")),
        "memory.free": entry("memory.free [MiB]", show(None if None in (total, used) else total - used, unit="MiB")),
        "compute_cap": entry("compute_cap", show(None if cc is None else "%d.%d" % tuple(cc))),
        "temperature.gpu": entry("temperature.gpu", show(gpu.get("temperature_c"))),
        "power.draw": entry("power.draw [W]", show(draw, "%.2f", "W")),
        "power.limit": entry("power.limit [W]", show(limit, "%.2f", "W")),
        "enforced.power.limit": entry("enforced.power.limit [W]", show(limit, "%.2f", "W")),
        "clocks.sm": entry("clocks.current.sm [MHz]", show(dig(gpu, "clocks_mhz", "sm"), unit="MHz")),
        "clocks.max.sm": entry("clocks.max.sm [MHz]", show(dig(gpu, "max_clocks_mhz", "sm"), unit="MHz")),
        "clocks.mem": entry("clocks.current.memory [MHz]", show(dig(gpu, "clocks_mhz", "mem"), unit="MHz")),
        "clocks_event_reasons.active": entry("clocks_event_reasons.active", show(reasons, "0x%016X")),
        "clocks_throttle_reasons.active": entry("clocks_throttle_reasons.active", show(reasons, "0x%016X")),
        "ecc.mode.current": entry("ecc.mode.current", flag(dig(gpu, "ecc_mode", "current"), "Enabled", "Disabled")),
        "retired_pages.sbe": entry("retired_pages.single_bit_ecc.count", show(dig(retired, "single_bit_ecc"))),
        "retired_pages.dbe": entry("retired_pages.double_bit.count", show(dig(retired, "double_bit_ecc"))),
        "retired_pages.pending": entry("retired_pages.pending", flag(dig(retired, "pending"), "Yes", "No")),
        "remapped_rows.correctable": entry("remapped_rows.correctable", show(dig(remap, "corrected"))),
        "remapped_rows.uncorrectable": entry("remapped_rows.uncorrectable", show(dig(remap, "uncorrected"))),
        "remapped_rows.pending": entry("remapped_rows.pending", flag(dig(remap, "pending"), "Yes", "No")),
        "remapped_rows.failure": entry("remapped_rows.failure", flag(dig(remap, "failure"), "Yes", "No")),
        "mig.mode.current": entry("mig.mode.current", flag(dig(gpu, "mig_mode", "current"), "Enabled", "Disabled")),
        "persistence_mode": entry("persistence_mode", flag(gpu.get("persistence_mode"), "Enabled", "Disabled")),
        "pcie.link.gen.current": entry("pcie.link.gen.current", show(dig(gpu, "pcie", "gen"))),
        "pcie.link.gen.max": entry("pcie.link.gen.max", show(dig(gpu, "pcie", "max_gen"))),
        "pcie.link.width.current": entry("pcie.link.width.current", show(dig(gpu, "pcie", "width"))),
        "pcie.link.width.max": entry("pcie.link.width.max", show(dig(gpu, "pcie", "max_width"))),
        "driver_version": entry("driver_version", show(profile.get("driver_version"))),
        "utilization.gpu": entry("utilization.gpu [%]", show(dig(gpu, "utilization", "gpu"), unit="%")),
        "utilization.memory": entry("utilization.memory [%]", show(dig(gpu, "utilization", "memory"), unit="%")),
        "fan.speed": entry("fan.speed [%]", show(gpu.get("fan_speed_pct"), unit="%")),
        "pstate": entry("pstate", show(gpu.get("performance_state"), "P%d")),
        "count": entry("count", show(len(profile["gpus"]))),
    }
    for kind in ("corrected", "uncorrected"):
        for counter in ("volatile", "aggregate"):
            name = "ecc.errors.%s.%s.total" % (kind, counter)
            cells[name] = entry(name, show(dig(gpu, "ecc_errors", counter, kind)))
    return cells


ALL_FIELDS = tuple(expected_cells({"gpus": []}, {"uuid": "u", "name": "n", "pci_bus_id": "0:0:0.0"}, 0))


def smi(gpu_sim, args, profile):
    return gpu_sim.run_tool("nvidia-smi", args, profile)


def query(gpu_sim, profile, fields, fmt="csv", extra=()):
    result = smi(gpu_sim, ["--query-gpu=" + ",".join(fields), "--format=" + fmt, *extra], profile)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_list_gpus(gpu_sim, profile):
    data = gpu_sim.load_profile(profile)
    result = smi(gpu_sim, ["-L"], gpu_sim.profile_path(profile))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "GPU %d: %s (UUID: %s)" % (index, gpu["name"], gpu["uuid"]) for index, gpu in enumerate(data["gpus"])
    ]
    for line in result.stdout.splitlines():
        assert re.fullmatch(r"GPU \d+: [^()]+ \(UUID: GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\)", line)


@pytest.mark.parametrize(
    "fmt, units, header",
    [
        ("csv", True, True),
        ("csv,nounits", False, True),
        ("csv,noheader", True, False),
        ("csv,noheader,nounits", False, False),
        ("csv,nounits,noheader", False, False),
    ],
)
@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_query_every_field(gpu_sim, profile, fmt, units, header):
    data = gpu_sim.load_profile(profile)
    lines = query(gpu_sim, gpu_sim.profile_path(profile), ALL_FIELDS, fmt)
    expected_rows = []
    for index, gpu in enumerate(data["gpus"]):
        cells = expected_cells(data, gpu, index)
        expected_rows.append(", ".join(cells[name][1 if units else 2] for name in ALL_FIELDS))
    if header:
        # nvidia-smi keeps the unit in the header even with nounits
        first = expected_cells(data, data["gpus"][0], 0)
        assert lines[0] == ", ".join(first[name][0] for name in ALL_FIELDS)
        lines = lines[1:]
    assert lines == expected_rows


def test_shipped_profiles_pin_known_rows(gpu_sim):
    fields = [
        "index",
        "name",
        "memory.total",
        "memory.used",
        "power.draw",
        "power.limit",
        "clocks.sm",
        "fan.speed",
        "utilization.gpu",
        "pstate",
        "compute_cap",
        "clocks_event_reasons.active",
        "ecc.mode.current",
    ]
    lines = query(gpu_sim, gpu_sim.profile_path("a6000x8"), fields, extra=["-i", "0"])
    assert lines == [
        "index, name, memory.total [MiB], memory.used [MiB], power.draw [W], power.limit [W], "
        "clocks.current.sm [MHz], fan.speed [%], utilization.gpu [%], pstate, compute_cap, "
        "clocks_event_reasons.active, ecc.mode.current",
        "0, NVIDIA RTX A6000, 49140 MiB, 3 MiB, 21.50 W, 300.00 W, 210 MHz, 30 %, 0 %, P8, 8.6, "
        "0x0000000000000001, Enabled",
    ]
    lines = query(gpu_sim, gpu_sim.profile_path("a6000x8"), fields, "csv,noheader,nounits", ["--id=0"])
    assert lines == ["0, NVIDIA RTX A6000, 49140, 3, 21.50, 300.00, 210, 30, 0, P8, 8.6, 0x0000000000000001, Enabled"]

    h100 = query(
        gpu_sim,
        gpu_sim.profile_path("h100"),
        ["name", "memory.total", "fan.speed", "mig.mode.current", "retired_pages.pending", "pcie.link.gen.max"],
        "csv,noheader",
    )
    assert h100 == ["NVIDIA H100 80GB HBM3, 81559 MiB, [N/A], Disabled, [N/A], 5"]

    sick = query(
        gpu_sim,
        gpu_sim.profile_path("faulty"),
        [
            "clocks_throttle_reasons.active",
            "temperature.gpu",
            "ecc.errors.uncorrected.volatile.total",
            "ecc.errors.uncorrected.aggregate.total",
            "remapped_rows.pending",
            "remapped_rows.failure",
            "pcie.link.gen.current",
            "pcie.link.width.current",
        ],
        "csv,noheader",
        ["-i", "1"],
    )
    assert sick == ["0x0000000000000048, 94, 2, 2, Yes, No, 3, 8"]


def test_id_selection(gpu_sim):
    data = gpu_sim.load_profile("a6000x8")
    path = gpu_sim.profile_path("a6000x8")
    assert query(gpu_sim, path, ["index"], "csv,noheader", ["-i", "3"]) == ["3"]
    assert query(gpu_sim, path, ["index"], "csv,noheader", ["--id=5"]) == ["5"]
    assert query(gpu_sim, path, ["index"], "csv,noheader", ["--id", "6,2"]) == ["6", "2"]
    assert query(gpu_sim, path, ["index"], "csv,noheader", ["-i", data["gpus"][4]["uuid"]]) == ["4"]
    assert query(gpu_sim, path, ["index"], "csv,noheader", ["-i", data["gpus"][7]["pci_bus_id"]]) == ["7"]
    listed = smi(gpu_sim, ["-L", "-i", "1"], path)
    assert listed.stdout == "GPU 1: NVIDIA RTX A6000 (UUID: %s)\n" % data["gpus"][1]["uuid"]
    assert len(query(gpu_sim, path, ["index"], "csv,noheader")) == 8


def test_unknown_id_finds_no_devices(gpu_sim):
    result = smi(gpu_sim, ["-L", "-i", "8"], gpu_sim.profile_path("a6000x8"))
    assert (result.returncode, result.stdout) == (6, "No devices were found\n")


def test_driver_without_gpus_finds_no_devices(gpu_sim, write_profile):
    path = write_profile({"driver_loaded": True, "driver_version": "550.54.15", "gpus": []})
    result = smi(gpu_sim, ["--query-gpu=index", "--format=csv"], path)
    assert (result.returncode, result.stdout) == (6, "No devices were found\n")


def test_unknown_field(gpu_sim):
    result = smi(gpu_sim, ["--query-gpu=index,x.bogus", "--format=csv"], gpu_sim.profile_path("h100"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == 'Field "x.bogus" is not a valid field to query.'


@pytest.mark.parametrize("args", [["-L"], ["--query-gpu=index", "--format=csv"], []])
def test_driver_not_loaded(gpu_sim, tmp_path, args):
    for profile in (gpu_sim.profile_path("cpu"), tmp_path / "missing.json"):
        result = smi(gpu_sim, args, profile)
        assert result.returncode == 9
        assert result.stdout == DRIVER_FAILURE + "\n"


def test_unparsable_profile(gpu_sim, write_profile):
    path = write_profile('{"gpus": [')
    result = smi(gpu_sim, ["-L"], path)
    assert result.returncode == 255
    assert str(path) in result.stderr
    assert result.stdout == ""


def test_bad_values_in_profile_fail_without_partial_output(gpu_sim, write_profile):
    path = write_profile({"gpus": [{"name": "x", "uuid": "GPU-x", "pci_bus_id": "01:00.0", "temperature_c": "hot"}]})
    result = smi(gpu_sim, ["--query-gpu=index,temperature.gpu", "--format=csv"], path)
    assert result.returncode == 255
    assert "temperature_c" in result.stderr and str(path) in result.stderr
    assert result.stdout == ""


def test_bad_format(gpu_sim):
    result = smi(gpu_sim, ["--query-gpu=index", "--format=csv,fancy"], gpu_sim.profile_path("h100"))
    assert result.returncode == 2 and "fancy" in result.stderr


def test_summary_and_version(gpu_sim):
    summary = smi(gpu_sim, [], gpu_sim.profile_path("h100"))
    assert summary.returncode == 0
    assert "Driver Version: 570.86.15" in summary.stdout and "CUDA Version: 12.8" in summary.stdout
    assert "NVIDIA H100 80GB HBM3" in summary.stdout and "SIMULATED" in summary.stdout
    version = smi(gpu_sim, ["--version"], gpu_sim.profile_path("h100"))
    assert "DRIVER version      : 570.86.15" in version.stdout.splitlines()


@pytest.mark.parametrize("profile", GPU_PROFILES)
def test_agrees_with_the_simulated_nvml(gpu_sim, profile, nvml_report):
    """The two doubles read one profile; the numbers nvidia-smi prints must be what NVML reports."""
    fields = [
        "memory.total",
        "memory.used",
        "memory.free",
        "power.draw",
        "temperature.gpu",
        "clocks.sm",
        "pcie.link.width.current",
        "clocks_event_reasons.active",
        "pci.bus_id",
        "uuid",
    ]
    rows = [line.split(", ") for line in query(gpu_sim, gpu_sim.profile_path(profile), fields, "csv,noheader,nounits")]
    report = nvml_report(gpu_sim.profile_path(profile))
    for row, gpu in zip(rows, report["gpus"]):
        assert int(row[0]) * 1048576 == gpu["memory"]["total"]
        assert int(row[1]) * 1048576 == gpu["memory"]["used"]
        assert int(row[2]) * 1048576 == gpu["memory"]["free"]
        assert round(float(row[3]) * 1000) == gpu["power_usage"]
        assert int(row[4]) == gpu["temperature"]
        assert int(row[5]) == gpu["clocks"]["sm"]
        assert int(row[6]) == gpu["pcie_width"]
        assert int(row[7], 16) == gpu["clock_event_reasons"]
        assert row[8] == gpu["pci"]["busId"]
        assert row[9] == gpu["uuid"]
    assert len(rows) == report["count"]


def test_script_is_a_marked_python38_executable(gpu_sim):
    path = gpu_sim.bin_dir / "nvidia-smi"
    source = path.read_text(encoding="utf-8")
    assert os.access(str(path), os.X_OK)
    assert source.startswith("#!/usr/bin/env python3\n")
    assert "SIMULATED" in source.splitlines()[1]
    ast.parse(source, feature_version=(3, 8))


def test_every_field_the_collection_relies_on_is_covered():
    required = [
        "index",
        "uuid",
        "name",
        "serial",
        "pci.bus_id",
        "memory.total",
        "memory.used",
        "memory.free",
        "compute_cap",
        "temperature.gpu",
        "power.draw",
        "power.limit",
        "enforced.power.limit",
        "clocks.sm",
        "clocks.max.sm",
        "clocks.mem",
        "clocks_event_reasons.active",
        "clocks_throttle_reasons.active",
        "ecc.mode.current",
        "ecc.errors.corrected.volatile.total",
        "ecc.errors.uncorrected.volatile.total",
        "ecc.errors.corrected.aggregate.total",
        "ecc.errors.uncorrected.aggregate.total",
        "retired_pages.sbe",
        "retired_pages.dbe",
        "retired_pages.pending",
        "remapped_rows.correctable",
        "remapped_rows.uncorrectable",
        "remapped_rows.pending",
        "remapped_rows.failure",
        "mig.mode.current",
        "persistence_mode",
        "pcie.link.gen.current",
        "pcie.link.gen.max",
        "pcie.link.width.current",
        "pcie.link.width.max",
        "driver_version",
        "utilization.gpu",
        "utilization.memory",
        "fan.speed",
        "pstate",
        "count",
    ]
    assert sorted(ALL_FIELDS) == sorted(required)
