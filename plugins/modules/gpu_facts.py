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
  - Knows two layouts (RV(ansible_facts.gpu.cuda.toolkits[].layout)). NVIDIA's keeps a toolkit under one root such as
    C(/usr/local/cuda-12.4). The distribution's (Debian and Ubuntu C(nvidia-cuda-toolkit)) spreads it over C(/usr);
    C(/usr/bin/nvcc) is a wrapper script for C(/usr/lib/nvidia-cuda-toolkit/bin/nvcc), the headers are in
    C(/usr/include), the libraries in the multiarch directory (C(/usr/lib/x86_64-linux-gnu)), found from C(ldconfig -p)
    or, without a linker cache, by looking in the system library directories. Its version comes from C(nvcc --version).
    Debian's C(/usr/lib/cuda) compatibility tree (empty C(bin) and C(lib64)) is an alias of it, not a toolkit.
  - Inspects Docker's NVIDIA runtime configuration, C(nvidia-ctk) and the CDI specifications.
  - Probes Python environments for PyTorch, each in its own subprocess, all in parallel within one time budget
    (O(torch_timeout)), including a small computation on the GPU compared with the CPU, the torch build (CUDA, ROCm,
    CPU) judged against the CUDA version the driver supports, and whether bitsandbytes finds and loads its native
    library. The environments are listed (O(torch_python), globs allowed) or discovered (O(torch_discover)).
  - "What a probe runs, and as whom: the environment's interpreter runs C(python -c <probe program>) (the program is
    C(plugins/module_utils/_torch_probe_main.py)), which imports torch and bitsandbytes and so runs whatever the
    environment holds (C(sitecustomize.py), C(.pth) files, packages). It runs as the user who owns the environment's
    prefix (the directory above C(bin/)), never as root unless root owns it, with a clean environment (E(PATH) of the
    system directories, E(HOME) of that user, E(LANG=C.UTF-8), no E(PYTHON*) or other variables) in C(/). An
    environment that someone other than its owner (and root) can change, by a world-writable or group-writable (a
    group with other members) prefix, C(bin/), interpreter file or C(site-packages), or by a part another user owns,
    is not run at all (RV(ansible_facts.gpu.torch[].probe=refused), the reason in RV(ansible_facts.gpu.torch[].error)).
    Run without become, the module runs only its own user's and root's environments and refuses the others."
  - A host without a GPU or without a loaded driver is a normal answer (RV(ansible_facts.gpu.present=false)), not a
    failure, unless O(fail_on_missing_gpu=true).
  - The facts are returned in RV(ansible_facts.gpu), merged into what the host already has there by the module's
    action plugin, so a gather of one subset never drops another; O(refresh=false) gathers only what is missing.
author:
  - gpufleet contributors (@gpufleet)
requirements:
  - Python 3.8 or newer on the managed host
  - nvidia-ml-py (imported as C(pynvml)) for the Python that runs the module, recommended; without it C(nvidia-smi)
    is used and RV(ansible_facts.gpu.source) is V(nvidia-smi)
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
  refresh:
    description:
      - Whether to gather the subsets asked for even when the play already holds them.
      - With V(false), only the subsets the play does not hold yet (or holds gathered with other
        O(cuda_search_paths) or O(torch_python) than given here) are gathered, and the module does not run at all
        when there are none. Roles use this to share the gather of C(playbooks/site.yml).
      - Either way the answer is merged into the host's RV(ansible_facts.gpu); subsets not gathered by this task
        are kept as they were (see RV(ansible_facts.gpu.gathered)).
    type: bool
    default: true
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

