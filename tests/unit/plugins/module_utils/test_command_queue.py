# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command queue protocol: validation, canonical JSON and HMAC, atomic writes, claims, leases, retention."""

import json
import os
import threading
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq


@pytest.fixture
def root(tmp_path):
    return cq.ensure_layout(str(tmp_path / "q"), worker_id="w1")


def cmd(**overrides):
    base = {"command": "version", "model_name": None, "timestamp": "2026-01-01T00:00:00Z", "command_id": "abc-1"}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    "data, error",
    [
        (cmd(), None),
        (cmd(command="pull_model", model_name="llama3.2:1b"), None),
        (cmd(command="pull_model", model_name="hf.co/user/repo:Q4_K_M"), None),
        (cmd(command="show_model", model_name="registry.ollama.ai/library/qwen2.5:0.5b"), None),
        (cmd(command_id="a" * 128), None),
        (cmd(command_id="a" * 129), "command_id must match"),
        (cmd(command_id=""), "command_id must match"),
        (cmd(command_id="../etc/passwd"), "command_id must match"),
        (cmd(command_id="a/b"), "command_id must match"),
        (cmd(command_id=".."), "must not start with a dot"),
        (cmd(command_id=".hidden"), "must not start with a dot"),
        (cmd(command_id=42), "command_id must be a string"),
        (cmd(command_id="sp ace"), "command_id must match"),
        ({"command": "version"}, "command_id must be a string"),
        (cmd(command="rm_rf"), "unknown command 'rm_rf'"),
        (cmd(command=None), "unknown command"),
        (cmd(command="pull_model"), "pull_model needs model_name"),
        (cmd(command="delete_model", model_name=""), "delete_model needs model_name"),
        (cmd(command="pull_model", model_name="../x"), "is not a valid model name"),
        (cmd(command="pull_model", model_name="a b"), "is not a valid model name"),
        (cmd(command="pull_model", model_name="x;rm -rf /"), "is not a valid model name"),
        (cmd(command="pull_model", model_name=["x"]), "model_name must be a string"),
        (cmd(timestamp=12), "timestamp must be an ISO-8601 string"),
        ([], "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{" + b" " * cq.MAX_COMMAND_BYTES + b"}", "larger than"),
    ],
)
def test_validate_command(data, error):
    command, got = cq.validate_command(data)
    if error is None:
        assert got is None and command["command_id"] == data["command_id"]
    else:
        assert command is None and error in got


def test_validate_accepts_json_text_and_normalizes_empty_model():
    command, error = cq.validate_command(json.dumps(cmd(model_name="")))
    assert error is None and command["model_name"] is None


@pytest.mark.parametrize(
    "data, file_name, expected",
    [
        (cmd(), "abc-1.json", "abc-1"),
        ({"command_id": "../x"}, "good.json", "good"),
        ("garbage", "also-good.json", "also-good"),
        ("garbage", ".hidden.json", None),
        ("garbage", "no suffix", None),
        (None, None, None),
    ],
)
def test_usable_command_id(data, file_name, expected):
    assert cq.usable_command_id(data, file_name) == expected


def test_canonical_json_is_sorted_compact_utf8_without_signature():
    obj = {"b": 1, "a": "ü", "signature": "x"}
    assert cq.canonical_json(obj) == '{"a":"ü","b":1}'.encode()


def test_sign_and_verify_round_trip_and_tamper():
    signed = cq.sign(cmd(), b"secret")
    assert "signature" not in cmd() and len(signed["signature"]) == 64
    assert cq.verify(signed, "secret")  # str and bytes secrets are the same secret
    assert not cq.verify(signed, b"other")
    assert not cq.verify(dict(signed, command="pull_model"), b"secret")
    assert not cq.verify(cmd(), b"secret")
    # Key order and whitespace of the file do not matter: the signature covers the canonical form.
    reparsed = json.loads(json.dumps(signed, indent=4, sort_keys=False))
    assert cq.verify(reparsed, b"secret")


def test_signature_matches_documented_recipe():
    import hashlib
    import hmac

    obj = cmd()
    expected = hmac.new(
        b"k", json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(), hashlib.sha256
    ).hexdigest()
    assert cq.sign(obj, b"k")["signature"] == expected


def test_read_secret_file(tmp_path):
    path = tmp_path / "s"
    path.write_text("  hunter2\n")
    assert cq.read_secret_file(str(path)) == b"hunter2"
    path.write_text("\n")
    with pytest.raises(cq.CommandQueueError):
        cq.read_secret_file(str(path))


def test_new_command_shape():
    command = cq.new_command("pull_model", "llama3.2:1b")
    assert set(command) == {"command", "model_name", "timestamp", "command_id"}
    assert cq.command_id_error(command["command_id"]) is None
    assert command["timestamp"].endswith("+00:00")


def test_submit_writes_atomically_and_signs(root):
    command_id = cq.submit(root, cq.new_command("version", command_id="x1"), secret=b"k")
    assert command_id == "x1"
    assert os.listdir(os.path.join(root, cq.COMMANDS_DIR)) == ["x1.json"]  # no temp file left behind
    with open(cq.command_path(root, "x1")) as handle:
        written = json.load(handle)
    assert cq.verify(written, b"k")


def test_submit_rejects_invalid_and_missing_queue(root, tmp_path):
    with pytest.raises(cq.CommandQueueError, match="unknown command"):
        cq.submit(root, cmd(command="nope"))
    with pytest.raises(cq.CommandQueueError, match="not a command queue"):
        cq.submit(str(tmp_path / "nowhere"), cmd())


