# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpufleet burn-in worker: GEMM stress on one device, every result checked (torch required, imported in main()).

This file is a program, not a library for the Ansible process: burn_worker.py ships its text to the host, where
the burn engine runs it under the user's ``torch_python``, one process per GPU. It is a module here so that it is
linted, compiled for every Python the collection supports and imported by the unit tests like any other code;
nothing at its top level imports torch or anything outside the standard library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import math
import os
import sys
import time

CUDA_SIZES = (16384, 12288, 8192, 4096)
CPU_SIZES = (2048, 1024, 512, 256)  # the largest that fits: the larger a GEMM, the smaller its checks' share
# fp16 GEMMs on a CPU without native fp16 arithmetic (most) take a scalar path ~100x slower than bf16's (2.4 s at 1024
# on a 2-core Zen 5, 19 s at 2048): past 512 one GEMM would outlast a batch and stretch the run past its duration.
CPU_FP16_MAX_SIZE = 512
CPU_MEMORY_CAP = 512 * 1024 * 1024  # the CPU path is for tests and demos; never take the host's memory
MAX_BUFFERS = 256
# On the CPU every op is synchronous and a result is compared while still in cache, so two buffers do: more only
# push the results (and the reference) out of the caches the comparison reads them from.
CPU_MAX_BUFFERS = 2
BATCH_SECONDS = 0.5  # a batch of GEMMs ends by time (well under 1 s), so progress, watchdog and duration stay honest
FAULT_MODES = ("none", "transient", "persistent")
# Largest |result - fp64 reference| allowed, in units of sqrt(K) (the spread of a sum of K unit-variance products).
SPOT_TOLERANCE = {"bf16": 0.05, "fp16": 0.02, "tf32": 0.01, "fp32": 1e-4, "fp64": 1e-9}
SPOT_TILE = 64

# Full-output checksum (Huang and Abraham's algorithm-based fault tolerance): the column sums of C = A @ B equal
# colsum(A) @ B, an O(n^2) vector computed once in FP64 from the very A and B the GEMM reads. Every result's column
# sums are compared with it, so a fault that corrupts every product the same way (which result-to-result comparison
# cannot see) is caught over the WHOLE output, not a sampled tile.
#
# Tolerance of column j, derived from unit roundoffs rather than guessed. u_in is the roundoff of the inputs as the
# GEMM sees them (TF32 rounds FP32 inputs to 10 mantissa bits; other dtypes use their inputs exactly), u_acc that of
# the accumulator (FP32 for bf16/fp16/tf32/fp32 on tensor cores and CPUs, FP64 for fp64; reduced-precision split-K
# reductions are switched off below so this holds), u_out that of the stored result. Per element,
#   C~_ij - C_ij = sum_k a_ik b_kj t_ijk + r_ij |C_ij|,  |t_ijk| <= 2 u_in + sqrt(K) u_acc,  |r_ij| <= u_out,
# where sqrt(K) u_acc is the probabilistic bound on an inner product's accumulation error (Higham and Mary, "A New
# Approach to Probabilistic Rounding Error Analysis", SIAM J. Sci. Comput. 2019: errors of independent roundings add
# in quadrature; the worst case K u_acc never happens at these sizes). Summed over the n rows of a column, independent
# zero-mean errors give a standard deviation of at most
#   sigma_j = sqrt((2 u_in + sqrt(K) u_acc)^2 * Q_j + u_out^2 * ||C_:j||^2),  Q_j = sum_i sum_k a_ik^2 b_kj^2
# (Q = colsum(A*A) @ (B*B), also O(n^2)). The tolerance is CHECKSUM_SIGMAS sigma_j (8 sigma: a false alarm in one of
# 16384 columns is below 1e-10 per check) plus the checksum's own worst-case FP64 error, 2 (n + K) u64 T_j with
# T = colsum(|A|) @ |B|. A single wrong element larger than tolerance_j is always caught; the start event reports it.
ROUNDOFF = {  # (u_in, u_acc, u_out)
    "bf16": (0.0, 2.0**-24, 2.0**-8),
    "fp16": (0.0, 2.0**-24, 2.0**-11),
    "tf32": (2.0**-11, 2.0**-24, 2.0**-24),
    "fp32": (0.0, 2.0**-24, 2.0**-24),
    "fp64": (0.0, 2.0**-53, 2.0**-53),
}
UNIT_ROUNDOFF_FP64 = 2.0**-53
CHECKSUM_SIGMAS = 8.0
# How often a result's whole output is checksummed. The reference is checksummed once and every result is compared
# with it bitwise, so a fault is caught either way; the periodic checksum of a result guards the comparison itself
# and costs one O(n^2) pass per interval instead of one per batch: at least CHECKSUM_INTERVAL apart, and on the CPU
# (where its cost is the host's time) far enough apart that it takes at most CHECKSUM_BUDGET of the run.
CHECKSUM_INTERVAL = 0.2
CHECKSUM_BUDGET = 0.002
CHECKSUM_CHUNK = 1024  # rows converted to FP64 at a time, so the checksum never needs an FP64 copy of a matrix


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
    # transient: one bit of one result flipped once; persistent: every product wrong the same way
    parser.add_argument("--inject-fault", nargs="?", const="transient", default="none", choices=FAULT_MODES)
    parser.add_argument("--spot-check-interval", type=float, default=5.0)
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this process is gone (0: never)")
    parser.add_argument("--run-id", default="")
    return parser.parse_args(argv)


