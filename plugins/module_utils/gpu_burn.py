# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_burn backend of the burn-in: fetch, build, run and read wilicc/gpu-burn.

gpu-burn is built on the host from the operator's source, for the compute capabilities of the GPUs it will burn and
with the nvcc of the discovered CUDA toolkit. What to pass to its Makefile is read from the source itself, so every
release in use builds: ``COMPUTE`` (one virtual architecture, always honoured, and required by the releases that put
``-arch=compute_$(COMPUTE)`` on every nvcc line) is the lowest capability; a Makefile that builds a fat binary
(``compare.fatbin``) also gets one ``-gencode`` per capability; a source written before CUDA 13 gets a compatibility
header for CUDA 13's ``cuCtxCreate``.

gpu-burn's command line is fragile: it takes *any* argument that contains ``-h``, ``-l``, ``-d`` or ``-tc``, or
starts with ``-m``, ``-i``, ``-c`` or ``-s``, as that option, the value after ``-c`` included. So it runs in its
build directory, the compare kernel is named by its bare file name, and every argument is checked before it runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import shutil
import tarfile
import zipfile

from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_judge import (
    base_gpu_result,
    summarize_samples,
    warmup_seconds,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_plan import GPU_BURN_DTYPES, BurnError
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_process import BurnRunner, run_timeout

BINARY = "gpu_burn"
DRIVER_SOURCE = "gpu_burn-drv.cpp"
# The compare kernel gpu-burn loads with cuModuleLoad: a fat binary since 2026-05, PTX before.
KERNEL_FILES = ("compare.fatbin", "compare.ptx")
BUILD_PRODUCTS = (BINARY, "gpu_burn-drv.o", *KERNEL_FILES)
BUILD_TIMEOUT = 900

CUDA13_COMPAT_HEADER = "gpufleet_cuda13_compat.h"
# CUDA 13's cuda.h maps cuCtxCreate to cuCtxCreate_v4 (context parameters as the second argument). A source written
# for CUDA 12 calls it with three arguments, which is cuCtxCreate_v2, still exported by every driver that runs CUDA
# 13: this overload forwards such a call there and leaves four-argument calls alone. On CUDA 12 and older it is empty.
CUDA13_COMPAT_SOURCE = """\
/* Written by gpufleet.nvidia's gpu_burnin module: lets gpu-burn releases from before CUDA 13 build with CUDA 13. */
#ifndef GPUFLEET_CUDA13_COMPAT_H
#define GPUFLEET_CUDA13_COMPAT_H
#ifndef CUDA_ENABLE_DEPRECATED
#define CUDA_ENABLE_DEPRECATED
#endif
#include <cuda.h>
#if defined(__cplusplus) && defined(CUDA_VERSION) && CUDA_VERSION >= 13000
extern "C" CUresult CUDAAPI cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
static inline CUresult cuCtxCreate_v4(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return cuCtxCreate_v2(pctx, flags, dev);
}
#endif
#endif
"""

# How gpu-burn's main() reads its arguments: strstr for these...
OPTIONS_ANYWHERE = ("-h", "-l", "-d", "-tc")
# ...and strncmp of the first two characters for these (-stts is compared as "-s").
OPTION_PREFIXES = ("-m", "-i", "-c", "-s")

_RUN_FLAGS = ("-m", "-d", "-c")


# ---------------------------------------------------------------------------------------------------------------------
# Source and build


def is_git_url(source):
    return bool(re.match(r"^(https?|git|ssh)://", source) or re.match(r"^[\w.-]+@[\w.-]+:", source)) or (
        source.endswith(".git") and not os.path.isdir(source)
    )


def _remove_build_products(directory):
    """A copy that carries a gpu_burn built elsewhere would look up to date to make and never be rebuilt."""
    for name in (*BUILD_PRODUCTS, CUDA13_COMPAT_HEADER):
        path = os.path.join(directory, name)
        if os.path.isfile(path) or os.path.islink(path):
            os.unlink(path)


def fetch_gpu_burn_src(source, work_dir, runner):
    """A private, writable copy of gpu-burn's source under work_dir (a directory, an archive or a git URL)."""
    dest = os.path.join(work_dir, "gpu-burn-" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:12])
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    if os.path.isdir(source):
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".git"))
    elif os.path.isfile(source) and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(dest)
    elif os.path.isfile(source) and tarfile.is_tarfile(source):
        with tarfile.open(source) as archive:
            for member in archive.getmembers():
                if member.name.startswith("/") or ".." in member.name.split("/") or member.issym() or member.islnk():
                    raise BurnError(f"gpu_burn_src: unsafe path {member.name!r} in {source}")
            archive.extractall(dest)  # members checked above
    elif is_git_url(source):
        result = runner(["git", "clone", "--depth", "1", source, dest], timeout=300)
        if result.rc != 0:
            raise BurnError(f"gpu_burn_src: git clone {source} failed: {(result.stderr or result.stdout).strip()}")
    else:
        raise BurnError(f"gpu_burn_src: {source} is not a directory, a tar/zip archive or a git URL")
    # An archive usually holds one top-level directory with the Makefile inside.
    entries = os.listdir(dest)
    if not os.path.isfile(os.path.join(dest, "Makefile")) and len(entries) == 1:
        inner = os.path.join(dest, entries[0])
        if os.path.isfile(os.path.join(inner, "Makefile")):
            dest = inner
    _remove_build_products(dest)
    return dest


