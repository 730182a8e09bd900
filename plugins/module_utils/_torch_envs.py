# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Python environments of a host gpu_facts probes for PyTorch: listed interpreters, globs, and discovery.

An environment is a prefix (the directory above an interpreter's ``bin/``) and the interpreter in it. Discovery finds
conda environments (each user's ``~/.conda/environments.txt``, the usual conda roots and their ``envs/``), virtual
environments (a ``pyvenv.cfg``) under search roots, and the system ``python3``. Environments are deduplicated by their
prefix's real path, not by the interpreter's real path, which every venv shares with its base Python.
Only the file system is read here; torch_probe.py runs the interpreters.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import pwd

CONDA_ROOTS = ("/opt/conda", "/opt/miniconda3", "/opt/anaconda3")
# Conda roots an installer puts in a user's home by default.
HOME_CONDA_ROOTS = ("miniconda3", "anaconda3", "miniforge3", "mambaforge", ".conda")
DEFAULT_SEARCH_ROOTS = ("/opt", "/srv", "/home/*", "/root")
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_MAX_ENVS = 64
# How deep below a search root a venv may be: /home/alice/projects/x/.venv is 3.
SEARCH_DEPTH = 3
# Directories looked into per discovery at most, so a huge /home cannot stall the module.
MAX_DIRS_VISITED = 20000
# Never venvs, and big: not descended into.
SKIP_DIRS = frozenset(("site-packages", "dist-packages", "node_modules", ".git", "__pycache__", ".cache", "pkgs"))
KINDS = ("conda", "venv", "system", "listed")


def has_magic(pattern):
    return any(char in pattern for char in "*?[")


def expand_patterns(patterns):
    """(paths, unmatched): plain paths as given, glob patterns expanded on this host, sorted; duplicates dropped."""
    paths, unmatched, seen = [], [], set()
    for pattern in patterns or []:
        matches = sorted(glob.glob(pattern)) if has_magic(pattern) else [pattern]
        if not matches:
            unmatched.append(pattern)
        for path in matches:
            if path not in seen:
                seen.add(path)
                paths.append(path)
    return paths, unmatched


def is_conda_env(prefix):
    return os.path.isdir(os.path.join(prefix, "conda-meta"))


def is_venv(prefix):
    return os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))


def env_python(prefix):
    """The interpreter of an environment prefix: bin/python, else bin/python3."""
    for name in ("python", "python3"):
        path = os.path.join(prefix, "bin", name)
        if os.path.exists(path):
            return path
    return os.path.join(prefix, "bin", "python")


def conda_env_name(prefix):
    """conda's name for an environment: ``base`` for a conda installation's root, else its directory name."""
    prefix = prefix.rstrip("/")
    is_root = any(os.path.exists(os.path.join(prefix, part)) for part in ("condabin", "envs", "bin/conda"))
    if is_root and os.path.basename(os.path.dirname(prefix)) != "envs":
        return "base"
    return os.path.basename(prefix)


def owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def interpreter_prefix(python):
    """The environment an interpreter belongs to: the directory above its bin/ (not following the link)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(python)))


def describe_env(python, kind=None, name=None):
    """The entry fields of the environment of ``python``: python, kind, name, prefix, owner."""
    prefix = interpreter_prefix(python)
    if kind is None:
        if is_conda_env(prefix):
            kind, name = "conda", conda_env_name(prefix)
        elif is_venv(prefix):
            kind = "venv"
        else:
            kind = "listed"
    if name is None:
        name = os.path.basename(prefix) or prefix
    try:
        owner = owner_name(os.stat(prefix).st_uid)
    except OSError:
        owner = None
    return {"python": python, "kind": kind, "name": name, "prefix": prefix, "owner": owner}


def env_key(env):
    """Two entries are one environment when their prefixes and their interpreters' real files are the same.

    A venv shares its base's binary but not its prefix; /usr/bin/python2.7 and /usr/bin/python3 share /usr but not
    the binary.
    """
    return (os.path.realpath(env["prefix"]), os.path.realpath(env["python"]))


def _homes(users):
    seen, homes = set(), []
    for user in users:
        home = user.pw_dir
        if home and home != "/" and home not in seen and os.path.isdir(home):
            seen.add(home)
            homes.append(home)
    return homes


def read_environments_txt(path):
    """The prefixes conda recorded in an ``environments.txt`` (one per line); [] when unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError:
        return []


def find_conda_prefixes(users, conda_roots=CONDA_ROOTS):
    """Prefixes of conda environments: environments.txt of every user, each conda root and its envs/*."""
    candidates = []
    roots = list(conda_roots)
    for home in _homes(users):
        candidates.extend(read_environments_txt(os.path.join(home, ".conda", "environments.txt")))
        roots.extend(os.path.join(home, name) for name in HOME_CONDA_ROOTS)
    for root in roots:
        candidates.append(root)
        candidates.extend(sorted(glob.glob(os.path.join(glob.escape(root), "envs", "*"))))
    return [prefix for prefix in candidates if os.path.isabs(prefix) and is_conda_env(prefix)]


def find_venv_prefixes(roots, depth=SEARCH_DEPTH, max_dirs=MAX_DIRS_VISITED):
    """(prefixes, truncated): every directory with a pyvenv.cfg at most ``depth`` levels below a root.

    Roots may be glob patterns. Symlinked directories are not followed (a link could lead anywhere, and loops), the
    inside of a venv and SKIP_DIRS are not entered, and at most ``max_dirs`` directories are read.
    """
    found, visited, truncated = [], 0, False
    expanded, _unmatched = expand_patterns(roots)
    stack = [(root, 0) for root in reversed(expanded) if os.path.isdir(root)]
    while stack:
        path, level = stack.pop()
        if is_venv(path):
            found.append(path)
            continue
        if level >= depth:
            continue
        if visited >= max_dirs:
            truncated = True
            break
        visited += 1
        try:
            entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        except OSError:
            continue
        children = []
        for entry in entries:
            if entry.name in SKIP_DIRS:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    children.append((entry.path, level + 1))
            except OSError:
                continue
        stack.extend(reversed(children))
    return found, truncated


def discover_envs(search_roots=DEFAULT_SEARCH_ROOTS, users=None, conda_roots=CONDA_ROOTS, system_python=SYSTEM_PYTHON):
    """(envs, notes): the environments discovery finds, conda first, then venvs, then the system python3.

    ``notes`` says what limited the search (``search_truncated``).
    """
    users = pwd.getpwall() if users is None else users
    envs = []
    for prefix in find_conda_prefixes(users, conda_roots):
        envs.append(describe_env(env_python(prefix), kind="conda", name=conda_env_name(prefix)))
    venvs, truncated = find_venv_prefixes(search_roots)
    for prefix in venvs:
        if is_conda_env(prefix):  # found again through a search root
            continue
        envs.append(describe_env(env_python(prefix), kind="venv", name=os.path.basename(prefix)))
    if system_python and os.path.exists(system_python):
        envs.append(describe_env(system_python, kind="system", name="system"))
    return envs, {"search_truncated": truncated}


def select_envs(listed, discovered, max_envs=DEFAULT_MAX_ENVS):
    """(envs, left_out): listed first, then discovered, one per environment (env_key), at most max_envs."""
    chosen, left_out, seen = [], [], set()
    for env in list(listed) + list(discovered):
        try:
            key = env_key(env)
        except OSError:
            key = (env["prefix"], env["python"])
        if key in seen:
            continue
        seen.add(key)
        if len(chosen) < max_envs:
            chosen.append(env)
        else:
            left_out.append(env["prefix"])
    return chosen, left_out
