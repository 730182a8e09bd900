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
      - Absolute paths or glob patterns of the Python interpreters to probe for PyTorch (for example
        C(/opt/venvs/*/bin/python) or C(/home/*/.conda/envs/*/bin/python)). Patterns are expanded on the host,
        sorted; a pattern that matches nothing is listed in RV(ansible_facts.gpu.torch_discovery.unmatched_patterns).
      - Each interpreter runs in its own subprocess; PyTorch is never imported into the Ansible process.
      - When neither this nor O(torch_discover) is set, the interpreter running the module and C(python3) on E(PATH)
        are probed, deduplicated by real path.
    type: list
    elements: path
  torch_discover:
    description:
      - Find the host's Python environments and probe them too (after those of O(torch_python)).
      - "Conda environments: the prefixes in every user's C(~/.conda/environments.txt), the conda roots C(/opt/conda),
        C(/opt/miniconda3), C(/opt/anaconda3) and C(~/miniconda3), C(~/anaconda3), C(~/miniforge3), C(~/mambaforge),
        C(~/.conda) of every user, each root itself (C(base)) and its C(envs/*). A conda environment is a directory
        with C(conda-meta/); its interpreter is C(bin/python)."
      - Virtual environments (a directory with C(pyvenv.cfg)) at most three levels below each of
        O(torch_search_roots), not following symbolic links to directories and not entering C(site-packages),
        C(node_modules), C(.git), C(.cache) or C(pkgs); at most 20000 directories are read
        (RV(ansible_facts.gpu.torch_discovery.search_truncated)).
      - The system C(/usr/bin/python3).
      - Environments are deduplicated by their prefix (not by the interpreter binary, which a venv shares with its
        base Python) and at most O(torch_max_envs) are probed.
    type: bool
    default: false
  torch_search_roots:
    description:
      - Directories (or glob patterns) under which O(torch_discover) looks for virtual environments.
    type: list
    elements: path
    default: [/opt, /srv, /home/*, /root]
  torch_max_envs:
    description:
      - The most environments probed (listed ones first, then discovered ones); the others are named in
        RV(ansible_facts.gpu.torch_discovery.left_out).
    type: int
    default: 64
  torch_timeout:
    description:
      - Seconds all probes together may take. Probes run in parallel; at the end of this budget every probe still
        running is stopped (with every process it started) and reported with
        RV(ansible_facts.gpu.torch[].probe=timeout).
    type: int
    default: 60
"""
