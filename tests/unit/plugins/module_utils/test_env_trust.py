# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether and as whom an environment is run (module_utils/_env_trust.py), with real venvs and a sitecustomize.py
that leaves a marker file when the interpreter runs, so that "not run" is proved, not assumed.

Probing as another user needs root: tests/integration/test_torch_probe_as_user.py.
"""

import grp
import os
import pwd
import subprocess
import sys

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _env_trust, torch_probe

SITECUSTOMIZE = "import os\nopen({marker!r}, 'w').write(str(os.getuid()))\n"


def site_packages(prefix):
    (path,) = prefix.glob("lib/python*/site-packages")
    return path


@pytest.fixture
def venv(tmp_path):
    """A real venv whose interpreter, when run, writes tmp_path/ran (via sitecustomize.py)."""
    prefix = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    marker = tmp_path / "ran"
    (site_packages(prefix) / "sitecustomize.py").write_text(SITECUSTOMIZE.format(marker=str(marker)))
    return {"prefix": prefix, "python": str(prefix / "bin" / "python"), "marker": marker}


def probe(venv):
    from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import describe_env

    (entry,) = torch_probe.probe_envs([describe_env(venv["python"])], budget=60)
    return entry


def test_a_trusted_venv_runs(venv):
    """The control: the marker mechanism works, so its absence below means the interpreter did not run."""
    entry = probe(venv)
    assert entry["probe"] == "ok", entry["error"]
    assert venv["marker"].read_text() == str(os.getuid())
    assert entry["uid"] == os.getuid()
    assert entry["ran_as"] == pwd.getpwuid(os.geteuid()).pw_name


@pytest.mark.parametrize("part", ["prefix", "bin", "site-packages"])
def test_a_world_writable_environment_is_refused_and_not_run(venv, part):
    path = {"prefix": venv["prefix"], "bin": venv["prefix"] / "bin", "site-packages": site_packages(venv["prefix"])}
    path = path[part]
    path.chmod(path.stat().st_mode | 0o002)
    entry = probe(venv)
    assert entry["probe"] == "refused"
    assert entry["error"] == f"not run: directory {path} is world-writable (mode {path.stat().st_mode & 0o7777:04o})"
    assert entry["ran_as"] is None and entry["python_version"] is None
    assert not venv["marker"].exists(), "the refused interpreter ran"


def test_a_world_writable_interpreter_file_is_refused(tmp_path):
    prefix = tmp_path / "env"
    (prefix / "bin").mkdir(parents=True)
    marker = tmp_path / "ran"
    python = prefix / "bin" / "python"
    python.write_text(f"#!/bin/sh\ntouch {marker}\n")
    python.chmod(0o777)
    verdict = _env_trust.assess_env(str(prefix), str(python))
    assert verdict.refused == f"not run: file {python} is world-writable (mode 0777)"
    entry = probe({"python": str(python)})
    assert entry["probe"] == "refused"
    assert not marker.exists()


def accounts_with(group_members, primary_members=()):
    """Accounts: this user (owner), mallory (uid 4242) in this user's group as listed, eve (uid 4343) by primary gid."""
    owner = pwd.getpwuid(os.getuid())
    gid = os.getgid()
    users = [owner, pwd.struct_passwd(("mallory", "x", 4242, 4242, "", "/home/mallory", "/bin/sh"))]
    if primary_members:
        users.append(pwd.struct_passwd(("eve", "x", 4343, gid, "", "/home/eve", "/bin/sh")))
    group = grp.struct_group((grp.getgrgid(gid).gr_name, "x", gid, list(group_members)))
    return _env_trust.Accounts(users=users, groups=[group])


@pytest.mark.parametrize(
    "members, primary, others",
    [
        ([], False, None),  # group-writable, but only the owner is in the group: fine
        ("owner", False, None),
        (["mallory"], False, "mallory"),
        ([], True, "eve"),  # eve has it as her primary group
    ],
)
def test_group_writable_refused_only_when_others_are_in_the_group(venv, members, primary, others):
    owner = pwd.getpwuid(os.getuid()).pw_name
    members = [owner] if members == "owner" else members
    bin_dir = venv["prefix"] / "bin"
    bin_dir.chmod(0o775)
    verdict = _env_trust.assess_env(str(venv["prefix"]), venv["python"], accounts_with(members, primary))
    if others is None:
        assert verdict.refused is None
    else:
        assert verdict.refused.startswith(f"not run: directory {bin_dir} is group-writable (mode 0775) by group ")
        assert verdict.refused.endswith(f"which has other members ({others})")


