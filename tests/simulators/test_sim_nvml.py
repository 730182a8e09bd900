"""The SIMULATED libnvidia-ml.so.1, driven by the real nvidia-ml-py (pynvml) in subprocesses.

Expected values are derived here from the profile JSON and the NVML API's documented units (bytes, mW, MHz,
...), never from the simulator's code; a few literal values pin the shipped profiles.
"""

import ctypes
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

NOT_SUPPORTED = {"nvml_error": 3}
MIB = 1024 * 1024

SHIPPED_GPU_PROFILES = ("a6000x8", "h100", "faulty")

# Extra profiles for what the shipped ones never show: retired pages (pre-Ampere), partial sections,
# booleans for flags, a non-canonical bus id, and a GPU that has nothing but its identity.
EXTRA_PROFILES = {
    "volta": {
        "driver_loaded": True,
        "driver_version": "535.183.01",
        "nvml_version": "12.535.183.01",
        "cuda_driver_version": 12020,
        "gpus": [
            {
                "name": "Tesla V100-SXM2-16GB",
                "uuid": "GPU-0b6c1f0e-5d1a-4b7e-9c55-1f3c2a9e7d10",
                "serial": None,
                "pci_bus_id": "0000:3b:00.0",
                "pci_device_id": 0x1DB110DE,
                "memory_total_mib": 16384,
                "memory_used_mib": 0,
                "compute_capability": [7, 0],
                "temperature_c": 41,
                "power_draw_mw": 43210,
                "power_limit_mw": 300000,
                "clocks_mhz": {"graphics": 135, "sm": 135, "mem": 877},
                "max_clocks_mhz": {"graphics": 1530, "sm": 1530, "mem": 877, "video": 1372},
                "clock_event_reasons": 0x4,
                "ecc_mode": {"current": 0, "pending": 1},
                "ecc_errors": {"volatile": {"corrected": 5, "uncorrected": None}},
                "retired_pages": {"single_bit_ecc": 2, "double_bit_ecc": 1, "pending": True},
                "row_remap": None,
                "mig_mode": None,
                "persistence_mode": False,
                "utilization": {"gpu": 7},
                "pcie": {"gen": 3, "max_gen": 3, "width": 16},
            },
            {
                "name": "Tesla V100-SXM2-16GB",
                "uuid": "GPU-7f1d9a22-0c43-4e8b-a1e6-5b2d8c4f9a31",
                "serial": "0323517001234",
                "pci_bus_id": "0000:86:00.0",
                "retired_pages": {"single_bit_ecc": 0, "double_bit_ecc": 0, "pending": False},
            },
        ],
    },
    "minimal": {"gpus": [{"name": "Mystery GPU", "uuid": "GPU-minimal", "pci_bus_id": "01:00.0"}]},
}

PROFILES = SHIPPED_GPU_PROFILES + tuple(EXTRA_PROFILES)

GPU_FIELDS = (
    "name",
    "uuid",
    "serial",
    "pci",
    "pci_v2",
    "pci_v1",
    "memory",
    "memory_v2",
    "temperature",
    "power_usage",
    "enforced_power_limit",
    "power_management_limit",
    "clocks",
    "max_clocks",
    "clock_event_reasons",
    "clock_throttle_reasons",
    "ecc_mode",
    "ecc_errors",
    "retired_pages_sbe",
    "retired_pages_dbe",
    "retired_pages_sbe_v2",
    "retired_pages_pending",
    "remapped_rows",
    "mig_mode",
    "persistence_mode",
    "utilization",
    "pcie_gen",
    "pcie_max_gen",
    "pcie_width",
    "pcie_max_width",
    "compute_capability",
)


@pytest.fixture(scope="module")
def profile_paths(gpu_sim, tmp_path_factory):
    directory = tmp_path_factory.mktemp("extra-profiles")
    paths = {name: gpu_sim.profile_path(name) for name in SHIPPED_GPU_PROFILES}
    for name, profile in EXTRA_PROFILES.items():
        paths[name] = directory / ("%s.json" % name)
        paths[name].write_text(json.dumps(profile), encoding="utf-8")
    return paths


