# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import container
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult

# ---------------------------------------------------------------------------------------------------------------------
# daemon.json


NVIDIA_DAEMON_JSON = """{
    "default-runtime": "nvidia",
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": ["--debug"]
        },
        "crun": {"path": "/usr/bin/crun"}
    },
    "features": {"cdi": true, "containerd-snapshotter": false},
    "log-driver": "json-file"
}
"""


@pytest.mark.parametrize(
    "text, config, error",
    [
        ("{}", {}, None),
        ("", {}, None),
        ("  \n", {}, None),
        (None, {}, None),
        ('{"features": {"cdi": true, "buildkit": true}}', {"features": {"cdi": True, "buildkit": True}}, None),
        ("[]", None, "top level must be a JSON object, not list"),
        ('"nvidia"', None, "top level must be a JSON object, not str"),
        ("null", None, "top level must be a JSON object, not NoneType"),
        ('{"runtimes": {"nvidia": {"path": "x"}},}', None, "invalid JSON: "),
        ('{"default-runtime": "nvidia"', None, "invalid JSON: "),
    ],
)
def test_parse_daemon_json(text, config, error):
    parsed, message = container.parse_daemon_json(text)
    assert parsed == config
    if error is None:
        assert message is None
    else:
        assert message.startswith(error)


def test_parse_daemon_json_keeps_runtime_args():
    config, error = container.parse_daemon_json(NVIDIA_DAEMON_JSON)
    assert error is None
    assert config["runtimes"]["nvidia"]["runtimeArgs"] == ["--debug"]


@pytest.mark.parametrize(
    "config, runtimes, default_runtime, features",
    [
        (None, [], None, {}),
        ({}, [], None, {}),
        (json.loads(NVIDIA_DAEMON_JSON), ["crun", "nvidia"], "nvidia", {"cdi": True, "containerd-snapshotter": False}),
        ({"runtimes": ["nvidia"], "default-runtime": 3, "features": "cdi"}, [], None, {}),
    ],
)
def test_summarize_daemon_config(config, runtimes, default_runtime, features):
    assert container.summarize_daemon_config(config) == {
        "runtimes": runtimes,
        "default_runtime": default_runtime,
        "features": features,
    }


@pytest.mark.parametrize(
    "content, exists, valid, error",
    [
        (None, False, False, None),
        ("{}", True, True, None),
        (NVIDIA_DAEMON_JSON, True, True, None),
        ("[1, 2]", True, False, "top level must be a JSON object"),
        ("{oops", True, False, "invalid JSON"),
    ],
)
def test_read_daemon_json(tmp_path, content, exists, valid, error):
    path = tmp_path / "daemon.json"
    if content is not None:
        path.write_text(content)
    fact = container.read_daemon_json(str(path))
    assert fact["path"] == str(path)
    assert fact["exists"] is exists
    assert fact["valid"] is valid
    if error is None:
        assert fact["error"] is None
    else:
        assert error in fact["error"]
    assert set(fact) == {"path", "exists", "valid", "error", "runtimes", "default_runtime", "features"}


# ---------------------------------------------------------------------------------------------------------------------
# docker and nvidia-ctk


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Docker version 28.2.2, build e6534b4\n", "28.2.2"),
        ("Docker version 20.10.24+dfsg1, build 297e128\n", "20.10.24+dfsg1"),
        ("Docker version 24.0.7-ce, build afdd53b", "24.0.7-ce"),
        ("podman version 4.9.3", None),
        ("", None),
    ],
)
def test_parse_docker_client_version(text, expected):
    assert container.parse_docker_client_version(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("NVIDIA Container Toolkit CLI version 1.17.8\ncommit: f2e6b7e0b8ad2ee1b0a34a5e7b6e5a2a7e5c4d3e\n", "1.17.8"),
        ("NVIDIA Container Toolkit CLI version 1.14.0-rc.1\ncommit: abc\n", "1.14.0-rc.1"),
        ("NVIDIA Container Toolkit CLI version v1.13.5", "1.13.5"),
        ("Usage: nvidia-ctk [global options]", None),
    ],
)
def test_parse_nvidia_ctk_version(text, expected):
    assert container.parse_nvidia_ctk_version(text) == expected


