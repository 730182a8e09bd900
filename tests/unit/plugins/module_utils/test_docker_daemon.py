"""merge_daemon_config / plan_daemon_config on the daemon.json shapes found in the wild."""

import copy
import json

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils.docker_daemon import (
    DaemonConfigError,
    deep_merge,
    merge_daemon_config,
    plan_daemon_config,
    render_daemon_json,
)

PATH = "/etc/docker/daemon.json"
NVIDIA = {"path": "nvidia-container-runtime"}


@pytest.mark.parametrize(
    ("current", "kwargs", "expected"),
    [
        pytest.param({}, {}, {"runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}}, id="empty"),
        pytest.param(
            {"runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": ["--debug"]}}},
            {},
            {
                "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": ["--debug"]}},
                "features": {"cdi": True},
            },
            id="nvidia-runtimeArgs-kept",
        ),
        pytest.param(
            {"runtimes": {"nvidia": {"path": "x", "args": []}, "crun": {"path": "/usr/bin/crun"}}},
            {"nvidia_runtime_path": "/opt/nvidia/bin/nvidia-container-runtime"},
            {
                "runtimes": {
                    "nvidia": {"path": "/opt/nvidia/bin/nvidia-container-runtime", "args": []},
                    "crun": {"path": "/usr/bin/crun"},
                },
                "features": {"cdi": True},
            },
            id="other-runtimes-and-args-kept",
        ),
        pytest.param(
            {"features": {"containerd-snapshotter": True, "buildkit": False, "cdi": False}},
            {},
            {
                "features": {"containerd-snapshotter": True, "buildkit": False, "cdi": True},
                "runtimes": {"nvidia": NVIDIA},
            },
            id="features-other-keys-kept",
        ),
        pytest.param(
            {"default-runtime": "runc"},
            {},
            {"default-runtime": "runc", "runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}},
            id="default-runtime-untouched-when-not-asked",
        ),
        pytest.param(
            {"default-runtime": "runc"},
            {"default_nvidia": True},
            {"default-runtime": "nvidia", "runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}},
            id="default-runtime-nvidia",
        ),
        pytest.param(
            {"default-runtime": "nvidia"},
            {"default_nvidia": False},
            {"default-runtime": "nvidia", "runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}},
            id="default-runtime-nvidia-not-removed",
        ),
        pytest.param(
            {"dns": ["10.0.0.1", "10.0.0.2"], "insecure-registries": ["r:5000"]},
            {"extra_options": {"dns": ["1.1.1.1"]}},
            {
                "dns": ["1.1.1.1"],
                "insecure-registries": ["r:5000"],
                "runtimes": {"nvidia": NVIDIA},
                "features": {"cdi": True},
            },
            id="lists-replaced-by-options-others-kept",
        ),
        pytest.param(
            {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}},
            {"extra_options": {"log-opts": {"max-file": "5", "compress": "true"}}},
            {
                "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "max-file": "5", "compress": "true"},
                "runtimes": {"nvidia": NVIDIA},
                "features": {"cdi": True},
            },
            id="nested-log-opts-merged",
        ),
        pytest.param(
            {"labels": ["site=zürich", "owner=研究室"]},
            {},
            {"labels": ["site=zürich", "owner=研究室"], "runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}},
            id="unicode",
        ),
        pytest.param(
            {},
            {"extra_options": {"features": {"cdi": False}, "runtimes": {"nvidia": {"runtimeArgs": ["--x"]}}}},
            {"features": {"cdi": True}, "runtimes": {"nvidia": {"runtimeArgs": ["--x"], "path": NVIDIA["path"]}}},
            id="managed-keys-win-over-options",
        ),
    ],
)
def test_merge(current, kwargs, expected):
    before = copy.deepcopy(current)
    assert merge_daemon_config(current, **kwargs) == expected
    assert current == before  # the input is not modified


def test_merge_keeps_key_order():
    current = {"storage-driver": "vfs", "features": {"containerd-snapshotter": False}, "iptables": False}
    merged = merge_daemon_config(current)
    assert list(merged) == ["storage-driver", "features", "iptables", "runtimes"]
    assert list(merged["features"]) == ["containerd-snapshotter", "cdi"]


@pytest.mark.parametrize(
    ("current", "where"),
    [
        ({"runtimes": []}, "'runtimes' must be a JSON object, not list"),
        ({"runtimes": {"nvidia": "nvidia-container-runtime"}}, "'runtimes.nvidia' must be a JSON object, not str"),
        ({"features": None}, "'features' must be a JSON object, not NoneType"),
    ],
)
def test_merge_refuses_wrong_types(current, where):
    with pytest.raises(DaemonConfigError, match=where):
        merge_daemon_config(current)


def test_deep_merge_copies():
    overlay = {"a": {"b": [1]}}
    merged = deep_merge({}, overlay)
    merged["a"]["b"].append(2)
    assert overlay == {"a": {"b": [1]}}


# --- plan_daemon_config -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "  \n"], ids=["missing", "empty", "blank"])
def test_plan_missing_or_empty_file(text):
    plan = plan_daemon_config(text, PATH)
    assert plan["changed"] is True
    assert plan["before"] == (text or "")
    assert json.loads(plan["after"]) == {"runtimes": {"nvidia": NVIDIA}, "features": {"cdi": True}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"storage-driver": "vfs",}', "/etc/docker/daemon.json: invalid JSON: "),
        ("{'single': 'quotes'}", "/etc/docker/daemon.json: invalid JSON: Expecting property name"),
        ('["runtimes"]', "/etc/docker/daemon.json: top level must be a JSON object, not list"),
        ('"nvidia"', "/etc/docker/daemon.json: top level must be a JSON object, not str"),
        ('{"runtimes": 1}', "/etc/docker/daemon.json: 'runtimes' must be a JSON object, not int"),
    ],
    ids=["trailing-comma", "single-quotes", "top-level-array", "top-level-string", "runtimes-not-object"],
)
def test_plan_unusable_file(text, message):
    with pytest.raises(DaemonConfigError) as caught:
        plan_daemon_config(text, PATH)
    assert str(caught.value).startswith(message)


def test_plan_semantic_noop_keeps_any_formatting():
    text = (
        '{"features":{"cdi":true,"containerd-snapshotter":false},\n'
        '"runtimes":{"nvidia":{"path":"nvidia-container-runtime","runtimeArgs":[]}}}'
    )
    plan = plan_daemon_config(text, PATH)
    assert plan["changed"] is False
    assert plan["after"] == plan["before"] == text


def test_plan_rendering_is_stable():
    """The file the plan writes is a no-op for the next plan (what the second run of the role sees)."""
    first = plan_daemon_config('{"log-opts": {"max-size": "10m"}, "labels": ["ü"]}', PATH, default_nvidia=True)
    assert first["changed"] is True
    assert "ü" in first["after"]
    second = plan_daemon_config(first["after"], PATH, default_nvidia=True)
    assert second["changed"] is False
    assert render_daemon_json(second["config"]) == first["after"]


@pytest.mark.parametrize(
    ("text", "indent"),
    [
        (None, 4),
        ("", 4),
        ('{"debug": true}', 4),
        ('{\n  "debug": true\n}\n', 2),
        ('{\n    "debug": true\n}\n', 4),
        ('{\n\t"debug": true\n}\n', "\t"),
    ],
)
def test_rewrite_keeps_the_files_indentation(text, indent):
    plan = plan_daemon_config(text, "/etc/docker/daemon.json")
    assert plan["changed"] is True
    assert plan["after"] == json.dumps(plan["config"], indent=indent, ensure_ascii=False) + "\n"
