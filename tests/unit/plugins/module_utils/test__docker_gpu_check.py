# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The judgements of module_utils/_docker_gpu_check.py, table-driven, and check_docker_gpus() with a fake runner."""

import json

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _docker_gpu_check as check
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult
from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import summarize_docker_info

# `docker info --format '{{json .}}'` of Debian bookworm's docker.io (the Molecule nodes' Docker), the keys read.
DEBIAN_20_10 = {
    "ServerVersion": "20.10.24+dfsg1",
    "Runtimes": {
        "io.containerd.runc.v2": {"path": "runc"},
        "io.containerd.runtime.v1.linux": {"path": "runc"},
        "nvidia": {"path": "nvidia-container-runtime"},
        "runc": {"path": "runc"},
    },
    "DefaultRuntime": "runc",
    "CDISpecDirs": None,
}
# Docker 28 with the NVIDIA runtime and CDI.
DOCKER_28 = {
    "ServerVersion": "28.2.2",
    "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}},
    "DefaultRuntime": "runc",
    "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
}
H100_LIST = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-75a7049b-1766-4c8b-b522-a06798ea0fc5)\n"
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
IMG_LIST = ["img", "nvidia-smi", "-L"]
A100_MIG_LIST = (
    "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-fee9cc44-8852-4289-af78-f5dfbc923f83)\n"
    "  MIG 3g.40gb     Device  0: (UUID: MIG-1c2a5e0a-5f3b-5d5e-9f4e-0a1b2c3d4e5f)\n"
    "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-10336df8-e072-4e6c-ae98-17ca15d49537)\n"
)


@pytest.mark.parametrize(
    "version, expected",
    [
        ("25.0.0", True),
        ("25.0", True),
        ("25", True),
        ("28.2.2", True),
        ("v26.1.4", True),
        ("24.0.7", False),
        ("20.10.24+dfsg1", False),
        ("", False),
        (None, False),
        ("dev", False),
    ],
)
def test_docker_supports_cdi_devices(version, expected):
    assert check.docker_supports_cdi_devices(version) is expected


@pytest.mark.parametrize(
    "stdout, expected",
    [
        (H100_LIST, [H100_LIST.strip()]),
        (A100_MIG_LIST, [A100_MIG_LIST.splitlines()[0], A100_MIG_LIST.splitlines()[2]]),  # MIG lines left out
        ("", []),
        (None, []),
        ("No devices were found\n", []),
    ],
)
def test_listed_gpus(stdout, expected):
    assert check.listed_gpus(stdout) == expected


@pytest.mark.parametrize(
    "rc, stdout, stderr, expected_gpus, expected",
    [
        (0, H100_LIST, "", 1, None),
        (0, A100_MIG_LIST, "", 2, None),
        (0, H100_LIST, "", 8, "CMD listed 1 of 8 GPUs"),
        (
            125,
            "",
            'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].\n',
            1,
            "CMD listed 0 of 1 GPUs (exit status 125): docker: Error response from daemon: could not select device "
            'driver "" with capabilities: [[gpu]].',
        ),
        (127, "", "", 1, "CMD listed 0 of 1 GPUs (exit status 127)"),
        (1, H100_LIST, "warning\nlast line\n", 1, "CMD listed 1 of 1 GPUs (exit status 1): last line"),
    ],
)
def test_judge_gpu_container(rc, stdout, stderr, expected_gpus, expected):
    assert check.judge_gpu_container(rc, stdout, stderr, expected_gpus, "CMD") == expected


@pytest.mark.parametrize(
    "cdi_devices, pull_never, expected",
    [
        (True, False, ["docker", "run", "--rm", "--device", "nvidia.com/gpu=all", "img", "nvidia-smi", "-L"]),
        (
            False,
            False,
            ["docker", "run", "--rm", "--runtime", "nvidia", "--env", "NVIDIA_VISIBLE_DEVICES=all", *IMG_LIST],
        ),
        (
            True,
            True,
            ["docker", "run", "--rm", "--pull", "never", "--device", "nvidia.com/gpu=all", "img", "nvidia-smi", "-L"],
        ),
    ],
)
def test_gpu_container_argv(cdi_devices, pull_never, expected):
    assert check.gpu_container_argv("docker", "img", "nvidia", cdi_devices, pull_never) == expected


@pytest.mark.parametrize("info", [DEBIAN_20_10, DOCKER_28], ids=["debian-20.10", "docker-28"])
def test_judge_docker_info_accepts(info):
    check.judge_docker_info(summarize_docker_info(info), "nvidia", "/etc/docker/daemon.json", "docker")


@pytest.mark.parametrize(
    "info, message",
    [
        pytest.param(
            dict(DEBIAN_20_10, Runtimes={"runc": {"path": "runc"}}),
            "docker info lists the runtimes runc but not nvidia; check runtimes.nvidia in /etc/docker/daemon.json "
            "and that its executable is installed (the NVIDIA Container Toolkit's nvidia-container-runtime), then "
            "restart docker",
            id="no-nvidia-runtime",
        ),
        pytest.param(
            dict(DOCKER_28, Runtimes={}),
            "docker info lists the runtimes (none) but not nvidia",
            id="no-runtime-at-all",
        ),
        pytest.param(
            dict(DOCKER_28, CDISpecDirs=[]),
            "Docker 28.2.2 reports no CDI spec directories (CDI is off) although it takes CDI device requests; set "
            "features.cdi in /etc/docker/daemon.json and restart docker",
            id="docker-28-cdi-off",
        ),
        pytest.param(dict(DOCKER_28, ServerVersion="25.0.0", CDISpecDirs=None), "Docker 25.0.0", id="docker-25-null"),
    ],
)
def test_judge_docker_info_refuses(info, message):
    with pytest.raises(check.DockerCheckError) as caught:
        check.judge_docker_info(summarize_docker_info(info), "nvidia", "/etc/docker/daemon.json", "docker")
    assert str(caught.value).startswith(message)