def load(profile_paths, name):
    return json.loads(Path(profile_paths[name]).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------
# What NVML should answer for a profile (from README.md's schema and NVML's units)
# ------------------------------------------------------------------------------------------------


def dig(obj, *path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def supported(*values):
    """NOT_SUPPORTED unless every value exists; else the single value or the list of them."""
    if any(value is None for value in values):
        return NOT_SUPPORTED
    values = [int(value) if isinstance(value, bool) else value for value in values]
    return values[0] if len(values) == 1 else values


def bus_ids(text):
    """NVML's busId ("%08X:%02X:%02X.0") and legacy busId ("%04X:...") for a profile's pci_bus_id."""
    parts = text.split(":")
    if len(parts) == 2:
        parts.insert(0, "0")
    device, function = parts[2].split(".")
    numbers = (int(parts[0], 16), int(parts[1], 16), int(device, 16), int(function, 16))
    return "%08X:%02X:%02X.%X" % numbers, "%04X:%02X:%02X.%X" % numbers, numbers


def expected_gpu(gpu, index):
    bus_id, legacy, (domain, bus, device, _function) = bus_ids(gpu["pci_bus_id"])
    pci = {
        "busId": bus_id,
        "busIdLegacy": legacy,
        "domain": domain,
        "bus": bus,
        "device": device,
        "pciDeviceId": gpu.get("pci_device_id") or 0,
        "pciSubSystemId": gpu.get("pci_subsystem_id") or 0,
    }
    pci_v1 = {key: value for key, value in pci.items() if key not in ("busId", "busIdLegacy")}
    pci_v1["busId"] = legacy
    total, used = gpu.get("memory_total_mib"), gpu.get("memory_used_mib")
    if total is None or used is None:
        memory = memory_v2 = NOT_SUPPORTED
    else:
        memory = {"total": total * MIB, "used": used * MIB, "free": (total - used) * MIB}
        memory_v2 = dict(memory, reserved=0)
    clock_names = ("graphics", "sm", "mem", "video")
    retired = gpu.get("retired_pages")
    remap = gpu.get("row_remap")
    return {
        "name": gpu["name"],
        "uuid": gpu["uuid"],
        "serial": supported(gpu.get("serial")),
        "pci": pci,
        "pci_v2": pci,
        "pci_v1": pci_v1,
        "memory": memory,
        "memory_v2": memory_v2,
        "temperature": supported(gpu.get("temperature_c")),
        "power_usage": supported(gpu.get("power_draw_mw")),
        "enforced_power_limit": supported(gpu.get("power_limit_mw")),
        "power_management_limit": supported(gpu.get("power_limit_mw")),
        "clocks": {name: supported(dig(gpu, "clocks_mhz", name)) for name in clock_names},
        "max_clocks": {name: supported(dig(gpu, "max_clocks_mhz", name)) for name in clock_names},
        "clock_event_reasons": supported(gpu.get("clock_event_reasons")),
        "clock_throttle_reasons": supported(gpu.get("clock_event_reasons")),
        "ecc_mode": supported(dig(gpu, "ecc_mode", "current"), dig(gpu, "ecc_mode", "pending")),
        "ecc_errors": {
            counter: {kind: supported(dig(gpu, "ecc_errors", counter, kind)) for kind in ("corrected", "uncorrected")}
            for counter in ("volatile", "aggregate")
        },
        # the page lists are compared by length here and checked in detail in test_retired_pages_*
        "retired_pages_sbe": supported(dig(retired, "single_bit_ecc")),
        "retired_pages_dbe": supported(dig(retired, "double_bit_ecc")),
        "retired_pages_sbe_v2": supported(dig(retired, "single_bit_ecc")),
        "retired_pages_pending": supported(dig(retired, "pending")),
        "remapped_rows": supported(
            dig(remap, "corrected"), dig(remap, "uncorrected"), dig(remap, "pending"), dig(remap, "failure")
        ),
        "mig_mode": supported(dig(gpu, "mig_mode", "current"), dig(gpu, "mig_mode", "pending")),
        "persistence_mode": supported(gpu.get("persistence_mode")),
        "utilization": (
            NOT_SUPPORTED
            if dig(gpu, "utilization", "gpu") is None or dig(gpu, "utilization", "memory") is None
            else dict(gpu["utilization"])
        ),
        "pcie_gen": supported(dig(gpu, "pcie", "gen")),
        "pcie_max_gen": supported(dig(gpu, "pcie", "max_gen")),
        "pcie_width": supported(dig(gpu, "pcie", "width")),
        "pcie_max_width": supported(dig(gpu, "pcie", "max_width")),
        "compute_capability": supported(*(gpu.get("compute_capability") or [None])),
    }


def observed(value):
    """Retired-page lists reduce to their length; everything else compares as is."""
    return len(value) if isinstance(value, list) else value


# ------------------------------------------------------------------------------------------------
# Every field of every GPU, through the real pynvml
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_system_queries_match_profile(profile, profile_paths, nvml_report, fake_nvml_dir):
    data = load(profile_paths, profile)
    report = nvml_report(profile_paths[profile])
    assert report["init"] == "ok"
    # pynvml must have loaded our build, not some other libnvidia-ml.so.1 on the machine
    assert Path(report["library"]).resolve() == (fake_nvml_dir / "libnvidia-ml.so.1").resolve()
    assert report["driver_version"] == supported(data.get("driver_version"))
    assert report["nvml_version"] == supported(data.get("nvml_version"))
    assert report["cuda_driver_version"] == supported(data.get("cuda_driver_version"))
    assert report["cuda_driver_version_v2"] == supported(data.get("cuda_driver_version"))
    assert report["count"] == len(data["gpus"])


@pytest.mark.parametrize("field", GPU_FIELDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_gpu_field_matches_profile(profile, field, profile_paths, nvml_report):
    data = load(profile_paths, profile)
    report = nvml_report(profile_paths[profile])
    assert len(report["gpus"]) == len(data["gpus"])
    for index, gpu in enumerate(data["gpus"]):
        want = expected_gpu(gpu, index)[field]
        got = report["gpus"][index].get(field, "<missing from probe>")
        if field.startswith("retired_pages_") and field != "retired_pages_pending":
            got = observed(got)
        assert got == want, "GPU %d %s" % (index, field)


def test_shipped_profiles_pin_known_values(gpu_sim, nvml_report):
    """Literal values, so that the profile-derived expectations above cannot drift together with the code."""
    a6000 = nvml_report(gpu_sim.profile_path("a6000x8"))
    assert a6000["count"] == 8
    assert a6000["driver_version"] == "550.54.15"
    assert a6000["cuda_driver_version"] == 12040
    first = a6000["gpus"][0]
    assert first["name"] == "NVIDIA RTX A6000"
    assert first["memory"]["total"] == 49140 * 1048576 == 51527024640
    assert first["compute_capability"] == [8, 6]
    assert first["pci"]["busId"] == "00000000:01:00.0"
    assert first["pci"]["pciDeviceId"] == 0x223010DE
    assert first["retired_pages_sbe"] == NOT_SUPPORTED
    assert first["remapped_rows"] == [0, 0, 0, 0]
    assert a6000["gpus"][5]["pci"]["busId"] == "00000000:A1:00.0"

    h100 = nvml_report(gpu_sim.profile_path("h100"))
    assert h100["gpus"][0]["memory"]["total"] == 81559 * 1048576
    assert h100["gpus"][0]["enforced_power_limit"] == 700000
    assert h100["gpus"][0]["mig_mode"] == [0, 0]

    faulty = nvml_report(gpu_sim.profile_path("faulty"))
    sick = faulty["gpus"][1]
    assert sick["clock_event_reasons"] == 0x48
    assert sick["temperature"] == 94
    assert sick["ecc_errors"]["volatile"]["uncorrected"] > 0
    assert sick["remapped_rows"][2] == 1
    assert (sick["pcie_gen"], sick["pcie_max_gen"], sick["pcie_width"], sick["pcie_max_width"]) == (3, 4, 8, 16)


def test_retired_pages_lists_are_distinct_pages(profile_paths, nvml_report):
    gpu = nvml_report(profile_paths["volta"])["gpus"][0]
    sbe, dbe, sbe_v2 = gpu["retired_pages_sbe"], gpu["retired_pages_dbe"], gpu["retired_pages_sbe_v2"]
    assert len(sbe) == 2 and len(dbe) == 1
    assert len(set(sbe + dbe)) == 3, "every retired page has its own address"
    assert [entry["address"] for entry in sbe_v2] == sbe
    assert all(entry["timestamp"] > 0 for entry in sbe_v2)
    assert gpu["retired_pages_pending"] == 1


# ------------------------------------------------------------------------------------------------
# Initialisation and error codes
# ------------------------------------------------------------------------------------------------

INIT_ONLY = textwrap.dedent(
    """
    import json, pynvml
    try:
        pynvml.nvmlInit()
        print(json.dumps({"init": "ok", "count": pynvml.nvmlDeviceGetCount()}))
    except pynvml.NVMLError as exc:
        print(json.dumps({"init": exc.value, "class": type(exc).__name__}))
    """
)


def test_missing_profile_is_driver_not_loaded(gpu_sim, fake_nvml_dir, tmp_path):
    result = gpu_sim.run_python(INIT_ONLY, tmp_path / "absent.json", fake_nvml_dir)
    assert json.loads(result.stdout) == {"init": 9, "class": "NVMLError_DriverNotLoaded"}
    assert result.stderr == ""


def test_cpu_profile_is_driver_not_loaded(gpu_sim, fake_nvml_dir):
    result = gpu_sim.run_python(INIT_ONLY, gpu_sim.profile_path("cpu"), fake_nvml_dir)
    assert json.loads(result.stdout) == {"init": 9, "class": "NVMLError_DriverNotLoaded"}


def test_default_profile_path_is_used_without_the_variable(gpu_sim, fake_nvml_dir):
    if Path("/etc/gpufleet-sim/gpus.json").exists():
        pytest.skip("/etc/gpufleet-sim/gpus.json exists on this machine")
    result = gpu_sim.run_python(INIT_ONLY, None, fake_nvml_dir)
    assert json.loads(result.stdout)["init"] == 9


def test_empty_gpu_list_initialises_with_no_devices(gpu_sim, fake_nvml_dir, write_profile):
    path = write_profile({"driver_loaded": True, "driver_version": "550.54.15", "gpus": []})
    assert json.loads(gpu_sim.run_python(INIT_ONLY, path, fake_nvml_dir).stdout) == {"init": "ok", "count": 0}


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"driver_loaded": true, "gpus": [ }', r"line 1 column 3\d"),
        ("", "line 1 column 1"),
        ('{"gpus": [', "line 1 column 11: .*end of file"),
        ('{"gpus": [], "name": "unterminated', "unterminated string"),
        ('{"gpus": []} trailing', "end of file"),
        (
            '{"gpus": [{"name": "x", "uuid": "GPU-1", "pci_bus_id": "01:00.0",\n "temperature_c": "hot"}]}',
            r"gpus\[0\]\.temperature_c",
        ),
        ('{"gpus": [{"uuid": "GPU-1", "pci_bus_id": "01:00.0"}]}', r"gpus\[0\]\.name"),
        ('{"gpus": [{"name": "x", "uuid": "GPU-1", "pci_bus_id": "slot 3"}]}', r"gpus\[0\]\.pci_bus_id"),
        (
            '{"gpus": [{"name": "x", "uuid": "GPU-1", "pci_bus_id": "01:00.0", "pcie": {"gen": -1}}]}',
            r"gpus\[0\]\.pcie\.gen",
        ),
        (
            '{"gpus": [{"name": "x", "uuid": "GPU-1", "pci_bus_id": "01:00.0", "memory_total_mib": 10, '
            '"memory_used_mib": 11}]}',
            "memory_used_mib",
        ),
        ('{"driver_loaded": "yes", "gpus": []}', "driver_loaded"),
        ('{"gpus": {}}', "gpus"),
        ("[1, 2]", "object"),
        ('{"a": "\\x"}', "escape"),
    ],
)
def test_unusable_profile_is_unknown_error_naming_the_file(gpu_sim, fake_nvml_dir, write_profile, content, reason):
    path = write_profile(content)
    result = gpu_sim.run_python(INIT_ONLY, path, fake_nvml_dir)
    assert json.loads(result.stdout) == {"init": 999, "class": "NVMLError_Unknown"}
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert re.search(reason, lines[0]), lines[0]


def test_json_reader_accepts_the_whole_grammar(gpu_sim, fake_nvml_dir, write_profile):
    path = write_profile(
        '\r\n\t{"unknown": [1.5e3, -0.25, true, false, null, {}, [], "\\"\\\\\\/\\b\\f\\n\\r\\t"],'
        ' "driver_version": "5\\u00e9\\ud83d\\ude00", "gpus": [{"name": "GPU \\u00c5", "uuid": "GPU-u",'
        ' "pci_bus_id": "01:00.0", "temperature_c": 1, "temperature_c": 2}]}  \n'
    )
    code = (
        "import pynvml; pynvml.nvmlInit(); h = pynvml.nvmlDeviceGetHandleByIndex(0);"
        "print(repr((pynvml.nvmlSystemGetDriverVersion(), pynvml.nvmlDeviceGetName(h),"
        " pynvml.nvmlDeviceGetTemperature(h, 0))))"
    )
    result = gpu_sim.run_python(code, path, fake_nvml_dir)
    assert result.returncode == 0, result.stderr
    # the later of two duplicate members wins, as with Python's json module
    assert result.stdout.strip() == repr(("5\u00e9\U0001f600", "GPU \u00c5", 2))


def test_not_supported_fields_raise_pynvml_not_supported(gpu_sim, fake_nvml_dir):
    code = textwrap.dedent(
        """
        import pynvml
        pynvml.nvmlInit()
        a6000 = pynvml.nvmlDeviceGetHandleByIndex(0)
        for call, args in [(pynvml.nvmlDeviceGetRetiredPages, (a6000, 0)),
                           (pynvml.nvmlDeviceGetRetiredPagesPendingStatus, (a6000,)),
                           (pynvml.nvmlDeviceGetMigMode, (a6000,)),
                           (pynvml.nvmlDeviceGetTemperature, (a6000, pynvml.NVML_TEMPERATURE_GPU_MAX))]:
            try:
                call(*args)
                print(call.__name__, "returned")
            except pynvml.NVMLError_NotSupported:
                print(call.__name__, "not supported")
        """
    )
    result = gpu_sim.run_python(code, gpu_sim.profile_path("a6000x8"), fake_nvml_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [
        "nvmlDeviceGetRetiredPages not supported",
        "nvmlDeviceGetRetiredPagesPendingStatus not supported",
        "nvmlDeviceGetMigMode not supported",
        "nvmlDeviceGetTemperature not supported",
    ]
    mig = "import pynvml; pynvml.nvmlInit(); pynvml.nvmlDeviceGetMigMode(pynvml.nvmlDeviceGetHandleByIndex(0))"
    result = gpu_sim.run_python(mig, gpu_sim.profile_path("a6000x8"), fake_nvml_dir)
    assert result.returncode != 0 and "NVMLError_NotSupported" in result.stderr


def test_bad_arguments_are_rejected(gpu_sim, fake_nvml_dir):
    code = textwrap.dedent(
        """
        import pynvml
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        def outcome(call, *args):
            try:
                call(*args)
                return "ok"
            except pynvml.NVMLError as exc:
                return type(exc).__name__
        print(outcome(pynvml.nvmlDeviceGetHandleByIndex, 8))
        print(outcome(pynvml.nvmlDeviceGetClockInfo, h, 7))
        print(outcome(pynvml.nvmlDeviceGetTemperature, h, 5))
        print(outcome(pynvml.nvmlDeviceGetTotalEccErrors, h, 2, 0))
        print(outcome(pynvml.nvmlDeviceGetMemoryInfo, h, 0x01000018))
        """
    )
    result = gpu_sim.run_python(code, gpu_sim.profile_path("a6000x8"), fake_nvml_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "NVMLError_InvalidArgument",
        "NVMLError_InvalidArgument",
        "NVMLError_InvalidArgument",
        "NVMLError_InvalidArgument",
        "NVMLError_ArgumentVersionMismatch",
    ]


# ------------------------------------------------------------------------------------------------
# The C ABI directly (ctypes), where pynvml would hide the behaviour
# ------------------------------------------------------------------------------------------------

CTYPES_PRELUDE = textwrap.dedent(
    """
    import ctypes, sys
    lib = ctypes.CDLL("libnvidia-ml.so.1")
    lib.nvmlErrorString.restype = ctypes.c_char_p
    count = ctypes.c_uint(12345)
    def device_count():
        count.value = 12345
        return lib.nvmlDeviceGetCount_v2(ctypes.byref(count)), count.value
    """
)


def run_ctypes(gpu_sim, fake_nvml_dir, profile, body):
    result = gpu_sim.run_python(CTYPES_PRELUDE + textwrap.dedent(body), profile, fake_nvml_dir)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_init_and_shutdown_are_reference_counted(gpu_sim, fake_nvml_dir):
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        gpu_sim.profile_path("h100"),
        """
        version = ctypes.create_string_buffer(80)
        print("before init", device_count(), lib.nvmlSystemGetDriverVersion(version, 80))
        print("shutdown before init", lib.nvmlShutdown())
        print("init", lib.nvmlInit_v2(), lib.nvmlInitWithFlags(0), lib.nvmlInit())
        print("count", device_count())
        print("shutdown", lib.nvmlShutdown(), lib.nvmlShutdown())
        print("still initialised", device_count())
        print("last shutdown", lib.nvmlShutdown())
        print("after shutdown", device_count())
        print("extra shutdown", lib.nvmlShutdown())
        """,
    )
    assert lines == [
        "before init (1, 12345) 1",
        "shutdown before init 1",
        "init 0 0 0",
        "count (0, 1)",
        "shutdown 0 0",
        "still initialised (0, 1)",
        "last shutdown 0",
        "after shutdown (1, 12345)",
        "extra shutdown 1",
    ]


def test_reinitialising_reads_the_profile_again(gpu_sim, fake_nvml_dir, write_profile):
    path = write_profile(gpu_sim.profile_path("h100").read_text(encoding="utf-8"))
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        path,
        """
        import shutil
        lib.nvmlInit_v2(); print(device_count()); lib.nvmlShutdown()
        shutil.copyfile(sys.argv[1], sys.argv[2])
        lib.nvmlInit_v2(); print(device_count()); lib.nvmlShutdown()
        """.replace("sys.argv[1]", repr(str(gpu_sim.profile_path("a6000x8")))).replace("sys.argv[2]", repr(str(path))),
    )
    assert lines == ["(0, 1)", "(0, 8)"]


