# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Which Python interpreters gpu_facts probes for PyTorch, and for how long. Its one user is gpu_facts: gpu_burnin's
    # torch_python is a single interpreter (the one that runs the burn worker) and is documented in that module.
    DOCUMENTATION = r"""
options:
  torch_python:
    description:
      - Absolute paths of the Python interpreters to probe for PyTorch (for example the C(bin/python) of each
        virtual environment that runs GPU jobs).
      - Each interpreter runs in its own subprocess; PyTorch is never imported into the Ansible process.
      - When not set, the interpreter running the module and C(python3) on E(PATH) are probed, deduplicated by
        real path.
    type: list
    elements: path
  torch_timeout:
    description:
      - Seconds one interpreter may take before its probe is stopped and reported with an C(error).
    type: int
    default: 60
"""
