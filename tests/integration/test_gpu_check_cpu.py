"""hack/gpu-check.sh on this machine: its CPU path end to end with the real CPU torch (.build/torch-venv), and the
ways it must fail: no GPU at all, a budget too small for its steps, and `make test-gpu`'s pytest run without a GPU.

Nothing is simulated: the CPU path runs the collection's burn engine and the real torch worker, with the faults
the engine injects, and bench/burnin; only NVML and gpu-burn are skipped (they need a GPU), and the table says so.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO

SCRIPT = os.path.join(REPO, "hack", "gpu-check.sh")
TORCH_PYTHON = os.path.join(REPO, ".build", "torch-venv", "bin", "python")
DTYPES = ("bf16", "fp16", "tf32", "fp32", "fp64")


def run_check(out_dir, **env):
    environ = dict(os.environ, OUT=str(out_dir), **env)
    environ.pop("PYTHONPATH", None)  # the script must make its own ansible_collections tree
    started = time.monotonic()
    proc = subprocess.run([SCRIPT], env=environ, capture_output=True, text=True, timeout=600, check=False)
    summary_path = out_dir / "gpu-check.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return proc, summary, time.monotonic() - started


@pytest.fixture(scope="module")
def torch_python():
    if not os.access(TORCH_PYTHON, os.X_OK):
        pytest.fail("no CPU torch at %s: run hack/torch-venv.sh (make integration does)" % TORCH_PYTHON, pytrace=False)
    return TORCH_PYTHON


@pytest.fixture(scope="module")
def cpu_run(torch_python, tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check-cpu")
    return run_check(out, GPUFLEET_GPU_CHECK_DEVICE="cpu", GPUFLEET_TORCH_PYTHON=torch_python)


def by_check(summary):
    return {check["check"]: check for check in summary["checks"]}


def test_cpu_path_passes_and_writes_the_summary_and_table(cpu_run):
    proc, summary, seconds = cpu_run
    print(proc.stdout, "\n(%.1f s)" % seconds)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["device"] == "cpu" and summary["passed"] is True
    checks = by_check(summary)
    assert list(checks) == [
        "gpu facts",
        *("burn-in %s" % dtype for dtype in DTYPES),
        "fault transient",
        "fault persistent",
        "gpu_burn backend",
        "bench/burnin",
    ]
    table = proc.stdout.splitlines()
    assert table[-12].split() == ["check", "result", "figures", "time"]
    assert table[-1].startswith("gpu-check on cpu: PASSED in ")
    for dtype in DTYPES:
        check = checks["burn-in %s" % dtype]
        assert check["status"] == "pass", check
        (gpu,) = check["figures"]["gpus"]
        assert gpu["device"] == "cpu" and gpu["matrix_size"] == 256 and gpu["tflops"] > 0, gpu
        assert gpu["errors"] == 0 and gpu["verdict"] == "pass", gpu
        assert any(line.startswith("burn-in %s " % dtype) and " PASS " in line for line in table)


def test_cpu_path_skips_the_gpu_only_steps_saying_why(cpu_run):
    checks = by_check(cpu_run[1])
    assert checks["gpu facts"]["status"] == "skip"
    assert checks["gpu facts"]["detail"].startswith("device=cpu: no NVML needed; gpu_facts said: NVML")
    assert checks["gpu_burn backend"] == {**checks["gpu_burn backend"], "status": "skip"}
    assert "needs a GPU" in checks["gpu_burn backend"]["detail"]


@pytest.mark.parametrize("kind", ["transient", "persistent"])
def test_injected_faults_are_reported_caught(cpu_run, kind):
    check = by_check(cpu_run[1])["fault %s" % kind]
    assert check["status"] == "pass" and check["detail"].startswith("caught: "), check
    (gpu,) = check["figures"]["gpus"]
    assert gpu["verdict"] == "fail" and gpu["reasons"], gpu
    assert any(line.startswith("fault %s" % kind) and "caught: " in line for line in cpu_run[0].stdout.splitlines())


def test_bench_ran_the_worker_beside_bare_matmul(cpu_run):
    check = by_check(cpu_run[1])["bench/burnin"]
    assert check["status"] == "pass", check
    assert set(check["figures"]["ratios"]) == {"fp32"} and check["figures"]["ratios"]["fp32"] > 0


def test_a_budget_too_small_fails_the_steps_it_cannot_run(torch_python, tmp_path):
    proc, summary, _seconds = run_check(
        tmp_path, GPUFLEET_GPU_CHECK_DEVICE="cpu", GPUFLEET_TORCH_PYTHON=torch_python, GPUFLEET_GPU_CHECK_BUDGET="3"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["passed"] is False
    not_run = [c for c in summary["checks"] if c["detail"].startswith("not run: ")]
    assert not_run and all(c["status"] == "fail" for c in not_run)
    assert "gpu-check on cpu: FAILED" in proc.stdout


def test_without_a_gpu_it_says_so_and_exits_at_once(torch_python, tmp_path):
    proc, summary, seconds = run_check(tmp_path, GPUFLEET_TORCH_PYTHON=torch_python)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "gpu-check cannot run on this machine (device=cuda)" in proc.stdout
    assert "no NVIDIA driver/NVML: NVML" in proc.stdout
    assert "torch 2.13.0+cpu without CUDA" in proc.stdout
    assert summary["passed"] is False and summary["checks"] == []
    assert summary["missing"][-1].startswith("no Python with a CUDA build of torch that sees a GPU; looked at:")
    assert seconds < 60


def test_without_torch_the_cpu_path_names_the_interpreter(tmp_path):
    proc = run_check(tmp_path, GPUFLEET_GPU_CHECK_DEVICE="cpu", GPUFLEET_TORCH_PYTHON=sys.executable)[0]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no Python with torch; looked at:" in proc.stdout
    assert "GPUFLEET_TORCH_PYTHON=%s (set by you): torch is not installed" % sys.executable in proc.stdout


def test_make_test_gpu_fails_without_a_gpu_naming_what_is_missing(torch_python):
    environ = dict(os.environ, GPUFLEET_TORCH_PYTHON=torch_python)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider", "tests/gpu"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "GPU tests asked for, but this machine cannot run them" in output
    assert "no NVIDIA driver/NVML" in output
    assert "GPUFLEET_TORCH_PYTHON=%s (set by you): torch 2.13.0+cpu without CUDA" % torch_python in output
    assert " passed" not in output and " skipped" not in output