def gpu_burn_source_info(makefile, driver_source=""):
    """What a gpu-burn source builds and needs, from its Makefile and gpu_burn-drv.cpp (texts).

    kernel: the compare kernel the gpu_burn target depends on (compare.fatbin or compare.ptx), None when it names
    neither. fatbin: nvcc makes a fat binary, which can hold code for several architectures (``-ptx`` takes exactly
    one). cuda13_compat: the driver calls cuCtxCreate with no CUDA 13 branch, so CUDA 13's cuda.h rejects it.
    """
    rule = re.search(r"^gpu_burn\s*:([^\n]*)", makefile or "", re.M)
    prerequisites = rule.group(1).split() if rule else []
    kernel = next((name for name in KERNEL_FILES if name in prerequisites), None)
    driver_source = driver_source or ""
    return {
        "kernel": kernel,
        "fatbin": kernel == "compare.fatbin",
        "cuda13_compat": "cuCtxCreate(" in driver_source
        and not re.search(r"CUDA_VERSION\s*>=\s*13\d\d\d", driver_source),
    }


def read_gpu_burn_source(src_dir):
    """gpu_burn_source_info of a source directory; BurnError when it has no Makefile."""
    texts = []
    for name in ("Makefile", DRIVER_SOURCE):
        try:
            with open(os.path.join(src_dir, name), encoding="utf-8", errors="replace") as handle:
                texts.append(handle.read())
        except OSError as exc:
            if name == "Makefile":
                raise BurnError(f"gpu_burn_src: {src_dir} has no readable Makefile ({exc}); is it gpu-burn?") from exc
            texts.append("")
    return gpu_burn_source_info(*texts)


def _arch(capability):
    """A compute capability ("9.0", (9, 0) or 9.0) as nvcc's architecture number ("90"); BurnError otherwise."""
    if isinstance(capability, (list, tuple)) and len(capability) == 2:
        capability = "%s.%s" % tuple(capability)
    match = re.match(r"^\s*(\d+)\.(\d)\s*$", str(capability))
    if not match:
        raise BurnError(f"cannot build gpu-burn: unknown compute capability {capability!r}")
    return match.group(1) + match.group(2)


def gpu_burn_build_argv(src_dir, nvcc, cuda_path, compute_capabilities, info, make="make"):
    """``make`` for gpu-burn for exactly these GPUs' architectures, with the nvcc of the discovered toolkit.

    COMPUTE is the lowest architecture: PTX for it is JIT-compiled on every newer GPU, and every Makefile generation
    turns it into ``-arch=compute_XX`` (the oldest ones cannot do without it: an empty COMPUTE gives nvcc
    ``compute_``). A fat binary also gets code for each GPU's own architecture. NVCC and CUDAPATH override the
    Makefile's guesses (/usr/bin/nvcc, then /usr/local/cuda); CUDAPATH only adds -I/-L/-rpath paths, which the
    compiler and linker skip when they do not exist (Debian's /usr: headers in /usr/include, libraries in the
    multiarch directory the linker searches anyway).
    """
    archs = sorted({_arch(capability) for capability in compute_capabilities}, key=int)
    if not archs:
        raise BurnError("cannot build gpu-burn: no GPU compute capability known")
    argv = [make, "-C", src_dir, f"COMPUTE={archs[0]}", f"CUDAPATH={cuda_path}", f"NVCC={nvcc}"]
    if info["fatbin"]:
        argv.append("NVCCFLAGS=" + " ".join(f"-gencode=arch=compute_{arch},code=sm_{arch}" for arch in archs))
    if info["cuda13_compat"]:
        # The Makefiles append their own flags to a CFLAGS given on the command line; make runs g++ in src_dir.
        argv.append(f"CFLAGS=-include {CUDA13_COMPAT_HEADER}")
    return argv


