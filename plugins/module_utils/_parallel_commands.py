# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run many external programs at once under one overall deadline, each optionally as another user.

One loop in the calling thread starts up to ``max_parallel`` programs, reads all their pipes with a selector and
starts the next as one ends; at the deadline every program still running is killed with its whole process group and
the ones not started yet are not started. So forty programs, one of which hangs, cost about the deadline, not forty
timeouts. No threads: a ``preexec_fn`` (the only way to change user on Python 3.8) is unsafe in a threaded parent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import os
import selectors
import subprocess
import sys
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import (
    RC_NOT_FOUND,
    RC_TIMEOUT,
    kill_process_group,
)

# argv, the child's whole environment (None: inherit), its working directory, and RunAs or None (this process's user).
Job = collections.namedtuple("Job", ["argv", "env", "cwd", "run_as"])
# The user a child runs as: its uid, primary gid and supplementary groups (os.getgrouplist).
RunAs = collections.namedtuple("RunAs", ["uid", "gid", "groups"])
# rc as _command.run_command has it (124 past the deadline, 127 not executable); started False when the deadline came
# before the job could start; seconds from its start to its end (or the deadline).
JobResult = collections.namedtuple("JobResult", ["rc", "stdout", "stderr", "started", "seconds"])

# Output kept per stream: the probes print a few KiB; a chatty program must not eat the module's memory.
MAX_OUTPUT_BYTES = 1 << 20
_TICK_S = 0.05

# subprocess's own user=/group=/extra_groups= (3.9+) switch users in C after fork, safely; 3.8 needs preexec_fn.
POPEN_HAS_USER = sys.version_info >= (3, 9)


def _drop_privileges(run_as):
    def switch():
        os.setgroups(list(run_as.groups))
        os.setgid(run_as.gid)
        os.setuid(run_as.uid)

    return switch


def popen_user_arguments(run_as, use_popen_user=None):
    """The Popen keyword arguments that make a child run as run_as (empty for None)."""
    if run_as is None:
        return {}
    if use_popen_user is None:
        use_popen_user = POPEN_HAS_USER
    if use_popen_user:
        return {"user": run_as.uid, "group": run_as.gid, "extra_groups": list(run_as.groups)}
    return {"preexec_fn": _drop_privileges(run_as)}


class _Running:
    def __init__(self, index, proc, started):
        self.index = index
        self.proc = proc
        self.started = started
        self.open_streams = 2
        self.output = {"stdout": bytearray(), "stderr": bytearray()}


def _text(data):
    return bytes(data).decode("utf-8", "replace")


def run_jobs(jobs, budget, max_parallel=4, use_popen_user=None, clock=time.monotonic):
    """Run every Job, at most max_parallel at a time, all within ``budget`` seconds; one JobResult per job, in order.

    Never raises for a job: a program that cannot start is rc 127 with the reason in stderr.
    """
    jobs = list(jobs)
    results = [None] * len(jobs)
    if not jobs:
        return results
    start = clock()
    deadline = start + budget
    pending = collections.deque(range(len(jobs)))
    running = {}
    selector = selectors.DefaultSelector()

    def finish(state, rc, note=None):
        stderr = _text(state.output["stderr"])
        if note:
            stderr = (stderr + "\n" + note).strip()
        results[state.index] = JobResult(rc, _text(state.output["stdout"]), stderr, True, clock() - state.started)

    def close_streams(state):
        for stream in (state.proc.stdout, state.proc.stderr):
            if stream is None or stream.closed:
                continue
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(stream)
            stream.close()

    try:
        while pending or running:
            now = clock()
            while pending and len(running) < max_parallel and now < deadline:
                index = pending.popleft()
                job = jobs[index]
                try:
                    proc = subprocess.Popen(
                        job.argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env=job.env,
                        cwd=job.cwd,
                        close_fds=True,
                        # Own process group: at the deadline everything the program started is killed with it.
                        start_new_session=True,
                        **popen_user_arguments(job.run_as, use_popen_user),
                    )
                except (OSError, subprocess.SubprocessError) as exc:
                    results[index] = JobResult(
                        RC_NOT_FOUND, "", "cannot execute %s: %s" % (job.argv[0], exc), True, 0.0
                    )
                    continue
                state = _Running(index, proc, now)
                running[proc.pid] = state
                for name in ("stdout", "stderr"):
                    stream = getattr(proc, name)
                    os.set_blocking(stream.fileno(), False)
                    selector.register(stream, selectors.EVENT_READ, (state, name))
            if now >= deadline:
                break
            if not running:
                continue  # every job just taken failed to start; take the next ones
            for key, _events in selector.select(timeout=min(_TICK_S, max(0.0, deadline - now))):
                state, name = key.data
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    kept = state.output[name]
                    if len(kept) < MAX_OUTPUT_BYTES:
                        kept.extend(data[: MAX_OUTPUT_BYTES - len(kept)])
                    continue
                selector.unregister(key.fileobj)
                key.fileobj.close()
                state.open_streams -= 1
            for pid, state in list(running.items()):
                rc = state.proc.poll()
                if rc is None:
                    continue
                if state.open_streams:
                    # The program ended; anything it left behind holding our pipes open goes with its group.
                    kill_process_group(state.proc)
                    _drain(state)
                close_streams(state)
                finish(state, rc)
                del running[pid]
    finally:
        for state in running.values():
            kill_process_group(state.proc)
            state.proc.wait()
            _drain(state)
            close_streams(state)
            note = "%s timed out: no answer within the overall budget of %ss" % (jobs[state.index].argv[0], budget)
            finish(state, RC_TIMEOUT, note)
        selector.close()
    for index in pending:
        results[index] = JobResult(
            RC_TIMEOUT, "", "not started: the overall budget of %ss was spent" % budget, False, 0.0
        )
    return results


def _drain(state):
    """Read what is left in a finished (or killed) program's pipes, without blocking."""
    for name in ("stdout", "stderr"):
        stream = getattr(state.proc, name)
        if stream is None or stream.closed:
            continue
        while True:
            try:
                data = os.read(stream.fileno(), 65536)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            kept = state.output[name]
            if len(kept) < MAX_OUTPUT_BYTES:
                kept.extend(data[: MAX_OUTPUT_BYTES - len(kept)])
