# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_command module run in-process against a queue answered by a tiny in-test responder thread."""

import json
import os
import threading

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq
from ansible_collections.gpufleet.nvidia.plugins.modules import gpu_command
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main


class Responder:
    """Answers every queued command like the service would, with a canned payload per command."""

    def __init__(self, root, payloads, secret=None):
        self.root, self.payloads, self.secret = root, payloads, secret
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.wait(0.01):
            for name in cq.list_command_names(self.root):
                path = os.path.join(self.root, cq.COMMANDS_DIR, name)
                with open(path) as handle:
                    command = json.load(handle)
                os.unlink(path)
                self.seen.append(command)
                payload = dict(self.payloads.get(command["command"], {"success": True, "message": "ok"}))
                response = cq.new_response(command["command_id"], payload.pop("success"), **payload)
                if self.secret:
                    response = cq.sign(response, self.secret)
                cq.atomic_write_json(cq.response_path(self.root, command["command_id"]), response)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def root(tmp_path):
    return cq.ensure_layout(str(tmp_path / "q"))


def run_module(args, expect_failure=False, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    return run_module_main(gpu_command.main, args, expect_failure)


@pytest.mark.parametrize(
    "command, model, changed",
    [
        ("version", None, False),
        ("list_models", None, False),
        ("gpu_status", None, False),
        ("show_model", "llama3.2:1b", False),
        ("pull_model", "llama3.2:1b", True),
        ("delete_model", "llama3.2:1b", True),
    ],
)
def test_success_and_changed(root, command, model, changed):
    with Responder(root, {}) as responder:
        result = run_module({"root": root, "command": command, "model_name": model, "timeout": 5})
    assert result["changed"] is changed
    assert result["response"]["success"] is True
    assert responder.seen[0]["command"] == command and responder.seen[0]["model_name"] == model
    assert result["command_id"] == responder.seen[0]["command_id"]


def test_failed_command_fails_with_response(root):
    with Responder(root, {"delete_model": {"success": False, "error": "model 'x' not found"}}):
        result = run_module({"root": root, "command": "delete_model", "model_name": "x", "timeout": 5}, True)
    assert "model 'x' not found" in result["msg"]
    assert result["response"]["success"] is False and result["changed"] is False


def test_timeout_fails_with_hint(root):
    result = run_module({"root": root, "command": "version", "timeout": 1}, expect_failure=True)
    assert "no response" in result["msg"] and "command service running" in result["msg"]


@pytest.mark.parametrize("command", ["pull_model", "delete_model"])
def test_check_mode_does_not_submit_mutating_commands(root, command):
    result = run_module({"root": root, "command": command, "model_name": "m"}, check_mode=True)
    assert result["skipped"] is True and result["changed"] is False
    assert cq.list_command_names(root) == []


def test_check_mode_runs_read_only_commands(root):
    with Responder(root, {}):
        result = run_module({"root": root, "command": "version", "timeout": 5}, check_mode=True)
    assert result["response"]["success"] is True


def test_model_name_required(root):
    result = run_module({"root": root, "command": "pull_model"}, expect_failure=True)
    assert "model_name" in result["msg"]


def test_invalid_model_name_fails_cleanly(root):
    result = run_module({"root": root, "command": "pull_model", "model_name": "../x"}, expect_failure=True)
    assert "not a valid model name" in result["msg"]


def test_missing_queue_fails_cleanly(tmp_path):
    result = run_module({"root": str(tmp_path / "none"), "command": "version"}, expect_failure=True)
    assert "not a command queue" in result["msg"]


def test_secret_signs_and_checks(root, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("k\n")
    with Responder(root, {}, secret=b"k") as responder:
        result = run_module({"root": root, "command": "version", "secret_file": str(secret_file), "timeout": 5})
    assert cq.verify(responder.seen[0], b"k") and result["response"]["success"] is True
    with Responder(root, {}, secret=b"wrong"):
        result = run_module(
            {"root": root, "command": "version", "secret_file": str(secret_file), "timeout": 5}, expect_failure=True
        )
    assert "signature" in result["msg"]
