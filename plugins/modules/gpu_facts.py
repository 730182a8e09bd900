# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Gather facts about NVIDIA GPUs, CUDA toolkits, the container runtime and PyTorch
version_added: 0.1.0
description:
  - Reads every NVIDIA GPU of the host (inventory, clocks, ECC, row remapping, PCIe link, health) through NVML,
    using the official nvidia-ml-py bindings (C(pynvml)) when they are installed and C(nvidia-smi --query-gpu)
    otherwise.
  - Finds the CUDA toolkits installed, which one is the default, whether C(nvcc) is on E(PATH) and whether the dynamic
    linker finds C(libcudart).
  - Inspects Docker's NVIDIA runtime configuration, C(nvidia-ctk) and the CDI specifications.
  - Probes Python interpreters for PyTorch, each in its own subprocess with a timeout, including a small computation on
    the GPU compared with the CPU.
  - A host without a GPU or without a loaded driver is a normal answer (RV(ansible_facts.gpu.present=false)), not a
    failure, unless O(fail_on_missing_gpu=true).
  - The facts are returned in RV(ansible_facts.gpu).
author:
  - gpufleet contributors
requirements:
  - Python 3.8 or newer on the managed host.
  - Optional, recommended, on the managed host for the Python that runs the module, C(nvidia-ml-py) (imported as
    C(pynvml)). Without it C(nvidia-smi) is used and RV(ansible_facts.gpu.source) is V(nvidia-smi).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - gpufleet.nvidia.cuda_search_paths
  - gpufleet.nvidia.torch_python
attributes:
  check_mode:
    support: full
    details: The module only reads the host.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
options:
  gather_subset:
    description:
      - Which groups of facts to gather, as with M(ansible.builtin.setup).
      - V(nvml) is the GPUs (the top-level keys of RV(ansible_facts.gpu)), V(cuda) the CUDA toolkits, V(container)
        the Docker/CDI inspection, V(torch) the PyTorch probe; V(all) is all of them.
      - Prefix a name with V(!) to exclude it, for example V(!torch). When only exclusions are given they apply to
        V(all). V(!all) excludes everything not named explicitly.
    type: list
    elements: str
    default: [all]
  fail_on_missing_gpu:
    description:
      - Fail when no GPU can be read (no driver, no device, no NVML and no C(nvidia-smi)) instead of returning
        RV(ansible_facts.gpu.present=false).
      - Needs the V(nvml) subset.
    type: bool
    default: false
notes:
  - A field a GPU or driver does not support is V(null), never an error.
  - "Health: RV(ansible_facts.gpu.devices[].health) is V(ok) or a list of reasons: uncorrectable ECC errors, a
    pending row remap or a row remap failure, pending page retirement, thermal, power-brake or hardware slowdown
    active, and a degraded PCIe link. A narrower link than the maximum always counts as degraded; a lower PCIe
    generation counts only while the GPU is not idle, because links drop their generation to save power at idle."
seealso:
  - module: ansible.builtin.setup
  - name: NVML API reference
    description: The NVIDIA Management Library the facts are read from.
    link: https://docs.nvidia.com/deploy/nvml-api/
"""

EXAMPLES = r"""
- name: Gather GPU, CUDA, container and PyTorch facts
  gpufleet.nvidia.gpu_facts:

- name: Gather GPU facts only, quickly
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - nvml

- name: Everything but the PyTorch probe
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - "!torch"

- name: Probe the interpreters of two virtual environments and look for CUDA in a custom place
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - cuda
      - torch
    cuda_search_paths:
      - /opt/nvidia/cuda-*
      - $CUDA_HOME
    torch_python:
      - /opt/venvs/train/bin/python
      - /opt/venvs/serve/bin/python
    torch_timeout: 120

- name: Fail hosts whose GPU is missing
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - nvml
    fail_on_missing_gpu: true

- name: Report unhealthy GPUs
  ansible.builtin.debug:
    msg: "GPU {{ item.index }} ({{ item.uuid }}): {{ item.health | join(', ') }}"
  loop: "{{ ansible_facts['gpu']['devices'] | rejectattr('health', 'equalto', 'ok') }}"
  loop_control:
    label: "{{ item.index }}"