def torch_dtype(torch, name):
    torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
    torch.backends.cudnn.allow_tf32 = name == "tf32"
    # FP32 accumulation throughout, as the checksum tolerance assumes (cuBLAS may otherwise reduce split-K partial
    # sums in fp16/bf16).
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
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


def wide_view(torch, tensor):
    """The same bytes as 64-bit integers when they divide evenly: a bitwise comparison of fewer, wider words (a
    quarter of the flags to write and reduce for bf16/fp16), for the fast check only."""
    flat = tensor.view(-1)
    if (flat.numel() * flat.element_size()) % 8 == 0:
        return flat.view(torch.int64)
    return int_view(torch, flat)


def libc_memcmp():
    """The C library's memcmp (vectorized, stops at the first difference), or None where ctypes cannot reach it."""
    try:
        import ctypes

        memcmp = ctypes.CDLL(None).memcmp
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    memcmp.restype = ctypes.c_int
    memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    return memcmp


class BitwiseCheck:
    """Every result against the reference, bitwise over its whole output, in one pass with no per-result host sync.

    CPU: memcmp of the raw bytes (one read of each, no temporary; 1.5-3x faster than torch.equal's element loop on
    data in cache, which is the fallback), right after the result's GEMM while it is still in cache; once a result
    of the batch differed the rest are left to the count. GPU: 64-bit words compared into a preallocated flag buffer
    and OR-reduced into one device flag, read once per batch after its sync. The reference is finite, so a NaN/Inf
    result differs too; mismatches are counted, over every result of the batch, only when the flag is set.
    """

    def __init__(self, torch, reference):
        self.torch = torch
        self.words = wide_view(torch, reference)
        self.bits = int_view(torch, reference)
        self.cuda = reference.device.type == "cuda"
        self.memcmp = None if self.cuda or not reference.is_contiguous() else libc_memcmp()
        self.nbytes = reference.numel() * reference.element_size()
        self.reference_address = reference.data_ptr()
        if self.cuda:
            self.flag = torch.zeros((), dtype=torch.bool, device=reference.device)
            self.differs = torch.empty(self.words.shape, dtype=torch.bool, device=reference.device)
        else:
            self.flag = False

    def check(self, result):
        if self.cuda:
            self.torch.ne(wide_view(self.torch, result), self.words, out=self.differs)
            self.flag |= self.differs.any()
        elif self.memcmp is not None and result.is_contiguous():
            self.flag = self.flag or self.memcmp(result.data_ptr(), self.reference_address, self.nbytes) != 0
        else:
            self.flag = self.flag or not self.torch.equal(wide_view(self.torch, result), self.words)

    def any_differed(self):
        """Whether a result checked since the last call differed (on a GPU, call after the batch's sync)."""
        if self.cuda:
            differed = bool(self.flag)
            self.flag.zero_()
            return differed
        differed, self.flag = self.flag, False
        return differed

    def mismatches(self, result):
        """(differing elements, non-finite elements) of a result that differed."""
        torch = self.torch
        return int((int_view(torch, result) != self.bits).sum()), int((~torch.isfinite(result)).sum())


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
    buffers = [torch.empty_like(reference) for _slot in range(count)]
    return a, b, reference, buffers


def column_sums(torch, matrix, transform=None):
    """FP64 column sums of matrix (of transform(matrix) when given), CHECKSUM_CHUNK rows at a time."""
    total = torch.zeros(matrix.shape[1], dtype=torch.float64, device=matrix.device)
    for start in range(0, matrix.shape[0], CHECKSUM_CHUNK):
        block = matrix[start : start + CHECKSUM_CHUNK]
        if transform is None:
            # converted to FP64 as the reduction reads it: no FP64 copy of the block (the per-result path)
            total += block.sum(dim=0, dtype=torch.float64)
        else:
            total += transform(block.double()).sum(dim=0)
    return total