def docker_info(**overrides):
    info = {
        "ServerVersion": "28.2.2",
        "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}},
        "DefaultRuntime": "nvidia",
        "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
        "ClientInfo": {"Version": "28.2.2"},
    }
    info.update(overrides)
    return info


DAEMON_DOWN = docker_info(ServerVersion="", Runtimes=None, DefaultRuntime="", CDISpecDirs=None)


class FakeRunner:
    """Canned results keyed by the program's basename and first argument; records calls."""

    def __init__(self, results):
        self.results = results
        self.calls = []

    def __call__(self, argv, timeout=30, env=None, stdin_data=None):
        self.calls.append(argv)
        key = (argv[0].rsplit("/", 1)[-1], argv[1])
        return self.results.get(key, CommandResult(127, "", "not found"))


@pytest.mark.parametrize(
    "info_result, features, expected",
    [
        pytest.param(
            CommandResult(0, json.dumps(docker_info()), ""),
            {},
            {
                "version": "28.2.2",
                "daemon_running": True,
                "runtimes": ["io.containerd.runc.v2", "nvidia"],
                "default_runtime": "nvidia",
                "cdi_enabled": True,
                "error": None,
            },
            id="running-cdi-on",
        ),
        pytest.param(
            CommandResult(0, json.dumps(docker_info(CDISpecDirs=None, DefaultRuntime="runc")), ""),
            {"cdi": True},
            {"default_runtime": "runc", "cdi_enabled": False},
            id="running-daemon-wins-over-unapplied-daemon-json",
        ),
        pytest.param(
            CommandResult(0, json.dumps({k: v for k, v in docker_info().items() if k != "CDISpecDirs"}), ""),
            {"cdi": True},
            {"cdi_enabled": True},
            id="old-docker-without-cdi-field-uses-daemon-json",
        ),
        pytest.param(
            CommandResult(
                1,
                json.dumps(DAEMON_DOWN) + "\n",
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
            ),
            {"cdi": True},
            {
                "version": "28.2.2",
                "daemon_running": False,
                "runtimes": [],
                "default_runtime": None,
                "cdi_enabled": True,
                "error": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                "Is the docker daemon running?",
            },
            id="daemon-down",
        ),
        pytest.param(
            CommandResult(1, "", "permission denied while trying to connect to the Docker daemon socket\n"),
            {},
            {
                "version": "20.10.24",
                "daemon_running": False,
                "error": "permission denied while trying to connect to the Docker daemon socket",
            },
            id="no-json-falls-back-to-docker-version",
        ),
        pytest.param(
            CommandResult(124, "", "docker timed out after 15s"),
            {},
            {"version": "20.10.24", "daemon_running": False, "error": "docker timed out after 15s"},
            id="timeout",
        ),
    ],
)
def test_inspect_docker(info_result, features, expected):
    runner = FakeRunner(
        {
            ("docker", "info"): info_result,
            ("docker", "--version"): CommandResult(0, "Docker version 20.10.24, build 297e128\n", ""),
        }
    )
    fact = container.inspect_docker("/usr/bin/docker", features, runner)
    assert fact["installed"] is True
    assert fact["path"] == "/usr/bin/docker"
    for key, value in expected.items():
        assert fact[key] == value, key
    assert runner.calls[0] == ["/usr/bin/docker", "info", "--format", "{{json .}}"]


