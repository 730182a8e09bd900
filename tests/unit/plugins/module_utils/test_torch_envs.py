# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding Python environments (module_utils/_torch_envs.py) and probing them (torch_probe.gather_torch), for real.

Venvs are made with ``python -m venv`` and ``uv venv``; conda environments are conda-style prefixes (a ``conda-meta/``
directory, ``bin/python`` linked to a real pyenv Python, listed in a user's ``~/.conda/environments.txt``), because
conda itself is not installed here. The user is this process's own (pwd entries with a home under tmp_path).
"""

import glob
import os
import pwd
import shutil
import subprocess
import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_envs, torch_probe

PYENV_VERSIONS = os.path.expanduser("~/.pyenv/versions")
UV = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")


def pyenv_python(version):
    """The pyenv build of a Python version (e.g. "3.8"), or None."""
    found = sorted(glob.glob(os.path.join(PYENV_VERSIONS, version + ".*", "bin", "python" + version)))
    return found[-1] if found else None


# The Pythons a conda env of a research cluster may have; those missing here are skipped, saying so.
CONDA_PYTHONS = [
    pytest.param(
        version,
        marks=pytest.mark.skipif(pyenv_python(version) is None, reason=f"no pyenv Python {version} on this machine"),
        id=f"python{version}",
    )
    for version in ("2.7", "3.6", "3.8", "3.13")
]


def me(home):
    """A pwd entry for this process's user, with its home at ``home``."""
    real = pwd.getpwuid(os.getuid())
    return pwd.struct_passwd((real.pw_name, "x", real.pw_uid, real.pw_gid, "", str(home), "/bin/sh"))


def make_conda_env(prefix, python):
    """A conda-style environment: conda-meta/ and bin/python linked to a real interpreter."""
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "history").write_text("==> 2026-01-01 00:00:00 <==\n")
    (prefix / "bin").mkdir()
    (prefix / "bin" / "python").symlink_to(python)
    return prefix


def make_venv(prefix, python=sys.executable, tool="venv"):
    if tool == "uv":
        if not os.path.exists(UV):
            pytest.skip("uv is not installed (requirements/dev.txt pins it; run make venv)")
        subprocess.run(
            [UV, "venv", "--offline", "--no-config", "--quiet", "--python", python, str(prefix)],
            check=True,
            env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"),
        )
    else:
        subprocess.run([python, "-m", "venv", "--without-pip", str(prefix)], check=True)
    assert (prefix / "pyvenv.cfg").is_file()
    return prefix