- name: Probe every conda env, every venv under /opt/venvs and the home directories, and the system python3
  gpufleet.nvidia.gpu_facts:
    gather_subset:
      - nvml
      - torch
    torch_discover: true
    torch_search_roots:
      - /opt/venvs
      - /home/*
    torch_timeout: 120

- name: Environments whose torch the driver cannot run, CPU-only builds on GPU hosts, broken bitsandbytes
  ansible.builtin.debug:
    msg: "{{ item.prefix }} ({{ item.owner }}): {{ item.cuda_compat.message }}"
  loop: "{{ ansible_facts['gpu']['torch'] | selectattr('cuda_compat.ok', 'false') }}"
  loop_control:
    label: "{{ item.prefix }}"

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

- name: Say where the libraries of a CUDA installed by the distribution (Debian/Ubuntu nvidia-cuda-toolkit) are
  ansible.builtin.debug:
    msg: "CUDA {{ item.version }}: {{ item.libcudart }} (in {{ item.lib_dirs | join(', ') }})"
  loop: "{{ ansible_facts['gpu']['cuda']['toolkits'] | selectattr('layout', 'equalto', 'distribution') }}"
  loop_control:
    label: "{{ item.path }}"

- name: Warn when the CUDA toolkit is installed but nvcc is not on PATH
  ansible.builtin.debug:
    msg: >-
      CUDA {{ ansible_facts['gpu']['cuda']['toolkits'] | map(attribute='version') | join(', ') }}
      is installed but nvcc is not on PATH
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
          description: The subsets the facts hold, sorted (this gather's and those merged from earlier ones).
          returned: always
          type: list
          elements: str
          sample: [container, cuda, nvml, torch]
        gathered:
          description:
            - Per subset the facts hold, when it was gathered (C(at), seconds since the epoch on the host) and the
              options that shape its answer (C(options), V(null) for an option left unset).
          returned: always
          type: dict
          sample:
            nvml: {at: 1764600000.123, options: {}}
            cuda: {at: 1764600000.456, options: {cuda_search_paths: null}}
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
          sample: "NVML: Driver Not Loaded; nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with
            the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
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
        cuda:
          description: CUDA toolkits found on the host.
          returned: when cuda is gathered
          type: dict
          contains:
            toolkits:
              description: One entry per toolkit (by real path), in ascending version order; unreadable versions last.
              returned: always
              type: list
              elements: dict
              contains:
                path:
                  description:
                    - Real path of the toolkit root; V(/usr) for a toolkit installed by the distribution.
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4
                aliases:
                  description:
                    - Other searched paths that lead to this toolkit, by symlink, by a C(bin/nvcc) that is this
                      toolkit's (the CUDA home of links of the P(gpufleet.nvidia.cuda_env#role) role) or, for a
                      distribution toolkit, Debian's C(/usr/lib/cuda) compatibility tree.
                  type: list
                  elements: str
                  returned: always
                  sample: [/usr/local/cuda]
                layout:
                  description:
                    - V(nvidia) when the toolkit lives under its own root (NVIDIA's runfile and packages, conda,
                      tarballs); V(distribution) when the distribution's packages spread it over C(/usr) (Debian and
                      Ubuntu C(nvidia-cuda-toolkit)).
                  type: str
                  returned: always
                  choices: [nvidia, distribution]
                  sample: nvidia
                version:
                  description: Full toolkit version, from C(version.json), C(version.txt) or C(nvcc --version).
                  type: str
                  returned: always
                  sample: "12.4.131"
                version_short:
                  description: The C(major.minor) part of RV(ansible_facts.gpu.cuda.toolkits[].version).
                  type: str
                  returned: always
                  sample: "12.4"
                version_source:
                  description: Where the version was read.
                  type: str
                  returned: always
                  choices: [version.json, version.txt, nvcc]
                  sample: version.json
                nvcc:
                  description:
                    - Path of the toolkit's C(nvcc) (C(<path>/bin/nvcc)), or V(null) when it has none.
                    - For a distribution toolkit this is the C(nvcc) on E(PATH), V(/usr/bin/nvcc), the wrapper script
                      that runs the real one in C(/usr/lib/nvidia-cuda-toolkit/bin).
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4/bin/nvcc
                libcudart:
                  description:
                    - Path of the toolkit's C(libcudart) shared library (C(libcudart.so) when the development link is
                      installed, else the versioned library), or V(null).
                    - For a distribution toolkit it is in the multiarch directory, for example
                      V(/usr/lib/x86_64-linux-gnu/libcudart.so).
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4/lib64/libcudart.so
                lib_dirs:
                  description:
                    - Library directories of the toolkit, each an existing directory.
                    - For a distribution toolkit, the real paths of the system library directories that hold its
                      C(libcudart) (V([/usr/lib/x86_64-linux-gnu]) on Debian and Ubuntu), which the dynamic linker
                      searches already.
                  type: list
                  elements: str
                  returned: always
                  sample: [/usr/local/cuda-12.4/lib64, /usr/local/cuda-12.4/targets/x86_64-linux/lib]
                bin_dir:
                  description: The toolkit's C(bin) directory (V(/usr/bin) for a distribution toolkit), or V(null).
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4/bin
                include_dir:
                  description:
                    - The directory holding C(cuda_runtime.h) (V(/usr/include) for a distribution toolkit), or V(null)
                      when the headers are not installed.
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4/include
                libdevice_dir:
                  description:
                    - Real path of the toolkit's C(libdevice) directory (V(/usr/lib/nvidia-cuda-toolkit/libdevice)
                      for Debian's layout), or V(null).
                  type: str
                  returned: always
                  sample: /usr/local/cuda-12.4/nvvm/libdevice
                tools:
                  description:
                    - The CUDA programs found in RV(ansible_facts.gpu.cuda.toolkits[].bin_dir) (C(nvcc), C(ptxas),
                      C(fatbinary), C(nvlink), C(cudafe++), C(cuobjdump), C(nvdisasm), C(bin2c), C(nvprune) and a few
                      more), as paths in that directory.
                  type: list
                  elements: str
                  returned: always
                  sample: [/usr/local/cuda-12.4/bin/nvcc, /usr/local/cuda-12.4/bin/ptxas]
                error:
                  description: Why the version could not be read, or V(null).
                  type: str
                  returned: always
                  sample: null
            default:
              description:
                - Real path of the toolkit users get by default, the one C(/usr/local/cuda) points to, else the one of
                  the C(nvcc) on E(PATH) (V(/usr) for the distribution's C(/usr/bin/nvcc)); V(null) when neither leads
                  to a toolkit.
              returned: always
              type: str
              sample: /usr/local/cuda-12.4
            nvcc_on_path:
              description:
                - Whether C(nvcc) is found on the module's E(PATH) (installed but not on E(PATH) is a common trap).
              returned: always
              type: bool
              sample: false
            nvcc_path_resolved:
              description: The C(nvcc) found on E(PATH), or V(null).
              returned: always
              type: str
              sample: /usr/local/cuda/bin/nvcc
            libcudart_resolvable:
              description:
                - Whether the dynamic linker cache (C(ldconfig -p)) finds C(libcudart) without E(LD_LIBRARY_PATH).
              returned: always
              type: bool
              sample: true
            wsl:
              description: Whether the host is Windows Subsystem for Linux.
              returned: always
              type: bool
              sample: false
            wsl_lib_dir:
              description: The WSL driver library directory (V(/usr/lib/wsl/lib)) when it exists, else V(null).
              returned: always
              type: str
              sample: null
        container:
          description: How containers on the host get GPUs.
          returned: when container is gathered
          type: dict
          contains:
            docker:
              description: The Docker CLI and daemon.
              returned: always
              type: dict
              contains:
                installed:
                  description: Whether C(docker) is on E(PATH).
                  type: bool
                  returned: always
                  sample: true
                path:
                  description: Path of C(docker), or V(null).
                  type: str
                  returned: always
                  sample: /usr/bin/docker
                version:
                  description: Server version, or the client version when the daemon does not answer.
                  type: str
                  returned: always
                  sample: "28.2.2"
                daemon_running:
                  description: Whether the daemon answered C(docker info).
                  type: bool
                  returned: always
                  sample: true
                runtimes:
                  description: Runtimes the daemon knows.
                  type: list
                  elements: str
                  returned: always
                  sample: [io.containerd.runc.v2, nvidia, runc]
                default_runtime:
                  description: The daemon's default runtime, or V(null).
                  type: str
                  returned: always
                  sample: runc
                cdi_enabled:
                  description: Whether the daemon resolves CDI devices (from C(docker info), else from C(daemon.json)).
                  type: bool
                  returned: always
                  sample: true
                error:
                  description: Why the daemon could not be asked, or V(null).
                  type: str
                  returned: always
                  sample: null
            daemon_json:
              description: The Docker daemon configuration file.
              returned: always
              type: dict
              contains:
                path:
                  description: Path read.
                  type: str
                  returned: always
                  sample: /etc/docker/daemon.json
                exists:
                  description: Whether the file exists.
                  type: bool
                  returned: always
                  sample: true
                valid:
                  description: Whether it exists and parses to a JSON object.
                  type: bool
                  returned: always
                  sample: true
                error:
                  description: Why it could not be read or parsed, or V(null).
                  type: str
                  returned: always
                  sample: null
                runtimes:
                  description: Runtime names configured in it.
                  type: list
                  elements: str
                  returned: always
                  sample: [nvidia]
                default_runtime:
                  description: Its C(default-runtime), or V(null).
                  type: str
                  returned: always
                  sample: null
                features:
                  description: Its C(features) object.
                  type: dict
                  returned: always
                  sample: {cdi: true}
            nvidia_ctk:
              description: The NVIDIA Container Toolkit CLI.
              returned: always
              type: dict
              contains:
                path:
                  description: Path of C(nvidia-ctk), or V(null).
                  type: str
                  returned: always
                  sample: /usr/bin/nvidia-ctk
                version:
                  description: Its version, or V(null).
                  type: str
                  returned: always
                  sample: "1.17.8"
            nvidia_container_runtime:
              description: The NVIDIA container runtime.
              returned: always
              type: dict
              contains:
                path:
                  description: Path of C(nvidia-container-runtime), or V(null).
                  type: str
                  returned: always
                  sample: /usr/bin/nvidia-container-runtime
            cdi:
              description: CDI specifications in C(/etc/cdi) and C(/var/run/cdi).
              returned: always
              type: dict
              contains:
                spec_files:
                  description: Spec files found.
                  type: list
                  elements: str
                  returned: always
                  sample: [/etc/cdi/nvidia.yaml]
                devices:
                  description: Fully qualified device names the specs declare.
                  type: list
                  elements: str
                  returned: always
                  sample: [nvidia.com/gpu=0, nvidia.com/gpu=all]
                errors:
                  description: Problems with spec files (unreadable, invalid, duplicate devices).
                  type: list
                  elements: str
                  returned: always
                  sample: []
        torch_discovery:
          description: How the environments of RV(ansible_facts.gpu.torch) were chosen and how their probes went.
          returned: when torch is gathered
          type: dict
          contains:
            discover:
              description: Whether O(torch_discover) was on.
              type: bool
              returned: always
              sample: true
            found:
              description: Environments found (listed and discovered), deduplicated.
              type: int
              returned: always
              sample: 12
            probed:
              description: Environments probed (at most O(torch_max_envs)).
              type: int
              returned: always
              sample: 12
            max_envs:
              description: The bound, O(torch_max_envs).
              type: int
              returned: always
              sample: 64
            left_out:
              description: Prefixes of the environments found but not probed because of O(torch_max_envs).
              type: list
              elements: str
              returned: always
              sample: []
            unmatched_patterns:
              description: Patterns of O(torch_python) that matched nothing.
              type: list
              elements: str
              returned: always
              sample: []
            search_truncated:
              description: Whether the search for venvs stopped at its bound on directories read.
              type: bool
              returned: always
              sample: false
            budget_s:
              description: The time budget of all probes, O(torch_timeout).
              type: int
              returned: always
              sample: 60
            seconds:
              description: Seconds discovery and probing took.
              type: float
              returned: always
              sample: 4.2
            probes:
              description: How many probes ended in each RV(ansible_facts.gpu.torch[].probe) status.
              type: dict
              returned: always
              sample: {ok: 11, timeout: 1, refused: 0, error: 0}
        torch:
          description: One entry per probed Python environment, listed ones in the order given, then discovered ones.
          returned: when torch is gathered
          type: list
          elements: dict
          contains:
            python:
              description: The interpreter probed.
              type: str
              returned: always
              sample: /opt/venvs/train/bin/python
            kind:
              description:
                - V(conda), V(venv), V(system) (the discovered C(/usr/bin/python3)), or V(listed) for a listed
                  interpreter in neither a conda environment nor a venv.
              type: str
              returned: always
              choices: [conda, venv, system, listed]
              sample: venv
            name:
              description:
                - The conda environment's name (V(base) for a conda root), the venv's directory name, or V(system).
              type: str
              returned: always
              sample: train
            prefix:
              description: The environment's directory (above the interpreter's C(bin/)).
              type: str
              returned: always
              sample: /opt/venvs/train
            owner:
              description: The user who owns the prefix.
              type: str
              returned: always
              sample: alice
            probe:
              description:
                - V(ok) the probe answered; V(timeout) it did not answer within O(torch_timeout) (it was stopped, or
                  not started); V(refused) it was not run (see the module's description) and
                  RV(ansible_facts.gpu.torch[].error) says why; V(error) it could not run or crashed.
              type: str
              returned: always
              choices: [ok, timeout, refused, error]
              sample: ok
            ran_as:
              description: The user the probe was run as, or V(null) when it was not run.
              type: str
              returned: always
              sample: alice
            uid:
              description: The uid the probe program reported it ran as (V(null) when it did not answer).
              type: int
              returned: always
              sample: 1001
            seconds:
              description: Seconds the probe ran.
              type: float
              returned: always
              sample: 2.81
            build:
              description: What PyTorch was built for, V(cuda), V(rocm) or V(cpu); V(null) without torch.
              type: str
              returned: always
              sample: cuda
            build_tag:
              description: The build's tag, the local part of the torch version (V(cu128), V(cpu), V(rocm6.2)).
              type: str
              returned: always
              sample: cu124
            hip_version:
              description: The HIP version of a ROCm build (C(torch.version.hip)), or V(null).
              type: str
              returned: always
              sample: null
            cuda_compat:
              description:
                - Whether this host's driver runs the build's CUDA code, by CUDA's compatibility rules, against
                  RV(ansible_facts.gpu.cuda_driver_version) (read by the module when the nvml subset is not gathered).
              type: dict
              returned: always
              contains:
                status:
                  description:
                    - V(ok); V(minor_version_compat) (built for a newer minor version of the driver's CUDA major
                      version, runs with that mode's limits, CUDA 11.1 and newer); V(driver_too_old); V(cpu_build) (a
                      CPU-only torch on a host with GPUs); V(rocm_build); V(no_driver) (a CUDA build, no driver
                      answered); V(not_applicable) (no torch, or a CPU build on a host without GPUs).
                  type: str
                  returned: always
                  sample: driver_too_old
                ok:
                  description: V(true) runs, V(false) does not, V(null) no verdict.
                  type: bool
                  returned: always
                  sample: false
                message:
                  description: The verdict in words.
                  type: str
                  returned: always
                  sample: "torch 2.13.0+cu130 needs a driver for CUDA 13.0; this host's driver 550.54.15 supports CUDA
                    12.4 (upgrade the driver or install a torch built for CUDA 12.x)"
            python_version:
              description: Its Python version, or V(null) when it did not answer.
              type: str
              returned: always
              sample: "3.11.2"
            torch_installed:
              description: Whether PyTorch is installed for it.
              type: bool
              returned: always
              sample: true
            torch_version:
              description: PyTorch version, or V(null).
              type: str
              returned: always
              sample: 2.5.1+cu124
            cuda_available:
              description: What C(torch.cuda.is_available()) returned, or V(null) when it could not be asked.
              type: bool
              returned: always
              sample: true
            cuda_version:
              description: CUDA version PyTorch was built with (V(null) for CPU builds).
              type: str
              returned: always
              sample: "12.4"
            cudnn_version:
              description: cuDNN version as PyTorch reports it.
              type: int
              returned: always
              sample: 90100
            device_count:
              description: Number of GPUs PyTorch sees.
              type: int
              returned: always
              sample: 1
            devices:
              description: GPUs as PyTorch sees them.
              type: list
              elements: dict
              returned: always
              contains:
                index:
                  description: CUDA device index.
                  type: int
                  returned: always
                  sample: 0
                name:
                  description: Device name.
                  type: str
                  returned: always
                  sample: NVIDIA H100 80GB HBM3
                capability:
                  description: Compute capability, C(major.minor).
                  type: str
                  returned: always
                  sample: "9.0"
                memory_total_mib:
                  description: Total memory in MiB.
                  type: int
                  returned: always
                  sample: 81559
            arch_list:
              description: GPU architectures the PyTorch build contains kernels for.
              type: list
              elements: str
              returned: always
              sample: [sm_80, sm_90]
            bitsandbytes:
              description: The bitsandbytes package of the interpreter.
              type: dict
              returned: always
              contains:
                installed:
                  description: Whether bitsandbytes is installed (found without importing it).
                  type: bool
                  returned: always
                  sample: true
                library:
                  description:
                    - The native library bitsandbytes loads at import, by its naming (C(libbitsandbytes_cuda<NNN>.so)
                      with NNN from C(torch.version.cuda), or E(BNB_CUDA_VERSION) when set;
                      C(libbitsandbytes_rocm<NN>.so); C(libbitsandbytes_cpu.so) for a CPU torch), looked for in its
                      package directory and loaded with C(ctypes) before C(import bitsandbytes).
                  type: dict
                  returned: always
                  contains:
                    expected:
                      description: The library's file name.
                      type: str
                      returned: always
                      sample: libbitsandbytes_cuda124.so
                    path:
                      description: Its path when found, else V(null).
                      type: str
                      returned: always
                      sample: /opt/venvs/train/lib/python3.11/site-packages/bitsandbytes/libbitsandbytes_cuda124.so
                    found:
                      description: Whether it is in the package directory (V(null) when not looked for).
                      type: bool
                      returned: always
                      sample: true
                    loads:
                      description: Whether it loads (V(null) when not found).
                      type: bool
                      returned: always
                      sample: true
                    error:
                      description: Why it was not found or does not load, or V(null).
                      type: str
                      returned: always
                      sample: null
                libraries:
                  description: The C(libbitsandbytes_*) files in the package directory.
                  type: list
                  elements: str
                  returned: always
                  sample: [libbitsandbytes_cpu.so, libbitsandbytes_cuda124.so]
                cpu_fallback:
                  description:
                    - Whether, without the expected library, bitsandbytes would fall back to its CPU library (newer
                      versions do, with a warning); V(null) when not looked for.
                  type: bool
                  returned: always
                  sample: false
                version:
                  description: Its version, or V(null) when it is missing or does not import.
                  type: str
                  returned: always
                  sample: 0.45.0
                error:
                  description: Why its import failed, or V(null).
                  type: str
                  returned: always
                  sample: null
            smoke:
              description: A small C(a + b) computed on the GPU and compared with the CPU result.
              type: dict
              returned: always
              contains:
                ok:
                  description: Whether the results match; V(null) when it did not run (no CUDA).
                  type: bool
                  returned: always
                  sample: true
                device:
                  description: The device it ran on.
                  type: str
                  returned: always
                  sample: cuda:0
                error:
                  description: Why it failed, or V(null).
                  type: str
                  returned: always
                  sample: null
            error:
              description:
                - Why the probe failed or was not run (missing interpreter, timeout, refused, crash, failed import),
                  or V(null).
              type: str
              returned: always
              sample: null
"""

import sys
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils._gpu_facts import gathered_info, resolve_gather_subset
from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import inspect_container_runtime
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import (
    discover_cuda,
    validate_search_paths,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import DEFAULT_MAX_ENVS, DEFAULT_SEARCH_ROOTS
from ansible_collections.gpufleet.nvidia.plugins.module_utils.nvml import collect_gpu_facts
from ansible_collections.gpufleet.nvidia.plugins.module_utils.torch_probe import gather_torch


def validate_options(params):
    """Error messages for option values the argument spec cannot check, each naming its option."""
    errors = []
    if params["cuda_search_paths"] is not None:
        errors.extend(validate_search_paths(params["cuda_search_paths"]))
    for option in ("torch_python", "torch_search_roots"):
        for path in params[option] or []:
            if not path.startswith("/"):
                errors.append(f"{option}: {path!r} is not an absolute path")
    if params["torch_timeout"] <= 0:
        errors.append(f"torch_timeout: must be a positive number of seconds, got {params['torch_timeout']}")
    if params["torch_max_envs"] <= 0:
        errors.append(f"torch_max_envs: must be a positive number, got {params['torch_max_envs']}")
    return errors


def driver_summary(facts):
    """What the torch subset judges builds against: the nvml subset's answer, or a fresh read when not gathered."""
    if "cuda_driver_version" not in facts:
        facts = collect_gpu_facts()
    return {key: facts.get(key) for key in ("cuda_driver_version", "driver_version", "count")}


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
        facts["torch"], facts["torch_discovery"] = gather_torch(
            torch_python=params["torch_python"],
            discover=params["torch_discover"],
            search_roots=params["torch_search_roots"],
            max_envs=params["torch_max_envs"],
            budget=params["torch_timeout"],
            driver=driver_summary(facts),
            current=sys.executable,
        )
    facts["gathered"] = gathered_info(subsets, params, time.time())
    facts["gather_subset"] = sorted(subsets)
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather_subset=dict(type="list", elements="str", default=["all"]),
            cuda_search_paths=dict(type="list", elements="path"),
            torch_python=dict(type="list", elements="path"),
            torch_discover=dict(type="bool", default=False),
            torch_search_roots=dict(type="list", elements="path", default=list(DEFAULT_SEARCH_ROOTS)),
            torch_max_envs=dict(type="int", default=DEFAULT_MAX_ENVS),
            torch_timeout=dict(type="int", default=60),
            fail_on_missing_gpu=dict(type="bool", default=False),
            refresh=dict(type="bool", default=True),  # the action plugin's; the module gathers what it is given
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
            msg="No NVIDIA GPU found (fail_on_missing_gpu is set): " + (gpu.get("error") or "no device reported"),
            ansible_facts={"gpu": gpu},
        )
    module.exit_json(changed=False, ansible_facts={"gpu": gpu})


if __name__ == "__main__":
    main()
