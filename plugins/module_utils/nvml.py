# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU inventory and health, read through NVML (nvidia-ml-py) with an ``nvidia-smi`` fallback.

This is the one place that reads NVIDIA GPUs: the gpu_facts module, the burn-in sampler and the command service all
use it, so both sources (NVML and ``nvidia-smi --query-gpu``) produce device dicts with the same keys and types.
A value a GPU does not support is ``None``; reading a GPU never raises.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import re

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import (
    RC_NOT_FOUND,
    RC_TIMEOUT,
    run_command,
)

try:
    import pynvml

    HAS_PYNVML = True
    PYNVML_IMPORT_ERROR = None
except ImportError as _exc:  # nvidia-ml-py is optional: nvidia-smi is the fallback
    pynvml = None
    HAS_PYNVML = False
    PYNVML_IMPORT_ERROR = str(_exc)


# NVML enum values used below. They are part of NVML's stable C ABI, so they are spelled out here rather than read
# from pynvml, whose older releases lack some of the names.
_TEMPERATURE_GPU = 0
_CLOCK_SM = 1
_MEMORY_ERROR_CORRECTED = 0
_MEMORY_ERROR_UNCORRECTED = 1
_ECC_COUNTER_VOLATILE = 0
_ECC_COUNTER_AGGREGATE = 1
_PAGE_RETIREMENT_MULTIPLE_SINGLE_BIT = 0
_PAGE_RETIREMENT_DOUBLE_BIT = 1
_MEMORY_INFO_V2 = 0x02000028  # nvmlMemory_v2: "used" without the driver-reserved memory, as nvidia-smi shows it
_MIB = 1024 * 1024

# nvmlClocksEventReason* bits (called "throttle reasons" before CUDA 12.2), in bit order.
CLOCK_EVENT_REASONS = (
    (0x0000000000000001, "gpu_idle"),
    (0x0000000000000002, "applications_clocks_setting"),
    (0x0000000000000004, "sw_power_cap"),
    (0x0000000000000008, "hw_slowdown"),
    (0x0000000000000010, "sync_boost"),
    (0x0000000000000020, "sw_thermal_slowdown"),
    (0x0000000000000040, "hw_thermal_slowdown"),
    (0x0000000000000080, "hw_power_brake_slowdown"),
    (0x0000000000000100, "display_clock_setting"),
)
_KNOWN_REASON_BITS = 0
for _bit, _name in CLOCK_EVENT_REASONS:
    _KNOWN_REASON_BITS |= _bit

# Clock-event reasons that mean the GPU is being slowed by a fault or its environment (heat, power delivery), not by
# its own normal power management (idle, application clocks, the software power cap under load, sync boost).
UNHEALTHY_CLOCK_EVENT_REASONS = (
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "sw_thermal_slowdown",
    "hw_slowdown",
)

# Every per-device key, in the order they are reported; both sources fill exactly these.
DEVICE_KEYS = (
    "index",
    "uuid",
    "name",
    "serial",
    "pci_bus_id",
    "memory_total_mib",
    "memory_used_mib",
    "compute_capability",
    "temperature_c",
    "power_draw_w",
    "power_limit_w",
    "sm_clock_mhz",
    "max_sm_clock_mhz",
    "clock_event_reasons",
    "clock_event_reasons_mask",
    "ecc_enabled",
    "ecc_errors",
    "row_remap",
    "retired_pages",
    "mig_mode",
    "persistence_mode",
    "utilization_gpu",
    "pcie",
    "health",
)

SAMPLE_KEYS = ("index", "temperature_c", "power_draw_w", "sm_clock_mhz", "clock_event_reasons", "utilization_gpu")


def decode_clock_event_reasons(mask):
    """Names of the bits set in an NVML clock-event reason mask; unknown bits become ``unknown_0x<bit>``.

    ``None`` (the GPU cannot report reasons) stays ``None``.
    """
    if mask is None:
        return None
    mask = int(mask) & 0xFFFFFFFFFFFFFFFF  # an unsigned long long in NVML; also keeps the loop below finite
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    unknown = mask & ~_KNOWN_REASON_BITS
    bit = 1
    while unknown:
        if unknown & bit:
            names.append(f"unknown_0x{bit:x}")
            unknown &= ~bit
        bit <<= 1
    return names


