# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cuda_env_check
short_description: Check a host's CUDA environment the way an operator would (login shell, linker, CUDA_HOME, services)
version_added: 0.2.0
description:
  - Checks what the P(gpufleet.nvidia.cuda_env#role) role configured, from where it is used, and reports every check
    with its outcome. Fails when any check fails, listing every failed one with what it saw and what to check.
  - One login shell (C(bash -lc), so C(/etc/profile) and C(/etc/profile.d) are read as at a login) answers every shell
    question at once - C(command -v nvcc), E(CUDA_HOME), C($CUDA_HOME/bin/nvcc --version), the header and
    C(libcudart) under E(CUDA_HOME) - each answer framed by marker lines, so whatever the profile prints is ignored.
  - C(ldconfig -p) must list a C(libcudart) from O(libcudart_dir) (on a merged C(/usr), C(/lib/...) and
    C(/usr/lib/...) are the same directory).
  - C(systemctl show) must name O(env_file) among the C(EnvironmentFiles) of every unit of O(services).
  - Each check is made only when its option is set, so the module checks exactly what the toolkit has (no
    O(cuda_release) for a toolkit without C(nvcc), no O(libcudart_dir) without C(libcudart)).
  - The module only reads; it changes nothing.
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the managed host
  - C(bash) on the managed host; C(systemctl) when O(services) is not empty
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The checks only read, so they are made in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  nvcc:
    description: The path C(command -v nvcc) must print in a login shell.
    type: str
  cuda_home:
    description: What E(CUDA_HOME) must be in a login shell.
    type: str
  cuda_release:
    description:
      - The CUDA release (major.minor, for example V(12.4)) that C($CUDA_HOME/bin/nvcc --version) must report, as
        C(release 12.4,). Not checked when omitted.
    type: str
  home_include:
    description: Check that C($CUDA_HOME/include/cuda_runtime.h) exists, in a login shell.
    type: bool
    default: false
  home_libcudart:
    description:
      - Check that C($CUDA_HOME/lib64/libcudart.so*) exists in a login shell (C($CUDA_HOME/lib/libcudart.so*) when
        there is no C(lib64)), where build tools such as PyTorch's C++ extensions look for it.
    type: bool
    default: false
  libcudart_dir:
    description: The directory C(ldconfig -p) must list a C(libcudart) from. Not checked when omitted.
    type: str
  services:
    description: systemd units, without C(.service), whose C(EnvironmentFiles) must include O(env_file).
    type: list
    elements: str
    default: []
  env_file:
    description: The environment file of O(services).
    type: path
    default: /etc/gpufleet/cuda.env
  profile_script:
    description: The login shell script that sets E(PATH) and E(CUDA_HOME); named in the failure messages.
    type: path
    default: /etc/profile.d/gpufleet-cuda.sh
  ld_conf:
    description: The dynamic linker configuration file; named in the failure messages.
    type: path
    default: /etc/ld.so.conf.d/gpufleet-cuda.conf
  dropin_name:
    description: The file name of the systemd drop-in of each service; named in the failure messages.
    type: str
    default: gpufleet-cuda.conf
  home_links_dir:
    description:
      - When E(CUDA_HOME) is a directory of links (a distribution's toolkit), that directory; named in the failure
        messages.
    type: path
  timeout:
    description: Seconds each command (the login shell, C(ldconfig -p), each C(systemctl show)) may take.
    type: int
    default: 60
seealso:
  - module: gpufleet.nvidia.gpu_facts
  - module: gpufleet.nvidia.cuda_env_home
"""

EXAMPLES = r"""
- name: Check the CUDA environment of CUDA 12.4 and of the gpu-worker service
  gpufleet.nvidia.cuda_env_check:
    nvcc: /usr/local/cuda-12.4/bin/nvcc
    cuda_home: /usr/local/cuda-12.4
    cuda_release: "12.4"
    home_include: true
    home_libcudart: true
    libcudart_dir: /usr/local/cuda-12.4/lib64
    services: [gpu-worker]

- name: Check the distribution's toolkit, whose CUDA_HOME is a directory of links
  gpufleet.nvidia.cuda_env_check:
    nvcc: /usr/bin/nvcc
    cuda_home: /usr/local/lib/gpufleet/cuda
    cuda_release: "11.8"
    home_include: true
    home_libcudart: true
    libcudart_dir: /usr/lib/x86_64-linux-gnu
    home_links_dir: /usr/local/lib/gpufleet/cuda
"""

RETURN = r"""
checks:
  description: Every check made, in order, with its outcome.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description:
        - What was checked - C(login shell nvcc), C(linker libcudart), C(CUDA_HOME), C(CUDA_HOME nvcc),
          C(CUDA_HOME include), C(CUDA_HOME libcudart), or C(service <unit>).
      type: str
    ok:
      description: Whether the check passed.
      type: bool
    msg:
      description: What was seen; for a failed check also what was expected and what to check.
      type: str
  sample:
    - {name: login shell nvcc, ok: true, msg: a login shell runs /usr/local/cuda-12.4/bin/nvcc}
    - {name: service gpu-worker, ok: true, msg: gpu-worker.service reads /etc/gpufleet/cuda.env}
failed_checks:
  description: The names of the checks that failed; empty when every check passed.
  returned: always
  type: list
  elements: str
  sample: [linker libcudart]
msg:
  description: A summary; on failure every failed check with what it saw and what to check.
  returned: always
  type: str
  sample: every check of the CUDA environment passed (7)
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils._cuda_env_check import failure_message, run_checks


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvcc=dict(type="str"),
            cuda_home=dict(type="str"),
            cuda_release=dict(type="str"),
            home_include=dict(type="bool", default=False),
            home_libcudart=dict(type="bool", default=False),
            libcudart_dir=dict(type="str"),
            services=dict(type="list", elements="str", default=[]),
            env_file=dict(type="path", default="/etc/gpufleet/cuda.env"),
            profile_script=dict(type="path", default="/etc/profile.d/gpufleet-cuda.sh"),
            ld_conf=dict(type="path", default="/etc/ld.so.conf.d/gpufleet-cuda.conf"),
            dropin_name=dict(type="str", default="gpufleet-cuda.conf"),
            home_links_dir=dict(type="path"),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    if module.params["timeout"] <= 0:
        module.fail_json(msg=f"timeout must be a positive number of seconds, got {module.params['timeout']}")
    checks = run_checks(module.params, lambda argv, timeout: run_command(argv, timeout=timeout), os.environ.get("PATH"))
    failed = [item["name"] for item in checks if not item["ok"]]
    message = failure_message(checks)
    if message:
        module.fail_json(msg=message, checks=checks, failed_checks=failed)
    module.exit_json(
        changed=False,
        checks=checks,
        failed_checks=[],
        msg=f"every check of the CUDA environment passed ({len(checks)})",
    )


if __name__ == "__main__":
    main()