- name: Warn when the CUDA toolkit is installed but nvcc is not on PATH
  ansible.builtin.debug:
    msg: "CUDA {{ ansible_facts['gpu']['cuda']['toolkits'] | map(attribute='version') | join(', ') }} installed, nvcc not on PATH"
  when:
    - ansible_facts['gpu']['cuda']['toolkits'] | length > 0
    - not ansible_facts['gpu']['cuda']['nvcc_on_path']
"""

RETURN = r"""
ansible_facts:
  description: Facts added to C(ansible_facts).
  returned: always
  type: complex
  contains:
    gpu:
      description:
        - Everything gathered, also reachable as C(ansible_gpu).
        - The GPU keys (RV(ansible_facts.gpu.present) to RV(ansible_facts.gpu.error)) are returned when V(nvml) is
          gathered.
      returned: always
      type: complex
      contains:
        gather_subset:
          description: The subsets actually gathered, sorted.
          returned: always
          type: list
          elements: str
          sample: [container, cuda, nvml, torch]
        present:
          description: Whether at least one GPU could be read.
          returned: when nvml is gathered
          type: bool
          sample: true
        count:
          description: Number of GPUs read.
          returned: when nvml is gathered
          type: int
          sample: 8
        source:
          description: Where the GPU facts came from.
          returned: when nvml is gathered
          type: str
          choices: [nvml, nvidia-smi, none]
          sample: nvml
        driver_version:
          description: NVIDIA driver version.
          returned: when nvml is gathered
          type: str
          sample: "550.54.15"
        cuda_driver_version:
          description: Highest CUDA version the driver supports, C(major.minor).
          returned: when nvml is gathered
          type: str
          sample: "12.4"
        nvml_version:
          description:
            - NVML library version. Through NVML it is the full version (V(12.550.54.15)); through C(nvidia-smi) it
              is what C(nvidia-smi --version) prints, or V(null) on drivers too old to have that option.
          returned: when nvml is gathered
          type: str
          sample: "12.550.54.15"
        healthy:
          description:
            - Whether every device's RV(ansible_facts.gpu.devices[].health) is V(ok).
            - V(true) when there is no device; check RV(ansible_facts.gpu.present).
          returned: when nvml is gathered
          type: bool
          sample: true
        error:
          description:
            - Why no GPU could be read, one reason per source tried, or V(null).
          returned: when nvml is gathered
          type: str
          sample: "NVML: Driver Not Loaded; nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
        devices:
          description: One entry per GPU, in NVML index order. A value the GPU does not report is V(null).
          returned: when nvml is gathered
          type: list
          elements: dict
          contains:
            index:
              description: NVML device index.
              type: int
              returned: always
              sample: 0
            uuid:
              description: GPU UUID.
              type: str
              returned: always
              sample: GPU-6b3b8a2e-2c0f-5d0b-8d0e-2f6c1a9e0001
            name:
              description: Product name.
              type: str
              returned: always
              sample: NVIDIA H100 80GB HBM3
            serial:
              description: Board serial number (V(null) on consumer boards).
              type: str
              returned: always
              sample: "1654922001234"
            pci_bus_id:
              description: PCI bus id, C(domain:bus:device.function).
              type: str
              returned: always
              sample: "00000000:18:00.0"
            memory_total_mib:
              description: Total memory in MiB.
              type: int
              returned: always
              sample: 81559
            memory_used_mib:
              description: Used memory in MiB.
              type: int
              returned: always
              sample: 1
            compute_capability:
              description: CUDA compute capability, C(major.minor).
              type: str
              returned: always
              sample: "9.0"
            temperature_c:
              description: GPU core temperature in degrees Celsius.
              type: int
              returned: always
              sample: 31
            power_draw_w:
              description: Current power draw in watts.
              type: float
              returned: always
              sample: 71.25
            power_limit_w:
              description: Enforced power limit in watts.
              type: float
              returned: always
              sample: 700.0
            sm_clock_mhz:
              description: Current SM clock in MHz.
              type: int
              returned: always
              sample: 345
            max_sm_clock_mhz:
              description: Maximum SM clock in MHz.
              type: int
              returned: always
              sample: 1980
            clock_event_reasons:
              description:
                - Names of the active clock-event (throttle) reasons, from V(gpu_idle), V(applications_clocks_setting),
                  V(sw_power_cap), V(hw_slowdown), V(sync_boost), V(sw_thermal_slowdown), V(hw_thermal_slowdown),
                  V(hw_power_brake_slowdown), V(display_clock_setting); a bit this list does not know is
                  C(unknown_0x<bit>).
              type: list
              elements: str
              returned: always
              sample: [gpu_idle]
            clock_event_reasons_mask:
              description: The raw NVML clock-event reason bit mask.
              type: int
              returned: always
              sample: 1
            ecc_enabled:
              description: Whether ECC is currently enabled.
              type: bool
              returned: always
              sample: true
            ecc_errors:
              description: Total ECC error counts; a counter the GPU does not report is V(null).
              type: dict
              returned: always
              contains:
                volatile:
                  description: Counts since the driver was last loaded.
                  type: dict
                  returned: always
                  contains:
                    corrected:
                      description: Corrected (single-bit) errors.
                      type: int
                      returned: always
                      sample: 0
                    uncorrected:
                      description: Uncorrected (double-bit) errors.
                      type: int
                      returned: always
                      sample: 0
                aggregate:
                  description: Counts over the GPU's lifetime.
                  type: dict
                  returned: always
                  contains:
                    corrected:
                      description: Corrected (single-bit) errors.
                      type: int
                      returned: always
                      sample: 0
                    uncorrected:
                      description: Uncorrected (double-bit) errors.
                      type: int
                      returned: always
                      sample: 0
            row_remap:
              description: Row remapping state (Ampere and newer); V(null) on GPUs without row remapping.
              type: dict
              returned: always
              contains:
                corrected:
                  description: Rows remapped because of correctable errors.
                  type: int
                  returned: success
                  sample: 0
                uncorrected:
                  description: Rows remapped because of uncorrectable errors.
                  type: int
                  returned: success
                  sample: 0
                pending:
                  description: A remap is pending; the GPU needs a reset.
                  type: bool
                  returned: success
                  sample: false
                failure:
                  description: A remap failed; the GPU needs service.
                  type: bool
                  returned: success
                  sample: false
            retired_pages:
              description: Retired memory pages (before Ampere); V(null) on GPUs that remap rows instead.
              type: dict
              returned: always
              contains:
                single_bit_ecc:
                  description: Pages retired for multiple single-bit ECC errors.
                  type: int
                  returned: success
                  sample: 0
                double_bit_ecc:
                  description: Pages retired for a double-bit ECC error.
                  type: int
                  returned: success
                  sample: 0
                pending:
                  description: A page retirement is pending; the GPU needs a reset.
                  type: bool
                  returned: success
                  sample: false
            mig_mode:
              description: Whether MIG mode is currently enabled (V(null) on GPUs without MIG).
              type: bool
              returned: always
              sample: false
            persistence_mode:
              description: Whether persistence mode is enabled.
              type: bool
              returned: always
              sample: true
            utilization_gpu:
              description: GPU utilization in percent over the last sample period.
              type: int
              returned: always
              sample: 0
            pcie:
              description: PCIe link state; a value the GPU does not report is V(null).
              type: dict
              returned: always
              contains:
                gen:
                  description: Current link generation.
                  type: int
                  returned: always
                  sample: 5
                max_gen:
                  description: Highest generation this GPU and slot support.
                  type: int
                  returned: always
                  sample: 5
                width:
                  description: Current link width (lanes).
                  type: int
                  returned: always
                  sample: 16
                max_width:
                  description: Highest width this GPU and slot support.
                  type: int
                  returned: always
                  sample: 16
            health:
              description:
                - V(ok), or a list of reasons the GPU needs attention, among
                  C(uncorrectable_ecc_errors (volatile N, aggregate N)), V(row_remap_pending), V(row_remap_failure),
                  V(retired_pages_pending), C(<reason> active) for V(hw_thermal_slowdown), V(hw_power_brake_slowdown),
                  V(sw_thermal_slowdown) and V(hw_slowdown), C(pcie_link_degraded (gen3 x8 of gen4 x16)), and
                  C(nvml_error (<message>)) when NVML cannot open the device.
              type: raw
              returned: always
              sample: [hw_thermal_slowdown active, "pcie_link_degraded (gen3 x8 of gen4 x16)"]
