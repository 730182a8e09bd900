# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: cuda_environment
short_description: What PATH, the dynamic linker and CUDA_HOME need for one CUDA toolkit
version_added: 0.2.0
description:
  - Takes one toolkit chosen by P(gpufleet.nvidia.cuda_select#filter) and returns what the environment of the host must
    add for it, as the P(gpufleet.nvidia.cuda_env#role) role renders it.
  - A directory already on O(default_path) is never prepended, so a distribution's toolkit in C(/usr/bin) leaves
    E(PATH) as it is; every other directory keeps its order.
  - The dynamic linker is told only about directories it does not search already; a distribution's toolkit (its
    libraries in the multiarch directory such as C(/usr/lib/x86_64-linux-gnu)) needs none.
  - C(CUDA_HOME) is the toolkit's root for NVIDIA's layout. For a distribution's toolkit, where neither C(/usr) (no
    C(lib64)) nor Debian's C(/usr/lib/cuda) (empty C(bin)) works, it is O(home_dir), a directory of links to build
    (C(bin/nvcc) and the other CUDA programs, C(include), C(lib64), C(nvvm/libdevice)).
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: One entry of RV(ansible_facts.gpu.cuda.toolkits) of M(gpufleet.nvidia.gpu_facts).
    type: dict
    required: true
  default_path:
    description:
      - The E(PATH) the host gives without this toolkit (systemd's default for services), C(:)-separated or a list.
    type: raw
    required: true
  home_dir:
    description: Absolute path of the CUDA home of links for a distribution's toolkit, at least two levels below C(/).
    type: str
    required: true
  wsl_lib_dir:
    description: The WSL driver library directory (RV(ansible_facts.gpu.cuda.wsl_lib_dir)), added to the linker's path.
    type: str
"""

EXAMPLES = r"""
- name: Plan the environment of CUDA 12.4
  ansible.builtin.set_fact:
    cuda_plan: >-
      {{ ansible_facts['gpu']['cuda'] | gpufleet.nvidia.cuda_select('12.4')
         | gpufleet.nvidia.cuda_environment(default_path='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                                            home_dir='/usr/local/lib/gpufleet/cuda') }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    layout:
      description: The toolkit's layout, V(nvidia) or V(distribution).
      type: str
    home_dir:
      description: O(home_dir), normalized.
      type: str
    cuda_home:
      description: What C(CUDA_HOME) must be.
      type: str
    home_links:
      description: Links of the CUDA home to build, C(dest) the link and C(src) its target; empty for NVIDIA's layout.
      type: list
      elements: dict
    home_dirs:
      description: Directories of the CUDA home to create, O(home_dir) first; empty for NVIDIA's layout.
      type: list
      elements: str
    bin_dir:
      description: The toolkit's C(bin) directory.
      type: str
    path_prepend:
      description: Directories to put in front of E(PATH) (empty when the C(bin) directory is on it already).
      type: list
      elements: str
    service_path:
      description: The whole E(PATH) for systemd services.
      type: str
    lib_dirs:
      description: Where the toolkit's libraries are, C(libcudart)'s directory first.
      type: list
      elements: str
    ld_conf_dirs:
      description: Directories C(/etc/ld.so.conf.d) must list; may be empty.
      type: list
      elements: str
    ld_library_path:
      description: Directories E(LD_LIBRARY_PATH) must hold; may be empty.
      type: list
      elements: str
  sample:
    layout: distribution
    home_dir: /usr/local/lib/gpufleet/cuda
    cuda_home: /usr/local/lib/gpufleet/cuda
    home_links:
      - {dest: /usr/local/lib/gpufleet/cuda/bin/nvcc, src: /usr/bin/nvcc}
      - {dest: /usr/local/lib/gpufleet/cuda/include, src: /usr/include}
      - {dest: /usr/local/lib/gpufleet/cuda/lib64, src: /usr/lib/x86_64-linux-gnu}
      - {dest: /usr/local/lib/gpufleet/cuda/nvvm/libdevice, src: /usr/lib/nvidia-cuda-toolkit/libdevice}
    home_dirs: [/usr/local/lib/gpufleet/cuda, /usr/local/lib/gpufleet/cuda/bin, /usr/local/lib/gpufleet/cuda/nvvm]
    bin_dir: /usr/bin
    path_prepend: []
    service_path: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    lib_dirs: [/usr/lib/x86_64-linux-gnu]
    ld_conf_dirs: []
    ld_library_path: []
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_environment import (
    CudaEnvironmentError,
    plan_cuda_environment,
)


def cuda_environment(toolkit, default_path, home_dir, wsl_lib_dir=None):
    """Return plan_cuda_environment() for one toolkit of ansible_facts.gpu.cuda.toolkits."""
    if not isinstance(toolkit, Mapping):
        raise AnsibleFilterError(
            f"cuda_environment expects one toolkit (a dict, from cuda_select), got {type(toolkit).__name__}"
        )
    try:
        return plan_cuda_environment(dict(toolkit), default_path, home_dir, wsl_lib_dir)
    except CudaEnvironmentError as exc:
        raise AnsibleFilterError(f"cuda_environment: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"cuda_environment": cuda_environment}
