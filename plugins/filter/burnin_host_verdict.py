# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: burnin_host_verdict
short_description: One host's part of a fleet burn-in judgement, as the burnin role records it
version_added: 0.2.0
description:
  - Takes the output of P(gpufleet.nvidia.burnin_fleet#filter) and a host name and returns what that host records in
    its gpufleet local fact - whether it passed the fleet judgement (outliers included), why not, the tolerance, and
    its judged GPU rows.
  - The P(gpufleet.nvidia.fleet_report#filter) report reads this record instead of judging again, so the burn-in and
    fleet reports cannot disagree.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The judged fleet (P(gpufleet.nvidia.burnin_fleet#filter)).
    type: dict
    required: true
  host:
    description: The host, which must have been judged.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Record this host's verdict
  gpufleet.nvidia.local_facts:
    section: burnin
    value: "{{ _burnin_fleet | gpufleet.nvidia.burnin_host_verdict(inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: C(passed), C(failing) (one line per failing GPU), C(tolerance) and C(gpus) (the host's judged rows).
  type: dict
"""

from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import host_verdict


class FilterModule:
    def filters(self):
        return {"burnin_host_verdict": host_verdict}