__CUDA_CONTAINER_TORCH_RETURN__
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import inspect_container_runtime
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import discover_cuda, validate_search_paths
from ansible_collections.gpufleet.nvidia.plugins.module_utils.nvml import collect_gpu_facts
from ansible_collections.gpufleet.nvidia.plugins.module_utils.torch_probe import (
    default_torch_pythons,
    probe_torch_interpreters,
)

SUBSETS = ("nvml", "cuda", "container", "torch")


def resolve_gather_subset(requested):
    """Return (subsets to gather as a set, list of errors) for a gather_subset list, with setup's semantics.

    Names add a subset, ``!name`` removes it, ``all`` / ``!all`` add / remove every subset; when only exclusions
    are given they apply to ``all``.
    """
    errors = []
    include, exclude = set(), set()
    exclude_all = False
    for item in requested or []:
        name = str(item).strip()
        negated = name.startswith("!")
        if negated:
            name = name[1:].strip()
        if name != "all" and name not in SUBSETS:
            errors.append(
                "gather_subset: unknown subset %r; choose from all, %s, optionally prefixed with '!'"
                % (str(item), ", ".join(SUBSETS))
            )
            continue
        if negated and name == "all":
            exclude_all = True
        elif negated:
            exclude.add(name)
        elif name == "all":
            include.update(SUBSETS)
        else:
            include.add(name)
    if not include and not exclude_all:
        include.update(SUBSETS)
    return include - exclude, errors


