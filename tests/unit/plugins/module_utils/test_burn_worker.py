"""The torch burn worker itself, run on the CPU build of PyTorch (.build/torch-venv, made by hack/torch-venv.sh).

Each detector must catch its own fault class in every dtype: the transient fault (one flipped bit in one result) by
the bitwise comparison with the reference, the persistent one (every product wrong the same way, the reference
included, so the comparison sees nothing) by the FP64 checksum of the whole output; clean runs pass both.
"""

import json
import os
import subprocess

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_worker_main as worker_main
from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn
from ansible_collections.gpufleet.nvidia.plugins.module_utils.burn_worker import WORKER_SOURCE

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TORCH_PYTHON = os.path.join(REPO, ".build", "torch-venv", "bin", "python")

needs_torch = pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (a CPU PyTorch)")


def test_shipped_source_is_the_module_file():
    with open(worker_main.__file__, encoding="utf-8") as handle:
        assert handle.read() == WORKER_SOURCE
    assert not hasattr(worker_main, "torch")  # imported only inside main(), under torch_python


def test_worker_and_engine_agree_on_dtypes_and_fault_modes():
    assert set(worker_main.ROUNDOFF) == set(worker_main.SPOT_TOLERANCE) == set(burn.DTYPES)
    assert worker_main.FAULT_MODES == burn.FAULT_MODES
    # the roundoffs are unit roundoffs 2^-p of the formats' significands (bf16 8, fp16 11, fp32 24, fp64 53 bits)
    assert worker_main.ROUNDOFF["bf16"][2] == 2.0**-8 and worker_main.ROUNDOFF["fp16"][2] == 2.0**-11
    assert worker_main.ROUNDOFF["tf32"][0] == 2.0**-11  # TF32 keeps 10 of FP32's 23 stored mantissa bits


@pytest.mark.parametrize(
    ("argv", "fault"),
    [([], "none"), (["--inject-fault"], "transient"), (["--inject-fault", "persistent"], "persistent")],
)
def test_worker_arguments(argv, fault):
    args = worker_main.parse_args(["--device", "cuda:0", "--seconds", "5", *argv])
    assert args.inject_fault == fault and args.device == "cuda:0" and args.dtype == "bf16"


def test_worker_rejects_an_unknown_fault():
    with pytest.raises(SystemExit):
        worker_main.parse_args(["--device", "cpu", "--seconds", "1", "--inject-fault", "sometimes"])


@pytest.mark.parametrize(
    ("per_gemm", "room", "buffers", "expected"),
    [
        (0.011, 0.5, 256, 45),  # an H200 16384^3 bf16 GEMM: the batch ends by time, far before 256 buffers
        (0.001, 0.5, 256, 256),  # small GEMMs: one per buffer at most
        (2.0, 0.5, 8, 1),  # slower than a batch: one at a time
        (0.01, 0.0, 8, 1),  # no time left: still one (the loop then ends)
    ],
)
def test_batches_end_by_time(per_gemm, room, buffers, expected):
    assert worker_main.next_batch_size(per_gemm, room, buffers) == expected


@pytest.mark.parametrize("dtype", burn.DTYPES)
def test_auto_sizes_keep_a_cpu_gemm_within_a_batch(dtype):
    assert worker_main.auto_sizes("cuda", dtype) == worker_main.CUDA_SIZES
    sizes = worker_main.auto_sizes("cpu", dtype)
    assert sizes and list(sizes) == sorted(sizes, reverse=True)
    if dtype == "fp16":  # a scalar fallback on most CPUs: ~20 s per GEMM at 2048
        assert max(sizes) == worker_main.CPU_FP16_MAX_SIZE
    else:
        assert sizes == worker_main.CPU_SIZES


