# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cuda_env_home
short_description: Keep the CUDA home of links that the cuda_env role gives a distribution's CUDA toolkit
version_added: 0.2.0
description:
  - A CUDA toolkit installed by the distribution (Debian and Ubuntu C(nvidia-cuda-toolkit)) is spread over C(/usr), so
    no directory of it works as E(CUDA_HOME) for build tools. The P(gpufleet.nvidia.cuda_env#role) role gives it a
    directory of links instead - C(bin/nvcc), C(include), C(lib64), C(nvvm/libdevice) - planned by the
    P(gpufleet.nvidia.cuda_environment#filter) filter (its C(home_links)). This module makes that directory what the
    plan says, in one step.
  - The directory is the role's own only when it holds the mark file O(mark). With O(state=present) the module
    creates the directory and the directories the links sit in (mode C(0755)), writes the mark, creates or replaces
    every link of O(links) and removes every other link under the directory. A directory without the mark is used
    only when it is empty; one that holds anything, or a path that is not a directory, fails the module and is left
    as it is.
  - With O(state=absent) the directory is removed when it holds the mark, and left as it is otherwise.
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
    details: The diff shows the links (C(name -> target)) before and after.
  platform:
    platforms: posix
options:
  path:
    description: The CUDA home directory, an absolute path.
    type: path
    required: true
  links:
    description:
      - The links the home must hold, each inside O(path). Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      dest:
        description: The link, a path inside O(path).
        type: path
        required: true
      src:
        description: What the link points to.
        type: path
        required: true
  state:
    description: V(present) makes the home as O(links) say; V(absent) removes a home this role made.
    type: str
    choices: [present, absent]
    default: present
  mark:
    description: The name of the file that marks the directory as made by the role.
    type: str
    default: .gpufleet-cuda-home
  mark_content:
    description: The text of the mark file (mode C(0644)).
    type: str
    default: Made by the gpufleet.nvidia cuda_env role.
seealso:
  - module: gpufleet.nvidia.cuda_env_check
"""

EXAMPLES = r"""
- name: Build the CUDA home of Debian's nvidia-cuda-toolkit
  gpufleet.nvidia.cuda_env_home:
    path: /usr/local/lib/gpufleet/cuda
    links:
      - {dest: /usr/local/lib/gpufleet/cuda/bin/nvcc, src: /usr/bin/nvcc}
      - {dest: /usr/local/lib/gpufleet/cuda/include, src: /usr/include}
      - {dest: /usr/local/lib/gpufleet/cuda/lib64, src: /usr/lib/x86_64-linux-gnu}
      - {dest: /usr/local/lib/gpufleet/cuda/nvvm/libdevice, src: /usr/lib/nvidia-cuda-toolkit/libdevice}

- name: Remove it when a toolkit with a root of its own is chosen
  gpufleet.nvidia.cuda_env_home:
    path: /usr/local/lib/gpufleet/cuda
    state: absent
"""

RETURN = r"""
path:
  description: The CUDA home directory.
  returned: always
  type: str
  sample: /usr/local/lib/gpufleet/cuda
links_created:
  description: The links created or replaced (none in check mode, where they are the ones that would be).
  returned: always
  type: list
  elements: str
  sample: [/usr/local/lib/gpufleet/cuda/bin/nvcc]
links_removed:
  description: The links removed because the toolkit does not have them (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/usr/local/lib/gpufleet/cuda/bin/nvprof]
removed:
  description: Whether the whole home was removed (or would be, in check mode).
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.gpufleet.nvidia.plugins.module_utils._cuda_env_home import (
    HomeError,
    apply_home,
    current_links,
    describe_links,
    plan_home,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            links=dict(
                type="list",
                elements="dict",
                options=dict(dest=dict(type="path", required=True), src=dict(type="path", required=True)),
            ),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            mark=dict(type="str", default=".gpufleet-cuda-home"),
            mark_content=dict(type="str", default="Made by the gpufleet.nvidia cuda_env role."),
        ),
        required_if=[("state", "present", ["links"])],
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not path.startswith("/"):
        module.fail_json(msg=f"path must be absolute, got {path!r}")
    mark = module.params["mark"]
    if not mark or "/" in mark:
        module.fail_json(msg=f"mark must be a file name, got {mark!r}")
    links = module.params["links"] or []
    state = module.params["state"]
    try:
        steps = plan_home(path, links, mark, module.params["mark_content"], state)
    except HomeError as exc:
        module.fail_json(msg=to_native(exc), path=path)

    removed = any(step == "remove" for step, _path, _detail in steps)
    created = [target for step, target, _detail in steps if step == "link"]
    wanted = {link["dest"] for link in links}
    dropped = [target for step, target, _detail in steps if step == "unlink" and target not in wanted]
    result = dict(changed=bool(steps), path=path, links_created=created, links_removed=dropped, removed=removed)
    if module._diff:
        before = describe_links(path, current_links(path))
        # absent: nothing after a removal, the directory as it was when it is not the role's to remove
        after = ([] if removed else before) if state == "absent" else describe_links(path, links)
        result["diff"] = dict(
            before="\n".join(before) + ("\n" if before else ""),
            after="\n".join(after) + ("\n" if after else ""),
            before_header=path,
            after_header=path,
        )
    if steps and not module.check_mode:
        try:
            apply_home(steps)
        except OSError as exc:
            result.pop("changed")
            module.fail_json(msg=f"cannot make the CUDA home {path}: {to_native(exc)}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
