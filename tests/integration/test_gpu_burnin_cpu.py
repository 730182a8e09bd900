"""gpu_burnin through the real `ansible` CLI with device=cpu: the torch worker on the CPU build of PyTorch.

Each run is a few seconds of tiny GEMMs (.build/torch-venv, made by hack/torch-venv.sh). What is proven here is the
machinery a GPU run shares: the worker, the checker (an injected bit flip is caught), records and max_age, force,
thresholds, state started/stopped, and that killing Ansible mid-run leaves no worker behind.
"""

import json
import os
import signal
import subprocess
import time

import pytest
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, TORCH_PYTHON, VENV_BIN, ansible_env

WORKER_MARKER = "gpufleet_burn_worker.py"

pytestmark = pytest.mark.skipif(
    not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (make integration does)"
)


def module_argv(results_dir, extra="", check_mode=False):
    args = f"device=cpu matrix_size=64 duration=2 torch_python={TORCH_PYTHON} results_dir={results_dir} {extra}"
    argv = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "gpufleet.nvidia.gpu_burnin", "-a", args]
    if check_mode:
        argv.append("--check")
    return argv


def burnin(results_dir, extra="", expect_failure=False, check_mode=False):
    """The module's result for localhost."""
    proc = subprocess.run(
        module_argv(results_dir, extra, check_mode),
        cwd=REPO,
        env=ansible_env(json_output=True),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert (proc.returncode != 0) is expect_failure, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def worker_pids(results_dir=None):
    """PIDs of burn workers; with results_dir, only this test's (the worker runs from <results_dir>/), so a burn-in
    that another checkout or test run on the same machine is running does not count."""
    marker = os.path.join(results_dir, WORKER_MARKER) if results_dir else WORKER_MARKER
    out = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if marker in line and "ps -eww" not in line]


@pytest.fixture
def results_dir(tmp_path):
    path = tmp_path / "burnin"
    yield str(path)
    # Never leave a stress behind, whatever a test did.
    subprocess.run(
        module_argv(str(path), "state=stopped"),
        cwd=REPO,
        env=ansible_env(json_output=True),
        capture_output=True,
        check=False,
    )


def test_clean_run_passes_then_is_reused_then_forced(results_dir, tmp_path):
    textfile_dir = tmp_path / "textfile"
    first = burnin(results_dir, f"textfile_dir={textfile_dir}")
    assert first["changed"] is True and first["passed"] is True and first["reused"] is False
    (gpu,) = first["gpus"]
    assert gpu["device"] == "cpu" and gpu["uuid"] == "cpu"
    assert gpu["verdict"] == "pass" and gpu["reasons"] == []
    assert gpu["errors"] == 0 and gpu["nans"] == 0 and gpu["iterations"] > 0
    assert gpu["spot_checks"] >= 1 and gpu["spot_check_failures"] == 0
    assert gpu["tflops"]["median"] > 0
    assert gpu["peak_tflops"] is None and gpu["samples"] == 0
    with open(first["record_path"]) as handle:
        assert json.load(handle)["passed"] is True
    metrics = (textfile_dir / "gpufleet_burnin.prom").read_text()
    assert 'gpufleet_burnin_passed{gpu="0",uuid="cpu",device="cpu",backend="torch",dtype="bf16"} 1' in metrics

    check = burnin(results_dir, check_mode=True)
    assert check["changed"] is False and check["reused"] is True

    second = burnin(results_dir)
    assert second["changed"] is False and second["reused"] is True
    assert second["gpus"][0]["iterations"] == gpu["iterations"]

    forced = burnin(results_dir, "force=true")
    assert forced["changed"] is True and forced["reused"] is False
    assert forced["finished"] > first["finished"]


def test_check_mode_runs_nothing(results_dir):
    result = burnin(results_dir, check_mode=True)
    assert result["changed"] is True and result["passed"] is None
    assert "Would run a torch burn-in of bf16" in result["msg"]
    assert not os.path.exists(results_dir)


def test_injected_fault_is_detected_naming_the_device(results_dir):
    result = burnin(results_dir, "inject_fault=true dtype=fp32", expect_failure=True)
    assert "Burn-in failed on 1 device(s): cpu" in result["msg"]
    assert "result mismatch" in result["msg"]
    (gpu,) = result["gpus"]
    assert gpu["verdict"] == "fail" and gpu["errors"] == 1
    # A failing record is never reused.
    assert burnin(results_dir, "dtype=fp32")["changed"] is True


@pytest.mark.parametrize("dtype", ["bf16", "fp64"])
def test_persistent_fault_is_caught_by_the_checksum(results_dir, dtype):
    result = burnin(results_dir, f"inject_fault=persistent dtype={dtype}", expect_failure=True)
    assert "Burn-in failed on 1 device(s): cpu" in result["msg"]
    assert "disagree with the FP64 checksum of the whole output" in result["msg"]
    (gpu,) = result["gpus"]
    # every result is wrong the same way as the reference: the comparison sees nothing, the checksum every time
    assert gpu["errors"] == 0 and gpu["checksum_failures"] == gpu["checksum_checks"] >= 2
    assert gpu["checksum_max_excess"] > 1.0


def test_transient_fault_by_name_is_caught_by_the_comparison(results_dir):
    result = burnin(results_dir, "inject_fault=transient dtype=bf16", expect_failure=True)
    (gpu,) = result["gpus"]
    assert gpu["errors"] == 1 and gpu["checksum_failures"] == 0
    assert gpu["gemm_seconds"] > 0 and gpu["check_seconds"] > 0


def test_thresholds_fail_with_clear_messages(results_dir):
    result = burnin(results_dir, "min_tflops=1000000", expect_failure=True)
    assert "TFLOPS is below min_tflops 1e+06" in result["msg"]
    assert result["gpus"][0]["verdict"] == "fail"


def test_killing_ansible_mid_run_leaves_no_worker(results_dir, tmp_path):
    assert worker_pids(results_dir) == []
    log = tmp_path / "ansible.log"
    with open(log, "w") as output:
        proc = subprocess.Popen(
            module_argv(results_dir, "duration=60 force=true"),
            cwd=REPO,
            env=ansible_env(json_output=True),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while not worker_pids(results_dir) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_pids(results_dir), "the worker never started: " + log.read_text()[-3000:]
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while worker_pids(results_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_pids(results_dir) == []


def test_state_started_then_stopped(results_dir):
    started = burnin(results_dir, "state=started")
    assert started["changed"] is True and len(started["pids"]) == 1
    assert started["pids"][0] in worker_pids()
    again = burnin(results_dir, "state=started")
    assert again["changed"] is False and again["pids"] == started["pids"]
    stopped = burnin(results_dir, "state=stopped")
    assert stopped["changed"] is True and stopped["pids"] == started["pids"]
    deadline = time.monotonic() + 10
    while started["pids"][0] in worker_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started["pids"][0] not in worker_pids()
    assert burnin(results_dir, "state=stopped")["changed"] is False
