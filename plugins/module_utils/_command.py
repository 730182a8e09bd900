# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run an external program with a timeout and never raise.

Shared by every module_utils that probes the host (NVML fallback, CUDA discovery, container inspection, torch
probe) and by the programs under files/, which run without AnsibleModule, so this cannot use module.run_command.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import os
import signal
import subprocess

# rc conventions borrowed from the shell so callers can tell "not there" from "failed".
RC_NOT_FOUND = 127
RC_TIMEOUT = 124

CommandResult = collections.namedtuple("CommandResult", ["rc", "stdout", "stderr"])


def run_command(argv, timeout=30, env=None, stdin_data=None):
    """Run argv (a list) and return CommandResult(rc, stdout, stderr) as text.

    rc is 127 when the program does not exist or cannot be executed, 124 when it ran past ``timeout`` seconds
    (it and every process it started are killed). ``env`` entries are added to the current environment.
    """
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            # Own process group, so a timeout kills what the program started too: a child that inherited our
            # pipes would otherwise keep communicate() waiting past the timeout.
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(RC_NOT_FOUND, "", "cannot execute %s: %s" % (argv[0], exc))
    try:
        out, err = proc.communicate(
            input=stdin_data.encode("utf-8") if stdin_data is not None else None, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        kill_process_group(proc)
        out, err = proc.communicate()
        return CommandResult(
            RC_TIMEOUT,
            out.decode("utf-8", "replace"),
            (err.decode("utf-8", "replace") + "\n%s timed out after %ss" % (argv[0], timeout)).strip(),
        )
    return CommandResult(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def kill_process_group(proc):
    """SIGKILL the process group a command was started in (start_new_session=True), so children it left die too."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):  # already gone
            proc.kill()
