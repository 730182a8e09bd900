# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Chaos: 4 workers, several clients, 1000 commands, workers killed with SIGKILL at random and restarted.

Proves: nothing is lost, every id gets exactly one response (one file, written once), and a mutating command runs
again only when the worker running it was killed in the middle of it, at most once per such kill.
"""

import collections
import os
import random
import threading
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

WORKERS = 4
CLIENTS = 5
COMMANDS = 1000
BATCH = 25


def test_chaos_kill9_loses_nothing(queue_root, start_daemon, ollama_sim):
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "0")) or None)
    ollama_sim.mode(pull_delay=0.01)  # a pull spans ~80 ms, so some kills land in the middle of one
    lease = ("--lease-timeout", "2")  # short, yet long enough that a busy CI machine does not expire live workers
    workers = {"cw%d" % i: start_daemon(queue_root, "cw%d" % i, *lease) for i in range(WORKERS)}
    all_daemons = list(workers.values())
    plan = []
    for i in range(COMMANDS):
        roll = rng.random()
        if roll < 0.15:
            plan.append(("pull_model", "chaos-%d" % i))
        elif roll < 0.2:
            plan.append(("delete_model", "chaos-%d" % i))  # unknown model: an error response, still executed
        else:
            plan.append((rng.choice(["version", "list_models", "running_models"]), None))
    responses = {}
    submitted = {}
    lock = threading.Lock()
    failures = []

    def client(index):
        try:
            mine = plan[index::CLIENTS]
            for start in range(0, len(mine), BATCH):
                ids = []
                for command, model in mine[start : start + BATCH]:
                    command_id = cq.submit(queue_root, cq.new_command(command, model))
                    ids.append(command_id)
                    with lock:
                        submitted[command_id] = (command, model)
                for command_id in ids:
                    response = cq.wait_for_response(queue_root, command_id, 60, poll_interval=0.02)
                    with lock:
                        responses[command_id] = response
        except Exception as exc:  # surfaced by the assertion below
            failures.append(repr(exc))

    stop_chaos = threading.Event()
    kills = []

    def chaos():
        while not stop_chaos.wait(rng.uniform(0.2, 0.6)):
            worker_id = rng.choice(sorted(workers))
            victim = workers[worker_id]
            victim.kill9()
            kills.append(victim)
            # Usually the same id comes back (it requeues its claims at once); sometimes a new one, so the
            # dead id's claims must be found through its expired lease.
            new_id = worker_id if rng.random() < 0.7 else "%s-r%d" % (worker_id.split("-")[0], len(kills))
            replacement = start_daemon(queue_root, new_id, *lease, wait=False)
            all_daemons.append(replacement)
            del workers[worker_id]
            workers[new_id] = replacement

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    chaos_thread = threading.Thread(target=chaos)
    for thread in threads:
        thread.start()
    chaos_thread.start()
    for thread in threads:
        thread.join(150)
    stop_chaos.set()
    chaos_thread.join()
    elapsed = time.monotonic() - started

    def claims_left():
        processing = os.path.join(queue_root, cq.PROCESSING_DIR)
        return {
            worker_dir: names
            for worker_dir in os.listdir(processing)
            for names in [[n for n in os.listdir(os.path.join(processing, worker_dir)) if not cq.is_temporary_name(n)]]
            if names
        }

    # A worker killed after writing a response but before dropping its claim, and replaced under a new id, leaves
    # that claim until a live worker finds its lease expired (2 s) and requeues it; the duplicate is then discarded.
    # The live workers must clean it up: wait for that (well past the lease) before stopping them.
    deadline = time.monotonic() + 20
    while (claims_left() or cq.list_command_names(queue_root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for daemon in workers.values():
        daemon.terminate()

    assert failures == []
    assert len(kills) >= 3, "the chaos thread should have killed workers"
    # Zero lost, exactly one response per id.
    lost = [command_id for command_id, response in responses.items() if response is None]
    assert len(submitted) == COMMANDS and len(responses) == COMMANDS and lost == []
    response_files = os.listdir(os.path.join(queue_root, cq.RESPONSES_DIR))
    # A kill between a response's temp file and its rename leaves the temp file (retention removes it later).
    assert len([n for n in response_files if not cq.is_temporary_name(n)]) == COMMANDS
    assert len([n for n in response_files if cq.is_temporary_name(n)]) <= len(kills)
    for command_id, response in responses.items():
        assert response["command_id"] == command_id
        command, _model = submitted[command_id]
        assert response["success"] is (command != "delete_model"), response

    # Per id: how many processes started executing it, and how many of those were killed before finishing it.
    started_by = collections.Counter()
    interrupted = collections.Counter()
    finished = collections.Counter()
    for daemon in all_daemons:
        events = daemon.events()
        executing = {e["command_id"] for e in events if e["event"] == "executing"}
        done = {e["command_id"] for e in events if e["event"] == "done"}
        for command_id in executing:
            started_by[command_id] += 1
        for command_id in done:
            finished[command_id] += 1
        if daemon.killed:
            unfinished = executing - done
            assert len(unfinished) <= 1, "one worker runs one command at a time"
            interrupted.update(unfinished)
    assert max(finished.values()) == 1, "a response is written once per id"
    assert sum(interrupted.values()) <= len(kills)
    executions = ollama_sim.stats()["executions"]
    reruns = 0
    for command_id, (command, model) in submitted.items():
        if command not in cq.MUTATING_COMMANDS:
            continue
        count = executions.get("%s %s" % ("pull" if command == "pull_model" else "delete", model), 0)
        assert 1 <= count <= 1 + interrupted[command_id], (command_id, command, count, interrupted[command_id])
        reruns += count - 1
    print(
        "chaos: %d commands in %.1fs (%.0f/s), %d kills, %d interrupted commands, %d mutating re-runs"
        % (COMMANDS, elapsed, COMMANDS / elapsed, len(kills), sum(interrupted.values()), reruns)
    )
    # Nothing is left behind in the queue.
    assert cq.list_command_names(queue_root) == []
    for worker_dir in os.listdir(os.path.join(queue_root, cq.PROCESSING_DIR)):
        leftovers = os.listdir(os.path.join(queue_root, cq.PROCESSING_DIR, worker_dir))
        assert [n for n in leftovers if not cq.is_temporary_name(n)] == [], worker_dir
