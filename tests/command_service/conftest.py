# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures running the real command service as subprocesses against the simulated Ollama server on loopback."""

import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq
from ansible_collections.gpufleet.nvidia.tests.command_service.harness import PROJECT, Daemon, OllamaSim

# The tests import the package (gpufleet_command) and its wheel builder from the source tree, as the daemon
# subprocesses do through PYTHONPATH; test_package.py checks the built wheel itself.
if PROJECT not in sys.path:
    sys.path.insert(0, PROJECT)


@pytest.fixture(scope="session")
def ollama_server():
    server = OllamaSim()
    yield server
    server.close()


@pytest.fixture
def ollama_sim(ollama_server):
    ollama_server.reset()
    yield ollama_server
    ollama_server.reset()


@pytest.fixture
def queue_root(tmp_path):
    return cq.ensure_layout(str(tmp_path / "queue"))


@pytest.fixture
def start_daemon(tmp_path, ollama_sim):
    started = []
    log_dir = tmp_path / "logs"
    log_dir.mkdir()

    def start(root, worker_id="w1", *extra, url=None, wait=True):
        daemon = Daemon(root, url or ollama_sim.url, worker_id, str(log_dir), "--rescan-interval", "0.2", *extra)
        started.append(daemon)
        return daemon.wait_started() if wait else daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(10)