def test_inspect_docker_not_installed():
    runner = FakeRunner({})
    fact = container.inspect_docker(None, {"cdi": True}, runner)
    assert fact == {
        "installed": False,
        "path": None,
        "version": None,
        "daemon_running": False,
        "runtimes": [],
        "default_runtime": None,
        "cdi_enabled": True,
        "error": None,
    }
    assert runner.calls == []


# ---------------------------------------------------------------------------------------------------------------------
# CDI


NVIDIA_CTK_YAML = """---
cdiVersion: 0.5.0
containerEdits:
  deviceNodes:
  - path: /dev/nvidia-modeset
  - path: /dev/nvidia-uvm
  hooks:
  - args:
    - nvidia-cdi-hook
    - create-symlinks
    hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
devices:
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
  name: "0"
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
  name: GPU-4c6c2a84-3b5f-9f3c-5a1b-000000000001
- containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/nvidia1
  name: all
kind: nvidia.com/gpu
"""

HAND_WRITTEN_YAML = """# written by hand
cdiVersion: "0.6.0"
kind: 'example.com/fpga'   # vendor/class
devices:
  - name: 'fpga0'
    containerEdits:
      env:
        - name: NOT_A_DEVICE
  -
    name: fpga1  # trailing comment
    annotations:
      name: also-not-a-device
containerEdits: {}
"""

