# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether, and as whom, gpu_facts may run a Python environment's interpreter.

Running an interpreter runs whatever its environment holds (``sitecustomize.py``, ``.pth`` files, packages). So an
environment is run as the user who owns its prefix, never as root unless root owns it, in a clean environment; and an
environment that someone other than its owner can write to (world-writable, or group-writable with a group that has
other members, or a part owned by a third user) is not run at all: running it would run that someone's code as the
owner. When this process is not root it can only run its own and root's environments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import glob
import grp
import os
import pwd
import stat

from ansible_collections.gpufleet.nvidia.plugins.module_utils._parallel_commands import RunAs

# What a probe may run as, or why it may not run (refused is None when it may).
Verdict = collections.namedtuple("Verdict", ["run_as", "user", "refused"])

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# In a site directory (and the standard library directory): what the interpreter runs at start-up (.pth files,
# sitecustomize, usercustomize) and the packages the probe imports (torch with NVIDIA's libraries, bitsandbytes).
_STARTUP_AND_PROBED = (
    "*.pth",
    "sitecustomize.py",
    "usercustomize.py",
    "torch",
    "torch/lib",
    "torch/__init__.py",
    "nvidia",
    "bitsandbytes",
    "bitsandbytes/__init__.py",
)


def env_paths(prefix, python):
    """The paths whose writers control what the interpreter runs: prefix, bin/, the real interpreter, site dirs."""
    real_python = os.path.realpath(python)
    paths = [prefix, os.path.join(prefix, "bin"), os.path.dirname(real_python), real_python]
    # local/...: Debian's /usr/bin/python3 also reads /usr/local/lib/python3.X/dist-packages (root:staff, g+w).
    patterns = (
        "lib/python*/site-packages",
        "lib/python*/dist-packages",
        "lib64/python*/site-packages",
        "local/lib/python*/dist-packages",
    )
    site_dirs = []
    for pattern in patterns:
        site_dirs.extend(sorted(glob.glob(os.path.join(glob.escape(prefix), pattern))))
    # Directories a .pth file adds to sys.path count as site directories too (packages are imported from them).
    site_dirs += [path for site_dir in site_dirs for path in _pth_directories(site_dir) if path not in site_dirs]
    paths.extend(site_dirs)
    # What runs from them at start-up or when the probe imports torch and bitsandbytes: a trusted directory may still
    # hold a file or package that another user owns or can change.
    for site_dir in site_dirs + sorted(glob.glob(os.path.join(glob.escape(prefix), "lib/python*"))):
        for pattern in _STARTUP_AND_PROBED:
            paths.extend(sorted(glob.glob(os.path.join(glob.escape(site_dir), pattern))))
    seen, unique = set(), []
    for path in paths:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def _pth_directories(site_dir):
    """The existing directories the .pth files of site_dir add to sys.path (as site.py reads them: a line that is
    not a comment and not an ``import`` line, relative to site_dir)."""
    found = []
    for pth in sorted(glob.glob(os.path.join(glob.escape(site_dir), "*.pth"))):
        try:
            with open(pth, "rb") as handle:
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = os.path.normpath(os.path.join(site_dir, line))
            if os.path.isdir(path) and path not in found:
                found.append(path)
    return found


class Accounts:
    """The users and groups of the host, read once (pwd/grp), injectable for tests."""

    def __init__(self, users=None, groups=None):
        self.users = list(pwd.getpwall() if users is None else users)
        self.groups = list(grp.getgrall() if groups is None else groups)
        self._by_uid = {user.pw_uid: user for user in self.users}
        self._by_name = {user.pw_name: user for user in self.users}
        self._by_gid = {group.gr_gid: group for group in self.groups}

    def user(self, uid):
        return self._by_uid.get(uid)

    def name(self, uid):
        user = self._by_uid.get(uid)
        return user.pw_name if user else str(uid)

    def group_member_uids(self, gid):
        """uids of the group's members: listed in it, or having it as their primary group."""
        uids = {user.pw_uid for user in self.users if user.pw_gid == gid}
        group = self._by_gid.get(gid)
        for name in group.gr_mem if group else ():
            if name in self._by_name:
                uids.add(self._by_name[name].pw_uid)
        return uids

    def supplementary_groups(self, user):
        try:
            return sorted(set(os.getgrouplist(user.pw_name, user.pw_gid)))
        except OSError:
            return [user.pw_gid]