def format_cuda_version(value):
    """NVML's ``1000 * major + 10 * minor`` integer as ``"major.minor"`` (12040 -> "12.4")."""
    if value is None:
        return None
    value = int(value)
    if value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def empty_device(index):
    """A device dict with every key present and nothing known yet."""
    device = dict.fromkeys(DEVICE_KEYS)
    device["index"] = index
    device["ecc_errors"] = {
        "volatile": {"corrected": None, "uncorrected": None},
        "aggregate": {"corrected": None, "uncorrected": None},
    }
    device["pcie"] = {"gen": None, "max_gen": None, "width": None, "max_width": None}
    return device


def _pcie_degradation(pcie, reasons):
    """Return "genG xW of genMG xMW" when the link runs below what it can, else None.

    A PCIe link drops its generation on its own while the GPU idles (ASPM power saving) and trains back up under
    load, so a lower gen is only a fault when the GPU is busy: it counts when the ``gpu_idle`` reason is not set.
    When the reasons are unknown we cannot tell idle from busy and do not flag the gen, to avoid false alarms on
    every idle host. A narrower link (x8 of x16) never recovers by itself (bad riser, slot or seating), so a reduced
    width always counts.
    """
    if not pcie:
        return None
    gen, max_gen = pcie.get("gen"), pcie.get("max_gen")
    width, max_width = pcie.get("width"), pcie.get("max_width")
    width_degraded = width is not None and max_width is not None and width < max_width
    busy = reasons is not None and "gpu_idle" not in reasons
    gen_degraded = busy and gen is not None and max_gen is not None and gen < max_gen
    if not (width_degraded or gen_degraded):
        return None

    def _show(value):
        return "?" if value is None else str(value)

    return f"gen{_show(gen)} x{_show(width)} of gen{_show(max_gen)} x{_show(max_width)}"


def assess_health(device):
    """``"ok"`` or the list of reasons a device needs attention, from a device dict (either source)."""
    reasons = []
    ecc = device.get("ecc_errors") or {}
    volatile_unc = (ecc.get("volatile") or {}).get("uncorrected")
    aggregate_unc = (ecc.get("aggregate") or {}).get("uncorrected")
    if (volatile_unc or 0) > 0 or (aggregate_unc or 0) > 0:
        volatile_text = "n/a" if volatile_unc is None else volatile_unc
        aggregate_text = "n/a" if aggregate_unc is None else aggregate_unc
        reasons.append(f"uncorrectable_ecc_errors (volatile {volatile_text}, aggregate {aggregate_text})")
    row_remap = device.get("row_remap") or {}
    if row_remap.get("pending"):
        reasons.append("row_remap_pending")
    if row_remap.get("failure"):
        reasons.append("row_remap_failure")
    retired = device.get("retired_pages") or {}
    if retired.get("pending"):
        reasons.append("retired_pages_pending")
    clock_reasons = device.get("clock_event_reasons")
    for name in UNHEALTHY_CLOCK_EVENT_REASONS:
        if clock_reasons and name in clock_reasons:
            reasons.append(f"{name} active")
    degraded = _pcie_degradation(device.get("pcie"), clock_reasons)
    if degraded:
        reasons.append(f"pcie_link_degraded ({degraded})")
    return reasons or "ok"


def summarize(devices):
    """True when every device's health is ``"ok"`` (vacuously true without devices; check ``present``)."""
    return all(device.get("health") == "ok" for device in devices)


def _text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00").strip() or None


def _watts(milliwatts):
    # nvidia-smi prints watts with two decimals; rounding the same way keeps both sources identical.
    return None if milliwatts is None else round(milliwatts / 1000.0, 2)


class NvmlUnavailableError(Exception):
    """NVML cannot be used on this host (bindings missing, library missing, driver not loaded...)."""