class FakeRunner:
    """Canned CommandResults keyed by the docker subcommand (info, run); records every argv."""

    def __init__(self, **results):
        self.results = results
        self.calls = []

    def __call__(self, argv, timeout=30, env=None, stdin_data=None):
        self.calls.append((argv, timeout))
        return self.results[argv[1]]


def info_result(info):
    return CommandResult(0, json.dumps(info) + "\n", "")


def test_restart_pending_asks_nothing():
    runner = FakeRunner()
    result = check.check_docker_gpus(runner, None, image="img", expected_gpus=1, restart_pending=True)
    assert runner.calls == []
    assert result["ready"] is False
    assert result["reasons"] == [
        "/etc/docker/daemon.json changed and docker has not been restarted since: restart docker to load the NVIDIA "
        "runtime; GPU containers are not checked yet"
    ]
    assert result["docker"] is None and result["container_test"] is None


def test_ready_without_image_asks_docker_info_only():
    runner = FakeRunner(info=info_result(DEBIAN_20_10))
    result = check.check_docker_gpus(runner, "/usr/bin/docker")
    assert [call[0] for call in runner.calls] == [["/usr/bin/docker", "info", "--format", "{{json .}}"]]
    assert result == {
        "ready": True,
        "reasons": [],
        "docker": {
            "version": "20.10.24+dfsg1",
            "runtimes": ["io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "nvidia", "runc"],
            "default_runtime": "runc",
            "cdi_spec_dirs": [],
        },
        "cdi_devices": False,
        "container_test": None,
    }


@pytest.mark.parametrize(
    "info, expected_argv",
    [
        (DOCKER_28, ["/usr/bin/docker", "run", "--rm", "--device", "nvidia.com/gpu=all", "img", "nvidia-smi", "-L"]),
        (
            DEBIAN_20_10,
            ["/usr/bin/docker", "run", "--rm", "--runtime", "nvidia", "--env", "NVIDIA_VISIBLE_DEVICES=all", *IMG_LIST],
        ),
    ],
    ids=["cdi", "runtime"],
)
def test_gpu_container_lists_every_gpu(info, expected_argv):
    runner = FakeRunner(info=info_result(info), run=CommandResult(0, H100_LIST, ""))
    result = check.check_docker_gpus(runner, "/usr/bin/docker", image="img", expected_gpus=1, timeout=42)
    assert runner.calls[1] == (expected_argv, 42)
    assert result["ready"] is True and result["reasons"] == []
    assert result["container_test"] == {"command": expected_argv, "rc": 0, "gpus": [H100_LIST.strip()], "stderr": ""}


def test_gpu_container_missing_gpus_is_not_ready():
    runner = FakeRunner(info=info_result(DOCKER_28), run=CommandResult(0, H100_LIST, ""))
    result = check.check_docker_gpus(runner, "/usr/bin/docker", image="img", expected_gpus=8)
    assert result["ready"] is False
    assert result["reasons"] == ["docker run --rm --device nvidia.com/gpu=all img nvidia-smi -L listed 1 of 8 GPUs"]


@pytest.mark.parametrize(
    "info_run, message",
    [
        pytest.param(
            CommandResult(
                1,
                json.dumps({"ServerVersion": "", "ServerErrors": [DAEMON_DOWN]}) + "\n",
                "",
            ),
            "docker info cannot reach the Docker daemon: Cannot connect to the Docker daemon at "
            "unix:///var/run/docker.sock. Is the docker daemon running?; is docker running (systemctl status docker)?",
            id="server-errors",
        ),
        pytest.param(
            CommandResult(1, "", "permission denied while trying to connect to the Docker daemon socket\n"),
            "docker info cannot reach the Docker daemon: permission denied while trying to connect to the Docker "
            "daemon socket; is docker running (systemctl status docker)?",
            id="stderr-only",
        ),
        pytest.param(
            CommandResult(124, "", ""),
            "docker info cannot reach the Docker daemon: exit status 124; is docker running",
            id="timeout-silent",
        ),
    ],
)
def test_docker_info_failure_raises(info_run, message):
    runner = FakeRunner(info=info_run)
    with pytest.raises(check.DockerCheckError) as caught:
        check.check_docker_gpus(runner, "/usr/bin/docker", image="img", expected_gpus=1)
    assert str(caught.value).startswith(message)
    assert len(runner.calls) == 1  # no container is started on a Docker that cannot be asked


def test_missing_runtime_raises_before_the_container_runs():
    runner = FakeRunner(info=info_result(dict(DOCKER_28, Runtimes={"runc": {}})))
    with pytest.raises(check.DockerCheckError, match="but not nvidia"):
        check.check_docker_gpus(runner, "/usr/bin/docker", image="img", expected_gpus=1)
    assert len(runner.calls) == 1
