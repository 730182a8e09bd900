"""The docker_daemon_config module run in-process against files in a temporary directory."""

import json
import os
import stat

import pytest
from ansible_collections.gpufleet.nvidia.plugins.modules import docker_daemon_config
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import (
    run_module_main,
)

EXISTING = {
    "storage-driver": "vfs",
    "features": {"containerd-snapshotter": False},
    "log-opts": {"max-size": "10m"},
}


def run_module(args, expect_failure=False):
    """Run docker_daemon_config.main() with args; return the exit_json (or fail_json) keyword arguments."""
    return run_module_main(docker_daemon_config.main, args, expect_failure)


@pytest.fixture
def daemon_json(tmp_path):
    path = tmp_path / "docker" / "daemon.json"
    path.parent.mkdir()
    return path


def siblings(path):
    return sorted(entry.name for entry in path.parent.iterdir())


def test_missing_file_is_created(daemon_json):
    result = run_module({"path": str(daemon_json)})
    assert result["changed"] is True
    assert "backup_file" not in result
    written = json.loads(daemon_json.read_text())
    assert written == {"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}, "features": {"cdi": True}}
    assert result["config"] == written
    assert siblings(daemon_json) == ["daemon.json"]  # no temporary file left


def test_merge_keeps_keys_backs_up_and_keeps_mode(daemon_json):
    original = json.dumps(EXISTING)
    daemon_json.write_text(original)
    os.chmod(daemon_json, 0o600)
    result = run_module({"path": str(daemon_json), "default_runtime_nvidia": True})
    assert result["changed"] is True
    written = json.loads(daemon_json.read_text())
    assert written["storage-driver"] == "vfs"
    assert written["log-opts"] == {"max-size": "10m"}
    assert written["features"] == {"containerd-snapshotter": False, "cdi": True}
    assert written["default-runtime"] == "nvidia"
    assert stat.S_IMODE(os.stat(daemon_json).st_mode) == 0o600
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(daemon_json.parent)
    with open(backup) as handle:
        assert handle.read() == original


def test_second_run_is_a_noop(daemon_json):
    daemon_json.write_text(json.dumps(EXISTING))
    run_module({"path": str(daemon_json)})
    after_first = daemon_json.read_bytes()
    mtime = os.stat(daemon_json).st_mtime_ns
    result = run_module({"path": str(daemon_json), "_ansible_diff": True})
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]
    assert daemon_json.read_bytes() == after_first
    assert os.stat(daemon_json).st_mtime_ns == mtime


def test_semantic_noop_with_other_formatting(daemon_json):
    text = '{"features":{"cdi":true},"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}}}'
    daemon_json.write_text(text)
    result = run_module({"path": str(daemon_json)})
    assert result["changed"] is False
    assert daemon_json.read_text() == text
    assert siblings(daemon_json) == ["daemon.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"storage-driver": "vfs",', "invalid JSON"),
        (b'["storage-driver"]', "top level must be a JSON object, not list"),
        (b'{"features": ["cdi"]}', "'features' must be a JSON object, not list"),
        (b'{"labels": ["\xff"]}', "not UTF-8 text"),
    ],
)
def test_unusable_file_fails_and_stays_byte_for_byte(daemon_json, content, message):
    daemon_json.write_bytes(content)
    result = run_module({"path": str(daemon_json)}, expect_failure=True)
    assert str(daemon_json) in result["msg"]
    assert message in result["msg"]
    assert daemon_json.read_bytes() == content
    assert siblings(daemon_json) == ["daemon.json"]


def test_check_mode_writes_nothing_and_shows_the_diff(daemon_json):
    original = json.dumps(EXISTING)
    daemon_json.write_text(original)
    result = run_module({"path": str(daemon_json), "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True
    assert daemon_json.read_text() == original
    assert siblings(daemon_json) == ["daemon.json"]
    assert result["diff"]["before"] == original
    assert json.loads(result["diff"]["after"]) == result["config"]
    assert result["config"]["features"] == {"containerd-snapshotter": False, "cdi": True}


def test_check_mode_on_missing_file_creates_nothing(daemon_json):
    result = run_module({"path": str(daemon_json), "_ansible_check_mode": True})
    assert result["changed"] is True
    assert not daemon_json.exists()


def test_validate_failure_leaves_the_file(daemon_json):
    original = json.dumps(EXISTING)
    daemon_json.write_text(original)
    result = run_module({"path": str(daemon_json), "validate": "false %s"}, expect_failure=True)
    assert "validation of the new" in result["msg"]
    assert daemon_json.read_text() == original
    assert siblings(daemon_json) == ["daemon.json"]  # neither temporary file nor backup


def test_validate_gets_the_new_content(daemon_json, tmp_path):
    seen = tmp_path / "seen.json"
    daemon_json.write_text(json.dumps(EXISTING))
    result = run_module({"path": str(daemon_json), "validate": "cp %s " + str(seen), "backup": False})
    assert result["changed"] is True
    assert "backup_file" not in result
    assert json.loads(seen.read_text()) == json.loads(daemon_json.read_text())
    assert siblings(daemon_json) == ["daemon.json"]


def test_validate_without_placeholder_is_refused(daemon_json):
    result = run_module({"path": str(daemon_json), "validate": "dockerd --validate"}, expect_failure=True)
    assert "must contain %s" in result["msg"]
    assert not daemon_json.exists()


def test_options_merge_and_runtime_path(daemon_json):
    daemon_json.write_text(json.dumps(EXISTING))
    result = run_module(
        {
            "path": str(daemon_json),
            "nvidia_runtime_path": "/usr/bin/nvidia-container-runtime",
            "options": {"log-opts": {"max-file": "3"}, "live-restore": True},
        }
    )
    written = json.loads(daemon_json.read_text())
    assert written["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert written["live-restore"] is True
    assert written["runtimes"]["nvidia"] == {"path": "/usr/bin/nvidia-container-runtime"}
    assert result["config"] == written