def built_kernel(src_dir, info):
    """The compare kernel the build produced (bare file name); BurnError when there is none."""
    expected = [info["kernel"]] if info.get("kernel") else []
    for name in expected + [name for name in KERNEL_FILES if name not in expected]:
        if os.path.isfile(os.path.join(src_dir, name)):
            return name
    raise BurnError(
        f"gpu-burn's build left no compare kernel in {src_dir}: expected "
        + (info["kernel"] if info.get("kernel") else " or ".join(KERNEL_FILES))
        + " (the Makefile's gpu_burn target names "
        + (info["kernel"] or "neither")
        + ")"
    )


def _build_output_tail(result, lines=8):
    text = "\n".join(part for part in (result.stdout, result.stderr) if part and part.strip())
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


def build_gpu_burn(src_dir, nvcc, cuda_path, compute_capabilities, runner, make="make", timeout=BUILD_TIMEOUT):
    """Build gpu-burn in src_dir; returns dict(src_dir, binary, kernel, argv, info)."""
    info = read_gpu_burn_source(src_dir)
    argv = gpu_burn_build_argv(src_dir, nvcc, cuda_path, compute_capabilities, info, make=make)
    if info["cuda13_compat"]:
        with open(os.path.join(src_dir, CUDA13_COMPAT_HEADER), "w") as handle:
            handle.write(CUDA13_COMPAT_SOURCE)
    result = runner(argv, timeout=timeout)
    if result.rc != 0:
        tail = _build_output_tail(result)
        raise BurnError(f"building gpu-burn failed (rc {result.rc}): {tail}; ran {' '.join(argv)}")
    binary = os.path.join(src_dir, BINARY)
    if not os.access(binary, os.X_OK):
        raise BurnError(f"gpu-burn's build left no executable {binary}; ran {' '.join(argv)}")
    return {"src_dir": src_dir, "binary": binary, "kernel": built_kernel(src_dir, info), "argv": argv, "info": info}


# ---------------------------------------------------------------------------------------------------------------------
# Command line and environment


def check_gpu_burn_args(args):
    """Refuse arguments gpu-burn would read as options they are not meant to be (see OPTIONS_ANYWHERE)."""
    for arg in args:
        if arg in _RUN_FLAGS:
            continue
        named = [opt for opt in OPTIONS_ANYWHERE if opt in arg] + [p for p in OPTION_PREFIXES if arg.startswith(p)]
        if named or "/" in arg:
            raise BurnError(
                f"refusing to run gpu_burn with the argument {arg!r}: "
                + (
                    f"gpu-burn would read it as {' and '.join(named)}"
                    if named
                    else "the compare kernel must be a bare file name in the build directory"
                )
            )


def gpu_burn_run_argv(binary, kernel, dtype, duration, memory_fraction):
    """gpu_burn's command line, to run with the build directory as cwd (``kernel`` is a bare file name there).

    fp64 is ``-d`` (DGEMM), fp32 plain SGEMM. gpu-burn has no TF32 mode: its ``-tc`` sets cuBLAS's
    CUBLAS_TENSOR_OP_MATH on the same FP32 SGEMM, which cuBLAS documents as CUBLAS_COMPUTE_32F_FAST_16F (FP16
    tensor-core math), so it is not offered.
    """
    if dtype not in GPU_BURN_DTYPES:
        raise BurnError(f"gpu-burn runs {', '.join(GPU_BURN_DTYPES)} only, not dtype={dtype}")
    args = ["-m", "%d%%" % max(1, round(memory_fraction * 100))]
    if dtype == "fp64":
        args.append("-d")
    args += ["-c", kernel, str(max(1, round(duration)))]
    check_gpu_burn_args(args)
    return [binary, *args]