def weighted_rows(torch, weights, matrix, transform=None):
    """weights @ matrix in FP64 (of transform(matrix) when given), CHECKSUM_CHUNK rows at a time."""
    total = torch.zeros(matrix.shape[1], dtype=torch.float64, device=matrix.device)
    for start in range(0, matrix.shape[0], CHECKSUM_CHUNK):
        block = matrix[start : start + CHECKSUM_CHUNK].double()
        total += weights[start : start + CHECKSUM_CHUNK] @ (transform(block) if transform else block)
    return total


class Checksum:
    """The FP64 column-sum checksum of A @ B and its per-column tolerance (see ROUNDOFF above)."""

    def __init__(self, torch, a, b, reference, dtype_name):
        rows, inner = a.shape
        u_in, u_acc, u_out = ROUNDOFF[dtype_name]
        self.torch = torch
        self.expected = weighted_rows(torch, column_sums(torch, a), b)
        squares = weighted_rows(torch, column_sums(torch, a, torch.square), b, torch.square)
        magnitudes = weighted_rows(torch, column_sums(torch, a, torch.abs), b, torch.abs)
        result_squares = column_sums(torch, reference, torch.square)
        per_product = 2.0 * u_in + math.sqrt(inner) * u_acc
        sigma = torch.sqrt(per_product**2 * squares + u_out**2 * result_squares)
        self.tolerance = CHECKSUM_SIGMAS * sigma + 2.0 * (rows + inner) * UNIT_ROUNDOFF_FP64 * magnitudes

    def excess(self, result):
        """Largest |colsum(result) - checksum| / tolerance over the columns (inf when not finite); > 1 fails. A 0-d
        tensor: float() it after the batch's sync, so a GPU is not synchronized mid-batch."""
        ratio = ((column_sums(self.torch, result) - self.expected).abs() / self.tolerance).max()
        return self.torch.nan_to_num(ratio, nan=math.inf, posinf=math.inf)


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
    error = float(diff.max()) / (size**0.5)
    return error <= SPOT_TOLERANCE[dtype_name], error


class PersistentFault:
    """A fault that never changes: the largest-magnitude element of EVERY product has its sign bit flipped.

    It is applied to the reference too, so every result equals the reference bitwise and only a check against
    something other than the GEMM's own output (the checksum) can see it. The largest element is chosen so the
    self-test proves detection at any size: the error (twice that element) stays above the checksum tolerance.
    """

    def __init__(self, torch, reference):
        self.index = int(reference.abs().argmax())

    def apply(self, product):
        flat = product.view(-1)
        flat[self.index] = -flat[self.index]


def auto_sizes(device_type, dtype_name):
    """Matrix sizes to try, largest first, for --matrix-size auto."""
    if device_type == "cuda":
        return CUDA_SIZES
    return tuple(size for size in CPU_SIZES if dtype_name != "fp16" or size <= CPU_FP16_MAX_SIZE)


def next_batch_size(per_gemm, room, buffers):
    """GEMMs in the next batch: as many as fit in room seconds at per_gemm seconds each, at least one, at most one
    per buffer (so no result is overwritten before it is checked)."""
    return max(1, min(buffers, int(room / max(per_gemm, 1e-9))))


def parent_gone(parent_pid):
    return parent_pid > 0 and os.getppid() != parent_pid


