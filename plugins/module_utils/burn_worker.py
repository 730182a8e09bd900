# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torch burn-in worker's text, read from _burn_worker_main.py so it travels to the host with the module.

Only modules and module_utils are shipped to a managed host, and torch must never be imported into the Ansible
process, so the burn engine writes WORKER_SOURCE to a file and runs it with the user's ``torch_python``, one process
per GPU (installed as ``<results_dir>/gpufleet_burn_worker.py``). The worker is a real module
(``_burn_worker_main``): linted, compiled and unit-tested like the rest, its text read by _shipped.module_source.

Protocol: one JSON object per stdout line, ``event`` being ``start``, ``oom`` (size stepped down), ``progress``
(about once a second), ``spot_check_failed``, ``checksum_failed``, ``summary`` (last line of a run that ended
normally) or ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_worker_main
from ansible_collections.gpufleet.nvidia.plugins.module_utils._shipped import module_source

WORKER_NAME = "gpufleet_burn_worker.py"
WORKER_SOURCE = module_source(_burn_worker_main)
