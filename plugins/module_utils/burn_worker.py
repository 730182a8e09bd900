# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torch burn-in worker's text, read from _burn_worker_main.py so it travels to the host with the module.

Only modules and module_utils are shipped to a managed host, and torch must never be imported into the Ansible
process, so the burn engine writes WORKER_SOURCE to a file and runs it with the user's ``torch_python``, one process
per GPU (installed as ``<results_dir>/gpufleet_burn_worker.py``). The worker is a real module
(``_burn_worker_main``): linted, compiled and unit-tested like the rest. Importing it here (it imports only the
standard library at its top level) is what makes Ansible pack it into the module's AnsiballZ payload; its text is
then read through the package's loader, which works from that zip as from a checkout.

Protocol: one JSON object per stdout line, ``event`` being ``start``, ``oom`` (size stepped down), ``progress``
(about once a second), ``spot_check_failed``, ``checksum_failed``, ``summary`` (last line of a run that ended
normally) or ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_worker_main

WORKER_NAME = "gpufleet_burn_worker.py"


def read_worker_source():
    """The text of _burn_worker_main.py through its loader: a checkout's files or AnsiballZ's zip alike."""
    loader = getattr(_burn_worker_main, "__loader__", None)
    source = loader.get_source(_burn_worker_main.__name__) if hasattr(loader, "get_source") else None
    if source is None:
        raise ImportError(f"cannot read the burn worker's source ({_burn_worker_main.__name__} via {loader!r})")
    return source


WORKER_SOURCE = read_worker_source()