def test_nested_init_keeps_the_fleet_it_started_with(gpu_sim, fake_nvml_dir, write_profile):
    # like NVML, only the first nvmlInit reads the system; handles stay valid until the last nvmlShutdown
    path = write_profile(gpu_sim.profile_path("h100").read_text(encoding="utf-8"))
    body = """
        import shutil
        print(lib.nvmlInit_v2(), device_count())
        handle = ctypes.c_void_p()
        lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle))
        shutil.copyfile(NEW, PATH)
        print(lib.nvmlInit_v2(), device_count())
        print(lib.nvmlShutdown(), device_count())
        name = ctypes.create_string_buffer(96)
        print(lib.nvmlDeviceGetName(handle, name, 96), name.value.decode())
        print(lib.nvmlShutdown(), lib.nvmlInit_v2(), device_count())
        """
    body = body.replace("NEW", repr(str(gpu_sim.profile_path("a6000x8")))).replace("PATH", repr(str(path)))
    lines = run_ctypes(gpu_sim, fake_nvml_dir, path, body)
    assert lines == ["0 (0, 1)", "0 (0, 1)", "0 (0, 1)", "0 NVIDIA H100 80GB HBM3", "0 0 (0, 8)"]


def test_unreadable_profile_is_unknown_error(gpu_sim, fake_nvml_dir, tmp_path):
    result = gpu_sim.run_python(INIT_ONLY, tmp_path, fake_nvml_dir)  # a directory, not a file
    assert json.loads(result.stdout)["init"] == 999
    assert str(tmp_path) in result.stderr


