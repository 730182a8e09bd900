# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torch burn-in worker, carried as text so it travels to the host with the module.

Only modules and module_utils are shipped to a managed host, and torch must never be imported into the Ansible
process, so the burn engine writes WORKER_SOURCE to a temporary file and runs it with the user's ``torch_python``,
one process per GPU. This is the only copy of the worker (the burn engine installs it as
``<results_dir>/gpufleet_burn_worker.py``).

Protocol: one JSON object per stdout line, ``event`` being ``start``, ``oom`` (size stepped down), ``progress``
(about once a second), ``spot_check_failed``, ``summary`` (last line of a run that ended normally) or ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

WORKER_NAME = "gpufleet_burn_worker.py"

WORKER_SOURCE = r'''#!/usr/bin/env python3
"""gpufleet burn-in worker: GEMM stress on one device, every result checked (written by gpufleet; torch required)."""
import argparse
import json
import os
import sys
import time

CUDA_SIZES = (16384, 12288, 8192, 4096)
CPU_SIZES = (2048, 1024, 512, 256)
CPU_MEMORY_CAP = 512 * 1024 * 1024  # the CPU path is for tests and demos; never take the host's memory
MAX_BUFFERS = 256
CPU_MAX_BUFFERS = 8  # short batches, so a CPU run ends close to --seconds
# Largest |result - fp64 reference| allowed, in units of sqrt(K) (the spread of a sum of K unit-variance products).
SPOT_TOLERANCE = {"bf16": 0.05, "fp16": 0.02, "tf32": 0.01, "fp32": 1e-4, "fp64": 1e-9}
SPOT_TILE = 64


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", required=True)
    parser.add_argument("--dtype", default="bf16", choices=sorted(SPOT_TOLERANCE))
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--memory-fraction", type=float, default=0.9)
    parser.add_argument("--matrix-size", default="auto")
    parser.add_argument("--inject-fault", action="store_true")
    parser.add_argument("--spot-check-interval", type=float, default=5.0)
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this process is gone (0: never)")
    parser.add_argument("--run-id", default="")
    return parser.parse_args(argv)


def torch_dtype(torch, name):
    torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
    torch.backends.cudnn.allow_tf32 = name == "tf32"
    return {
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
        "tf32": torch.float32,
        "fp32": torch.float32,
        "fp64": torch.float64,
    }[name]


def int_view(torch, tensor):
    """The same bytes as integers, so equality is bitwise (NaN == NaN, -0 != +0)."""
    size = tensor.element_size()
    return tensor.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[size])


def available_bytes(torch, device):
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return CPU_MEMORY_CAP


def is_oom(exc):
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def allocate(torch, device, dtype, size, fraction):
    """(A, B, reference, result buffers) for size; raises on OOM."""
    generator = torch.Generator(device="cpu").manual_seed(1234)
    a = torch.randn(size, size, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    reference = torch.matmul(a, b)
    matrix_bytes = reference.numel() * reference.element_size()
    budget = available_bytes(torch, device) * fraction
    limit = MAX_BUFFERS
    if device.type != "cuda":
        budget = min(budget, CPU_MEMORY_CAP)
        limit = CPU_MAX_BUFFERS
    count = max(1, min(limit, int(budget // matrix_bytes) - 3))
    buffers = [torch.empty_like(reference) for _ in range(count)]
    return a, b, reference, buffers


def spot_check(torch, a, b, result, dtype_name, rng):
    """Max error of a random tile of result against an fp64 reference, in units of sqrt(K); (ok, error)."""
    size = a.shape[0]
    tile = min(SPOT_TILE, size)
    row = rng.randrange(0, size - tile + 1)
    col = rng.randrange(0, size - tile + 1)
    exact = torch.matmul(a[row : row + tile].double(), b[:, col : col + tile].double())
    got = result[row : row + tile, col : col + tile].double()
    diff = (got - exact).abs()
    if not bool(torch.isfinite(diff).all()):
        return False, float("inf")
    error = float(diff.max()) / (size ** 0.5)
    return error <= SPOT_TOLERANCE[dtype_name], error


def parent_gone(parent_pid):
    return parent_pid > 0 and os.getppid() != parent_pid


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import torch
    except Exception as exc:
        emit("error", message="cannot import torch with %s: %s" % (sys.executable, exc))
        return 2
    import random

    rng = random.Random(4321)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            emit("error", message="torch %s sees no CUDA device" % torch.__version__)
            return 2
        torch.cuda.set_device(device)
    dtype = torch_dtype(torch, args.dtype)
    if args.matrix_size == "auto":
        sizes = CUDA_SIZES if device.type == "cuda" else CPU_SIZES
    else:
        sizes = (int(args.matrix_size),)

    state = None
    for size in sizes:
        try:
            state = allocate(torch, device, dtype, size, args.memory_fraction)
            break
        except RuntimeError as exc:
            if not is_oom(exc):
                raise
            state = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
            emit("oom", matrix_size=size)
    if state is None:
        emit("error", message="out of memory even at matrix size %d" % sizes[-1])
        return 3
    a, b, reference, buffers = state
    size = a.shape[0]
    reference_bits = int_view(torch, reference)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    emit(
        "start",
        device=str(device),
        name=name,
        dtype=args.dtype,
        matrix_size=size,
        buffers=len(buffers),
        torch_version=torch.__version__,
        pid=os.getpid(),
        run_id=args.run_id,
    )
    flop_per_gemm = 2.0 * size**3
    ok, error = spot_check(torch, a, b, reference, args.dtype, rng)
    spot_checks, spot_failures, worst_spot = 1, 0 if ok else 1, error
    if not ok:
        emit("spot_check_failed", error=error, iteration=0)

    start = time.monotonic()
    next_progress = start + 1.0
    next_spot = start + args.spot_check_interval
    iterations = errors = nans = 0
    mismatch_count = torch.zeros((), dtype=torch.int64, device=device)
    nonfinite_count = torch.zeros((), dtype=torch.int64, device=device)
    window_iterations, window_start = 0, start
    fault_pending = args.inject_fault
    continuous = args.seconds <= 0
    while continuous or time.monotonic() - start < args.seconds:
        if parent_gone(args.parent_pid):
            return 4  # the module died without stopping us; never stress a host nobody watches
        for buffer in buffers:
            torch.matmul(a, b, out=buffer)
        if fault_pending:
            # Self-test of the checker: one flipped bit in one result must be reported.
            bits = int_view(torch, buffers[-1])
            bits.view(-1)[0] ^= 1
            fault_pending = False
        # Every result is checked, but the counts stay on the device: reading them (a host sync) happens once per
        # progress line, not once per GEMM, so checking costs almost no throughput.
        for buffer in buffers:
            mismatch_count += (int_view(torch, buffer) != reference_bits).sum()
            nonfinite_count += (~torch.isfinite(buffer)).sum()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        iterations += len(buffers)
        window_iterations += len(buffers)
        now = time.monotonic()
        if now >= next_spot:
            ok, error = spot_check(torch, a, b, buffers[rng.randrange(len(buffers))], args.dtype, rng)
            spot_checks += 1
            worst_spot = max(worst_spot, error)
            if not ok:
                spot_failures += 1
                emit("spot_check_failed", error=error, iteration=iterations)
            next_spot = now + args.spot_check_interval
        if now >= next_progress:
            errors, nans = int(mismatch_count), int(nonfinite_count)
            elapsed = now - window_start
            emit(
                "progress",
                t=round(now - start, 3),
                iterations=iterations,
                tflops=round(flop_per_gemm * window_iterations / elapsed / 1e12, 6),
                errors=errors,
                nans=nans,
                spot_check_failures=spot_failures,
            )
            window_iterations, window_start = 0, now
            next_progress = now + 1.0
    errors, nans = int(mismatch_count), int(nonfinite_count)
    elapsed = time.monotonic() - start
    emit(
        "summary",
        seconds=round(elapsed, 3),
        iterations=iterations,
        matrix_size=size,
        tflops=round(flop_per_gemm * iterations / max(elapsed, 1e-9) / 1e12, 6),
        errors=errors,
        nans=nans,
        spot_checks=spot_checks,
        spot_check_failures=spot_failures,
        spot_check_max_error=worst_spot,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
