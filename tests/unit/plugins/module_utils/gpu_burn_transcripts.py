"""gpu-burn output, written by hand for tests from the printf/fprintf formats of gpu_burn-drv.cpp at three releases.

Nothing here is copied from gpu-burn: each function writes what one of its format strings prints, with values of our
own. What differs between the releases (read from their source):

- 9aefd7c (2024-04): default kernel compare.ptx; a failed cuInit is reported only as ``Couldn't init CUDA: ...``
  (checkError at line 304).
- 671f4be (2025-11): every worker first prints ``cuInit returned <code> (<cuGetErrorString>)`` to stderr, also on
  success (``cuInit returned 0 (no error)``); checkError of that result at line 316.
- 3ead140 (2026-05): as 671f4be (line 317); default kernel compare.fatbin.

Shared by all three: ``Using compare file: %s`` and ``Burning for %d seconds.`` (printed before fork, so a pipe gets
them once more from each worker), ``nvidia-smi -L`` run with system(), ``Initialized device ...`` and ``Results are
...`` per worker, progress as ``\\r%.1f%%  proc'd: `` plus ``%d (%.0f Gflop/s) `` per GPU joined by ``- ``, then
``  errors: `` with ``%d `` plus `` (DIED!)`` or `` (WARNING!)``, then ``  temps: `` with ``%d C `` or ``-- ``;
``\\n\\tSummary at:   `` followed by date(1)'s line every 10%; ``Killing processes with SIGTERM (soft kill)``,
``done``, ``Tested %d GPUs:`` and ``\\tGPU %d: OK|FAULTY``. Failures: ``Couldn't init a GPU test: %s``, ``Failure
during compute: %s``, ``read[%zu] error %d`` (no newline), ``\\n\\nNo clients are alive!  Aborting``, ``No CUDA
devices``, with checkError's ``Error (gpu_burn-drv.cpp:<line>): <reason>`` or ``Error in <what> (...): <reason>``.
"""

from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn

RELEASES = ("9aefd7c", "671f4be", "3ead140")

# Per release: default compare kernel, whether cuInit is echoed, and source lines of the checks we quote.
SOURCE = {
    "9aefd7c": {"kernel": "compare.ptx", "echoes_cuinit": False, "init": 304, "ctx": 112, "load": 239, "sgemm": 229},
    "671f4be": {"kernel": "compare.ptx", "echoes_cuinit": True, "init": 316, "ctx": 112, "load": 243, "sgemm": 233},
    "3ead140": {"kernel": "compare.fatbin", "echoes_cuinit": True, "init": 317, "ctx": 112, "load": 244, "sgemm": 234},
}

NO_DEVICE = "no CUDA-capable device is detected"
DATE = "Tue Dec  1 09:00:00 UTC 2026"
LOADER_NO_LIBCUDA = (
    "./gpu_burn: error while loading shared libraries: libcuda.so.1: cannot open shared object file: "
    "No such file or directory"
)


def check_error(release, where, reason, what=None):
    """checkError's message: Error (file:line): reason, or Error in <what> (file:line): reason."""
    place = "gpu_burn-drv.cpp:%d" % SOURCE[release][where]
    return ("Error in %s (%s): %s" % (what, place, reason)) if what else ("Error (%s): %s" % (place, reason))


def listing(count, name="NVIDIA H100 80GB HBM3"):
    """nvidia-smi -L for a host with count GPUs."""
    return "".join("GPU %d: %s (UUID: GPU-%08d-0000-0000-0000-000000000000)\n" % (i, name, i) for i in range(count))


def progress(percent, calcs, gflops, errors, temps, died=()):
    """One progress report, exactly as listenClients prints it (starting with its carriage return)."""
    out = "\r%.1f%%  " % percent + "proc'd: "
    for i, (calc, rate) in enumerate(zip(calcs, gflops)):
        out += "%d (%.0f Gflop/s) " % (-1 if i in died else calc, rate)
        out += "- " if i != len(calcs) - 1 else ""
    out += "  errors: "
    for i, count in enumerate(errors):
        note = "%d "
        if i in died:
            note += " (DIED!)"
        elif count:
            note += " (WARNING!)"
        out += note % (-1 if i in died else count)
        out += "- " if i != len(calcs) - 1 else ""
    out += "  temps: "
    for i, temp in enumerate(temps):
        out += ("%d C " % temp) if temp else "-- "
        out += "- " if i != len(calcs) - 1 else ""
    return out


def summary():
    return "\n\tSummary at:   " + DATE + "\n\n"