def test_failed_init_leaves_the_library_uninitialised(gpu_sim, fake_nvml_dir):
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        gpu_sim.profile_path("cpu"),
        """
        print(lib.nvmlInit_v2(), device_count(), lib.nvmlShutdown())
        print(lib.nvmlErrorString(9).decode(), "|", lib.nvmlErrorString(3).decode(), "|",
              lib.nvmlErrorString(424242).decode())
        """,
    )
    assert lines == ["9 (1, 12345) 1", "Driver Not Loaded | Not Supported | Unknown Error"]


def test_invalid_handles_and_small_buffers(gpu_sim, fake_nvml_dir):
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        gpu_sim.profile_path("a6000x8"),
        """
        lib.nvmlInit_v2()
        handle = ctypes.c_void_p()
        print(lib.nvmlDeviceGetHandleByIndex_v2(3, ctypes.byref(handle)))
        name = ctypes.create_string_buffer(96)
        print(lib.nvmlDeviceGetName(handle, name, 96), name.value.decode())
        small = ctypes.create_string_buffer(8)
        print(lib.nvmlDeviceGetName(handle, small, 8), lib.nvmlDeviceGetUUID(handle, small, 8))
        print(lib.nvmlDeviceGetName(ctypes.c_void_p(4096), name, 96), lib.nvmlDeviceGetName(None, name, 96))
        inside = ctypes.c_void_p(handle.value + 8)  # points into a GPU's record, not at one
        print(lib.nvmlDeviceGetName(inside, name, 96))
        print(lib.nvmlDeviceGetPowerUsage(handle, None), lib.nvmlDeviceGetCount_v2(None))
        """,
    )
    assert lines == ["0", "0 NVIDIA RTX A6000", "7 7", "2 2", "2", "2 2"]


