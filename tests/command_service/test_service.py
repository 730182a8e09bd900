# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real command service daemon against the simulated Ollama server: round trips, errors, bad input, restarts."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

from ansible_collections.gpufleet.nvidia.tests.command_service.harness import ENV


def ask(root, command, model=None, timeout=10, secret=None):
    return cq.submit_and_wait(root, command, model, timeout=timeout, secret=secret)[1]


def executions(ollama_sim, endpoint, model):
    return ollama_sim.stats()["executions"].get("%s %s" % (endpoint, model), 0)


def drop_file(root, name, content):
    """Write a command file the way a misbehaving writer might: in place, no rename."""
    path = os.path.join(root, cq.COMMANDS_DIR, name)
    with open(path, "wb") as handle:
        handle.write(content)
    return path


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "command, model, check",
    [
        ("version", None, lambda r: r["version"] == "0.0.0-sim" and r["message"] == "0.0.0-sim"),
        ("list_models", None, lambda r: "llama3.2:1b" in [m["model"] for m in r["models"]]),
        ("running_models", None, lambda r: isinstance(r["models"], list) and r["models"][0]["expires_at"]),
        ("show_model", "llama3.2:1b", lambda r: r["model"]["name"] == "llama3.2:1b" and "details" in r["model"]),
        ("pull_model", "tinyllama:1b", lambda r: r["status"] == "success"),
        ("delete_model", "qwen2.5:0.5b", lambda r: r["message"] == "deleted qwen2.5:0.5b"),
        ("gpu_status", None, lambda r: "present" in r["gpu"] and "devices" in r["gpu"]),
    ],
)
def test_round_trip_every_command(queue_root, start_daemon, command, model, check):
    start_daemon(queue_root)
    response = ask(queue_root, command, model)
    assert response is not None and response["success"] is True, response
    assert check(response)
    assert isinstance(response["duration_ms"], int) and response["timestamp"].endswith("+00:00")
    # The daemon writes the response before it moves the command to done/ (a crash in between re-answers the same
    # id), so a client can see the response a moment before the move: wait for it instead of racing it.
    done = os.path.join(queue_root, cq.DONE_DIR)
    assert wait_until(lambda: os.listdir(done) == [response["command_id"] + ".json"]), os.listdir(done)


def test_pull_then_list_sees_model(queue_root, start_daemon, ollama_sim):
    start_daemon(queue_root)
    assert ask(queue_root, "pull_model", "newmodel:7b")["success"]
    assert "newmodel:7b" in [m["model"] for m in ask(queue_root, "list_models")["models"]]
    assert executions(ollama_sim, "pull", "newmodel:7b") == 1


@pytest.mark.parametrize(
    "command, model, mode, error",
    [
        ("show_model", "nosuch:1b", {}, "model 'nosuch:1b' not found"),
        ("delete_model", "nosuch:1b", {}, "not found"),
        ("pull_model", "missing-model", {}, "file does not exist"),
        ("version", None, {"error_500": True}, "simulated internal server error"),
        ("list_models", None, {"slow": 3}, "ollama request failed: ReadTimeout"),
    ],
)
def test_ollama_error_modes(queue_root, start_daemon, ollama_sim, command, model, mode, error):
    start_daemon(queue_root, "w1", "--command-timeout", "1")
    ollama_sim.mode(**mode)
    response = ask(queue_root, command, model)
    assert response["success"] is False and error in response["error"], response
    ollama_sim.reset()
    assert ask(queue_root, "version")["success"]  # the daemon keeps going


def test_ollama_down(queue_root, start_daemon):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    start_daemon(queue_root, url="http://127.0.0.1:%d" % port)
    for _attempt in range(2):
        response = ask(queue_root, "version")
        assert response["success"] is False and "unreachable" in response["error"], response
    assert ask(queue_root, "gpu_status")["success"] is True  # needs no Ollama


def test_unknown_command_gets_error_response(queue_root, start_daemon):
    start_daemon(queue_root)
    drop_file(queue_root, "u1.json", json.dumps({"command": "format_disk", "command_id": "u1"}).encode())
    response = cq.wait_for_response(queue_root, "u1", 10)
    assert response["success"] is False and "unknown command 'format_disk'" in response["error"]
    assert os.path.exists(os.path.join(queue_root, cq.FAILED_DIR, "u1.json.reason"))