class PhaseTimer:
    """Seconds spent in GEMMs and in checking: CUDA events on a GPU (no host sync inside a batch), perf_counter on
    the CPU (where every op is synchronous). enter(phase) starts "gemm" or "check" and ends the phase before it;
    enter(None) ends the batch's last one."""

    def __init__(self, torch, device):
        self.cuda = device.type == "cuda"
        self.torch = torch
        self.seconds = {"gemm": 0.0, "check": 0.0}
        self._marks = []

    def enter(self, phase):
        if self.cuda:
            stamp = self.torch.cuda.Event(enable_timing=True)
            stamp.record()
        else:
            stamp = time.perf_counter()
        self._marks.append((phase, stamp))

    def close_batch(self):
        """Call after the batch is synchronized."""
        for (phase, begin), (_next, end) in zip(self._marks, self._marks[1:]):
            if phase:
                self.seconds[phase] += begin.elapsed_time(end) / 1000.0 if self.cuda else end - begin
        self._marks = []


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
    sizes = auto_sizes(device.type, args.dtype) if args.matrix_size == "auto" else (int(args.matrix_size),)

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
    fault = PersistentFault(torch, reference) if args.inject_fault == "persistent" else None
    if fault:
        fault.apply(reference)
    checksum = Checksum(torch, a, b, reference, args.dtype)
    bitwise = BitwiseCheck(torch, reference)
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
        inject_fault=args.inject_fault,
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        checksum_tolerance_max=float(checksum.tolerance.max()),
    )
    flop_per_gemm = 2.0 * size**3
    ok, error = spot_check(torch, a, b, reference, args.dtype, rng)
    spot_checks, spot_failures, worst_spot = 1, 0 if ok else 1, error
    if not ok:
        emit("spot_check_failed", error=error, iteration=0)
    # The reference itself against the checksum: a fault present from the start is caught here, a later one makes
    # results differ from the reference.
    worst_checksum = float(checksum.excess(reference))
    checksum_checks, checksum_failures = 1, 0 if worst_checksum <= 1.0 else 1
    if checksum_failures:
        emit("checksum_failed", excess=worst_checksum, iteration=0)

    timer = PhaseTimer(torch, device)
    start = time.monotonic()
    next_progress = start + 1.0
    next_spot = start + args.spot_check_interval
    iterations = errors = nans = 0
    window_iterations, window_start = 0, start
    fault_pending = args.inject_fault == "transient"
    continuous = args.seconds <= 0
    batch, cursor, per_gemm = 1, 0, None
    next_checksum = start  # the first batch's result too
    cuda = device.type == "cuda"
    while continuous or time.monotonic() - start < args.seconds:
        if parent_gone(args.parent_pid):
            return 4  # the module died without stopping us; never stress a host nobody watches
        batch_start = time.monotonic()
        chosen = [buffers[(cursor + i) % len(buffers)] for i in range(batch)]
        cursor = (cursor + batch) % len(buffers)
        # Each result is compared with the reference right after its GEMM (on the CPU while it is still in cache; on
        # a GPU both are queued, nothing waits), then the batch is synchronized once.
        for index, buffer in enumerate(chosen):
            timer.enter("gemm")
            torch.matmul(a, b, out=buffer)
            if fault:
                fault.apply(buffer)
            if fault_pending and index == len(chosen) - 1:
                # Self-test of the checker: one flipped bit in one result must be reported.
                int_view(torch, buffer).view(-1)[0] ^= 1
                fault_pending = False
            timer.enter("check")
            bitwise.check(buffer)
        excess = None
        if time.monotonic() >= next_checksum:
            began = time.monotonic()
            excess = checksum.excess(chosen[-1])
            ended = time.monotonic()
            next_checksum = ended + max(CHECKSUM_INTERVAL, (ended - began) / CHECKSUM_BUDGET)
        timer.enter(None)
        if cuda:
            torch.cuda.synchronize(device)
        timer.close_batch()
        if bitwise.any_differed():
            for buffer in chosen:
                wrong, not_finite = bitwise.mismatches(buffer)
                errors += wrong
                nans += not_finite
        if excess is not None:
            excess = float(excess)
            checksum_checks += 1
            worst_checksum = max(worst_checksum, excess)
            if excess > 1.0:
                checksum_failures += 1
                emit("checksum_failed", excess=excess, iteration=iterations + len(chosen))
        iterations += len(chosen)
        window_iterations += len(chosen)
        now = time.monotonic()
        # The next batch: as many GEMMs as fit in BATCH_SECONDS (and in the time left), at least one.
        per_gemm = (now - batch_start) / len(chosen)
        room = BATCH_SECONDS if continuous else min(BATCH_SECONDS, args.seconds - (now - start))
        batch = next_batch_size(per_gemm, room, len(buffers))
        if now >= next_spot:
            ok, error = spot_check(torch, a, b, buffers[rng.randrange(len(buffers))], args.dtype, rng)
            spot_checks += 1
            worst_spot = max(worst_spot, error)
            if not ok:
                spot_failures += 1
                emit("spot_check_failed", error=error, iteration=iterations)
            next_spot = now + args.spot_check_interval
        if now >= next_progress:
            elapsed = now - window_start
            emit(
                "progress",
                t=round(now - start, 3),
                iterations=iterations,
                tflops=round(flop_per_gemm * window_iterations / elapsed / 1e12, 6),
                errors=errors,
                nans=nans,
                spot_check_failures=spot_failures,
                checksum_failures=checksum_failures,
            )
            window_iterations, window_start = 0, now
            next_progress = now + 1.0
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
        checksum_checks=checksum_checks,
        checksum_failures=checksum_failures,
        checksum_max_excess=worst_checksum,
        gemm_seconds=round(timer.seconds["gemm"], 6),
        check_seconds=round(timer.seconds["check"], 6),
    )
    return 0


if __name__ == "__main__":
    # a program run under torch_python, not an Ansible module: its exit status is the protocol
    sys.exit(main())  # pylint: disable=ansible-bad-function
