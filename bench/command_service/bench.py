# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark the command service against a 5 s polling loop (see run.sh). Environment: BENCH_COMMANDS (1000),
BENCH_ROUND_TRIPS (200), BENCH_BASELINE_ROUND_TRIPS (3), BENCH_POLL (client poll interval, 0.005 s)."""

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, REPO)

from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq  # noqa: E402
from ansible_collections.gpufleet.nvidia.tests.command_service.harness import (  # noqa: E402
    Daemon,
    OllamaSim,
    SshfsMount,
)

COMMANDS = int(os.environ.get("BENCH_COMMANDS", "1000"))
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "200"))
BASELINE_ROUND_TRIPS = int(os.environ.get("BENCH_BASELINE_ROUND_TRIPS", "3"))
POLL = float(os.environ.get("BENCH_POLL", "0.005"))
WORKERS = 4


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def round_trips(root, count, timeout):
    latencies = []
    for _trip in range(count):
        started = time.perf_counter()
        _command_id, response = cq.submit_and_wait(root, "version", timeout=timeout, poll_interval=POLL)
        assert response is not None and response["success"], response
        latencies.append(time.perf_counter() - started)
    return latencies


def throughput(root, count, timeout, clients=8):
    ids = []
    lock = threading.Lock()

    def client(share):
        mine = [cq.submit(root, cq.new_command("version")) for _index in range(share)]
        with lock:
            ids.extend(mine)
        for command_id in mine:
            assert cq.wait_for_response(root, command_id, timeout, poll_interval=POLL) is not None

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(count // clients,)) for _index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(ids) / (time.perf_counter() - started)


def polling_baseline(root, url, stop, interval=5.0):
    """The original design: every 5 s list the directory, handle each file, remember ids in memory."""
    processed = set()
    commands = os.path.join(root, cq.COMMANDS_DIR)
    while not stop.wait(interval):
        for name in os.listdir(commands):
            if name in processed or cq.is_temporary_name(name):
                continue
            processed.add(name)
            with open(os.path.join(commands, name)) as handle:
                command = json.load(handle)
            with urllib.request.urlopen(url + "/api/version", timeout=30) as response:
                version = json.load(response)["version"]
            out = {"command_id": command["command_id"], "success": True, "message": version}
            cq.atomic_write_json(cq.response_path(root, command["command_id"]), out)
            os.unlink(os.path.join(commands, name))


def measure(name, tag, worker_root, client_root, sim, work, baseline_commands):
    """Service (4 workers on worker_root) and the polling baseline (on worker_root), clients on client_root."""
    daemons = [Daemon(worker_root, sim.url, "bench-%s-%d" % (tag, i), work) for i in range(WORKERS)]
    for daemon in daemons:
        daemon.wait_started()
    round_trips(client_root, 10, 30)  # warm up
    lat = round_trips(client_root, ROUND_TRIPS, 30)
    rate = throughput(client_root, COMMANDS, 120)
    for daemon in daemons:
        daemon.terminate()
    for directory in (cq.RESPONSES_DIR, cq.DONE_DIR):  # the baseline starts from an empty queue
        shutil.rmtree(os.path.join(client_root, directory))
    cq.ensure_layout(client_root)
    stop = threading.Event()
    loop = threading.Thread(target=polling_baseline, args=(worker_root, sim.url, stop), daemon=True)
    loop.start()
    base_lat = round_trips(client_root, BASELINE_ROUND_TRIPS, 60)
    base_rate = throughput(client_root, baseline_commands, 120)
    stop.set()
    p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
    b50, b99 = percentile(base_lat, 0.5) * 1000, percentile(base_lat, 0.99) * 1000
    print("== %s" % name)
    print("command service, %d workers (client poll %.3f s, rescan 1 s):" % (WORKERS, POLL))
    print("  round trip p50 %.1f ms  p99 %.1f ms over %d" % (p50, p99, len(lat)))
    print("  throughput %.0f commands/s over %d" % (rate, COMMANDS))
    print("5 s polling loop (the original design):")
    print("  round trip p50 %.1f ms  p99 %.1f ms over %d" % (b50, b99, len(base_lat)))
    print("  throughput %.0f commands/s over %d" % (base_rate, baseline_commands))
    print(
        "ratios: p50 latency baseline/service = %.0fx, throughput service/baseline = %.1fx"
        % (b50 / p50, rate / base_rate)
    )
    return p50, rate


def main():
    sim = OllamaSim()
    work = tempfile.mkdtemp(prefix="bench-command-service-")
    mount = None
    try:
        local = cq.ensure_layout(os.path.join(work, "local"))
        p50, rate = measure("local filesystem", "local", local, local, sim, work, min(COMMANDS, 200))
        print(
            "goals (local): p50 <= 50 ms %s, >= 200 commands/s %s"
            % ("met" if p50 <= 50 else "NOT met", "met" if rate >= 200 else "NOT met")
        )
        mount = SshfsMount(os.path.join(work, "sshfs"))
        reason = mount.start()
        if reason:
            print("== sshfs: skipped: %s" % reason)
        else:
            cq.ensure_layout(mount.export)
            # Workers see the queue through the caching mount; clients write on the server side, as in production.
            measure(
                "sshfs (cache=yes,dir_cache=yes; workers on the mount)",
                "sshfs",
                mount.mountpoint,
                mount.export,
                sim,
                work,
                50,
            )
    finally:
        if mount is not None:
            mount.stop()
        sim.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
