# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: docker_gpu_check
short_description: Check that the running Docker gives containers the NVIDIA GPUs
version_added: 0.2.0
description:
  - Asks the running Docker daemon (C(docker info)) for its runtimes and CDI spec directories, and fails when it
    does not list the O(runtime) runtime, or, on Docker 25 and newer, reports no CDI spec directories.
  - With O(image), runs a GPU container, C(docker run --rm --device nvidia.com/gpu=all <image> nvidia-smi -L)
    (C(--runtime <runtime>) before Docker 25, which has no CDI device requests), which must list O(gpus) GPUs.
  - Returns RV(ready) and, when GPU containers are not ready, the RV(reasons); fails when they are not ready and
    O(require=true).
  - The check the P(gpufleet.nvidia.docker_runtime#role) role makes after it configured Docker.
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the managed host
  - The C(docker) command line client
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only reads Docker's state and never reports a change. In check mode the GPU container is run
        with C(--pull never), so an image that is not on the host yet is not pulled and the test says so.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  runtime:
    description: The runtime C(docker info) must list, and the one the GPU container runs with before Docker 25.
    type: str
    default: nvidia
  image:
    description:
      - Image for the GPU container test; it must have C(nvidia-smi) (the NVIDIA Container Toolkit mounts it from
        the driver) and be on the host or pullable. Empty skips the test.
    type: str
    default: ""
  gpus:
    description: How many GPUs the test container must list, normally every GPU of the host. Required with O(image).
    type: int
  require:
    description: Fail when GPU containers are not ready, with the RV(reasons) in the message.
    type: bool
    default: false
  restart_pending:
    description:
      - The daemon configuration changed and Docker has not been restarted since (its caller may not restart it).
        Docker is not asked; RV(ready) is V(false) with a reason that says to restart O(service_name).
    type: bool
    default: false
  daemon_config_path:
    description: Docker's daemon configuration file, named in the messages that say what to fix.
    type: path
    default: /etc/docker/daemon.json
  service_name:
    description: The systemd unit of the Docker daemon, named in the messages that say what to restart.
    type: str
    default: docker
  timeout:
    description: Seconds the test container may take, its image pull included.
    type: int
    default: 300
notes:
  - A failure of C(docker info), a missing runtime or missing CDI spec directories fail the module whatever
    O(require) says; only the GPU container test and O(restart_pending) are left to O(require).
seealso:
  - module: gpufleet.nvidia.docker_daemon_config
  - name: NVIDIA Container Toolkit, CDI support in Docker
    description: How Docker 25 and newer request GPUs as CDI devices.
    link: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/cdi-support.html
"""

EXAMPLES = r"""
- name: Check that Docker lists the nvidia runtime (and CDI on Docker 25+)
  gpufleet.nvidia.docker_gpu_check:

- name: Run a GPU container that must list every GPU, and fail when it does not
  gpufleet.nvidia.docker_gpu_check:
    image: nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04
    gpus: "{{ ansible_facts['gpu']['count'] }}"
    require: true
  register: gpu_containers

- name: Choose the CPU profile where GPU containers are not ready
  ansible.builtin.set_fact:
    use_gpu_profile: "{{ gpu_containers.ready }}"
"""

RETURN = r"""
ready:
  description:
    - Whether containers get the GPUs, a result later plays can decide from.
    - V(true) when Docker lists O(runtime) (and CDI spec directories on Docker 25+) and, with O(image), the test
      container listed O(gpus) GPUs; V(false) with O(restart_pending).
  returned: success
  type: bool
  sample: true
reasons:
  description: Why GPU containers are not ready; empty when RV(ready).
  returned: always
  type: list
  elements: str
  sample:
    - "docker run --rm --device nvidia.com/gpu=all cuda:12.4 nvidia-smi -L listed 0 of 8 GPUs (exit status 125): ..."
docker:
  description: What the running Docker reported; V(null) when it was not asked (O(restart_pending)).
  returned: success
  type: dict
  contains:
    version:
      description: The daemon's version.
      type: str
      sample: 25.0.3
    runtimes:
      description: The runtimes it lists, sorted.
      type: list
      elements: str
      sample: [io.containerd.runc.v2, nvidia, runc]
    default_runtime:
      description: Its default runtime.
      type: str
      sample: runc
    cdi_spec_dirs:
      description: Its CDI spec directories; V(null) for a Docker that does not report them (before 25).
      type: list
      elements: str
      sample: [/etc/cdi, /var/run/cdi]
cdi_devices:
  description:
    - Whether this Docker takes CDI device requests (25 and newer), so the test container asked for
      C(nvidia.com/gpu=all); V(null) when Docker was not asked.
  returned: success
  type: bool
  sample: true
container_test:
  description: The GPU container test; V(null) without O(image) or when Docker was not asked.
  returned: success
  type: dict
  contains:
    command:
      description: The command run.
      type: list
      elements: str
      sample: [/usr/bin/docker, run, --rm, --device, nvidia.com/gpu=all, "cuda:12.4", nvidia-smi, -L]
    rc:
      description: Its exit status (124 when it ran past O(timeout)).
      type: int
      sample: 0
    gpus:
      description: The GPU lines C(nvidia-smi -L) printed in the container.
      type: list
      elements: str
      sample: ["GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-75a7049b-1766-4c8b-b522-a06798ea0fc5)"]
    stderr:
      description: What it printed on standard error.
      type: str
      sample: ""
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils._docker_gpu_check import (
    DockerCheckError,
    check_docker_gpus,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            runtime=dict(type="str", default="nvidia"),
            image=dict(type="str", default=""),
            gpus=dict(type="int"),
            require=dict(type="bool", default=False),
            restart_pending=dict(type="bool", default=False),
            daemon_config_path=dict(type="path", default="/etc/docker/daemon.json"),
            service_name=dict(type="str", default="docker"),
            timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["image"] and params["gpus"] is None:
        module.fail_json(msg="gpus is required with image: how many GPUs the test container must list")
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout must be a positive number of seconds, got {params['timeout']}")
    docker = None
    if not params["restart_pending"]:
        docker = module.get_bin_path("docker")
        if docker is None:
            module.fail_json(msg="docker is not installed (no docker on PATH): there are no GPU containers to check")
    try:
        result = check_docker_gpus(
            run_command,
            docker,
            runtime=params["runtime"],
            image=params["image"],
            expected_gpus=params["gpus"] or 0,
            restart_pending=params["restart_pending"],
            daemon_config_path=params["daemon_config_path"],
            service_name=params["service_name"],
            timeout=params["timeout"],
            pull_never=module.check_mode,
        )
    except DockerCheckError as exc:
        module.fail_json(msg=str(exc), ready=False, reasons=[str(exc)])
    if params["require"] and not result["ready"]:
        module.fail_json(msg="GPU containers are not ready: " + "; ".join(result["reasons"]), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