def gpu_burn_env(targets):
    """gpu-burn burns every GPU it can see: exactly the plan's, numbered 0.. in the plan's order.

    CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; the plan's indices are NVML's, which are
    in PCI bus order, so without it CUDA_VISIBLE_DEVICES could select other GPUs than the plan names.
    """
    return {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": ",".join(str(target["index"]) for target in targets),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Output


# printf("\r%.1f%%  proc'd: ") then per GPU "%d (%.0f Gflop/s) " joined by "- ", "  errors: " with "%d " plus
# " (DIED!)" or " (WARNING!)", "  temps: " with "%d C " or "-- ".
_PROGRESS_RE = re.compile(r"^([\d.]+)%\s+proc'd:(?P<procd>.*?)errors:(?P<errors>.*?)(?:temps:(?P<temps>.*))?$")
_PROCD_RE = re.compile(r"(-?\d+)\s*\(\s*([\d.]+)\s*Gflop/s\s*\)")
_ERRORS_RE = re.compile(r"(-?\d+)\s*(\((?:DIED|WARNING)!\))?")
_TEMPS_RE = re.compile(r"(\d+) C|--")
_VERDICT_RE = re.compile(r"^GPU\s+(\d+):\s*(OK|FAULTY)$")
# gpu-burn runs `nvidia-smi -L`, which lists every GPU of the host by NVML index, not the ones gpu-burn burns.
_LISTED_RE = re.compile(r"^GPU\s+(\d+):\s*(.*?)\s*\(UUID:\s*([^)\s]+)\s*\)")
_CUINIT_RE = re.compile(r"^cuInit returned (-?\d+) \((.*)\)$")
# fprintf(stderr, "read[%zu] error %d", ...) has no newline: the next message runs on in the same line.
_READ_ERROR_RE = re.compile(r"read\[(\d+)\] error (-?\d+)")
_COMPARE_FILE_RE = re.compile(r"^Using compare file: (.*)$")
_BURN_SECONDS_RE = re.compile(r"^Burning for (-?\d+) seconds\.")
_INITIALIZED_RE = re.compile(r"^Initialized device \d+ with .*, using (FLOATS|DOUBLES)(, using Tensor Cores)?")
_NAMED_GPU_RE = re.compile(r"\bGPU\s+(\d+)\b")

# gpu-burn's own failure messages, and what the loader or the C++ runtime prints when it cannot start or dies.
_FAILURE_PREFIXES = (
    "Couldn't init CUDA:",
    "Couldn't init a GPU test:",
    "Failure during compute:",
    "No clients are alive!",
    "No CUDA devices",
    "Syntax error near",
    "terminate called",
    "what():",
)
_FAILURE_MARKERS = ("error while loading shared libraries", "symbol lookup error", "Segmentation fault", "core dumped")
# gpu-burn reads temperatures through nvidia-smi; without it the burn still runs and is still checked.
_WARNING_PREFIXES = (
    "Could not invoke nvidia-smi",
    "Could not invoke tegrastats",
    "Killing processes with SIGKILL",
    "NVIDIA-SMI has failed",
    "Failed to initialize NVML",
    "warning",
)
_WARNING_MARKERS = ("nvidia-smi: not found", "tegrastats: not found", "nvidia-smi: No such file")
# What a good run prints besides progress and verdicts.
_INFO_PREFIXES = (
    "Using compare file:",
    "Burning for",
    "Run length not specified",
    "Initialized device",
    "Results are",
    "Summary at:",
    "Killing processes with SIGTERM",
    "Freed memory for dev",
    "Uninitted cublas",
    "done",
    "Tested ",
    "ID ",
)
# Anything else that sounds like a failure is taken as one: a false alarm is cheaper than a missed fault.
_FAILURE_WORDS_RE = re.compile(
    r"error|fail|fatal|abort|died|cannot|can't|couldn't|unable|denied|exception|segmentation|killed", re.I
)
MAX_FAILURES = 20


def _gpu(gpus, position):
    return gpus.setdefault(
        position,
        {"index": position, "gflops": [], "percent": [], "errors": 0, "temps": [], "died": False, "verdict": None},
    )


def _progress(match, gpus):
    percent = float(match.group(1))
    for position, (_count, gflops) in enumerate(_PROCD_RE.findall(match.group("procd"))):
        gpu = _gpu(gpus, position)
        gpu["gflops"].append(float(gflops))
        gpu["percent"].append(percent)
    for position, (count, note) in enumerate(_ERRORS_RE.findall(match.group("errors"))):
        gpu = _gpu(gpus, position)
        if note == "(DIED!)":
            gpu["died"] = True
        else:
            gpu["errors"] = max(gpu["errors"], int(count))
    for position, temp in enumerate(_TEMPS_RE.findall(match.group("temps") or "")):
        if temp:
            _gpu(gpus, position)["temps"].append(int(temp))


def parse_gpu_burn_output(stdout, stderr=""):
    """gpu-burn's stdout and stderr as data (written for the releases from 2024-04 to 2026-05).

    Returns dict(gpus={position: {index, gflops, percent, errors, temps, died, verdict}}, listed={NVML index: {name,
    uuid}}, failures, warnings, no_clients_alive, compare_file, burn_seconds, modes ("floats", "doubles", "... with
    tensor cores")). Positions are gpu-burn's (CUDA's) device numbers.
    ``failures`` are gpu-burn's (or the loader's) own lines, verbatim and each once, that fail the whole run; a
    ``cuInit returned 0 (no error)`` is not one. A GPU without a verdict has ``verdict`` None: gpu-burn often exits
    0 without one.
    """
    gpus, listed = {}, {}
    failures, warnings = [], []
    no_clients = False
    compare_file = burn_seconds = None
    modes = set()

    def fail(line):
        if line not in failures:
            failures.append(line)

    text = (stdout or "") + "\n" + (stderr or "")
    for match in _READ_ERROR_RE.finditer(text):
        fail(match.group(0))
        _gpu(gpus, int(match.group(1)))["died"] = True
    text = _READ_ERROR_RE.sub("\n", text)

    for raw in re.split(r"[\r\n]+", text):
        line = raw.strip()
        if not line:
            continue
        match = _PROGRESS_RE.match(line)
        if match:
            _progress(match, gpus)
            continue
        match = _VERDICT_RE.match(line)
        if match:
            _gpu(gpus, int(match.group(1)))["verdict"] = match.group(2)
            continue
        match = _LISTED_RE.match(line)
        if match:
            listed[int(match.group(1))] = {"name": match.group(2) or None, "uuid": match.group(3)}
            continue
        match = _CUINIT_RE.match(line)
        if match:
            if int(match.group(1)) != 0:
                fail(line)
            continue
        match = _COMPARE_FILE_RE.match(line)
        if match:
            compare_file = match.group(1)
            continue
        match = _BURN_SECONDS_RE.match(line)
        if match:
            burn_seconds = int(match.group(1))
            continue
        match = _INITIALIZED_RE.match(line)
        if match:
            modes.add(match.group(1).lower() + (" with tensor cores" if match.group(2) else ""))
            continue
        if line.startswith(_FAILURE_PREFIXES) or any(marker in line for marker in _FAILURE_MARKERS):
            no_clients = no_clients or line.startswith("No clients are alive!")
            fail(line)
        elif line.lower().startswith(tuple(p.lower() for p in _WARNING_PREFIXES)) or any(
            marker in line for marker in _WARNING_MARKERS
        ):
            warnings.append(line)
        elif line.startswith(_INFO_PREFIXES):
            continue
        elif _FAILURE_WORDS_RE.search(line):
            if "DIED" in line.upper():
                named = _NAMED_GPU_RE.search(line)
                if named:
                    _gpu(gpus, int(named.group(1)))["died"] = True
            fail(line)
    if len(failures) > MAX_FAILURES:
        failures[MAX_FAILURES:] = [f"... and {len(failures) - MAX_FAILURES} more lines like these"]
    return {
        "gpus": gpus,
        "listed": listed,
        "failures": failures,
        "warnings": warnings,
        "no_clients_alive": no_clients,
        "compare_file": compare_file,
        "burn_seconds": burn_seconds,
        "modes": sorted(modes),
    }


def misread_arguments(argv, parsed):
    """What gpu-burn says it does that is not what argv asks: the sign that it read an argument as another option."""
    args = argv[1:]
    problems = []
    kernel = args[args.index("-c") + 1] if "-c" in args else None
    if parsed["compare_file"] is not None and parsed["compare_file"] != kernel:
        problems.append(f"gpu-burn used compare file {parsed['compare_file']!r}, not {kernel!r}")
    if parsed["burn_seconds"] is not None and str(parsed["burn_seconds"]) != args[-1]:
        problems.append(f"gpu-burn burned for {parsed['burn_seconds']} seconds, not the {args[-1]} asked")
    wanted = "doubles" if "-d" in args else "floats"
    for mode in parsed["modes"]:
        if mode != wanted:
            problems.append(f"gpu-burn ran with {mode}, not {wanted}")
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# Results


def _temps_are_ours(plan, parsed):
    """gpu-burn cycles nvidia-smi's temperatures over every GPU of the host: they are ours only if we burn all."""
    indices = [target["index"] for target in plan["targets"]]
    return bool(parsed["listed"]) and indices == sorted(parsed["listed"])


def aggregate_gpu_burn(plan, parsed, samples_by_index, run_problems=()):
    """Per-GPU results from parsed gpu-burn output; gpu-burn's position i is the plan's i-th target.

    run_problems: what failed the run as a whole besides gpu-burn's own lines (exit status, misread arguments).
    """
    results = []
    trust_temps = _temps_are_ours(plan, parsed)
    for position, target in enumerate(plan["targets"]):
        seen = parsed["gpus"].get(position, {})
        warm = warmup_seconds(plan["duration"]) / plan["duration"] * 100.0
        steady = [g / 1000.0 for g, p in zip(seen.get("gflops", []), seen.get("percent", [])) if p >= warm]
        if not steady:
            steady = [g / 1000.0 for g in seen.get("gflops", [])]
        result = base_gpu_result(target, plan, steady)
        problems = list(parsed["failures"]) + list(run_problems)
        if seen.get("died"):
            problems.append(f"gpu-burn marked GPU {position} DIED! (its test process failed)")
        if seen.get("verdict") is None:
            problems.append("gpu-burn printed no verdict for this GPU")
        result.update(
            matrix_size=None,
            iterations=None,
            errors=seen.get("errors", 0),
            nans=0,
            spot_checks=0,
            spot_check_failures=0,
            spot_check_max_error=None,
            gpu_burn_verdict=seen.get("verdict"),
            worker_problems=problems,
        )
        result.update(summarize_samples(samples_by_index.get(target["index"], [])))
        if result["max_temperature_c"] is None and trust_temps and seen.get("temps"):
            result["max_temperature_c"] = max(seen["temps"])
        results.append(result)
    return results


def gpu_burn_exit_note(output, timed_out, timeout, parsed):
    """Why the run itself failed, or None; the stderr tail only when gpu-burn said nothing that explains it."""
    if timed_out:
        return f"gpu_burn timed out after {timeout:g}s and was killed"
    rc = output["rc"]
    if rc == 0:
        return None
    note = f"gpu_burn was killed by signal {-rc}" if rc < 0 else f"gpu_burn exited with rc {rc}"
    if not parsed["failures"]:
        tail = [line.strip() for line in (output["stderr"] or "").splitlines() if line.strip()][-3:]
        if tail:
            note += ": " + " / ".join(tail)
    return note


def run_gpu_burn(plan, build, sampler=None):
    """Run a built gpu_burn (build_gpu_burn's result) on the plan's GPUs and return the per-GPU results."""
    argv = gpu_burn_run_argv(build["binary"], build["kernel"], plan["dtype"], plan["duration"], plan["memory_fraction"])
    indices = [t["index"] for t in plan["targets"]] if sampler else []
    timeout = run_timeout(plan)
    with BurnRunner(sampler=sampler, sample_indices=indices) as runner:
        (output,), samples, timed_out = runner.run(
            [argv], timeout, env=gpu_burn_env(plan["targets"]), cwd=build["src_dir"]
        )
    parsed = parse_gpu_burn_output(output["stdout"], output["stderr"])
    problems = misread_arguments(argv, parsed)
    note = gpu_burn_exit_note(output, timed_out, timeout, parsed)
    return aggregate_gpu_burn(plan, parsed, samples, problems + ([note] if note else []))
