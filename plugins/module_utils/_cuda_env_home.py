# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CUDA home of links of the cuda_env role (module cuda_env_home): planned, then applied.

A distribution's toolkit is spread over /usr, so the role gives build tools a CUDA_HOME made of links (bin/nvcc,
include, lib64, nvvm/libdevice; the links come from module_utils/cuda_environment). The directory is the role's own
only when it holds the mark file: only such a directory is refilled or removed, and a directory without the mark
that holds anything is refused, so nobody's files are ever touched. ``plan_home`` reads the filesystem and returns
the steps; ``apply_home`` carries them out; both plain functions, tested on temporary directories.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import shutil

from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic import write_atomic

DIR_MODE = 0o755
MARK_MODE = 0o644


class HomeError(Exception):
    """The home cannot be managed (it is someone else's, or the links are not inside it); the message says why."""


def _is_real_dir(path):
    return os.path.isdir(path) and not os.path.islink(path)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def home_owner(path, mark):
    """'absent', 'ours' (a directory with the mark), 'empty' (a directory without it, holding nothing) or 'foreign'."""
    if not os.path.lexists(path):
        return "absent"
    if not _is_real_dir(path):
        return "foreign"
    if os.path.isfile(posixpath.join(path, mark)):
        return "ours"
    return "empty" if not os.listdir(path) else "foreign"


def _foreign_message(path, mark):
    what = "" if _is_real_dir(path) else ", and it is not a directory"
    return (
        f"the CUDA home {path} exists and was not made by the cuda_env role (no {mark} in it{what}); "
        "point cuda_env_home_dir at a new or empty directory"
    )


def _links_under(path):
    """Every symbolic link under path (not following links), sorted."""
    found = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = posixpath.join(root, name)
            if os.path.islink(entry):
                found.append(entry)
    return sorted(found)


def _dirs_of(path, links):
    """The home and every directory a link sits in, parents first."""
    needed = {path}
    for link in links:
        parent = posixpath.dirname(link["dest"])
        while parent != path and parent.startswith(path + "/"):
            needed.add(parent)
            parent = posixpath.dirname(parent)
    return sorted(needed, key=lambda item: (item.count("/"), item))


def plan_home(path, links, mark, mark_content, state="present"):
    """The steps that make path what state asks, as a list of (step, path, detail) tuples; [] when it is already so.

    Steps: ("mkdir", dir, None), ("chmod", dir, mode), ("mark", file, content), ("unlink", entry, None) for an entry
    to remove before a link replaces it or for a link the toolkit no longer has, ("link", dest, src), and
    ("remove", path, None) for the whole home. Raises HomeError for a home that is not the role's.
    """
    path = posixpath.normpath(path)
    owner = home_owner(path, mark)
    if state == "absent":
        # Only what the role made goes; anything else at that path is someone else's and stays.
        return [("remove", path, None)] if owner == "ours" else []
    if owner == "foreign":
        raise HomeError(_foreign_message(path, mark))
    for link in links:
        if not link["dest"].startswith(path + "/"):
            raise HomeError(f"the link {link['dest']} is not inside the CUDA home {path}")

    steps = []
    needed_dirs = _dirs_of(path, links)
    for directory in needed_dirs:
        if not os.path.lexists(directory):
            steps.append(("mkdir", directory, None))
        elif not _is_real_dir(directory):
            steps += [("unlink", directory, None), ("mkdir", directory, None)]
        elif os.stat(directory).st_mode & 0o7777 != DIR_MODE:
            steps.append(("chmod", directory, DIR_MODE))
    mark_path = posixpath.join(path, mark)
    if _read(mark_path) != mark_content or os.stat(mark_path).st_mode & 0o7777 != MARK_MODE:
        steps.append(("mark", mark_path, mark_content))

    wanted = {link["dest"]: link["src"] for link in links}
    for dest, src in wanted.items():
        if os.path.islink(dest) and os.readlink(dest) == src:
            continue
        if os.path.lexists(dest):
            steps.append(("unlink", dest, None))
        steps.append(("link", dest, src))
    if owner == "ours":
        scheduled = {step_path for step, step_path, _detail in steps if step == "unlink"}
        for entry in _links_under(path):
            if entry not in wanted and entry not in scheduled and entry not in needed_dirs:
                steps.append(("unlink", entry, None))
    return steps


def apply_home(steps):
    """Carry out the steps of plan_home, in order."""
    for step, path, detail in steps:
        if step == "mkdir":
            os.makedirs(path, DIR_MODE)  # with the parents the home needs, as `mkdir -p`
            os.chmod(path, DIR_MODE)  # whatever the umask
        elif step == "chmod":
            os.chmod(path, detail)
        elif step == "mark":
            write_atomic(path, detail, MARK_MODE)
        elif step == "unlink":
            if _is_real_dir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        elif step == "link":
            os.symlink(detail, path)
        elif step == "remove":
            shutil.rmtree(path)
        else:  # pragma: no cover - plan_home makes only the steps above
            raise ValueError(f"unknown step {step!r}")


def describe_links(path, links):
    """'name -> target' lines of the links under path (for the diff), sorted."""
    return [
        f"{posixpath.relpath(link['dest'], path)} -> {link['src']}" for link in sorted(links, key=lambda x: x["dest"])
    ]


def current_links(path):
    """The links under path as plan_home's links, [] when path is not a directory."""
    if not _is_real_dir(path):
        return []
    return [{"dest": entry, "src": os.readlink(entry)} for entry in _links_under(path)]
