# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: fleet_report
short_description: Build the fleet report from every host's GPU facts and gpufleet local fact
version_added: 0.1.0
description:
  - Takes the names of the hosts and C(hostvars), reads each host's
    RV(gpufleet.nvidia.gpu_facts#module:ansible_facts.gpu) and its C(ansible_local.gpufleet) (written by
    M(gpufleet.nvidia.local_facts) from the roles) and returns one document - per host the GPUs and their
    health, driver and CUDA, the CUDA toolkit selected, whether containers get GPUs, and the last burn-in verdict;
    per GPU its burn-in TFLOPS and maximum temperature.
  - Burn-in results are judged with P(gpufleet.nvidia.burnin_fleet#filter), so a GPU slower than (1 - O(tolerance))
    times the median of its model (burned with the same dtype) is marked as an outlier, the same way the
    P(gpufleet.nvidia.burnin#role) role does.
  - Only values that describe the host's state are kept (no current temperature, power or utilisation), so the
    report of an unchanged fleet is the same document on every run.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description:
      - The hosts to report, for example C(ansible_play_hosts_all). A host without C(ansible_facts.gpu) (not
        reached, or its facts were never gathered) is reported with health V(unknown).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) of the play.
    type: dict
    required: true
  tolerance:
    description: Fraction below the model's median burn-in TFLOPS that is still accepted.
    type: float
    default: 0.1
"""

EXAMPLES = r"""
- name: Build the fleet report
  ansible.builtin.set_fact:
    fleet: "{{ ansible_play_hosts_all | gpufleet.nvidia.fleet_report(hostvars, 0.1) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The fleet report.
  type: dict
  contains:
    summary:
      description:
        - Counts - C(hosts), C(hosts_with_gpus), C(gpus), C(faulty_gpus), C(faulty_hosts) (names),
          C(runtime_ready_hosts), C(burnin_passed_hosts), C(burnin_failed_hosts) (names), C(unreachable_hosts)
          (names), C(models) (GPU count per model) and C(healthy) (no faulty GPU, no failed burn-in, every host
          reported).
      type: dict
    hosts:
      description:
        - One entry per host, sorted by name - C(host), C(reported), C(present), C(count), C(models), C(groups) (from
          P(gpufleet.nvidia.gpu_model_group#filter)), C(driver),
          C(cuda_driver), C(source), C(error), C(health) (V(ok), V(no GPU), V(FAULTY) or V(unknown)), C(faulty)
          (one line per faulty GPU), C(cuda) (C(selected), C(selected_path), C(toolkits), C(nvcc_on_path)),
          C(runtime) (C(ready), C(docker), C(nvidia_runtime), C(cdi_devices), C(text)), C(burnin) (C(verdict) -
          V(pass), V(FAIL) or V(not run) - C(device), C(dtype), C(backend), C(finished), C(failing)) and C(gpus).
      type: list
      elements: dict
    burnin:
      description: The output of P(gpufleet.nvidia.burnin_fleet#filter) over the hosts' recorded burn-ins.
      type: dict
"""

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import judge_fleet
from ansible_collections.gpufleet.nvidia.plugins.filter.gpu_model_group import gpu_model_groups


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def _runtime(container, present):
    """Whether containers on the host get its GPUs: through Docker's nvidia runtime, CDI specs, or not at all."""
    if not container:
        return {"ready": None, "docker": None, "nvidia_runtime": None, "cdi_devices": 0, "text": "not gathered"}
    docker = _mapping(container.get("docker"))
    # nvidia.com/gpu=all is a device name too; count the GPUs (and MIG devices) themselves.
    cdi_devices = [
        name for name in _mapping(container.get("cdi")).get("devices") or [] if name and not name.endswith("=all")
    ]
    daemon = bool(docker.get("daemon_running"))
    nvidia_runtime = daemon and "nvidia" in (docker.get("runtimes") or [])
    ways = []
    if nvidia_runtime:
        ways.append("docker nvidia runtime" + (" + CDI" if docker.get("cdi_enabled") else ""))
    if cdi_devices:
        ways.append(f"CDI ({len(cdi_devices)} device{'' if len(cdi_devices) == 1 else 's'})")
    if ways:
        text = ", ".join(ways)
    elif not present:
        text = "-"
    elif docker.get("installed") and not daemon:
        text = "no: docker daemon not running"
    elif docker.get("installed"):
        text = "no: docker lacks the nvidia runtime, no CDI spec"
    else:
        text = "no: no CDI spec"
    return {
        "ready": bool(ways) if present else None,
        "docker": daemon,
        "nvidia_runtime": nvidia_runtime,
        "cdi_devices": len(cdi_devices),
        "text": text,
    }


def _cuda(cuda, local_cuda):
    toolkits = [t.get("version") or t.get("path") for t in (cuda or {}).get("toolkits") or []]
    return {
        "selected": local_cuda.get("version"),
        "selected_path": local_cuda.get("path"),
        "toolkits": toolkits,
        "nvcc_on_path": (cuda or {}).get("nvcc_on_path"),
    }


def _gpu_row(device, burn_rows):
    health = device.get("health")
    burn = burn_rows.get(device.get("uuid")) or {}
    return {
        "index": device.get("index"),
        "uuid": device.get("uuid"),
        "name": device.get("name"),
        "memory_total_mib": device.get("memory_total_mib"),
        "compute_capability": device.get("compute_capability"),
        "healthy": health == "ok",
        "health": [] if health == "ok" else list(health or ["unknown"]),
        "burnin": {
            "tflops_median": burn.get("tflops_median"),
            "max_temperature_c": burn.get("max_temperature_c"),
            "verdict": burn.get("verdict"),
            "outlier": burn.get("outlier", False),
        }
        if burn
        else None,
    }


def build_fleet_report(entries, tolerance=0.1):
    """The fleet report document (see RETURN) from per-host entries of gpu facts and the gpufleet local fact."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise AnsibleFilterError(f"fleet_report expects a list of host entries, got {type(entries).__name__}")
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("host"):
            raise AnsibleFilterError(f"fleet_report: each entry needs a 'host', got {entry!r}")

    burn_records = []
    for entry in entries:
        burnin = _mapping(_mapping(entry.get("local")).get("burnin"))
        if burnin:
            burn_records.append(
                {
                    "host": str(entry["host"]),
                    "skipped": False,
                    "passed": burnin.get("passed") is True,
                    "msg": burnin.get("msg") or "",
                    "gpus": burnin.get("gpus") or [],
                }
            )
    judged = judge_fleet(burn_records, tolerance)
    rows_by_host = {}
    for row in judged["results"]:
        rows_by_host.setdefault(row["host"], {})[row["uuid"]] = row

    hosts = []
    for entry in sorted(entries, key=lambda item: str(item["host"])):
        name = str(entry["host"])
        gpu = _mapping(entry.get("gpu"))
        local = _mapping(entry.get("local"))
        reported = bool(gpu)
        present = bool(gpu.get("present"))
        devices = [d for d in gpu.get("devices") or [] if isinstance(d, Mapping)]
        gpus = [_gpu_row(device, rows_by_host.get(name, {})) for device in devices]
        faulty = [f"GPU{row['index']}: {'; '.join(row['health'])}" for row in gpus if not row["healthy"]]
        if not reported:
            health = "unknown"
        elif not present:
            health = "no GPU"
        else:
            health = "FAULTY" if faulty else "ok"
        burnin = _mapping(local.get("burnin"))
        judged_host = judged["hosts"].get(name)
        verdict = ("pass" if judged_host and judged_host["passed"] else "FAIL") if burnin else "not run"
        hosts.append(
            {
                "host": name,
                "reported": reported,
                "present": present,
                "count": len(devices),
                "models": sorted({row["name"] for row in gpus if row["name"]}),
                "groups": gpu_model_groups(gpu) if reported else [],
                "driver": gpu.get("driver_version"),
                "cuda_driver": gpu.get("cuda_driver_version"),
                "source": gpu.get("source"),
                "error": gpu.get("error") if reported else "no facts: the host was not reached",
                "health": health,
                "faulty": faulty,
                "cuda": _cuda(gpu.get("cuda"), _mapping(local.get("cuda"))),
                "runtime": _runtime(_mapping(gpu.get("container")), present),
                "burnin": {
                    "verdict": verdict,
                    "device": burnin.get("device"),
                    "dtype": burnin.get("dtype"),
                    "backend": burnin.get("backend"),
                    "finished": burnin.get("finished"),
                    "failing": list(judged_host["failing"]) if judged_host else [],
                },
                "gpus": gpus,
            }
        )

    models = {}
    for host in hosts:
        for row in host["gpus"]:
            models[row["name"]] = models.get(row["name"], 0) + 1
    summary = {
        "hosts": len(hosts),
        "hosts_with_gpus": sum(1 for host in hosts if host["present"]),
        "gpus": sum(host["count"] for host in hosts),
        "faulty_gpus": sum(len(host["faulty"]) for host in hosts),
        "faulty_hosts": [host["host"] for host in hosts if host["health"] == "FAULTY"],
        "runtime_ready_hosts": sum(1 for host in hosts if host["runtime"]["ready"]),
        "burnin_passed_hosts": sum(1 for host in hosts if host["burnin"]["verdict"] == "pass"),
        "burnin_failed_hosts": [host["host"] for host in hosts if host["burnin"]["verdict"] == "FAIL"],
        "unreachable_hosts": [host["host"] for host in hosts if not host["reported"]],
        "models": models,
    }
    summary["healthy"] = not (summary["faulty_hosts"] or summary["burnin_failed_hosts"] or summary["unreachable_hosts"])
    return {"summary": summary, "hosts": hosts, "burnin": judged}


def host_entry(host, hostvars):
    """A host's entry for build_fleet_report: its name, ansible_facts.gpu and ansible_local.gpufleet."""
    try:
        variables = hostvars[host]
    except KeyError:
        variables = {}
    facts = _mapping(variables.get("ansible_facts") if isinstance(variables, Mapping) else None)
    return {
        "host": host,
        "gpu": facts.get("gpu"),
        "local": _mapping(_mapping(facts.get("ansible_local")).get("gpufleet")),
    }


def fleet_report(hosts, hostvars, tolerance=0.1):
    """The fleet report of the named hosts, read from hostvars."""
    if not isinstance(hosts, Sequence) or isinstance(hosts, (str, bytes)):
        raise AnsibleFilterError(f"fleet_report expects a list of host names, got {type(hosts).__name__}")
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError(f"fleet_report expects hostvars as its first argument, got {type(hostvars).__name__}")
    return build_fleet_report([host_entry(str(host), hostvars) for host in hosts], tolerance)


class FilterModule:
    def filters(self):
        return {"fleet_report": fleet_report}
