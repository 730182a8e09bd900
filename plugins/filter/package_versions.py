# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: package_versions
short_description: Installed versions and holds of packages, from a dpkg-query, rpm or dnf versionlock answer
version_added: 0.2.0
description:
  - Reads the registered result of C(dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' NAME...) (V(apt)),
    C(rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\n' NAME...) (V(rpm)) or C(dnf versionlock list) (V(dnfl)) and returns
    what the P(gpufleet.nvidia.container_toolkit#role) role decides from.
  - dpkg lists packages it knows but has not installed (status C(un), C(rc)); they are not installed. rpm's
    "package X is not installed" lines are skipped.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The registered result of the command (its C(stdout)), or a skipped one (nothing installed).
    type: dict
    required: true
  manager:
    description: Which command answered.
    type: str
    choices: [apt, dnf, dnfl]
    required: true
  held:
    description: For V(apt), return the names of the held packages (dpkg selection C(hold)) instead of the versions.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the installed toolkit packages
  ansible.builtin.command:
    argv: [dpkg-query, -W, "-f=${Package} ${Version} ${db:Status-Abbrev}\n", nvidia-container-toolkit]
  register: packages
  changed_when: false
  failed_when: packages.rc > 1

- name: Say which version is installed
  ansible.builtin.debug:
    msg: "{{ (packages | gpufleet.nvidia.package_versions('apt'))['nvidia-container-toolkit'] | default('none') }}"
"""

RETURN = r"""
_value:
  description:
    - "V(apt), V(dnf) - C({name: version}) of the installed packages; with O(held), the list of held package names."
    - V(dnfl) - the list of locked package names.
  type: raw
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# "nvidia-container-toolkit-0:1.17.8-1.*" (dnf4) or "nvidia-container-toolkit-0:1.17.8-1.el9.*": name, epoch, version.
_DNF_LOCK = re.compile(r"^([A-Za-z0-9_.+-]+?)-(?:\d+):\S+$")


def package_versions(result, manager, held=False):
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(f"package_versions expects a registered command result, got {type(result).__name__}")
    if manager not in ("apt", "dnf", "dnfl"):
        raise AnsibleFilterError(f"package_versions: manager must be apt, dnf or dnfl, got {manager!r}")
    lines = str(result.get("stdout") or "").splitlines()
    if manager == "dnfl":
        return [match.group(1) for match in map(_DNF_LOCK.match, (line.strip() for line in lines)) if match]
    versions, holds = {}, []
    for line in lines:
        fields = line.split()
        if manager == "dnf":
            if len(fields) == 2:
                versions[fields[0]] = fields[1]
            continue
        # dpkg: name, version (empty for a package never installed), then the 2- or 3-letter status.
        if len(fields) != 3 or len(fields[2]) < 2:
            continue
        name, version, status = fields
        if status[1] in "iWt":  # installed (W, t: triggers pending); half-installed or unpacked is reinstalled
            versions[name] = version
        if status[0] == "h":
            holds.append(name)
    return holds if held else versions


class FilterModule:
    def filters(self):
        return {"package_versions": package_versions}