def test_not_root_does_not_run_another_users_environment(venv, tmp_path):
    """A module without become (euid 4242 here) runs its own and root's environments only."""
    if os.getuid() == 0:
        os.chown(venv["prefix"], 65534, 65534)  # nobody's, seen by a non-root module
        owner = pwd.getpwuid(65534).pw_name
    else:
        owner = pwd.getpwuid(os.getuid()).pw_name
    accounts = _env_trust.Accounts()
    verdict = _env_trust.assess_env(str(venv["prefix"]), venv["python"], accounts, euid=4242)
    assert verdict.run_as is None
    assert verdict.refused.startswith(f"not run: the environment belongs to {owner} and the module runs as ")
    assert verdict.refused.endswith(f"cannot run it as {owner} (run gpu_facts with become)")


def test_root_runs_other_users_environment_as_them_never_as_root(venv):
    """Decided from the stat alone (running it for real as that user: tests/integration)."""
    if os.getuid() != 0:
        pytest.skip("changing an environment's owner needs root")
    for path in [venv["prefix"], *venv["prefix"].rglob("*")]:
        os.lchown(path, 65534, 65534)
    verdict = _env_trust.assess_env(str(venv["prefix"]), venv["python"], euid=0)
    assert verdict.refused is None
    assert verdict.run_as.uid == 65534 and verdict.run_as.gid == 65534
    assert verdict.user == pwd.getpwuid(65534).pw_name


def test_a_part_owned_by_a_third_user_is_refused(venv):
    if os.getuid() != 0:
        pytest.skip("giving a file to another user needs root")
    site = site_packages(venv["prefix"])
    os.chown(site, 65534, 65534)
    verdict = _env_trust.assess_env(str(venv["prefix"]), venv["python"], euid=0)
    name = pwd.getpwuid(65534).pw_name
    assert verdict.refused == f"not run: directory {site} is owned by {name}, not by the environment's owner root"


def test_clean_environment_has_nothing_of_ours(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/evil")
    monkeypatch.setenv("LD_PRELOAD", "/evil.so")
    user = pwd.getpwuid(os.getuid())
    env = _env_trust.clean_environment(user.pw_name)
    assert env == {
        "PATH": _env_trust.CLEAN_PATH,
        "HOME": user.pw_dir,
        "LANG": "C.UTF-8",
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
    }


def test_debian_local_dist_packages_count_for_the_system_python(tmp_path):
    """/usr/bin/python3 reads /usr/local/lib/python3.X/dist-packages too (root:staff and group-writable on Debian)."""
    usr = tmp_path / "usr"
    python = usr / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    local = usr / "local" / "lib" / "python3.11" / "dist-packages"
    local.mkdir(parents=True)
    local.chmod(0o2775)
    verdict = _env_trust.assess_env(str(usr), str(python), accounts_with(["mallory"]))
    assert verdict.refused.startswith(f"not run: directory {local} is group-writable (mode 2775)")
    assert _env_trust.assess_env(str(usr), str(python), accounts_with([])).refused is None


@pytest.mark.parametrize(
    "part",
    ["sitecustomize.py", "evil.pth", "torch/__init__.py", "torch"],
)
def test_a_world_writable_startup_file_or_probed_package_in_a_trusted_site_dir_is_refused(venv, part):
    """site-packages itself is not writable by others, but a file in it that runs at start-up (or the torch the probe
    imports) is: the environment is refused and its interpreter not run."""
    path = site_packages(venv["prefix"]) / part
    if part == "torch":
        path.mkdir()
    elif part.startswith("torch/"):
        path.parent.mkdir()
        path.write_text("")
    elif not path.exists():
        path.write_text("")
    path.chmod(path.stat().st_mode | 0o002)
    entry = probe(venv)
    assert entry["probe"] == "refused"
    assert str(path) in entry["error"] and "world-writable" in entry["error"]
    assert not venv["marker"].exists(), "the refused interpreter ran"


def test_a_world_writable_directory_a_pth_file_adds_is_refused(venv, tmp_path):
    """torch imported from a directory a .pth file puts on sys.path (as the demo's venvs get theirs) is checked as the
    environment's own site-packages is."""
    shared = tmp_path / "shared-site"
    (shared / "torch").mkdir(parents=True)
    (site_packages(venv["prefix"]) / "shared.pth").write_text(f"# the team's packages\nimport os\n{shared}\n")
    assert str(shared) in _env_trust.env_paths(str(venv["prefix"]), venv["python"])
    assert str(shared / "torch") in _env_trust.env_paths(str(venv["prefix"]), venv["python"])
    (shared / "torch").chmod(0o777)
    entry = probe(venv)
    assert entry["probe"] == "refused"
    assert entry["error"] == f"not run: directory {shared / 'torch'} is world-writable (mode 0777)"
    assert not venv["marker"].exists(), "the refused interpreter ran"
