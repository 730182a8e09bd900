# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: gpu_facts_missing
short_description: The GPU fact subsets a play does not hold yet (so a role gathers only those, or nothing)
version_added: 0.2.0
description:
  - Takes the host's RV(gpufleet.nvidia.gpu_facts#module:ansible_facts.gpu) (or nothing) and the subsets a role
    needs, and returns those the facts do not hold, or hold gathered with other O(cuda_search_paths) or
    O(torch_python) than asked.
  - Roles guard their M(gpufleet.nvidia.gpu_facts) task with it, so a play that already gathered pays nothing.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The host's C(ansible_facts.gpu); undefined or empty when nothing was gathered.
    type: dict
    required: true
  subsets:
    description:
      - The subsets needed (V(nvml), V(cuda), V(container), V(torch) or V(all)), with the syntax of
        O(gpufleet.nvidia.gpu_facts#module:gather_subset).
    type: list
    elements: str
    required: true
  cuda_search_paths:
    description: The search paths the V(cuda) subset must have been gathered with; V(null) accepts any.
    type: list
    elements: str
  torch_python:
    description: The interpreters the V(torch) subset must have probed; V(null) accepts any.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Gather the GPU and container facts this role needs, unless the play has them
  gpufleet.nvidia.gpu_facts:
    gather_subset: [nvml, container]
    refresh: false
  when: ansible_facts['gpu'] | default({}) | gpufleet.nvidia.gpu_facts_missing(['nvml', 'container']) | length > 0
"""

RETURN = r"""
_value:
  description: The missing subsets, in gather order, for example V([container]); empty when nothing is missing.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.module_utils._gpu_facts import missing_subsets, resolve_gather_subset


def gpu_facts_missing(gpu, subsets, cuda_search_paths=None, torch_python=None):
    if gpu is not None and not isinstance(gpu, Mapping):
        raise AnsibleFilterError(f"gpu_facts_missing expects ansible_facts['gpu'] (a dict), got {type(gpu).__name__}")
    if isinstance(subsets, str) or not isinstance(subsets, (list, tuple)):
        raise AnsibleFilterError(f"gpu_facts_missing: subsets must be a list, got {subsets!r}")
    wanted, errors = resolve_gather_subset(subsets)
    if errors:
        raise AnsibleFilterError("gpu_facts_missing: " + "; ".join(errors))
    params = {"cuda_search_paths": cuda_search_paths or None, "torch_python": torch_python or None}
    return missing_subsets(dict(gpu or {}), wanted, params)


class FilterModule:
    def filters(self):
        return {"gpu_facts_missing": gpu_facts_missing}
