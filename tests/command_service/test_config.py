# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The daemon's configuration: one validation for starting and for `--check-config` (which the role's template runs
before a rendered config replaces the old one)."""

import json
import os
import subprocess
import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq
from gpufleet_command.config import DEFAULTS, ConfigError, load_config

from ansible_collections.gpufleet.nvidia.tests.command_service.harness import ENV

GOOD = "root: /srv/gpufleet/queue\nollama_url: http://127.0.0.1:11434\nworker_id: gpu-07\n"


def check_config(*args):
    return subprocess.run(
        [sys.executable, "-m", "gpufleet_command.service", "--check-config", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def write(tmp_path, text, name="command-service.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


BAD_CONFIGS = [
    ("unknown key", GOOD + "bogus: 1\n", "unknown keys: bogus"),
    ("not YAML", "root: [unclosed\n", "not valid YAML"),
    ("not a mapping", "- root\n- /srv\n", "must be a mapping of settings, not list"),
    ("no root", "ollama_url: http://127.0.0.1:11434\n", "no queue root"),
    ("root not a string", "root: 5\n", "root must be a non-empty string, not 5"),
    ("relative root", "root: queue\n", "root must be an absolute path, not 'queue'"),
    ("worker id with a space", "root: /q\nworker_id: gpu 07\n", "worker_id 'gpu 07': it must match ^[A-Za-z0-9_.-]"),
    ("worker id with a slash", "root: /q\nworker_id: a/b\n", "worker_id 'a/b': it must match"),
    ("hidden worker id", "root: /q\nworker_id: .w\n", "worker_id '.w': it must not start with a dot"),
    ("worker id not a string", "root: /q\nworker_id: 7\n", "worker_id 7: it must be a string"),
    ("zero rescan", "root: /q\nrescan_interval: 0\n", "rescan_interval must be positive, not 0.0"),
    ("negative lease", "root: /q\nlease_timeout: -5\n", "lease_timeout must be positive"),
    ("word for a number", "root: /q\ncommand_timeout: soon\n", "command_timeout must be a number, not 'soon'"),
    ("boolean for a number", "root: /q\ncommand_timeout: true\n", "command_timeout must be a number, not True"),
    ("negative retention", "root: /q\nretention_days: -1\n", "retention_days must be 0 (keep everything) or more"),
    ("log format", "root: /q\nlog_format: xml\n", "log_format must be json or text, not 'xml'"),
    ("URL scheme", "root: /q\nollama_url: ftp://ollama:21\n", "ollama_url must be an http:// or https:// URL"),
    ("URL without scheme", "root: /q\nollama_url: 127.0.0.1:11434\n", "ollama_url must be an http:// or https://"),
    ("missing secret", "root: /q\nsecret_file: /nonexistent/secret\n", "secret_file /nonexistent/secret cannot be"),
]


@pytest.mark.parametrize("text, problem", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_file_and_the_problem(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith("config %s: " % path)
    assert problem in str(raised.value)


def test_empty_secret_file_is_refused(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("  \n")
    path = write(tmp_path, "root: /q\nsecret_file: %s\n" % secret)
    with pytest.raises(ConfigError, match="secret_file: secret file %s is empty" % secret):
        load_config(path)


def test_missing_config_file(tmp_path):
    path = str(tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="config %s: cannot read it: No such file or directory" % path):
        load_config(path)


def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    config = load_config(write(tmp_path, "root: /srv/q/\nworker_id: w1\nrescan_interval: 2\n"))
    assert config["root"] == "/srv/q"
    assert config["rescan_interval"] == 2.0
    assert config["lease_timeout"] == DEFAULTS["lease_timeout"] and config["log_format"] == "json"


def test_empty_file_and_command_line_root(tmp_path):
    config = load_config(write(tmp_path, ""), {"root": "/q", "worker_id": "w"})
    assert config["root"] == "/q" and config["worker_id"] == "w"


def test_a_bad_option_is_blamed_on_the_command_line(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, GOOD), {"worker_id": "no way"})
    assert str(raised.value).startswith("--worker-id on the command line: worker_id 'no way'")


def test_check_config_accepts_and_prints_settings_and_queue_dirs(tmp_path):
    root = tmp_path / "queue"
    path = write(tmp_path, "root: %s\nworker_id: gpu-07\nretention_days: 3\n" % root)
    result = check_config("--config", path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["config"] == path
    assert report["settings"]["worker_id"] == "gpu-07" and report["settings"]["retention_days"] == 3.0
    # The layout the role creates comes from here: the protocol's directories, in its order.
    assert report["queue_dirs"] == [str(root / name) for name in cq.QUEUE_DIRS]
    assert not root.exists(), "--check-config must not touch the queue"


@pytest.mark.parametrize("text, problem", [c[1:] for c in BAD_CONFIGS[:8]], ids=[c[0] for c in BAD_CONFIGS[:8]])
def test_check_config_refuses_with_exit_2_on_stderr(tmp_path, text, problem):
    path = write(tmp_path, text)
    result = check_config("--config", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("gpufleet-command-service: invalid configuration: config %s: " % path)
    assert problem in result.stderr


def test_check_config_with_options_only(tmp_path):
    result = check_config("--root", str(tmp_path / "q"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["queue_dirs"][0] == str(tmp_path / "q" / cq.COMMANDS_DIR)


def test_daemon_refuses_to_start_on_what_check_config_refuses(tmp_path):
    path = write(tmp_path, "root: %s\nworker_id: a/b\n" % (tmp_path / "q"))
    result = subprocess.run(
        [sys.executable, "-m", "gpufleet_command.service", "--config", path],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    event = json.loads(result.stdout.splitlines()[0])
    assert event["event"] == "config_error" and event["config"] == path and "worker_id 'a/b'" in event["error"]
    assert not os.path.exists(tmp_path / "q")