CDI_JSON = json.dumps(
    {
        "cdiVersion": "0.5.0",
        "kind": "nvidia.com/gpu",
        "devices": [
            {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
            {"name": "all", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
        ],
        "containerEdits": {},
    }
)


@pytest.mark.parametrize(
    "text, kind, devices",
    [
        (NVIDIA_CTK_YAML, "nvidia.com/gpu", ["0", "GPU-4c6c2a84-3b5f-9f3c-5a1b-000000000001", "all"]),
        (HAND_WRITTEN_YAML, "example.com/fpga", ["fpga0", "fpga1"]),
        ("kind: nvidia.com/gpu\ndevices: []\n", "nvidia.com/gpu", []),
        ("", None, []),
    ],
)
def test_parse_cdi_yaml_lines(text, kind, devices):
    assert container.parse_cdi_yaml_lines(text) == {"kind": kind, "devices": devices}


@pytest.mark.parametrize("has_yaml", [True, False])
@pytest.mark.parametrize(
    "filename, text, expected, error",
    [
        ("nvidia.yaml", NVIDIA_CTK_YAML, ["0", "GPU-4c6c2a84-3b5f-9f3c-5a1b-000000000001", "all"], None),
        ("fpga.yml", HAND_WRITTEN_YAML, ["fpga0", "fpga1"], None),
        ("nvidia.json", CDI_JSON, ["0", "all"], None),
        ("broken.json", '{"kind": "nvidia.com/gpu",', None, "broken.json: invalid JSON"),
        ("nokind.json", '{"devices": [{"name": "0"}]}', None, "nokind.json: missing or malformed 'kind'"),
        ("badkind.yaml", "kind: gpu\ndevices:\n- name: '0'\n", None, "badkind.yaml: missing or malformed 'kind'"),
        ("list.json", "[]", None, "list.json: not a CDI spec"),
    ],
)
def test_parse_cdi_spec(has_yaml, filename, text, expected, error):
    if has_yaml and not container.HAS_YAML:
        pytest.skip("PyYAML is not installed")
    spec, message = container.parse_cdi_spec(text, filename, has_yaml=has_yaml)
    if error is None:
        assert message is None
        assert spec["devices"] == expected
    else:
        assert spec is None
        assert message.startswith(error)


def test_parse_cdi_spec_invalid_yaml():
    if not container.HAS_YAML:
        pytest.skip("PyYAML is not installed")
    spec, message = container.parse_cdi_spec("kind: [unclosed\n", "bad.yaml")
    assert spec is None
    assert message.startswith("bad.yaml: invalid YAML")


@pytest.mark.parametrize("has_yaml", [True, False])
def test_inspect_container_runtime(tmp_path, monkeypatch, has_yaml):
    if has_yaml and not container.HAS_YAML:
        pytest.skip("PyYAML is not installed")
    monkeypatch.setattr(container, "HAS_YAML", has_yaml)
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text(NVIDIA_DAEMON_JSON)
    etc_cdi = tmp_path / "etc-cdi"
    run_cdi = tmp_path / "run-cdi"
    etc_cdi.mkdir()
    run_cdi.mkdir()
    (etc_cdi / "nvidia.yaml").write_text(NVIDIA_CTK_YAML)
    (etc_cdi / "fpga.json").write_text(json.dumps({"kind": "example.com/fpga", "devices": [{"name": "f0"}]}))
    (etc_cdi / "README.txt").write_text("not a spec")
    (etc_cdi / "broken.json").write_text("{")
    (run_cdi / "nvidia.json").write_text(CDI_JSON)  # redeclares nvidia.com/gpu=0 and =all
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("docker", "nvidia-ctk", "nvidia-container-runtime"):
        (bin_dir / program).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / program).chmod(0o755)
    runner = FakeRunner(
        {
            ("docker", "info"): CommandResult(0, json.dumps(docker_info()), ""),
            ("nvidia-ctk", "--version"): CommandResult(0, "NVIDIA Container Toolkit CLI version 1.17.8\n", ""),
        }
    )

    fact = container.inspect_container_runtime(
        daemon_json_path=str(daemon_json),
        cdi_spec_dirs=(str(etc_cdi), str(run_cdi), str(tmp_path / "missing")),
        runner=runner,
        path_env=str(bin_dir),
    )

    assert fact["docker"]["path"] == str(bin_dir / "docker")
    assert fact["docker"]["runtimes"] == ["io.containerd.runc.v2", "nvidia"]
    assert fact["daemon_json"]["valid"] is True
    assert fact["daemon_json"]["runtimes"] == ["crun", "nvidia"]
    assert fact["daemon_json"]["default_runtime"] == "nvidia"
    assert fact["nvidia_ctk"] == {"path": str(bin_dir / "nvidia-ctk"), "version": "1.17.8"}
    assert fact["nvidia_container_runtime"] == {"path": str(bin_dir / "nvidia-container-runtime")}
    assert fact["cdi"]["spec_files"] == [
        str(etc_cdi / "broken.json"),
        str(etc_cdi / "fpga.json"),
        str(etc_cdi / "nvidia.yaml"),
        str(run_cdi / "nvidia.json"),
    ]
    assert fact["cdi"]["devices"] == [
        "example.com/fpga=f0",
        "nvidia.com/gpu=0",
        "nvidia.com/gpu=GPU-4c6c2a84-3b5f-9f3c-5a1b-000000000001",
        "nvidia.com/gpu=all",
    ]
    errors = fact["cdi"]["errors"]
    assert len(errors) == 3
    assert errors[0].startswith(str(etc_cdi / "broken.json") + ": invalid JSON")
    assert errors[1] == "nvidia.com/gpu=0 declared in both {} and {}".format(
        etc_cdi / "nvidia.yaml",
        run_cdi / "nvidia.json",
    )
    assert errors[2].startswith("nvidia.com/gpu=all declared in both")


def test_inspect_container_runtime_bare_host(tmp_path):
    runner = FakeRunner({})
    fact = container.inspect_container_runtime(
        daemon_json_path=str(tmp_path / "daemon.json"),
        cdi_spec_dirs=(str(tmp_path / "cdi"),),
        runner=runner,
        path_env=str(tmp_path),
    )
    assert fact["docker"]["installed"] is False
    assert fact["daemon_json"]["exists"] is False
    assert fact["nvidia_ctk"] == {"path": None, "version": None}
    assert fact["nvidia_container_runtime"] == {"path": None}
    assert fact["cdi"] == {"spec_files": [], "devices": [], "errors": []}
    assert runner.calls == []
