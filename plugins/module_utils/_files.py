# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and replacing the small text files the modules own (daemon.json, the gpufleet local fact).

A file is replaced by writing a temporary file beside it, optionally validating it, syncing it and renaming it over
the old one, so a reader never sees half a file and a failed validation leaves the old file byte-for-byte as it was.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex
import tempfile

from ansible.module_utils.common.text.converters import to_native


def read_text(module, path):
    """The file's text, or None when it does not exist; fail_json when it cannot be read or decoded."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        module.fail_json(msg=f"cannot read {path}: {to_native(exc)}", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        module.fail_json(msg=f"{path}: not UTF-8 text: {exc}", path=path)


def replace_file(module, path, content, validate=None, backup=False, mode=None):
    """Write content beside path, validate it, fsync, back up the old file, rename over it; return the backup or None.

    validate: a command with %s for the new file's path; the file is not replaced when it fails. mode: the mode of a
    new file (an existing file keeps its owner, mode and SELinux context).
    """
    backup_file = None
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        module.fail_json(msg=f"cannot write {path}: directory {directory} does not exist", path=path)
    existed = os.path.exists(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        if validate:
            rc, out, err = module.run_command(shlex.split(validate % temporary))
            if rc != 0:
                module.fail_json(
                    msg=f"validation of the new {path} failed ({validate % temporary}, rc {rc}); "
                    f"the file was not changed: {(err or out).strip()}",
                    path=path,
                    rc=rc,
                    stdout=out,
                    stderr=err,
                )
        if backup and existed:
            backup_file = module.backup_local(path)
        if mode is not None and not existed:
            os.chmod(temporary, mode)
        # atomic_move keeps an existing file's owner, mode and SELinux context.
        module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return backup_file