def test_retired_pages_count_query_protocol(gpu_sim, fake_nvml_dir, profile_paths):
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        profile_paths["volta"],
        """
        lib.nvmlInit_v2()
        handle = ctypes.c_void_p()
        lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle))
        pages = ctypes.c_uint(0)
        print("ask", lib.nvmlDeviceGetRetiredPages(handle, 0, ctypes.byref(pages), None), pages.value)
        buffer = (ctypes.c_ulonglong * 1)()
        pages.value = 1
        print("short", lib.nvmlDeviceGetRetiredPages(handle, 0, ctypes.byref(pages), buffer), pages.value)
        buffer = (ctypes.c_ulonglong * 4)()
        pages.value = 4
        print("fill", lib.nvmlDeviceGetRetiredPages(handle, 0, ctypes.byref(pages), buffer), pages.value)
        print("cause", lib.nvmlDeviceGetRetiredPages(handle, 9, ctypes.byref(pages), buffer))
        lib.nvmlDeviceGetHandleByIndex_v2(1, ctypes.byref(handle))
        pages.value = 0
        print("none", lib.nvmlDeviceGetRetiredPages(handle, 1, ctypes.byref(pages), None), pages.value)
        """,
    )
    assert lines == ["ask 7 2", "short 7 2", "fill 0 2", "cause 2", "none 0 0"]


