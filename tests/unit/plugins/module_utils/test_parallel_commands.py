# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many probes, one budget (module_utils/_parallel_commands.py through torch_probe.probe_envs).

The hanging interpreter is a real ``bin/python`` script that sleeps (and leaves a child of its own sleeping, which
the deadline must kill too); the others are real venvs. The time bounds are correctness bounds (one budget, not one
per environment), generous for a loaded 2-core machine; bench/torch_discover measures.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _parallel_commands, torch_probe
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import describe_env

BUDGET = 6  # ample for 39 quick probes on a loaded 2-core machine; the hanging one always costs all of it


def hanging_env(prefix, pid_file):
    """An environment whose bin/python never answers and starts a child that would outlive it."""
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python"
    python.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nexec sleep 300\n")
    python.chmod(0o755)
    (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return str(python)


def gone(pid):
    """True when pid no longer runs (exited, or a zombie waiting for init)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def forty_envs(tmp_path_factory):
    """39 real venvs (one base, 39 prefixes) and, at position 17, one that hangs."""
    root = tmp_path_factory.mktemp("forty")
    pythons = []
    for index in range(40):
        prefix = root / f"env{index:02d}"
        if index == 17:
            pythons.append(hanging_env(prefix, root / "child.pid"))
        else:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
            pythons.append(str(prefix / "bin" / "python"))
    return {"root": root, "pythons": pythons}


def test_forty_environments_one_hanging_cost_one_budget(forty_envs):
    envs = [describe_env(python) for python in forty_envs["pythons"]]
    started = time.monotonic()
    entries = torch_probe.probe_envs(envs, budget=BUDGET)
    elapsed = time.monotonic() - started

    assert len(entries) == 40
    hanging = entries[17]
    assert hanging["probe"] == "timeout"
    assert hanging["error"] == f"probe timed out: no answer within the overall budget of {BUDGET}s"
    others = [entry for index, entry in enumerate(entries) if index != 17]
    assert [entry["probe"] for entry in others] == ["ok"] * 39, [e["error"] for e in others if e["error"]]
    assert all(entry["python_version"] == "%d.%d.%d" % sys.version_info[:3] for entry in others)
    # One budget, not forty (sequentially the hanging one alone costs the budget, and 40 timeouts would be 240 s).
    assert BUDGET - 0.5 <= elapsed < 3 * BUDGET, elapsed
    # The hanging interpreter's own child was killed with its process group.
    child = int((forty_envs["root"] / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child), f"pid {child}, started by the hanging probe, survived the deadline"


def test_probes_not_started_within_the_budget_say_so(tmp_path):
    pythons = [hanging_env(tmp_path / f"hang{index}", tmp_path / f"{index}.pid") for index in range(3)]
    entries = torch_probe.probe_envs([describe_env(p) for p in pythons], budget=1, max_parallel=1)
    assert [entry["probe"] for entry in entries] == ["timeout"] * 3
    assert entries[0]["error"] == "probe timed out: no answer within the overall budget of 1s"
    assert (
        entries[1]["error"]
        == entries[2]["error"]
        == ("probe not started: the overall budget of 1s was spent on the other probes")
    )


def test_run_jobs_reads_both_streams_and_reports_rc(tmp_path):
    script = "import sys; print('x' * 200000); print('err', file=sys.stderr); sys.exit(3)"
    jobs = [
        _parallel_commands.Job([sys.executable, "-c", script], None, None, None),
        _parallel_commands.Job([str(tmp_path / "missing")], None, None, None),
        _parallel_commands.Job([sys.executable, "-c", "import os; print(os.getcwd())"], {}, "/", None),
    ]
    big, missing, cwd = _parallel_commands.run_jobs(jobs, budget=30)
    assert big.rc == 3 and big.stdout.strip() == "x" * 200000 and big.stderr.strip() == "err" and big.started
    assert missing.rc == 127 and "cannot execute" in missing.stderr
    assert cwd.rc == 0 and cwd.stdout.strip() == "/"


def test_a_program_that_exits_leaving_a_child_on_its_pipes_does_not_wait_for_the_child(tmp_path):
    """The child inherits stdout; once the program has answered and exited, its group is ended."""
    script = "import json, subprocess; subprocess.Popen(['sleep', '300']); print(json.dumps({'a': 1}))"
    started = time.monotonic()
    (result,) = _parallel_commands.run_jobs(
        [_parallel_commands.Job([sys.executable, "-c", script], None, None, None)], 30
    )
    assert result.rc == 0 and json.loads(result.stdout) == {"a": 1}
    assert time.monotonic() - started < 10


def test_popen_user_arguments():
    run_as = _parallel_commands.RunAs(1001, 1002, [1002, 27])
    assert _parallel_commands.popen_user_arguments(None) == {}
    assert _parallel_commands.popen_user_arguments(run_as, use_popen_user=True) == {
        "user": 1001,
        "group": 1002,
        "extra_groups": [1002, 27],
    }
    assert callable(_parallel_commands.popen_user_arguments(run_as, use_popen_user=False)["preexec_fn"])
    if os.getuid() != 0:
        assert _parallel_commands.POPEN_HAS_USER is (sys.version_info >= (3, 9))
