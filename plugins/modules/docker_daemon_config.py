# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: docker_daemon_config
short_description: Add the NVIDIA runtime and CDI to Docker's daemon.json without losing any other setting
version_added: 0.1.0
description:
  - Reads Docker's C(daemon.json) (a missing or empty file is an empty configuration) and deep-merges into it the
    C(nvidia) runtime (C(runtimes.nvidia.path)), C(features.cdi=true), optionally C(default-runtime=nvidia), and the
    settings given in O(options).
  - Everything else the file has stays as it was, including other runtimes, the C(runtimeArgs) or C(args) of the
    C(nvidia) runtime and the other C(features) (for example C(containerd-snapshotter)).
  - The file is compared by content, not by text. When the merged configuration equals the current one the file is
    not touched, however it is formatted.
  - The new file is written next to the old one, checked with O(validate), synced to disk and renamed over the old
    one, keeping its owner and mode.
  - A file that is not valid JSON, or whose top level is not an object, fails the module with the file name and the
    parser's message, and is left exactly as it was.
  - The module does not restart Docker; notify a handler when it reports a change.
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
    description: The Docker daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  nvidia_runtime_path:
    description:
      - Value of C(runtimes.nvidia.path), the NVIDIA container runtime executable (a name looked up in Docker's
        E(PATH), or an absolute path).
    type: str
    default: nvidia-container-runtime
  default_runtime_nvidia:
    description:
      - Set C(default-runtime) to V(nvidia).
      - When V(false) an existing C(default-runtime) is left as it is.
    type: bool
    default: false
  options:
    description:
      - More settings merged recursively into the file, for example a C(log-opts) object with C(max-size). Objects
        merge key by key; any other value, lists included, replaces the file's.
      - The settings the module manages (C(runtimes.nvidia.path), C(features.cdi), C(default-runtime) when
        O(default_runtime_nvidia=true)) are applied after these and win over them.
    type: dict
    default: {}
  backup:
    description: Keep a timestamped copy of the old file next to it when the file is changed.
    type: bool
    default: true
  validate:
    description:
      - Command that checks the new file before it replaces the old one; V(%s) is replaced by the new file's path.
        The file is not replaced when the command fails.
      - For example V(dockerd --validate --config-file %s), for a C(dockerd) that has C(--validate) (Docker 23 and
        newer).
    type: str
notes:
  - The file is written as JSON indented by four spaces, keeping the order of its keys.
seealso:
  - name: Docker daemon configuration file
    description: The settings C(daemon.json) accepts.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
  - name: NVIDIA Container Toolkit, configuring Docker
    description: What C(nvidia-ctk runtime configure) does, which this module does without dropping settings.
    link: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
"""

EXAMPLES = r"""
- name: Add the NVIDIA runtime and CDI to Docker
  gpufleet.nvidia.docker_daemon_config:
  notify: Restart docker

- name: Make nvidia the default runtime, cap log files, and validate the result with dockerd
  gpufleet.nvidia.docker_daemon_config:
    default_runtime_nvidia: true
    options:
      log-driver: json-file
      log-opts:
        max-size: 10m
    validate: dockerd --validate --config-file %s
  notify: Restart docker

- name: Configure a rootless Docker's file with an absolute runtime path
  gpufleet.nvidia.docker_daemon_config:
    path: /home/builder/.config/docker/daemon.json
    nvidia_runtime_path: /usr/bin/nvidia-container-runtime
    backup: false
"""

RETURN = r"""
path:
  description: The configuration file.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
backup_file:
  description: The copy of the old file, when one was made.
  returned: changed and a backup was made
  type: str
  sample: /etc/docker/daemon.json.12345.2026-01-01@12:00:00~
config:
  description: The merged configuration (what the file holds after the module, or would hold in check mode).
  returned: success
  type: dict
  sample:
    features:
      cdi: true
      containerd-snapshotter: false
    runtimes:
      nvidia:
        path: nvidia-container-runtime
    storage-driver: overlay2
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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.gpufleet.nvidia.plugins.module_utils._files import read_text, replace_file
from ansible_collections.gpufleet.nvidia.plugins.module_utils.docker_daemon import (
    DEFAULT_NVIDIA_RUNTIME_PATH,
    DaemonConfigError,
    plan_daemon_config,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            nvidia_runtime_path=dict(type="str", default=DEFAULT_NVIDIA_RUNTIME_PATH),
            default_runtime_nvidia=dict(type="bool", default=False),
            options=dict(type="dict", default={}),
            backup=dict(type="bool", default=True),
            validate=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    validate = module.params["validate"]
    if validate and "%s" not in validate:
        module.fail_json(msg=f"validate must contain %s (the new file's path), got: {validate}")

    text = read_text(module, path)
    try:
        plan = plan_daemon_config(
            text,
            path,
            nvidia_runtime_path=module.params["nvidia_runtime_path"],
            default_nvidia=module.params["default_runtime_nvidia"],
            extra_options=module.params["options"],
        )
    except DaemonConfigError as exc:
        module.fail_json(
            msg=f"cannot merge the NVIDIA runtime into {to_native(exc)}; the file was not changed", path=path
        )

    result = dict(changed=plan["changed"], path=path, config=plan["config"])
    if module._diff:
        result["diff"] = dict(before=plan["before"], after=plan["after"], before_header=path, after_header=path)
    if plan["changed"] and not module.check_mode:
        backup_file = replace_file(module, path, plan["after"], validate=validate, backup=module.params["backup"])
        if backup_file:
            result["backup_file"] = backup_file
    module.exit_json(**result)


if __name__ == "__main__":
    main()
