# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: gpu_model_group
short_description: The inventory group names of a host's GPU models (gpu_model_h100_80gb_hbm3)
version_added: 0.1.0
description:
  - Takes RV(gpufleet.nvidia.gpu_facts#module:ansible_facts.gpu) and returns one group name per GPU model the host
    has, in the order the models first appear - C(gpu_model_) and the model name in lower case without its
    C(NVIDIA) prefix, every run of other characters than letters and digits replaced by one C(_).
  - A host without a GPU gets V([gpu_model_none]).
  - C(playbooks/site.yml) groups the fleet with it, so C(group_vars/gpu_model_h100_80gb_hbm3.yml) applies to every
    NVIDIA H100 80GB HBM3 host; the fleet report lists the same names.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The host's C(ansible_facts.gpu).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Group hosts by GPU model
  ansible.builtin.group_by:
    key: "{{ item }}"
  loop: "{{ ansible_facts['gpu'] | gpufleet.nvidia.gpu_model_group }}"
"""

RETURN = r"""
_value:
  description: Group names, for example V([gpu_model_h100_80gb_hbm3]) or V([gpu_model_none]).
  type: list
  elements: str
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def model_group_name(model):
    """gpu_model_<slug> for a model name: 'NVIDIA H100 80GB HBM3' -> 'gpu_model_h100_80gb_hbm3'."""
    slug = re.sub(r"^nvidia\s+", "", str(model).strip().lower())
    slug = re.sub(r"[^a-z0-9]+", "_", slug).strip("_")
    return "gpu_model_" + (slug or "unknown")


def gpu_model_groups(gpu):
    if not isinstance(gpu, Mapping):
        raise AnsibleFilterError(f"gpu_model_group expects ansible_facts['gpu'] (a dict), got {type(gpu).__name__}")
    groups = []
    for device in gpu.get("devices") or []:
        name = model_group_name(device.get("name") or "unknown") if isinstance(device, Mapping) else None
        if name and name not in groups:
            groups.append(name)
    return groups or ["gpu_model_none"]


class FilterModule:
    def filters(self):
        return {"gpu_model_group": gpu_model_groups}
