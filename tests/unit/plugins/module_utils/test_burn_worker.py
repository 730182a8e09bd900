"""The torch burn worker itself, run on the CPU build of PyTorch (.build/torch-venv, made by hack/torch-venv.sh).

Each detector must catch its own fault class in every dtype: the transient fault (one flipped bit in one result) by
the bitwise comparison with the reference, the persistent one (every product wrong the same way, the reference
included, so the comparison sees nothing) by the FP64 checksum of the whole output; clean runs pass both.
"""

import os
import subprocess

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TORCH_PYTHON = os.path.join(REPO, ".build", "torch-venv", "bin", "python")

pytestmark = pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (a CPU PyTorch)")


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


def test_clean_run_reports_gemm_and_check_time_and_ends_on_time(worker):
    events = run_worker(worker, "fp32", "none", size=128, seconds=2.0)
    summary = events["summary"]
    assert 0 < summary["gemm_seconds"] < summary["seconds"]
    assert 0 < summary["check_seconds"] < summary["seconds"]
    # batches end by time, so the run ends within a batch (<= 0.5 s) of --seconds
    assert 2.0 <= summary["seconds"] < 2.0 + 1.0
    assert len(events["progress"]) >= 1


def test_checksum_tolerance_is_reported_and_grows_with_roundoff(worker):
    tolerances = {
        dtype: run_worker(worker, dtype, "none", seconds=0.2)["start"]["checksum_tolerance_max"]
        for dtype in ("bf16", "fp32", "fp64")
    }
    assert tolerances["bf16"] > tolerances["fp32"] > tolerances["fp64"] > 0