def test_bad_inputs_are_rejected_and_daemon_survives(queue_root, start_daemon, tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(cq.new_command("version", command_id="viasymlink")))
    os.symlink(str(outside), os.path.join(queue_root, cq.COMMANDS_DIR, "viasymlink.json"))
    drop_file(queue_root, "big.json", b'{"command":"version","command_id":"big","pad":"' + b"x" * 70000 + b'"}')
    drop_file(queue_root, "garbage.json", b"\x00\xff not json")
    drop_file(queue_root, "bad name!.json", b"{}")
    drop_file(queue_root, "noid", b"[1, 2]")
    drop_file(queue_root, "mismatch.json", json.dumps(cq.new_command("version", command_id="other")).encode())
    os.mkdir(os.path.join(queue_root, cq.COMMANDS_DIR, "adir.json"))
    os.mkfifo(os.path.join(queue_root, cq.COMMANDS_DIR, "fifo.json"))
    drop_file(queue_root, ".in-progress.json", b"{")  # temporary names are left alone
    drop_file(queue_root, "partial.json.tmp", b"{")
    daemon = start_daemon(queue_root)
    expectations = {
        "viasymlink": "symbolic link",
        "big": "larger than",
        "garbage": "not valid JSON",
        "other": "does not match",
        "adir": "not a regular file",
        "fifo": "not a regular file",
    }
    for command_id, reason in expectations.items():
        response = cq.wait_for_response(queue_root, command_id, 10)
        assert response is not None and response["success"] is False, command_id
        assert reason in response["error"], (command_id, response)
    quarantine = os.path.join(queue_root, cq.QUARANTINE_DIR)
    expected = {"bad name!.json", "bad name!.json.reason", "noid", "noid.reason"}
    assert wait_until(lambda: expected <= set(os.listdir(quarantine))), os.listdir(quarantine)
    assert sorted(cq.list_command_names(queue_root)) == []
    assert sorted(os.listdir(os.path.join(queue_root, cq.COMMANDS_DIR))) == [".in-progress.json", "partial.json.tmp"]
    assert outside.exists()  # the symlink target was not touched
    assert ask(queue_root, "version")["success"]
    assert daemon.proc.poll() is None


def test_restart_durability_and_idempotency(queue_root, start_daemon, ollama_sim):
    # Commands queued while no daemon runs are answered once one starts.
    ids = [cq.submit(queue_root, cq.new_command("pull_model", "durable-%d" % i)) for i in range(5)]
    daemon = start_daemon(queue_root)
    for command_id in ids:
        assert cq.wait_for_response(queue_root, command_id, 10)["success"]
    assert daemon.terminate() == 0
    # A re-sent id that already has a response is not executed again, also after a restart.
    cq.submit(queue_root, cq.new_command("pull_model", "durable-0", command_id=ids[0]))
    first = cq.read_response(queue_root, ids[0])
    start_daemon(queue_root, "w2")
    assert wait_until(lambda: cq.list_command_names(queue_root) == [])
    time.sleep(0.3)
    assert executions(ollama_sim, "pull", "durable-0") == 1
    assert cq.read_response(queue_root, ids[0]) == first


def test_claims_of_a_killed_worker_are_requeued(queue_root, start_daemon, ollama_sim):
    ollama_sim.mode(pull_delay=0.5)
    victim = start_daemon(queue_root, "victim", "--lease-timeout", "1")
    command_id = cq.submit(queue_root, cq.new_command("pull_model", "orphan:1b"))
    assert wait_until(lambda: executions(ollama_sim, "pull", "orphan:1b") == 1)
    victim.kill9()
    ollama_sim.mode(pull_delay=0)
    start_daemon(queue_root, "rescuer", "--lease-timeout", "1")
    response = cq.wait_for_response(queue_root, command_id, 15)
    assert response["success"] is True
    assert executions(ollama_sim, "pull", "orphan:1b") == 2  # re-run once: its worker died in the middle of it


def test_restart_with_same_worker_id_requeues_at_once(queue_root, start_daemon, ollama_sim):
    ollama_sim.mode(pull_delay=0.5)
    victim = start_daemon(queue_root, "same", "--lease-timeout", "300")
    command_id = cq.submit(queue_root, cq.new_command("pull_model", "again:1b"))
    assert wait_until(lambda: executions(ollama_sim, "pull", "again:1b") == 1)
    victim.kill9()
    ollama_sim.mode(pull_delay=0)
    start_daemon(queue_root, "same", "--lease-timeout", "300")
    assert cq.wait_for_response(queue_root, command_id, 10)["success"] is True


