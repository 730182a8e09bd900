# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: cuda_select
short_description: Pick one CUDA toolkit from the facts gathered by gpu_facts
version_added: 0.1.0
description:
  - Takes RV(ansible_facts.gpu.cuda) as returned by M(gpufleet.nvidia.gpu_facts) with the V(cuda) subset and returns
    the toolkit asked for, with the same selection the collection's modules use.
  - Fails with the list of the versions that were found when the toolkit asked for is not installed.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The CUDA facts, C(ansible_facts['gpu']['cuda']).
    type: dict
    required: true
  want:
    description:
      - V(default) is the toolkit C(/usr/local/cuda) points to (or the one of the C(nvcc) on E(PATH), V(/usr) for
        the distribution's C(/usr/bin/nvcc)).
      - V(latest) is the highest version found.
      - A version such as V(12.4) or V(12) picks the highest toolkit whose version starts with those components
        (V(12.1) matches 12.1.1, not 12.10).
    type: str
    default: default
"""

EXAMPLES = r"""
- name: Gather the CUDA facts
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - cuda

- name: Pick CUDA 12.4
  ansible.builtin.set_fact:
    chosen_cuda: "{{ ansible_facts['gpu']['cuda'] | gpufleet.nvidia.cuda_select('12.4') }}"

- name: Show where the newest toolkit lives
  ansible.builtin.debug:
    msg: "{{ (ansible_facts['gpu']['cuda'] | gpufleet.nvidia.cuda_select('latest'))['path'] }}"
"""

RETURN = r"""
_value:
  description: The chosen entry of RV(ansible_facts.gpu.cuda.toolkits) (keys as documented in gpu_facts).
  type: dict
  sample:
    path: /usr/local/cuda-12.4
    aliases: [/usr/local/cuda]
    layout: nvidia
    version: 12.4.131
    version_short: "12.4"
    nvcc: /usr/local/cuda-12.4/bin/nvcc
    libcudart: /usr/local/cuda-12.4/lib64/libcudart.so.12
    lib_dirs: [/usr/local/cuda-12.4/lib64]
    bin_dir: /usr/local/cuda-12.4/bin
    include_dir: /usr/local/cuda-12.4/include
    libdevice_dir: /usr/local/cuda-12.4/nvvm/libdevice
    tools: [/usr/local/cuda-12.4/bin/nvcc, /usr/local/cuda-12.4/bin/ptxas]
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import CudaSelectionError, select_toolkit


def cuda_select(discovered, want="default"):
    """Return the toolkit of ``discovered`` (ansible_facts.gpu.cuda) that ``want`` names."""
    if not isinstance(discovered, Mapping):
        raise AnsibleFilterError(
            f"cuda_select expects ansible_facts['gpu']['cuda'] (a dict), got {type(discovered).__name__}"
        )
    try:
        return select_toolkit(discovered, want)
    except CudaSelectionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"cuda_select": cuda_select}