def fake_python(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


# --- globs ------------------------------------------------------------------------------------------------------------


def test_globs_expand_sorted_and_deduplicated(tmp_path):
    for name in ("b", "a", "c"):
        fake_python(tmp_path / "venvs" / name / "bin" / "python")
    missing = str(tmp_path / "gone" / "bin" / "python")
    paths, unmatched = _torch_envs.expand_patterns(
        [
            str(tmp_path / "venvs" / "*" / "bin" / "python"),
            str(tmp_path / "venvs" / "a" / "bin" / "python"),  # again, plainly
            str(tmp_path / "nothing" / "*" / "bin" / "python"),
            missing,  # a plain path stays, so its probe says it is missing
        ]
    )
    assert paths == [str(tmp_path / "venvs" / name / "bin" / "python") for name in ("a", "b", "c")] + [missing]
    assert unmatched == [str(tmp_path / "nothing" / "*" / "bin" / "python")]


def test_glob_in_torch_python_probes_each_match(tmp_path):
    for name in ("one", "two"):
        make_venv(tmp_path / "venvs" / name)
    entries, summary = torch_probe.gather_torch(
        torch_python=[str(tmp_path / "venvs" / "*" / "bin" / "python")], budget=60
    )
    assert [(e["kind"], e["name"], e["probe"]) for e in entries] == [("venv", "one", "ok"), ("venv", "two", "ok")]
    assert summary["probed"] == 2 and summary["discover"] is False


# --- discovery --------------------------------------------------------------------------------------------------------


@pytest.fixture
def host(tmp_path):
    """A home with conda (environments.txt, a miniconda3 root with envs/), and a search root with venvs."""
    python = sys.executable
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    conda_root = make_conda_env(home / "miniconda3", python)
    make_conda_env(home / "miniconda3" / "envs" / "torch-cu124", python)
    job_env = make_conda_env(tmp_path / "scratch" / "tool_venv2_job_4242", python)  # only in environments.txt
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(
        f"{conda_root}\n{home / 'miniconda3' / 'envs' / 'torch-cu124'}\n{job_env}\n{tmp_path / 'deleted-env'}\n"
    )
    root = tmp_path / "opt"
    make_venv(root / "venvs" / "train")
    make_venv(root / "venvs" / "serve", tool="uv")
    make_venv(root / "a" / "b" / "c" / "too-deep")  # 4 levels below the root
    make_venv(root / "app" / "node_modules" / "x" / "venv")
    make_venv(tmp_path / "elsewhere" / "linked")
    (root / "link").symlink_to(tmp_path / "elsewhere")  # not followed
    return {"home": home, "user": me(home), "root": root, "tmp": tmp_path}


def test_discovery_finds_conda_envs_venvs_and_the_system_python(host):
    system_python = fake_python(host["tmp"] / "usr" / "bin" / "python3")
    envs, notes = _torch_envs.discover_envs(
        [str(host["root"])], users=[host["user"]], conda_roots=(), system_python=str(system_python)
    )
    found = [(env["kind"], env["name"], env["prefix"]) for env in envs]
    home, root, tmp = host["home"], host["root"], host["tmp"]
    assert found == [
        ("conda", "base", str(home / "miniconda3")),
        ("conda", "torch-cu124", str(home / "miniconda3" / "envs" / "torch-cu124")),
        ("conda", "tool_venv2_job_4242", str(tmp / "scratch" / "tool_venv2_job_4242")),
        # found again as a conda root and under its envs/: one entry each (select_envs deduplicates)
        ("conda", "base", str(home / "miniconda3")),
        ("conda", "torch-cu124", str(home / "miniconda3" / "envs" / "torch-cu124")),
        ("venv", "serve", str(root / "venvs" / "serve")),
        ("venv", "train", str(root / "venvs" / "train")),
        ("system", "system", str(tmp / "usr")),
    ]
    assert {env["owner"] for env in envs} == {pwd.getpwuid(os.getuid()).pw_name}
    assert envs[0]["python"] == str(home / "miniconda3" / "bin" / "python")
    assert notes == {"search_truncated": False}
    chosen, left_out = _torch_envs.select_envs([], envs, max_envs=64)
    assert len(chosen) == 6 and left_out == []


def test_search_depth_and_skipped_directories(tmp_path):
    for path in ("l1", "d/l2", "d/e/l3", "d/e/f/l4", ".venv", "x/.git/v", "x/site-packages/v", "x/.cache/v"):
        make_venv(tmp_path / path)
    found, truncated = _torch_envs.find_venv_prefixes([str(tmp_path)])
    assert sorted(os.path.relpath(p, tmp_path) for p in found) == [".venv", "d/e/l3", "d/l2", "l1"]
    assert truncated is False
    _found, truncated = _torch_envs.find_venv_prefixes([str(tmp_path)], max_dirs=2)
    assert truncated is True


def test_search_roots_may_be_globs(tmp_path):
    make_venv(tmp_path / "home" / "alice" / "venv")
    make_venv(tmp_path / "home" / "bob" / "projects" / "x" / ".venv")
    found, _truncated = _torch_envs.find_venv_prefixes([str(tmp_path / "home" / "*")])
    assert [os.path.relpath(p, tmp_path) for p in found] == ["home/alice/venv", "home/bob/projects/x/.venv"]


@pytest.mark.parametrize("version", CONDA_PYTHONS)
def test_conda_envs_on_real_pythons_are_probed(tmp_path, version):
    """Conda-style environments whose interpreter is a real pyenv Python, from 2.7 up: the probe answers in each."""
    home = tmp_path / "home"
    home.mkdir()
    prefix = make_conda_env(home / "miniforge3" / "envs" / f"py{version}", pyenv_python(version))
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(f"{prefix}\n")
    envs, _notes = _torch_envs.discover_envs([], users=[me(home)], conda_roots=(), system_python=None)
    envs, _left_out = _torch_envs.select_envs([], envs)
    (entry,) = torch_probe.probe_envs(envs, budget=60)
    assert (entry["kind"], entry["name"], entry["prefix"]) == ("conda", f"py{version}", str(prefix))
    assert entry["probe"] == "ok", entry["error"]
    assert entry["python_version"].startswith(version + ".")
    assert entry["uid"] == os.getuid()
    assert entry["torch_installed"] is False and entry["build"] is None


@pytest.mark.parametrize("tool", ["venv", "uv"])
def test_discover_probes_venvs_made_by_venv_and_uv(tmp_path, tool):
    python = pyenv_python("3.8") or sys.executable
    make_venv(tmp_path / "venvs" / f"made-by-{tool}", python=python, tool=tool)
    entries, summary = torch_probe.gather_torch(discover=True, search_roots=[str(tmp_path)], budget=60)
    venvs = [e for e in entries if e["kind"] == "venv"]
    assert [(e["name"], e["probe"]) for e in venvs] == [(f"made-by-{tool}", "ok")], venvs
    real_version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert venvs[0]["python_version"] == real_version
    assert summary["discover"] is True and summary["probes"]["timeout"] == 0


# --- deduplication and the bound --------------------------------------------------------------------------------------


def test_dedupe_by_prefix_not_by_interpreter(tmp_path):
    """Two venvs share their base's binary and stay two; one venv named twice (python, python3) is one."""
    one = make_venv(tmp_path / "one")
    two = make_venv(tmp_path / "two")
    assert os.path.realpath(one / "bin" / "python") == os.path.realpath(two / "bin" / "python")
    listed = [_torch_envs.describe_env(str(one / "bin" / "python3"))]
    discovered, _notes = _torch_envs.discover_envs([str(tmp_path)], users=[], conda_roots=(), system_python=None)
    (tmp_path / "alias").symlink_to(one)  # the same prefix by another path
    discovered.append(_torch_envs.describe_env(str(tmp_path / "alias" / "bin" / "python"), kind="venv"))
    chosen, left_out = _torch_envs.select_envs(listed, discovered)
    assert [env["prefix"] for env in chosen] == [str(one), str(two)]
    assert chosen[0]["python"] == str(one / "bin" / "python3")  # the listed one wins
    assert left_out == []


def test_max_envs_bounds_the_probes_and_names_the_rest(tmp_path):
    for index in range(5):
        make_venv(tmp_path / f"env{index}")
    entries, summary = torch_probe.gather_torch(
        torch_python=[str(tmp_path / "env0" / "bin" / "python")],
        discover=True,
        search_roots=[str(tmp_path)],
        max_envs=3,
        budget=60,
    )
    # env0 listed first, then env1 and env2 discovered (env0 again is deduplicated); env3, env4 and the system
    # python3 (when the host has one) are left out
    assert [e["name"] for e in entries] == ["env0", "env1", "env2"]
    assert all(e["probe"] == "ok" for e in entries)
    assert summary["probed"] == 3
    assert summary["left_out"][:2] == [str(tmp_path / "env3"), str(tmp_path / "env4")]
    assert summary["found"] == 3 + len(summary["left_out"])


def test_defaults_without_list_or_discovery_are_unchanged():
    entries, summary = torch_probe.gather_torch(budget=60)
    assert [e["python"] for e in entries] == torch_probe.default_torch_pythons()
    assert entries[0]["probe"] == "ok"
    assert summary["discover"] is False


def test_default_search_roots_match_the_documentation():
    import yaml
    from ansible_collections.gpufleet.nvidia.plugins.doc_fragments.torch_python import ModuleDocFragment

    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert options["torch_search_roots"]["default"] == list(_torch_envs.DEFAULT_SEARCH_ROOTS)
    assert options["torch_max_envs"]["default"] == _torch_envs.DEFAULT_MAX_ENVS