# Run under the CPU PyTorch: the bitwise check of one result, memcmp (the CPU's path) and torch.equal (its fallback).
BITWISE_PROBE = r"""
import importlib.util, json, sys
import torch
spec = importlib.util.spec_from_file_location("worker", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
report = {}
for name in worker.ROUNDOFF:
    reference = torch.randn(33, 35, generator=torch.Generator().manual_seed(5)).to(worker.torch_dtype(torch, name))
    reference.view(-1)[7] = 0.0
    last = reference.numel() - 1
    faults = {
        "low bit, first": lambda r: worker.int_view(torch, r).view(-1)[:1].bitwise_xor_(1),
        "low bit, middle": lambda r: worker.int_view(torch, r).view(-1)[last // 2 : last // 2 + 1].bitwise_xor_(1),
        "low bit, last": lambda r: worker.int_view(torch, r).view(-1)[last:].bitwise_xor_(1),
        "-0 for +0": lambda r: r.view(-1)[7:8].neg_(),
        "NaN": lambda r: r.view(-1)[3:4].fill_(float("nan")),
    }
    for path in ("memcmp", "torch.equal"):
        check = worker.BitwiseCheck(torch, reference)
        if path == "torch.equal":
            check.memcmp = None
        seen = {"memcmp found": check.memcmp is not None or path != "memcmp"}
        check.check(reference.clone())
        seen["clean"] = check.any_differed()
        for fault, apply in faults.items():
            result = reference.clone()
            apply(result)
            check.check(reference.clone())
            check.check(result)
            seen[fault] = [check.any_differed(), *check.mismatches(result)]
        seen["reset"] = check.any_differed()
        report["%s %s" % (name, path)] = seen
print(json.dumps(report))
"""


@needs_torch
def test_bitwise_check_catches_one_changed_element_anywhere(worker):
    proc = subprocess.run(
        [TORCH_PYTHON, "-c", BITWISE_PROBE, worker], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(proc.stdout)
    assert len(report) == 2 * len(burn.DTYPES)
    for case, seen in report.items():
        assert seen.pop("memcmp found") is True, case
        assert seen.pop("clean") is False and seen.pop("reset") is False, case
        nan = seen.pop("NaN")
        assert nan == [True, 1, 1], case
        # one element changed by one bit, wherever it is, sign of zero included: flagged and counted once
        assert all(found == [True, 1, 0] for found in seen.values()), (case, seen)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    return burn.install_worker(str(tmp_path_factory.mktemp("worker")))


def run_worker(worker, dtype, fault, size=96, seconds=0.6):
    argv = [TORCH_PYTHON, worker, "--device", "cpu", "--dtype", dtype, "--seconds", str(seconds)]
    argv += ["--matrix-size", str(size), "--inject-fault", fault, "--spot-check-interval", "0.2"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = burn.parse_worker_output(proc.stdout)
    assert events["summary"] is not None, proc.stdout[-3000:]
    return events


@needs_torch
@pytest.mark.parametrize("dtype", burn.DTYPES)
@pytest.mark.parametrize("fault", ["none", "transient", "persistent"])
def test_each_detector_catches_its_own_fault_class(worker, dtype, fault):
    events = run_worker(worker, dtype, fault)
    summary = events["summary"]
    assert events["start"]["inject_fault"] == fault
    assert summary["iterations"] >= 1 and summary["checksum_checks"] >= 2
    assert summary["nans"] == 0
    if fault == "none":
        assert summary["errors"] == 0
        assert summary["checksum_failures"] == 0 and summary["checksum_max_excess"] <= 1.0
        assert summary["spot_check_failures"] == 0
    elif fault == "transient":
        assert summary["errors"] == 1  # exactly the flipped bit
        assert summary["checksum_failures"] == 0  # one low bit is far below the checksum's tolerance
    else:
        # every result equals the (equally wrong) reference bitwise: only the checksum can see it, and does, each time
        assert summary["errors"] == 0
        assert summary["checksum_failures"] == summary["checksum_checks"]
        assert summary["checksum_max_excess"] > 1.0
        assert events["checksum_failed"]


@needs_torch
def test_clean_run_reports_gemm_and_check_time_and_ends_on_time(worker):
    events = run_worker(worker, "fp32", "none", size=128, seconds=2.0)
    summary = events["summary"]
    assert 0 < summary["gemm_seconds"] < summary["seconds"]
    assert 0 < summary["check_seconds"] < summary["seconds"]
    # batches end by time, so the run ends within a batch (<= 0.5 s) of --seconds
    assert 2.0 <= summary["seconds"] < 2.0 + 1.0
    assert len(events["progress"]) >= 1


@needs_torch
def test_checksum_tolerance_is_reported_and_grows_with_roundoff(worker):
    tolerances = {
        dtype: run_worker(worker, dtype, "none", seconds=0.2)["start"]["checksum_tolerance_max"]
        for dtype in ("bf16", "fp32", "fp64")
    }
    assert tolerances["bf16"] > tolerances["fp32"] > tolerances["fp64"] > 0