def header(release, seconds, kernel=None):
    return "Using compare file: %s\nBurning for %d seconds.\n" % (kernel or SOURCE[release]["kernel"], seconds)


def initialized(device, doubles=False, tensors=False):
    return "Initialized device %d with 81079 MB of memory (80530 MB available, using 72477 MB of it), %s%s\n" % (
        device,
        "using DOUBLES" if doubles else "using FLOATS",
        ", using Tensor Cores" if tensors else "",
    ) + "Results are %d bytes each, thus performing %d iterations\n" % (
        536870912 if doubles else 268435456,
        133 if doubles else 268,
    )


def cuinit_lines(release, workers, code=0, reason="no error"):
    """What each worker's initCuda writes to stderr."""
    lines = ""
    for _worker in range(workers):
        if SOURCE[release]["echoes_cuinit"]:
            lines += "cuInit returned %d (%s)\n" % (code, reason)
        if code:
            lines += "Couldn't init CUDA: %s\n" % check_error(release, "init", reason)
    return lines


def good_run(release, gpus=2, seconds=60, doubles=False, faulty=(), died=(), temps=True):
    """(stdout, stderr) of a run that reaches its verdicts; faulty GPUs report errors, died ones a failed worker."""
    out = header(release, seconds) + listing(gpus)
    out += "".join(initialized(i, doubles) for i in range(gpus))
    calcs = [0] * gpus
    for step in range(1, 11):
        calcs = [c + 268 for c in calcs]
        errors = [7 if i in faulty and step > 3 else 0 for i in range(gpus)]
        rates = [40000.0 + 100 * step + i for i in range(gpus)]
        gone = set(died) if step > 5 else set()
        out += progress(step * 10.0, calcs, rates, errors, [55 + step + i if temps else 0 for i in range(gpus)], gone)
        out += summary()
    out += "\nKilling processes with SIGTERM (soft kill)\n"
    out += "".join("Freed memory for dev %d\nUninitted cublas\n" % i for i in range(gpus) if i not in died)
    out += "done\n\nTested %d GPUs:\n" % gpus
    out += "".join("\tGPU %d: %s\n" % (i, "FAULTY" if i in faulty or i in died else "OK") for i in range(gpus))
    err = cuinit_lines(release, gpus)
    for i in died:
        err += "Failure during compute: %s\n" % check_error(
            release, "sgemm", "an illegal memory access was encountered", "SGEMM"
        )
        err += "read[%d] error 0" % i * 3  # the parent reads the closed pipe again on every select
    return out, err


def no_gpu_run(release, seconds=10):
    """A host with libcuda but no usable GPU (no device nodes): initCuda fails, the first worker cannot start."""
    out = header(release, seconds) * 2  # once from gpu-burn, once from the worker's copy of the stdio buffer
    err = "sh: 1: nvidia-smi: not found\n" + cuinit_lines(release, 1, 100, NO_DEVICE)
    err += "Couldn't init a GPU test: %s\n" % check_error(release, "ctx", "initialization error")
    err += "No CUDA devices\n"
    return out, err


def all_died_run(release, seconds=60):
    """One GPU whose worker cannot load the compare kernel: gpu-burn gives up before any verdict."""
    out = header(release, seconds) + listing(1) + initialized(0)
    err = cuinit_lines(release, 1)
    err += "Couldn't init a GPU test: %s\n" % check_error(
        release, "load", "a PTX JIT compilation failed", "load module"
    )
    err += "read[0] error 0" + "\n\nNo clients are alive!  Aborting\n"
    return out, err


def gpu_burn_plan(
    duration=60.0, dtype="fp32", indices=(0, 1), name="NVIDIA H100 80GB HBM3", names=None, driver_version="580.65"
):
    """A gpu_burn plan as burn.plan_burn makes it, for GPUs at these NVML indices (names: one model per GPU)."""
    if names is not None:
        indices = range(len(names))
    models = list(names) if names is not None else [name] * len(indices)
    plan = {
        "backend": "gpu_burn",
        "device": "cuda",
        "dtype": dtype,
        "duration": duration,
        "memory_fraction": 0.9,
        "matrix_size": "auto",
        "inject_fault": False,
        "driver_version": driver_version,
        "targets": [
            {"index": i, "uuid": f"GPU-{i}", "name": model, "device": f"cuda:{i}", "compute_capability": "9.0"}
            for i, model in zip(indices, models)
        ],
    }
    plan["key"] = burn.record_key(plan)
    return plan
