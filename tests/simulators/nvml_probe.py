"""Drives the REAL pynvml against whatever libnvidia-ml.so.1 the process loads, and prints what it saw as JSON.

Run by test_sim_nvml.py in a subprocess with LD_LIBRARY_PATH pointing at the simulated library. Every NVML
query is recorded either as its value or as {"nvml_error": <code>}; nothing here knows the profile.
"""

import ctypes
import json
import sys

import pynvml


def attempt(call, *args):
    try:
        return call(*args)
    except pynvml.NVMLError as exc:
        return {"nvml_error": exc.value}


def raw(name, *args):
    """Calls an entry point that pynvml has no wrapper for; returns the NVML status."""
    return pynvml._nvmlGetFunctionPointer(name)(*args)


def loaded_library():
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            if line.rstrip().endswith("libnvidia-ml.so.1"):
                return line.split()[-1]
    return None


def fields(struct, names):
    return {
        name: (value.decode() if isinstance(value, bytes) else value)
        for name, value in ((name, getattr(struct, name)) for name in names)
    }


def pci_info(handle):
    info = pynvml.nvmlDeviceGetPciInfo(handle)  # _v3
    return fields(info, ("busId", "busIdLegacy", "domain", "bus", "device", "pciDeviceId", "pciSubSystemId"))


def pci_info_raw(name, struct_type, handle):
    info = struct_type()
    status = raw(name, handle, ctypes.byref(info))
    if status:
        return {"nvml_error": status}
    names = [field[0] for field in struct_type._fields_ if not field[0].startswith("reserved")]
    return fields(info, names)


def memory(handle, version=None):
    info = pynvml.nvmlDeviceGetMemoryInfo(handle, version) if version else pynvml.nvmlDeviceGetMemoryInfo(handle)
    names = ("total", "used", "free") + (("reserved",) if version else ())
    return fields(info, names)


def describe_gpu(index):
    n = pynvml
    handle = n.nvmlDeviceGetHandleByIndex(index)
    gpu = {
        "name": attempt(n.nvmlDeviceGetName, handle),
        "uuid": attempt(n.nvmlDeviceGetUUID, handle),
        "serial": attempt(n.nvmlDeviceGetSerial, handle),
        "pci": attempt(pci_info, handle),
        "pci_v2": pci_info_raw("nvmlDeviceGetPciInfo_v2", n.nvmlPciInfo_t, handle),
        "pci_v1": pci_info_raw("nvmlDeviceGetPciInfo", n.nvmlPciInfo_v2_t, handle),
        "memory": attempt(memory, handle),
        "memory_v2": attempt(memory, handle, n.nvmlMemory_v2),
        "temperature": attempt(n.nvmlDeviceGetTemperature, handle, n.NVML_TEMPERATURE_GPU),
        "power_usage": attempt(n.nvmlDeviceGetPowerUsage, handle),
        "enforced_power_limit": attempt(n.nvmlDeviceGetEnforcedPowerLimit, handle),
        "power_management_limit": attempt(n.nvmlDeviceGetPowerManagementLimit, handle),
        "clocks": {
            name: attempt(n.nvmlDeviceGetClockInfo, handle, clock)
            for name, clock in (
                ("graphics", n.NVML_CLOCK_GRAPHICS),
                ("sm", n.NVML_CLOCK_SM),
                ("mem", n.NVML_CLOCK_MEM),
                ("video", n.NVML_CLOCK_VIDEO),
            )
        },
        "max_clocks": {
            name: attempt(n.nvmlDeviceGetMaxClockInfo, handle, clock)
            for name, clock in (
                ("graphics", n.NVML_CLOCK_GRAPHICS),
                ("sm", n.NVML_CLOCK_SM),
                ("mem", n.NVML_CLOCK_MEM),
                ("video", n.NVML_CLOCK_VIDEO),
            )
        },
        "clock_event_reasons": attempt(n.nvmlDeviceGetCurrentClocksEventReasons, handle),
        "clock_throttle_reasons": attempt(n.nvmlDeviceGetCurrentClocksThrottleReasons, handle),
        "ecc_mode": attempt(n.nvmlDeviceGetEccMode, handle),
        "ecc_errors": {
            counter_name: {
                kind_name: attempt(n.nvmlDeviceGetTotalEccErrors, handle, kind, counter)
                for kind_name, kind in (
                    ("corrected", n.NVML_MEMORY_ERROR_TYPE_CORRECTED),
                    ("uncorrected", n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
                )
            }
            for counter_name, counter in (("volatile", n.NVML_VOLATILE_ECC), ("aggregate", n.NVML_AGGREGATE_ECC))
        },
        "retired_pages_sbe": attempt(
            n.nvmlDeviceGetRetiredPages, handle, n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS
        ),
        "retired_pages_dbe": attempt(
            n.nvmlDeviceGetRetiredPages, handle, n.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR
        ),
        "retired_pages_sbe_v2": attempt(
            n.nvmlDeviceGetRetiredPages_v2, handle, n.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS
        ),
        "retired_pages_pending": attempt(n.nvmlDeviceGetRetiredPagesPendingStatus, handle),
        "remapped_rows": attempt(lambda: list(n.nvmlDeviceGetRemappedRows(handle))),
        "mig_mode": attempt(n.nvmlDeviceGetMigMode, handle),
        "persistence_mode": attempt(n.nvmlDeviceGetPersistenceMode, handle),
        "utilization": attempt(lambda: fields(n.nvmlDeviceGetUtilizationRates(handle), ("gpu", "memory"))),
        "pcie_gen": attempt(n.nvmlDeviceGetCurrPcieLinkGeneration, handle),
        "pcie_max_gen": attempt(n.nvmlDeviceGetMaxPcieLinkGeneration, handle),
        "pcie_width": attempt(n.nvmlDeviceGetCurrPcieLinkWidth, handle),
        "pcie_max_width": attempt(n.nvmlDeviceGetMaxPcieLinkWidth, handle),
        "compute_capability": attempt(lambda: list(n.nvmlDeviceGetCudaComputeCapability(handle))),
    }
    return gpu


def main():
    report = {"library": None}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        report.update(library=loaded_library(), init={"nvml_error": exc.value, "class": type(exc).__name__})
        print(json.dumps(report))
        return
    n = pynvml
    report.update(
        library=loaded_library(),
        init="ok",
        driver_version=attempt(n.nvmlSystemGetDriverVersion),
        nvml_version=attempt(n.nvmlSystemGetNVMLVersion),
        cuda_driver_version=attempt(n.nvmlSystemGetCudaDriverVersion),
        cuda_driver_version_v2=attempt(n.nvmlSystemGetCudaDriverVersion_v2),
        count=n.nvmlDeviceGetCount(),
    )
    report["gpus"] = [describe_gpu(index) for index in range(report["count"])]
    pynvml.nvmlShutdown()
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