def test_sigterm_finishes_command_in_hand(queue_root, start_daemon, ollama_sim):
    ollama_sim.mode(pull_delay=0.3)
    daemon = start_daemon(queue_root)
    command_id = cq.submit(queue_root, cq.new_command("pull_model", "slowpull:1b"))
    assert wait_until(lambda: executions(ollama_sim, "pull", "slowpull:1b") == 1)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.terminate() == 0
    assert cq.read_response(queue_root, command_id)["success"] is True
    assert [e["event"] for e in daemon.events()][-1] == "stopped"


def test_logs_are_json_lines(queue_root, start_daemon):
    daemon = start_daemon(queue_root)
    ask(queue_root, "version")
    daemon.terminate()
    events = daemon.events()
    assert all(e["event"] != "non_json" for e in events), events
    assert {"started", "executing", "done", "stopped"} <= {e["event"] for e in events}


def test_signed_commands_required_with_secret(queue_root, start_daemon, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    start_daemon(queue_root, "w1", "--secret-file", str(secret_file))
    response = ask(queue_root, "version", secret=b"s3cret")
    assert response["success"] and cq.verify(response, b"s3cret")
    unsigned = ask(queue_root, "delete_model", "llama3.2:1b")
    assert unsigned["success"] is False and "unsigned" in unsigned["error"]
    forged = cq.sign(cq.new_command("pull_model", "evil", command_id="forged"), b"guess")
    drop_file(queue_root, "forged.json", json.dumps(forged).encode())
    response = cq.wait_for_response(queue_root, "forged", 10, secret=b"s3cret")
    assert response["success"] is False and "signature" in response["error"]


def test_config_file_and_cli_override(queue_root, start_daemon, tmp_path, ollama_sim):
    config = tmp_path / "command-service.yml"
    config.write_text(
        "root: %s\nollama_url: http://127.0.0.1:9\nworker_id: fromconfig\nrescan_interval: 0.5\n" % queue_root
    )
    daemon = start_daemon(queue_root, "fromcli", "--config", str(config), url=ollama_sim.url)
    started = next(e for e in daemon.events() if e["event"] == "started")
    assert started["worker"] == "fromcli" and started["ollama_url"] == ollama_sim.url
    assert started["rescan_interval"] == 0.2  # the fixture's flag beats the file
    assert ask(queue_root, "version")["success"]


def test_bad_config_exits_2(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("root: /x\nbogus: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "gpufleet_command.service", "--config", str(config)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "unknown keys: bogus" in result.stdout


def run_client(*args, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "gpufleet_command.client", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_client_cli_exit_codes(queue_root, start_daemon):
    start_daemon(queue_root)
    ok = run_client("--root", queue_root, "submit", "version")
    assert ok.returncode == 0 and json.loads(ok.stdout)["success"] is True
    failed = run_client("--root", queue_root, "submit", "show_model", "--model", "nosuch")
    assert failed.returncode == 1 and "not found" in json.loads(failed.stdout)["error"]
    usage = run_client("--root", queue_root, "submit", "nonsense")
    assert usage.returncode == 2
    missing_model = run_client("--root", queue_root, "submit", "pull_model")
    assert missing_model.returncode == 2 and "needs model_name" in missing_model.stderr


def test_client_cli_timeout(queue_root):
    result = run_client("--root", queue_root, "submit", "version", "--timeout", "0.3")
    assert result.returncode == 2 and "no response" in result.stderr


def test_in_place_writer_gets_a_grace_period(queue_root, start_daemon):
    """A writer that ignores the protocol and writes in place is not rejected while it is still writing."""
    start_daemon(queue_root)
    body = json.dumps(cq.new_command("version", command_id="inplace")).encode()
    path = os.path.join(queue_root, cq.COMMANDS_DIR, "inplace.json")
    with open(path, "wb") as handle:
        handle.write(body[:10])
        handle.flush()
        time.sleep(0.6)
        handle.write(body[10:])
    response = cq.wait_for_response(queue_root, "inplace", 10)
    assert response["success"] is True, response
