# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The processes of a burn-in: each run in its own process group, read as it writes, sampled through NVML at
1 Hz, and every group killed on timeout, failure or a signal, so no stress process outlives the task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import time


SAMPLE_INTERVAL = 1.0
KILL_GRACE = 5.0


class BurnInterrupted(Exception):
    """The module received a signal while workers ran; they have been killed."""


def kill_group(pid, grace=KILL_GRACE):
    """SIGTERM the process group led by pid, then SIGKILL what is left after grace seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


class BurnRunner:
    """Runs processes in their own process groups, samples NVML, and never leaves one behind.

    ``sampler`` is a callable(indices) -> list of sample dicts (NvmlSession.sample) or None to skip sampling.
    """

    def __init__(self, sampler=None, sample_indices=(), clock=time.monotonic):
        self.sampler = sampler
        self.sample_indices = list(sample_indices)
        self.clock = clock
        self.procs = []
        self._old_handlers = {}

    def _on_signal(self, signum, _frame):
        self.kill_all()
        raise BurnInterrupted(f"interrupted by signal {signum}; every burn-in process was stopped")

    def __enter__(self):
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):  # not the main thread: no handlers
                self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.kill_all()
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        return False

    def kill_all(self):
        """SIGTERM every group whose leader we have not reaped, then SIGKILL what is left after the grace time.

        A reaped leader's PID (and so its group ID) may already belong to someone else, so it is never signalled.
        """
        live = [proc for proc in self.procs if proc.returncode is None]
        for proc in live:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE
        for proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in live:
            # SIGKILL the group even when its leader exited on SIGTERM: a child of it that ignores SIGTERM (or is
            # slow to act on it) must not outlive the run.
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.returncode is None:
                proc.wait()

    def run(self, argvs, timeout, env=None, cwd=None, envs=None):
        """Run every argv at once; returns (outputs, samples by index, timed_out).

        env: variables added for every process; envs: per process (envs[i] for argvs[i]), added after env.
        outputs[i] = dict(rc, stdout, stderr) for argvs[i]; stdout is read as it comes so pipes never fill.
        """
        selector = selectors.DefaultSelector()
        buffers = []
        for position, argv in enumerate(argvs):
            full_env = dict(os.environ, **(env or {}))
            if envs:
                full_env.update(envs[position])
            err = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in run()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
            proc.stderr_file = err
            self.procs.append(proc)
            chunks = []
            buffers.append(chunks)
            selector.register(proc.stdout, selectors.EVENT_READ, chunks)
        samples = {index: [] for index in self.sample_indices}
        deadline = self.clock() + timeout
        next_sample = self.clock()
        timed_out = False
        open_pipes = len(argvs)
        while open_pipes:
            now = self.clock()
            if now >= deadline:
                timed_out = True
                break
            if self.sampler and now >= next_sample:
                for sample in self.sampler(self.sample_indices) or []:
                    samples.setdefault(sample["index"], []).append(dict(sample, t=round(now, 3)))
                next_sample = now + SAMPLE_INTERVAL
            for key, _mask in selector.select(timeout=min(0.2, max(0.0, deadline - now))):
                data = os.read(key.fileobj.fileno(), 65536)
                if data:
                    key.data.append(data)
                else:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
        selector.close()
        if timed_out:
            self.kill_all()
        outputs = []
        for proc, chunks in zip(self.procs, buffers):
            try:
                rc = proc.wait(timeout=KILL_GRACE * 2)
            except subprocess.TimeoutExpired:
                self.kill_all()
                rc = proc.wait()
            proc.stdout.close()
            proc.stderr_file.seek(0)
            stderr = proc.stderr_file.read().decode("utf-8", "replace")
            proc.stderr_file.close()
            outputs.append({"rc": rc, "stdout": b"".join(chunks).decode("utf-8", "replace"), "stderr": stderr})
        return outputs, samples, timed_out


def run_timeout(plan):
    """Seconds the whole run may take: the burn itself plus time to start (allocation, cuBLAS/CPU warm-up)."""
    return plan["duration"] * 1.1 + 120.0


def exit_note(output, timed_out, timeout):
    if timed_out:
        return f"timed out after {timeout:g}s and was killed"
    if output["rc"] != 0:
        tail = [line for line in output["stderr"].strip().splitlines() if line.strip()][-3:]
        return f"exited with rc {output['rc']}" + (": " + " / ".join(tail) if tail else "")
    return None