def writable_by_others(path, st, owner_uid, accounts):
    """Why someone other than owner_uid (or root) can change path, or None."""
    mode = st.st_mode
    kind = "directory" if stat.S_ISDIR(mode) else "file"
    if mode & stat.S_IWOTH:
        return "%s %s is world-writable (mode %04o)" % (kind, path, stat.S_IMODE(mode))
    if st.st_uid not in (owner_uid, 0):
        return "%s %s is owned by %s, not by the environment's owner %s" % (
            kind,
            path,
            accounts.name(st.st_uid),
            accounts.name(owner_uid),
        )
    if mode & stat.S_IWGRP:
        others = accounts.group_member_uids(st.st_gid) - {owner_uid, 0}
        if others:
            return "%s %s is group-writable (mode %04o) by group %s, which has other members (%s)" % (
                kind,
                path,
                stat.S_IMODE(mode),
                _group_name(st.st_gid),
                ", ".join(sorted(accounts.name(uid) for uid in others)),
            )
    return None


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def assess_env(prefix, python, accounts=None, euid=None):
    """Verdict(run_as, user, refused) for running ``python`` of the environment at ``prefix``.

    run_as is None to run as this process's user, else the RunAs of the prefix's owner; refused says why the
    interpreter must not be run (then nothing of the environment is executed).
    """
    accounts = accounts or Accounts()
    euid = os.geteuid() if euid is None else euid
    try:
        owner_uid = os.stat(prefix).st_uid
    except OSError as exc:
        return Verdict(None, None, "cannot read environment prefix %s: %s" % (prefix, exc.strerror or exc))
    owner = accounts.name(owner_uid)
    for path in env_paths(prefix, python):
        try:
            st = os.stat(path)
        except OSError:
            continue  # a missing interpreter or site dir is reported by the probe, not a trust question
        reason = writable_by_others(path, st, owner_uid, accounts)
        if reason:
            return Verdict(None, owner, "not run: " + reason)
    if owner_uid == euid or owner_uid == 0:
        # Our own, or root's: only root (or we) can change it, so it runs as we are.
        return Verdict(None, accounts.name(euid), None)
    if euid != 0:
        return Verdict(
            None,
            owner,
            "not run: the environment belongs to %s and the module runs as %s, which cannot run it as %s "
            "(run gpu_facts with become)" % (owner, accounts.name(euid), owner),
        )
    user = accounts.user(owner_uid)
    if user is None:
        return Verdict(None, owner, "not run: the owner uid %d of %s has no account to run as" % (owner_uid, prefix))
    return Verdict(RunAs(user.pw_uid, user.pw_gid, accounts.supplementary_groups(user)), owner, None)


def clean_environment(user_name, accounts=None, euid=None):
    """The whole environment a probe runs with: minimal PATH, the user's HOME, C.UTF-8, nothing else (no PYTHON*)."""
    accounts = accounts or Accounts()
    euid = os.geteuid() if euid is None else euid
    user = None
    for candidate in accounts.users:
        if candidate.pw_name == user_name:
            user = candidate
            break
    if user is None:
        user = accounts.user(euid)
    home = user.pw_dir if user and user.pw_dir else "/"
    name = user.pw_name if user else str(euid)
    return {"PATH": CLEAN_PATH, "HOME": home, "LANG": "C.UTF-8", "USER": name, "LOGNAME": name}
