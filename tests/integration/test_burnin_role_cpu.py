"""playbooks/burnin.yml (role gpufleet.nvidia.burnin) through the real `ansible-playbook` CLI with burnin_device=cpu.

Two inventory hosts that are both this machine (ansible_connection=local, each with its own results_dir) burn the
CPU build of PyTorch (.build/torch-venv, made by hack/torch-venv.sh) for a few seconds. What is proven: the play
passes, the fleet report is written on the controller (JSON, Markdown, HTML with an SVG chart), a second run reuses
the records and changes nothing, and a threshold fails the hosts with a message naming it.
"""

import json
import os
import re
import subprocess

import pytest
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, TORCH_PYTHON, VENV_BIN, ansible_env

HOSTS = ("h1", "h2")

pytestmark = pytest.mark.skipif(
    not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (make integration does)"
)


@pytest.fixture
def fleet(tmp_path):
    """(inventory path, report dir) for two local hosts with their own results_dir."""
    lines = ["[fleet]"]
    for host in HOSTS:
        lines.append(
            f"{host} ansible_connection=local ansible_python_interpreter={os.path.join(VENV_BIN, 'python')}"
            f" burnin_results_dir={tmp_path / host} burnin_local_fact={tmp_path / host / 'gpufleet.fact'}"
        )
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("\n".join(lines) + "\n")
    return str(inventory), tmp_path / "reports"


def run_playbook(inventory, report_dir, extra=""):
    env = ansible_env()
    extra_vars = (
        f"burnin_device=cpu burnin_dtype=fp32 burnin_duration=4 burnin_matrix_size=256"
        f" burnin_torch_python={TORCH_PYTHON} burnin_report_dir={report_dir}"
        # Both "hosts" share this machine's few cores: a generous tolerance keeps the outlier check from judging
        # the scheduler (the outlier rule itself is unit-tested in tests/unit/plugins/filter/test_burnin_fleet.py).
        f" burnin_outlier_tolerance=0.5 {extra}"
    )
    argv = [
        os.path.join(VENV_BIN, "ansible-playbook"),
        os.path.join(REPO, "playbooks", "burnin.yml"),
        "-i",
        inventory,
        # One host at a time, so the two burns do not compete for the CPU.
        "--forks",
        "1",
        "-e",
        extra_vars,
    ]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def recap(stdout):
    """{host: {ok: n, changed: n, failed: n, ...}} from the PLAY RECAP."""
    result = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.MULTILINE):
        result[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return result


def test_fleet_passes_writes_reports_and_reuses_records(fleet):
    inventory, report_dir = fleet
    first = run_playbook(inventory, report_dir)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    assert all(recap(first.stdout)[host]["failed"] == 0 for host in HOSTS)

    for name in ("burnin.json", "burnin.md", "burnin.html"):
        assert (report_dir / name).is_file(), name
    report = json.loads((report_dir / "burnin.json").read_text())
    assert report["passed"] is True
    assert sorted(row["host"] for row in report["results"]) == list(HOSTS)
    assert [row["verdict"] for row in report["results"]] == ["pass", "pass"]
    assert all(row["device"] == "cpu" and row["tflops_median"] > 0 for row in report["results"])
    assert all(report["hosts"][host]["passed"] for host in HOSTS)
    html = (report_dir / "burnin.html").read_text()
    # One histogram per model: it draws both GPUs (how many bars depends on how close their TFLOPS are).
    assert "<svg" in html and sum(int(n) for n in re.findall(r'data-gpus="([0-9]+)"', html)) == 2
    assert "| h1 | 0 |" in (report_dir / "burnin.md").read_text()

    second = run_playbook(inventory, report_dir)
    assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-2000:]
    assert {host: counts["changed"] for host, counts in recap(second.stdout).items()} == {"h1": 0, "h2": 0}
    assert json.loads((report_dir / "burnin.json").read_text()) == report


def test_threshold_fails_every_host_naming_it(fleet):
    inventory, report_dir = fleet
    proc = run_playbook(inventory, report_dir, "burnin_min_tflops=1000")
    assert proc.returncode != 0
    counts = recap(proc.stdout)
    assert all(counts[host]["failed"] == 1 for host in HOSTS), proc.stdout[-5000:]
    assert "Burn-in failed on h1" in proc.stdout and "Burn-in failed on h2" in proc.stdout
    assert "min_tflops 1000" in proc.stdout
    # The fleet report is still written, and says why.
    report = json.loads((report_dir / "burnin.json").read_text())
    assert report["passed"] is False
    assert all(row["verdict"] == "fail" for row in report["results"])