def test_readers_never_see_partial_files(root):
    """A reader polling while a writer rewrites the response sees nothing or a complete JSON object."""
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        while not stop.is_set():
            cq.atomic_write_json(cq.response_path(root, "r1"), {"command_id": "r1", "success": True, "pad": "x" * i})
            i = (i + 997) % 60000

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                response = cq.read_response(root, "r1")
            except cq.CommandQueueError as exc:
                errors.append(str(exc))
                continue
            assert response is None or response["command_id"] == "r1"
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert [n for n in os.listdir(os.path.join(root, cq.RESPONSES_DIR)) if cq.is_temporary_name(n)] == []


def test_read_response_checks_signature(root):
    cq.atomic_write_json(cq.response_path(root, "r2"), cq.new_response("r2", True, message="ok"))
    assert cq.read_response(root, "r2")["message"] == "ok"
    with pytest.raises(cq.CommandQueueError, match="signature"):
        cq.read_response(root, "r2", secret=b"k")
    cq.atomic_write_json(cq.response_path(root, "r2"), cq.sign(cq.new_response("r2", True), b"k"))
    assert cq.read_response(root, "r2", secret=b"k")["success"] is True
    with pytest.raises(cq.CommandQueueError):
        cq.read_response(root, "../r2")


def test_wait_for_response_sees_late_file_and_times_out(root):
    timer = threading.Timer(0.2, cq.atomic_write_json, (cq.response_path(root, "late"), cq.new_response("late", True)))
    timer.start()
    started = time.monotonic()
    assert cq.wait_for_response(root, "late", timeout=5)["success"] is True
    assert time.monotonic() - started < 2
    started = time.monotonic()
    assert cq.wait_for_response(root, "never", timeout=0.2) is None
    assert 0.15 < time.monotonic() - started < 1.5


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "oversize", "garbage"])
def test_read_json_file_rejects(tmp_path, kind):
    path = str(tmp_path / "f.json")
    target = tmp_path / "target.json"
    target.write_text("{}")
    if kind == "symlink":
        os.symlink(str(target), path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "oversize":
        with open(path, "w") as handle:
            handle.write('{"a": "%s"}' % ("x" * cq.MAX_COMMAND_BYTES))
    else:
        with open(path, "wb") as handle:
            handle.write(b"\x00\x01garbage")
    with pytest.raises(cq.CommandQueueError):
        cq.read_json_file(path)


def test_list_skips_temporary_names(root):
    for name in ("a.json", ".a.json.123.tmp", "b.json.tmp", ".hidden", "c.json"):
        open(os.path.join(root, cq.COMMANDS_DIR, name), "w").close()
    assert cq.list_command_names(root) == ["a.json", "c.json"]


def test_claim_race_has_exactly_one_winner(root):
    workers = ["w%d" % i for i in range(8)]
    for worker in workers:
        cq.ensure_layout(root, worker)
    names = []
    for i in range(50):
        names.append(cq.submit(root, cq.new_command("version", command_id="c%02d" % i)) + ".json")
    wins = {worker: [] for worker in workers}
    barrier = threading.Barrier(len(workers))

    def race(worker):
        barrier.wait()
        for name in names:
            if cq.claim(root, name, worker):
                wins[worker].append(name)

    threads = [threading.Thread(target=race, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = sorted(n for won in wins.values() for n in won)
    assert claimed == sorted(names)  # each exactly once


def test_stale_claims_are_requeued_after_lease_timeout(root):
    cq.ensure_layout(root, "dead")
    cq.submit(root, cmd(command_id="s1"))
    assert cq.claim(root, "s1.json", "dead")
    lease_time = cq.renew_lease(root, "dead")
    assert cq.requeue_stale_claims(root, 60, now=lease_time + 1, own_worker_id="w1") == {}
    assert cq.requeue_stale_claims(root, 60, now=lease_time + 61, own_worker_id="w1") == {"dead": ["s1.json"]}
    assert cq.list_command_names(root) == ["s1.json"]
    assert not os.path.exists(os.path.join(root, cq.PROCESSING_DIR, "dead"))  # the dead worker's dir is gone
    cq.renew_lease(root, "dead")  # and comes back if that worker was only stalled
    # A worker never requeues its own claims through the lease check.
    assert cq.claim(root, "s1.json", "w1")
    assert cq.requeue_stale_claims(root, 0, now=lease_time + 1000, own_worker_id="w1") == {}
    assert cq.requeue_claims(root, "w1") == ["s1.json"]


def test_move_to_writes_reason_and_never_overwrites(root):
    for _copy in range(2):
        path = os.path.join(root, cq.PROCESSING_DIR, "w1", "x.json")
        open(path, "w").close()
        assert cq.move_to(root, path, cq.FAILED_DIR, reason="bad input")
    names = sorted(os.listdir(os.path.join(root, cq.FAILED_DIR)))
    assert len([n for n in names if not n.endswith(".reason")]) == 2
    with open(os.path.join(root, cq.FAILED_DIR, "x.json.reason")) as handle:
        assert handle.read() == "bad input\n"


def test_retention_removes_only_old_files(root):
    old = os.path.join(root, cq.DONE_DIR, "old.json")
    new = os.path.join(root, cq.RESPONSES_DIR, "new_response.json")
    for path in (old, new):
        open(path, "w").close()
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    assert cq.remove_older_than(root, 7 * 86400) == 1
    assert not os.path.exists(old) and os.path.exists(new)