def test_unversioned_pci_info_fills_only_the_old_struct(gpu_sim, fake_nvml_dir):
    # The old nvmlPciInfo_t is 52 bytes; writing the 68-byte v3 layout into it would corrupt the caller.
    lines = run_ctypes(
        gpu_sim,
        fake_nvml_dir,
        gpu_sim.profile_path("faulty"),
        """
        lib.nvmlInit_v2()
        handle = ctypes.c_void_p()
        lib.nvmlDeviceGetHandleByIndex_v2(1, ctypes.byref(handle))
        buffer = ctypes.create_string_buffer(b"\\xab" * 96, 96)
        print(lib.nvmlDeviceGetPciInfo(handle, buffer))
        print(buffer.raw[:16].rstrip(b"\\0").decode(), buffer.raw[52:].count(b"\\xab"))
        """,
    )
    assert lines == ["0", "0000:0F:00.0 44"]


def test_exports_exactly_the_nvml_entry_points(fake_nvml_dir):
    nm = shutil.which("nm")
    readelf = shutil.which("readelf")
    if not nm or not readelf:
        pytest.skip("binutils (nm, readelf) not installed")
    library = fake_nvml_dir / "libnvidia-ml.so.1"
    listing = subprocess.run(
        [nm, "-D", "--defined-only", str(library)], stdout=subprocess.PIPE, text=True, check=True
    ).stdout
    exported = {line.split()[-1] for line in listing.splitlines() if line.split()[-2] in ("T", "W")}
    # What the collection calls through pynvml (plugins/module_utils/nvml.py, _burn_counters.py), each under every
    # symbol a version of the bindings binds it to (nvidia-ml-py from requirements, Debian's older python3-pynvml on
    # the real_userland node): nothing more, so that the double does not grow entry points nobody uses.
    used_by_the_collection = {
        "nvmlInit",
        "nvmlInit_v2",
        "nvmlInitWithFlags",
        "nvmlShutdown",
        "nvmlErrorString",
        "nvmlSystemGetDriverVersion",
        "nvmlSystemGetNVMLVersion",
        "nvmlSystemGetCudaDriverVersion",
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlDeviceGetCount",
        "nvmlDeviceGetCount_v2",
        "nvmlDeviceGetHandleByIndex",
        "nvmlDeviceGetHandleByIndex_v2",
        "nvmlDeviceGetName",
        "nvmlDeviceGetUUID",
        "nvmlDeviceGetSerial",
        "nvmlDeviceGetPciInfo",
        "nvmlDeviceGetPciInfo_v2",
        "nvmlDeviceGetPciInfo_v3",
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetTemperature",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetPowerManagementLimit",
        "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetMaxClockInfo",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
        "nvmlDeviceGetEccMode",
        "nvmlDeviceGetTotalEccErrors",
        "nvmlDeviceGetRetiredPages",
        "nvmlDeviceGetRetiredPages_v2",
        "nvmlDeviceGetRetiredPagesPendingStatus",
        "nvmlDeviceGetRemappedRows",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetPersistenceMode",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetCurrPcieLinkGeneration",
        "nvmlDeviceGetMaxPcieLinkGeneration",
        "nvmlDeviceGetCurrPcieLinkWidth",
        "nvmlDeviceGetMaxPcieLinkWidth",
        "nvmlDeviceGetCudaComputeCapability",
        "nvmlDeviceRegisterEvents",
        "nvmlEventSetCreate",
        "nvmlEventSetWait_v2",
        "nvmlEventSetFree",
    }
    assert exported == used_by_the_collection, "missing: %s, unused: %s" % (
        sorted(used_by_the_collection - exported),
        sorted(exported - used_by_the_collection),
    )
    assert all(name.startswith("nvml") for name in exported), "helpers leak: %s" % sorted(
        name for name in exported if not name.startswith("nvml")
    )
    dynamic = subprocess.run([readelf, "-d", str(library)], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic) == ["libc.so.6"]
    assert "Library soname: [libnvidia-ml.so.1]" in dynamic


def test_source_is_marked_simulated(gpu_sim):
    source = (gpu_sim.nvml_source_dir / "fake_nvml.c").read_text(encoding="utf-8")
    assert "SIMULATED NVML for tests — not NVIDIA's library" in source.splitlines()[1]


def test_ctypes_layouts_match_what_the_probe_assumes():
    """Guards the probe: pynvml's structs must keep the sizes the C side writes."""
    pynvml = pytest.importorskip("pynvml")
    assert ctypes.sizeof(pynvml.nvmlPciInfo_t) == 68
    assert ctypes.sizeof(pynvml.nvmlPciInfo_v2_t) == 52
    assert ctypes.sizeof(pynvml.c_nvmlMemory_v2_t) == 40
    assert pynvml.nvmlMemory_v2 == 0x02000028
