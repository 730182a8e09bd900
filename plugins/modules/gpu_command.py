# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_command
short_description: Send a command to the GPU command service through its shared-filesystem queue
version_added: 0.1.0
description:
  - Writes a command into the queue of the gpufleet command service (see the role
    P(gpufleet.nvidia.command_service#role)) and waits for the service's response, the same way the service's
    client CLI does.
  - The commands are Ollama operations (V(list_models), V(pull_model), V(delete_model), V(show_model),
    V(running_models), V(version)) and V(gpu_status), an NVML snapshot of the GPUs of the host that runs the service.
  - The module runs on the host it is delegated to, which must see the queue directory O(root) (a local path or a
    network filesystem mount shared with the service).
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the host that runs the module
  - A running command service watching O(root)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details: V(pull_model) and V(delete_model) are not submitted in check mode (the result says RV(skipped)); the
      read-only commands run normally.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  root:
    description:
      - The queue root directory, the one the service was started with (it holds C(gpu_commands/) and
        C(gpu_status/)).
    type: path
    required: true
  command:
    description:
      - The command to run.
    type: str
    required: true
    choices: [list_models, pull_model, delete_model, show_model, running_models, version, gpu_status]
  model_name:
    description:
      - The Ollama model, for example V(llama3.2:1b). Required for V(pull_model), V(delete_model) and V(show_model).
    type: str
  timeout:
    description:
      - Seconds to wait for the response. A pull of a large model can take much longer than the default.
    type: int
    default: 30
  secret_file:
    description:
      - File holding the shared HMAC secret of a service that requires signed commands. The command is signed with
        it and the response's signature is checked.
    type: path
notes:
  - The module fails when the command fails (the response has RV(response.success=false)) or when no response
    comes within O(timeout) seconds; the response is returned in both cases when there is one.
  - The file protocol is described in the collection's C(README.md), section "Command queue protocol".
"""

EXAMPLES = r"""
- name: Ask the command service for its Ollama version
  gpufleet.nvidia.gpu_command:
    root: /mnt/shared
    command: version

- name: Pull a model on the GPU host, waiting up to ten minutes
  gpufleet.nvidia.gpu_command:
    root: /mnt/shared
    command: pull_model
    model_name: llama3.2:1b
    timeout: 600
    secret_file: /etc/gpufleet/command-service.secret

- name: List the models the GPU host has
  gpufleet.nvidia.gpu_command:
    root: /mnt/shared
    command: list_models
  register: __models

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ __models.response.models | map(attribute='model') | list }}"
"""

RETURN = r"""
command_id:
  description: The id the command was submitted under.
  returned: when the command was submitted
  type: str
  sample: 4b29e9cb572e4411bc17fa640b77255c
response:
  description:
    - The service's response. Besides the keys below it holds the command's result, V(models) (V(list_models),
      V(running_models)), V(model) (V(show_model)), V(message) (V(pull_model), V(delete_model), V(version)),
      V(gpu) (V(gpu_status)) or V(error) when it failed.
  returned: when a response came
  type: dict
  contains:
    command_id:
      description: The id of the command answered.
      type: str
      returned: always
    success:
      description: Whether the command succeeded.
      type: bool
      returned: always
    timestamp:
      description: When the response was written (ISO-8601, UTC).
      type: str
      returned: always
    duration_ms:
      description: How long the service took, in milliseconds.
      type: int
      returned: always
  sample:
    command_id: 4b29e9cb572e4411bc17fa640b77255c
    success: true
    message: 0.6.3
    version: 0.6.3
    timestamp: "2026-11-23T15:29:26.170+00:00"
    duration_ms: 4
skipped:
  description: True when a mutating command was not submitted because of check mode.
  returned: in check mode for pull_model and delete_model
  type: bool
  sample: true
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: version succeeded
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue


def run_gpu_command(root, command, model_name=None, timeout=30, secret=None, check_mode=False, poll_interval=0.05):
    """Submit one command and wait for it; returns (failed, result dict) without touching Ansible."""
    if check_mode and command in command_queue.MUTATING_COMMANDS:
        return False, {"changed": False, "skipped": True, "msg": "check mode: %s was not submitted" % command}
    command_id, response = command_queue.submit_and_wait(
        root, command, model_name=model_name, timeout=timeout, secret=secret, poll_interval=poll_interval
    )
    result = {"changed": False, "command_id": command_id}
    if response is None:
        result["msg"] = "no response to %s (%s) within %ss: is the command service running and watching %s?" % (
            command,
            command_id,
            timeout,
            root,
        )
        return True, result
    result["response"] = response
    if response.get("success") is not True:
        result["msg"] = "%s failed: %s" % (command, response.get("error", "no error given"))
        return True, result
    result["changed"] = command in command_queue.MUTATING_COMMANDS
    result["msg"] = "%s succeeded" % command
    return False, result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            command=dict(type="str", required=True, choices=list(command_queue.KNOWN_COMMANDS)),
            model_name=dict(type="str"),
            timeout=dict(type="int", default=30),
            secret_file=dict(type="path", no_log=False),
        ),
        required_if=[
            ("command", "pull_model", ["model_name"]),
            ("command", "delete_model", ["model_name"]),
            ("command", "show_model", ["model_name"]),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds")
    secret = None
    try:
        if params["secret_file"]:
            secret = command_queue.read_secret_file(params["secret_file"])
        failed, result = run_gpu_command(
            params["root"],
            params["command"],
            model_name=params["model_name"],
            timeout=params["timeout"],
            secret=secret,
            check_mode=module.check_mode,
        )
    except (command_queue.CommandQueueError, OSError) as exc:
        module.fail_json(msg="cannot use the command queue at %s: %s" % (params["root"], exc))
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