class NvmlSession:
    """NVML initialised for the duration of a ``with`` block; reads devices without ever raising per field.

    ``nvml`` is the pynvml module (injectable for tests). Entering raises NvmlUnavailableError with an
    ``"NVML: <reason>"`` message when NVML cannot start. Handles are cached, so ``sample()`` is cheap enough to call
    several times a second.
    """

    def __init__(self, nvml=None):
        self._nvml = nvml if nvml is not None else pynvml
        self._handles = {}
        self._active = False

    def __enter__(self):
        if self._nvml is None:
            raise NvmlUnavailableError("NVML: the nvidia-ml-py bindings (pynvml) are not installed")
        try:
            self._nvml.nvmlInit()
        except Exception as exc:  # NVMLError, or OSError/AttributeError from a broken library
            raise NvmlUnavailableError(f"NVML: {_text(str(exc)) or type(exc).__name__}") from exc
        self._active = True
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self._active:
            self._active = False
            self._handles = {}
            self._call("nvmlShutdown")
        return False

    def _call(self, function_name, *args):
        """Call pynvml.<function_name>(*args); None when the call fails or the bindings lack the function.

        Catches every exception on purpose: a field a GPU (or an older driver / binding) cannot report must never
        turn a facts run into a traceback. Only the NVML call itself is inside the try.
        """
        function = getattr(self._nvml, function_name, None)
        if function is None:
            return None
        try:
            return function(*args)
        except Exception:
            return None

    def _error_text(self, function_name, *args):
        """Like _call, but returns (value, error text) so the caller can say why something is missing."""
        function = getattr(self._nvml, function_name, None)
        if function is None:
            return None, f"{function_name} is not available in these pynvml bindings"
        try:
            return function(*args), None
        except Exception as exc:
            return None, _text(str(exc)) or type(exc).__name__

    def device_count(self):
        count, error = self._error_text("nvmlDeviceGetCount")
        if count is None:
            raise NvmlUnavailableError(f"NVML: cannot count devices: {error}")
        return int(count)

    def system_info(self):
        """dict(driver_version, cuda_driver_version "12.4", nvml_version)."""
        cuda = self._call("nvmlSystemGetCudaDriverVersion_v2")
        if cuda is None:
            cuda = self._call("nvmlSystemGetCudaDriverVersion")
        return {
            "driver_version": _text(self._call("nvmlSystemGetDriverVersion")),
            "cuda_driver_version": format_cuda_version(cuda),
            "nvml_version": _text(self._call("nvmlSystemGetNVMLVersion")),
        }

    @property
    def bindings(self):
        """The pynvml module in use (for NVML calls this class does not wrap, such as event sets)."""
        return self._nvml

    def handle(self, index):
        """The NVML handle of a device, or None when NVML cannot give one."""
        return self._handle(index)[0]

    def _handle(self, index):
        handle = self._handles.get(index)
        if handle is not None:
            return handle, None
        handle, error = self._error_text("nvmlDeviceGetHandleByIndex", index)
        if handle is not None:
            self._handles[index] = handle
        return handle, error

    def _clock_event_mask(self, handle):
        mask = self._call("nvmlDeviceGetCurrentClocksEventReasons", handle)
        if mask is None:  # drivers/bindings older than CUDA 12.2 only know the "throttle" name
            mask = self._call("nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        return None if mask is None else int(mask)

    def _memory(self, handle):
        info = self._call("nvmlDeviceGetMemoryInfo", handle, _MEMORY_INFO_V2)
        if info is None:
            info = self._call("nvmlDeviceGetMemoryInfo", handle)
        if info is None:
            return None, None
        return int(info.total) // _MIB, int(info.used) // _MIB

    def _ecc_count(self, handle, error_type, counter_type):
        value = self._call("nvmlDeviceGetTotalEccErrors", handle, error_type, counter_type)
        return None if value is None else int(value)

    def _retired_pages(self, handle):
        single = self._call("nvmlDeviceGetRetiredPages", handle, _PAGE_RETIREMENT_MULTIPLE_SINGLE_BIT)
        double = self._call("nvmlDeviceGetRetiredPages", handle, _PAGE_RETIREMENT_DOUBLE_BIT)
        pending = self._call("nvmlDeviceGetRetiredPagesPendingStatus", handle)
        if single is None and double is None and pending is None:
            return None  # page retirement is replaced by row remapping on Ampere and newer
        return {
            "single_bit_ecc": None if single is None else len(single),
            "double_bit_ecc": None if double is None else len(double),
            "pending": None if pending is None else bool(pending),
        }

    def _row_remap(self, handle):
        rows = self._call("nvmlDeviceGetRemappedRows", handle)
        if rows is None:
            return None  # pre-Ampere GPUs retire pages instead
        corrected, uncorrected, pending, failure = rows
        return {
            "corrected": int(corrected),
            "uncorrected": int(uncorrected),
            "pending": bool(pending),
            "failure": bool(failure),
        }

    def read_device(self, index):
        """Every field of one device as a dict with DEVICE_KEYS; unsupported fields are None, never an error."""
        device = empty_device(index)
        handle, error = self._handle(index)
        if handle is None:
            device["health"] = [f"nvml_error ({error})"]
            return device

        device["uuid"] = _text(self._call("nvmlDeviceGetUUID", handle))
        device["name"] = _text(self._call("nvmlDeviceGetName", handle))
        device["serial"] = _text(self._call("nvmlDeviceGetSerial", handle))
        pci = self._call("nvmlDeviceGetPciInfo", handle)
        device["pci_bus_id"] = _text(getattr(pci, "busId", None)) if pci is not None else None
        device["memory_total_mib"], device["memory_used_mib"] = self._memory(handle)
        capability = self._call("nvmlDeviceGetCudaComputeCapability", handle)
        if capability is not None:
            device["compute_capability"] = f"{capability[0]}.{capability[1]}"
        device["temperature_c"] = self._call("nvmlDeviceGetTemperature", handle, _TEMPERATURE_GPU)
        device["power_draw_w"] = _watts(self._call("nvmlDeviceGetPowerUsage", handle))
        limit = self._call("nvmlDeviceGetEnforcedPowerLimit", handle)
        if limit is None:
            limit = self._call("nvmlDeviceGetPowerManagementLimit", handle)
        device["power_limit_w"] = _watts(limit)
        device["sm_clock_mhz"] = self._call("nvmlDeviceGetClockInfo", handle, _CLOCK_SM)
        device["max_sm_clock_mhz"] = self._call("nvmlDeviceGetMaxClockInfo", handle, _CLOCK_SM)
        mask = self._clock_event_mask(handle)
        device["clock_event_reasons_mask"] = mask
        device["clock_event_reasons"] = decode_clock_event_reasons(mask)
        ecc_mode = self._call("nvmlDeviceGetEccMode", handle)
        device["ecc_enabled"] = None if ecc_mode is None else bool(ecc_mode[0])
        device["ecc_errors"] = {
            "volatile": {
                "corrected": self._ecc_count(handle, _MEMORY_ERROR_CORRECTED, _ECC_COUNTER_VOLATILE),
                "uncorrected": self._ecc_count(handle, _MEMORY_ERROR_UNCORRECTED, _ECC_COUNTER_VOLATILE),
            },
            "aggregate": {
                "corrected": self._ecc_count(handle, _MEMORY_ERROR_CORRECTED, _ECC_COUNTER_AGGREGATE),
                "uncorrected": self._ecc_count(handle, _MEMORY_ERROR_UNCORRECTED, _ECC_COUNTER_AGGREGATE),
            },
        }
        device["row_remap"] = self._row_remap(handle)
        device["retired_pages"] = self._retired_pages(handle)
        mig = self._call("nvmlDeviceGetMigMode", handle)
        device["mig_mode"] = None if mig is None else bool(mig[0])
        persistence = self._call("nvmlDeviceGetPersistenceMode", handle)
        device["persistence_mode"] = None if persistence is None else bool(persistence)
        utilization = self._call("nvmlDeviceGetUtilizationRates", handle)
        device["utilization_gpu"] = None if utilization is None else int(utilization.gpu)
        device["pcie"] = {
            "gen": self._call("nvmlDeviceGetCurrPcieLinkGeneration", handle),
            "max_gen": self._call("nvmlDeviceGetMaxPcieLinkGeneration", handle),
            "width": self._call("nvmlDeviceGetCurrPcieLinkWidth", handle),
            "max_width": self._call("nvmlDeviceGetMaxPcieLinkWidth", handle),
        }
        device["health"] = assess_health(device)
        return device

    def sample(self, indices):
        """The fast-changing readings of the given devices (for sampling at 1 Hz or more during burn-in)."""
        samples = []
        for index in indices:
            sample = dict.fromkeys(SAMPLE_KEYS)
            sample["index"] = index
            handle, _error = self._handle(index)
            if handle is not None:
                sample["temperature_c"] = self._call("nvmlDeviceGetTemperature", handle, _TEMPERATURE_GPU)
                sample["power_draw_w"] = _watts(self._call("nvmlDeviceGetPowerUsage", handle))
                sample["sm_clock_mhz"] = self._call("nvmlDeviceGetClockInfo", handle, _CLOCK_SM)
                sample["clock_event_reasons"] = decode_clock_event_reasons(self._clock_event_mask(handle))
                utilization = self._call("nvmlDeviceGetUtilizationRates", handle)
                sample["utilization_gpu"] = None if utilization is None else int(utilization.gpu)
            samples.append(sample)
        return samples


# --- nvidia-smi fallback -------------------------------------------------------------------------------------------

# --query-gpu field -> how to read its value. Order matters only for the command line.
NVIDIA_SMI_FIELDS = (
    ("index", "int"),
    ("uuid", "str"),
    ("name", "str"),
    ("serial", "str"),
    ("pci.bus_id", "str"),
    ("driver_version", "str"),
    ("memory.total", "int"),
    ("memory.used", "int"),
    ("compute_cap", "str"),
    ("temperature.gpu", "int"),
    ("power.draw", "float"),
    ("enforced.power.limit", "float"),
    ("clocks.sm", "int"),
    ("clocks.max.sm", "int"),
    ("clocks_event_reasons.active", "hex"),
    ("ecc.mode.current", "bool"),
    ("ecc.errors.corrected.volatile.total", "int"),
    ("ecc.errors.uncorrected.volatile.total", "int"),
    ("ecc.errors.corrected.aggregate.total", "int"),
    ("ecc.errors.uncorrected.aggregate.total", "int"),
    ("retired_pages.single_bit_ecc.count", "int"),
    ("retired_pages.double_bit.count", "int"),
    ("retired_pages.pending", "bool"),
    ("remapped_rows.correctable", "int"),
    ("remapped_rows.uncorrectable", "int"),
    ("remapped_rows.pending", "bool"),
    ("remapped_rows.failure", "bool"),
    ("mig.mode.current", "bool"),
    ("persistence_mode", "bool"),
    ("utilization.gpu", "int"),
    ("pcie.link.gen.current", "int"),
    ("pcie.link.gen.max", "int"),
    ("pcie.link.width.current", "int"),
    ("pcie.link.width.max", "int"),
)
_FIELD_KINDS = dict(NVIDIA_SMI_FIELDS)

# Older drivers know some fields under another name; a rejected field is retried under its alias, then dropped.
NVIDIA_SMI_FIELD_ALIASES = {
    "clocks_event_reasons.active": "clocks_throttle_reasons.active",
    "enforced.power.limit": "power.limit",
}
_ALIAS_OF = {alias: field for field, alias in NVIDIA_SMI_FIELD_ALIASES.items()}

_INVALID_FIELD_RE = re.compile(r'Field "([^"]+)" is not a valid field to query')
_HEADER_UNIT_RE = re.compile(r"\s*\[[^\]]*\]\s*$")
_TRUE_WORDS = frozenset(("enabled", "yes", "true", "1", "active", "on"))
_FALSE_WORDS = frozenset(("disabled", "no", "false", "0", "not active", "inactive", "off"))


def _smi_value(raw, kind):
    """One CSV cell as a typed value; nvidia-smi's "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]" -> None."""
    value = raw.strip()
    if not value or value.upper() == "N/A" or (value.startswith("[") and value.endswith("]")):
        return None
    if kind == "str":
        return value
    if kind == "bool":
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        return None
    number = value.split()[0]  # drop a unit ("49140 MiB", "21.50 W", "0 %") when queried without nounits
    try:
        if kind == "hex":
            return int(number, 16) if number.lower().startswith("0x") else int(number)
        if kind == "float":
            return round(float(number), 2)
        return int(float(number)) if "." in number else int(number)
    except ValueError:
        return None


def parse_nvidia_smi_csv(text, fields):
    """Rows of ``nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`` as dicts keyed by field.

    Values are typed by NVIDIA_SMI_FIELDS (unknown fields stay strings); a header line, with or without units, is
    skipped; unsupported values are None; a short row leaves the missing fields None.
    """
    fields = list(fields)
    rows = []
    for cells in csv.reader(text.splitlines(), skipinitialspace=True):
        if not cells or not any(cell.strip() for cell in cells):
            continue
        names = [_HEADER_UNIT_RE.sub("", cell).strip().lower() for cell in cells]
        if names == [field.lower() for field in fields]:
            continue
        row = {}
        for position, field in enumerate(fields):
            kind = _FIELD_KINDS.get(_ALIAS_OF.get(field, field), "str")
            row[field] = _smi_value(cells[position], kind) if position < len(cells) else None
        rows.append(row)
    return rows


def device_from_nvidia_smi_row(row):
    """A device dict (DEVICE_KEYS) from one parsed nvidia-smi row; fields the query lacked are None."""

    def get(field):
        value = row.get(field)
        if value is None and field in NVIDIA_SMI_FIELD_ALIASES:
            value = row.get(NVIDIA_SMI_FIELD_ALIASES[field])
        return value

    device = empty_device(get("index"))
    device["uuid"] = get("uuid")
    device["name"] = get("name")
    device["serial"] = get("serial")
    device["pci_bus_id"] = get("pci.bus_id")
    device["memory_total_mib"] = get("memory.total")
    device["memory_used_mib"] = get("memory.used")
    device["compute_capability"] = get("compute_cap")
    device["temperature_c"] = get("temperature.gpu")
    device["power_draw_w"] = get("power.draw")
    device["power_limit_w"] = get("enforced.power.limit")
    device["sm_clock_mhz"] = get("clocks.sm")
    device["max_sm_clock_mhz"] = get("clocks.max.sm")
    mask = get("clocks_event_reasons.active")
    device["clock_event_reasons_mask"] = mask
    device["clock_event_reasons"] = decode_clock_event_reasons(mask)
    device["ecc_enabled"] = get("ecc.mode.current")
    device["ecc_errors"] = {
        "volatile": {
            "corrected": get("ecc.errors.corrected.volatile.total"),
            "uncorrected": get("ecc.errors.uncorrected.volatile.total"),
        },
        "aggregate": {
            "corrected": get("ecc.errors.corrected.aggregate.total"),
            "uncorrected": get("ecc.errors.uncorrected.aggregate.total"),
        },
    }
    remap = {
        "corrected": get("remapped_rows.correctable"),
        "uncorrected": get("remapped_rows.uncorrectable"),
        "pending": get("remapped_rows.pending"),
        "failure": get("remapped_rows.failure"),
    }
    device["row_remap"] = None if all(value is None for value in remap.values()) else remap
    retired = {
        "single_bit_ecc": get("retired_pages.single_bit_ecc.count"),
        "double_bit_ecc": get("retired_pages.double_bit.count"),
        "pending": get("retired_pages.pending"),
    }
    device["retired_pages"] = None if all(value is None for value in retired.values()) else retired
    device["mig_mode"] = get("mig.mode.current")
    device["persistence_mode"] = get("persistence_mode")
    device["utilization_gpu"] = get("utilization.gpu")
    device["pcie"] = {
        "gen": get("pcie.link.gen.current"),
        "max_gen": get("pcie.link.gen.max"),
        "width": get("pcie.link.width.current"),
        "max_width": get("pcie.link.width.max"),
    }
    device["health"] = assess_health(device)
    return device


def _smi_failure(result):
    if result.rc == RC_NOT_FOUND:
        return "nvidia-smi: not found"
    if result.rc == RC_TIMEOUT:
        return "nvidia-smi: timed out"
    text = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return "nvidia-smi: " + (text[0].strip() if text else f"exited with rc {result.rc}")


def parse_nvidia_smi_version(text):
    """``nvidia-smi --version`` -> dict(nvml_version, cuda_driver_version); missing lines give None."""
    found = {"nvml_version": None, "cuda_driver_version": None}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "nvml version":
            found["nvml_version"] = value.strip() or None
        elif key == "cuda version":
            found["cuda_driver_version"] = value.strip() or None
    return found


def no_gpu_facts(source="none", error=None):
    """The facts of a host without a usable GPU."""
    return {
        "present": False,
        "count": 0,
        "source": source,
        "driver_version": None,
        "cuda_driver_version": None,
        "nvml_version": None,
        "devices": [],
        "healthy": True,
        "error": error,
    }


def collect_via_nvidia_smi(runner=run_command, timeout=30):
    """GPU facts from ``nvidia-smi`` alone; on failure ``present`` is False and ``error`` says why."""
    fields = [name for name, _kind in NVIDIA_SMI_FIELDS]
    result = None
    # Each pass either succeeds or removes one field this driver rejects (under its alias first), so it ends.
    for _attempt in range(len(fields) + len(NVIDIA_SMI_FIELD_ALIASES) + 1):
        argv = ["nvidia-smi", "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]
        result = runner(argv, timeout=timeout)
        if result.rc == 0:
            break
        rejected = _INVALID_FIELD_RE.search(result.stdout + "\n" + result.stderr)
        if not rejected or rejected.group(1) not in fields:
            return no_gpu_facts(error=_smi_failure(result))
        position = fields.index(rejected.group(1))
        alias = NVIDIA_SMI_FIELD_ALIASES.get(rejected.group(1))
        if alias and alias not in fields:
            fields[position] = alias
        else:
            del fields[position]
    else:
        return no_gpu_facts(error=_smi_failure(result))

    rows = parse_nvidia_smi_csv(result.stdout, fields)
    devices = [device_from_nvidia_smi_row(row) for row in rows]
    facts = no_gpu_facts(source="nvidia-smi")
    facts["driver_version"] = next((row.get("driver_version") for row in rows if row.get("driver_version")), None)
    version = runner(["nvidia-smi", "--version"], timeout=timeout)
    if version.rc == 0:
        facts.update(parse_nvidia_smi_version(version.stdout))
    facts.update(present=bool(devices), count=len(devices), devices=devices, healthy=summarize(devices))
    return facts


def collect_via_nvml(nvml=None):
    """GPU facts through NVML; raises NvmlUnavailableError when NVML cannot start."""
    with NvmlSession(nvml) as session:
        count = session.device_count()
        facts = no_gpu_facts(source="nvml")
        facts.update(session.system_info())
        devices = [session.read_device(index) for index in range(count)]
    facts.update(present=bool(devices), count=len(devices), devices=devices, healthy=summarize(devices))
    return facts


def collect_gpu_facts(runner=run_command, use_pynvml=True, nvml=None):
    """GPU facts from the best source available: NVML, then nvidia-smi; else ``present: False`` with ``error``.

    ``error`` joins why each source failed, NVML first (e.g. "NVML: Driver Not Loaded; nvidia-smi: not found").
    """
    errors = []
    if use_pynvml:
        if nvml is None and not HAS_PYNVML:
            errors.append("NVML: the nvidia-ml-py bindings (pynvml) are not installed")
        else:
            try:
                return collect_via_nvml(nvml)
            except NvmlUnavailableError as exc:
                errors.append(str(exc))
    facts = collect_via_nvidia_smi(runner)
    if facts["source"] == "none":
        errors.append(facts["error"])
        facts["error"] = "; ".join(errors)
    return facts
