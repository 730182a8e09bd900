# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docker_gpu_check module run in-process against a FAKE docker executable (a test double: no Docker daemon or
GPU container can run here). The fake answers `docker info` and `docker run` from a JSON scenario and logs its argv.
"""

import json
import os
import stat
import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.modules import docker_gpu_check
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main

FAKE_DOCKER = """#!{python}
# FAKE docker for tests: answers from the scenario in $FAKE_DOCKER_SCENARIO, appends its argv to $FAKE_DOCKER_LOG.
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.environ["FAKE_DOCKER_SCENARIO"]) as handle:
    answer = json.load(handle).get(sys.argv[1], {{"rc": 1, "stderr": "unknown command"}})
sys.stdout.write(answer.get("stdout", ""))
sys.stderr.write(answer.get("stderr", ""))
sys.exit(answer.get("rc", 0))
"""

INFO_20_10 = {
    "ServerVersion": "20.10.24+dfsg1",
    "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}},
    "DefaultRuntime": "runc",
    "CDISpecDirs": None,
}
INFO_28 = dict(INFO_20_10, ServerVersion="28.2.2", CDISpecDirs=["/etc/cdi", "/var/run/cdi"])
EIGHT_GPUS = "".join(f"GPU {i}: NVIDIA RTX A6000 (UUID: GPU-{i:08d}-0000-0000-0000-000000000000)\n" for i in range(8))


class FakeDocker:
    def __init__(self, tmp_path, monkeypatch):
        self.bin_dir = tmp_path / "bin"
        self.bin_dir.mkdir()
        self.path = self.bin_dir / "docker"
        self.path.write_text(FAKE_DOCKER.format(python=sys.executable))
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)
        self.scenario = tmp_path / "scenario.json"
        self.log = tmp_path / "docker.log"
        self.log.write_text("")
        monkeypatch.setenv("PATH", f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FAKE_DOCKER_SCENARIO", str(self.scenario))
        monkeypatch.setenv("FAKE_DOCKER_LOG", str(self.log))

    def answers(self, info=None, run=None):
        scenario = {}
        if info is not None:
            scenario["info"] = info if "rc" in info else {"stdout": json.dumps(info) + "\n"}
        if run is not None:
            scenario["run"] = run
        self.scenario.write_text(json.dumps(scenario))

    def calls(self):
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def docker(tmp_path, monkeypatch):
    return FakeDocker(tmp_path, monkeypatch)


def run(args, expect_failure=False):
    return run_module_main(docker_gpu_check.main, args, expect_failure)


def test_docker_info_only(docker):
    docker.answers(info=INFO_20_10)
    result = run({})
    assert result["changed"] is False
    assert result["ready"] is True and result["reasons"] == []
    assert result["docker"]["runtimes"] == ["io.containerd.runc.v2", "nvidia"]
    assert result["cdi_devices"] is False
    assert result["container_test"] is None
    assert docker.calls() == [["info", "--format", "{{json .}}"]]


def test_gpu_container_by_cdi_lists_every_gpu(docker):
    docker.answers(info=INFO_28, run={"stdout": EIGHT_GPUS})
    result = run({"image": "cuda:12.4", "gpus": 8, "require": True})
    assert result["ready"] is True
    assert docker.calls()[1] == ["run", "--rm", "--device", "nvidia.com/gpu=all", "cuda:12.4", "nvidia-smi", "-L"]
    assert result["container_test"]["command"][0] == str(docker.path)
    assert len(result["container_test"]["gpus"]) == 8


def test_gpu_container_by_runtime_before_docker_25(docker):
    docker.answers(info=INFO_20_10, run={"stdout": EIGHT_GPUS})
    result = run({"image": "cuda:12.4", "gpus": 8})
    assert result["ready"] is True
    assert docker.calls()[1] == [
        "run", "--rm", "--runtime", "nvidia", "--env", "NVIDIA_VISIBLE_DEVICES=all", "cuda:12.4", "nvidia-smi", "-L",
    ]  # fmt: skip


FAILED_RUN = {"rc": 125, "stderr": "docker: Error response from daemon: unresolvable CDI devices nvidia.com/gpu=all.\n"}


def test_not_ready_is_reported_when_not_required(docker):
    docker.answers(info=INFO_28, run=FAILED_RUN)
    result = run({"image": "cuda:12.4", "gpus": 8})
    assert result["changed"] is False
    assert result["ready"] is False
    assert result["reasons"] == [
        "docker run --rm --device nvidia.com/gpu=all cuda:12.4 nvidia-smi -L listed 0 of 8 GPUs (exit status 125): "
        "docker: Error response from daemon: unresolvable CDI devices nvidia.com/gpu=all."
    ]


def test_not_ready_fails_when_required(docker):
    docker.answers(info=INFO_28, run={"stdout": EIGHT_GPUS.splitlines(True)[0]})
    result = run({"image": "cuda:12.4", "gpus": 8, "require": True}, expect_failure=True)
    assert result["msg"] == (
        "GPU containers are not ready: docker run --rm --device nvidia.com/gpu=all cuda:12.4 nvidia-smi -L listed 1 "
        "of 8 GPUs"
    )
    assert result["ready"] is False


@pytest.mark.parametrize(
    "info, message",
    [
        pytest.param(
            dict(INFO_20_10, Runtimes={"runc": {"path": "runc"}}),
            "docker info lists the runtimes runc but not nvidia; check runtimes.nvidia in /etc/gpu/daemon.json",
            id="no-runtime",
        ),
        pytest.param(
            dict(INFO_28, CDISpecDirs=None),
            "Docker 28.2.2 reports no CDI spec directories (CDI is off) although it takes CDI device requests; set "
            "features.cdi in /etc/gpu/daemon.json and restart dockerd-gpu",
            id="cdi-off",
        ),
        pytest.param(
            {"rc": 1, "stderr": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"},
            "docker info cannot reach the Docker daemon: Cannot connect to the Docker daemon at "
            "unix:///var/run/docker.sock.; is dockerd-gpu running (systemctl status dockerd-gpu)?",
            id="daemon-down",
        ),
    ],
)
def test_docker_that_cannot_give_gpus_fails_even_when_not_required(docker, info, message):
    docker.answers(info=info, run={"stdout": EIGHT_GPUS})
    result = run(
        {"image": "cuda:12.4", "gpus": 8, "daemon_config_path": "/etc/gpu/daemon.json", "service_name": "dockerd-gpu"},
        expect_failure=True,
    )
    assert result["msg"].startswith(message)
    assert result["ready"] is False
    assert [call[0] for call in docker.calls()] == ["info"]  # no container on such a Docker


def test_restart_pending_does_not_ask_docker(docker):
    docker.answers(info=INFO_28)
    result = run({"image": "cuda:12.4", "gpus": 8, "restart_pending": True})
    assert result["ready"] is False
    assert result["reasons"][0].startswith("/etc/docker/daemon.json changed and docker has not been restarted since")
    assert docker.calls() == []


def test_restart_pending_fails_when_required(docker):
    result = run({"restart_pending": True, "require": True, "service_name": "snap.docker"}, expect_failure=True)
    assert result["msg"] == (
        "GPU containers are not ready: /etc/docker/daemon.json changed and snap.docker has not been restarted since: "
        "restart snap.docker to load the NVIDIA runtime; GPU containers are not checked yet"
    )


def test_check_mode_never_pulls(docker):
    docker.answers(info=INFO_28, run={"rc": 125, "stderr": "docker: Error response from daemon: No such image.\n"})
    result = run({"image": "cuda:12.4", "gpus": 8, "_ansible_check_mode": True})
    assert docker.calls()[1][:4] == ["run", "--rm", "--pull", "never"]
    assert result["changed"] is False and result["ready"] is False
    assert result["reasons"][0].endswith("(exit status 125): docker: Error response from daemon: No such image.")


def test_image_needs_gpus(docker):
    result = run({"image": "cuda:12.4"}, expect_failure=True)
    assert result["msg"] == "gpus is required with image: how many GPUs the test container must list"
    assert docker.calls() == []


def test_no_docker(tmp_path, monkeypatch):
    if any(os.path.exists(os.path.join(d, "docker")) for d in ("/sbin", "/usr/sbin", "/usr/local/sbin")):
        pytest.skip("a docker in an sbin directory, which get_bin_path always searches")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run({}, expect_failure=True)
    assert result["msg"].startswith("docker is not installed")
