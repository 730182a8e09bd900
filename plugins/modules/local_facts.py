# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_facts
short_description: Keep one section of the gpufleet local fact file (/etc/ansible/facts.d/gpufleet.fact)
version_added: 0.1.0
description:
  - Ansible reads every C(*.fact) file in C(/etc/ansible/facts.d) into C(ansible_local) when facts are gathered, so
    C(ansible_local.gpufleet) shows what gpufleet last decided on a host (the CUDA toolkit selected by
    P(gpufleet.nvidia.cuda_env#role), the last burn-in verdict of P(gpufleet.nvidia.burnin#role)) to anyone who runs
    M(ansible.builtin.setup), without this collection.
  - The file is one JSON object with one key per section. Each role owns its section; this module sets (or removes)
    one section and keeps every other key as it was.
  - The file is compared by content, not by text; when the section already holds O(value) nothing is written.
  - A file that is not a JSON object (for example an executable fact script someone else put there) fails the module
    with the file name and the problem, and is left exactly as it was.
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the managed host
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the file's text before and the text that would be written.
  platform:
    platforms: posix
options:
  path:
    description: The fact file. Its directory is created (mode C(0755)) when it does not exist.
    type: path
    default: /etc/ansible/facts.d/gpufleet.fact
  section:
    description: The top-level key to set or remove, for example V(cuda) or V(burnin).
    type: str
    required: true
  value:
    description: The section's content. Required when O(state=present).
    type: dict
  state:
    description: V(present) sets the section to O(value); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The file is written as JSON with sorted keys and mode C(0644), so the same content always gives the same bytes.
seealso:
  - module: ansible.builtin.setup
"""

EXAMPLES = r"""
- name: Record the CUDA toolkit this host was given
  gpufleet.nvidia.local_facts:
    section: cuda
    value:
      version: "12.4.131"
      path: /usr/local/cuda-12.4

- name: Read it back the way any playbook can
  ansible.builtin.setup:
    gather_subset: ["!all", "!min", "local"]

- name: Show it
  ansible.builtin.debug:
    var: ansible_local['gpufleet']['cuda']
"""

RETURN = r"""
path:
  description: The fact file.
  returned: always
  type: str
  sample: /etc/ansible/facts.d/gpufleet.fact
fact:
  description: The whole content of the file after the change (what C(ansible_local.gpufleet) will show).
  returned: always
  type: dict
  sample: {cuda: {version: "12.4.131", path: /usr/local/cuda-12.4}}
ansible_facts:
  description: Facts added to C(ansible_facts).
  returned: always
  type: complex
  contains:
    gpufleet_local:
      description:
        - The file's content after the change, as RV(fact). Later tasks of the play (the fleet report) read it
          instead of running M(ansible.builtin.setup) to read C(ansible_local.gpufleet) again.
      returned: always
      type: dict
      sample: {cuda: {version: "12.4.131", path: /usr/local/cuda-12.4}}
diff:
  description: The file's text before and after, when run with C(--diff).
  returned: success, in diff mode
  type: dict
  contains:
    before:
      description: The file's text before (empty when it did not exist).
      type: str
    after:
      description: The text written (or that would be written).
      type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.gpufleet.nvidia.plugins.module_utils._files import read_text, replace_file


class FactFileError(Exception):
    """The fact file exists but is not a JSON object."""


def parse_fact_file(text, path):
    """The object the file holds ({} for a missing or empty file); FactFileError naming the file otherwise."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FactFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FactFileError(f"{path}: the top level is a {type(data).__name__}, not a JSON object")
    return data


def render_fact_file(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def plan_section(text, path, section, value, state):
    """What the file becomes: dict with changed, fact, before and after texts."""
    current = parse_fact_file(text, path)
    updated = dict(current)
    if state == "present":
        # Round-trip through JSON so that what is compared is what a reader of the file gets back.
        updated[section] = json.loads(json.dumps(value))
    else:
        updated.pop(section, None)
    changed = updated != current
    return {
        "changed": changed,
        "fact": updated,
        "before": text or "",
        "after": render_fact_file(updated) if changed else (text or ""),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/ansible/facts.d/gpufleet.fact"),
            section=dict(type="str", required=True),
            value=dict(type="dict"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["value"])],
        supports_check_mode=True,
    )
    path = module.params["path"]
    section = module.params["section"]
    if not section.strip():
        module.fail_json(msg="section must not be empty")

    text = read_text(module, path)
    try:
        plan = plan_section(text, path, section, module.params["value"], module.params["state"])
    except FactFileError as exc:
        module.fail_json(
            msg=f"cannot update section {section!r}: {to_native(exc)}; the file was not changed", path=path
        )

    result = dict(changed=plan["changed"], path=path, fact=plan["fact"], ansible_facts={"gpufleet_local": plan["fact"]})
    if module._diff:
        result["diff"] = dict(before=plan["before"], after=plan["after"], before_header=path, after_header=path)
    if plan["changed"] and not module.check_mode:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            try:
                os.makedirs(directory, mode=0o755)
            except OSError as exc:
                module.fail_json(msg=f"cannot create {directory}: {to_native(exc)}", path=path)
        replace_file(module, path, plan["after"], mode=0o644)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