def validate_options(params):
    """Error messages for option values the argument spec cannot check, each naming its option."""
    errors = []
    if params["cuda_search_paths"] is not None:
        errors.extend(validate_search_paths(params["cuda_search_paths"]))
    for python in params["torch_python"] or []:
        if not python.startswith("/"):
            errors.append("torch_python: %r is not an absolute path" % python)
    if params["torch_timeout"] <= 0:
        errors.append("torch_timeout: must be a positive number of seconds, got %d" % params["torch_timeout"])
    return errors


def gather_gpu_facts(subsets, params):
    """The ``ansible_facts.gpu`` dict for the chosen subsets."""
    facts = {}
    if "nvml" in subsets:
        facts.update(collect_gpu_facts())
    if "cuda" in subsets:
        facts["cuda"] = discover_cuda(search_paths=params["cuda_search_paths"])
    if "container" in subsets:
        facts["container"] = inspect_container_runtime()
    if "torch" in subsets:
        pythons = params["torch_python"] or default_torch_pythons(current=sys.executable)
        facts["torch"] = probe_torch_interpreters(pythons, timeout=params["torch_timeout"])
    facts["gather_subset"] = sorted(subsets)
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather_subset=dict(type="list", elements="str", default=["all"]),
            cuda_search_paths=dict(type="list", elements="path"),
            torch_python=dict(type="list", elements="path"),
            torch_timeout=dict(type="int", default=60),
            fail_on_missing_gpu=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )

    subsets, errors = resolve_gather_subset(module.params["gather_subset"])
    errors.extend(validate_options(module.params))
    if module.params["fail_on_missing_gpu"] and "nvml" not in subsets:
        errors.append("fail_on_missing_gpu: needs the nvml subset, which gather_subset excludes")
    if errors:
        module.fail_json(msg="; ".join(errors))

    gpu = gather_gpu_facts(subsets, module.params)

    if module.params["fail_on_missing_gpu"] and not gpu.get("present"):
        module.fail_json(
            msg="No NVIDIA GPU found (fail_on_missing_gpu is set): %s"
            % (gpu.get("error") or "no device reported"),
            ansible_facts={"gpu": gpu},
        )
    module.exit_json(changed=False, ansible_facts={"gpu": gpu})


if __name__ == "__main__":
    main()
