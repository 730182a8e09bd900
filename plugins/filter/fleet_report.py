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
    health, driver and CUDA, the CUDA toolkit selected, whether containers get GPUs, the last burn-in verdict and its
    PyTorch environments; per GPU its burn-in TFLOPS and maximum temperature.
  - Verdicts are read, never recomputed. The burn-in verdict of a host and of each GPU (outliers included) is the
    one the P(gpufleet.nvidia.burnin#role) role judged across the fleet and recorded in the host's local fact;
    whether containers get the GPUs is the P(gpufleet.nvidia.docker_runtime#role) role's
    C(gpufleet_gpu_containers_ready) of this play, or the verdict it recorded in the local fact (C(containers)); without
    either it is V(false) when the facts show no way at all (no nvidia runtime, no CDI spec), else V(null) (not
    checked).
  - The PyTorch environments (gpu_facts' C(torch) subset, when gathered) keep the module's CUDA verdict
    (RV(gpufleet.nvidia.gpu_facts#module:ansible_facts.gpu.torch[].cuda_compat)) and probe status. Two findings are
    read from what the probe measured - bitsandbytes is broken when the native library it loads at import is missing
    (even with its CPU fallback), does not load, or its import failed; torch is broken when its import or CUDA query
    failed, its GPU check failed, or a CUDA build the driver can run sees no GPU on a host that has GPUs.
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
"""

EXAMPLES = r"""
- name: Build the fleet report
  ansible.builtin.set_fact:
    fleet: "{{ ansible_play_hosts_all | gpufleet.nvidia.fleet_report(hostvars) }}"
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
          C(runtime_ready_hosts), C(runtime_not_ready_hosts) (names, where docker_runtime found that containers do
          not get the GPUs), C(burnin_passed_hosts), C(burnin_failed_hosts) (names), C(unreachable_hosts) (names),
          C(models) (GPU count per model) and C(healthy) (no faulty GPU, no failed burn-in, every host reported;
          PyTorch findings do not count).
        - C(torch) counts the PyTorch environments - C(hosts_gathered), C(hosts_not_gathered) (names of the hosts
          without the torch subset), C(environments) (probed or refused), C(checked) (the probe answered), by
          verdict C(ok), C(no_torch), C(failed), C(warnings), C(not_checked), C(not_probed) (found beyond
          C(torch_max_envs)), C(hosts_with_findings) (names) and C(findings) (per kind of RV(_value.torch_findings)
          present, in the report's order - C(kind), C(severity), C(title), C(count), C(hosts)).
      type: dict
    problems:
      description:
        - What makes the fleet unhealthy and where, sorted by host and GPU - one entry per GPU that is faulty or
          failed its burn-in, per host whose burn-in failed without a failing GPU, and per host without facts.
        - Each has C(host), C(gpu) (the index, V(null) for the host as a whole), C(uuid), C(model), C(faulty) (the
          GPU's health reasons), C(burnin) (why its burn-in failed, as recorded), C(outlier) (it failed as an outlier
          of its model) and C(error) (why the host gave no facts).
        - Read from the verdicts above, never judged again; RV(_value.hosts) still holds every host.
      type: list
      elements: dict
    torch_findings:
      description:
        - What is wrong with the fleet's PyTorch environments, failures first, then warnings, then environments that
          were not checked; within a kind sorted by host and interpreter. One entry per problem of an environment
          (one environment may have two), and one per host whose discovery found more than it probed.
        - Each has C(host), C(python), C(prefix), C(env_kind) (V(conda), V(venv), V(system), V(listed)), C(name),
          C(owner), C(torch_version), C(severity) (V(fail), V(warning), V(not checked)), C(message) (the module's
          words where it judged, for example the driver verdict) and C(kind) - V(cpu_build) (a CPU-only torch on a
          host with GPUs), V(driver_too_old), V(rocm_build), V(torch_error), V(bitsandbytes), V(minor_version_compat)
          (warning), V(refused) (not run, for example writable by others), V(timeout), V(probe_error), V(not_probed)
          (C(python) V(null); found beyond C(torch_max_envs), or the search was cut short).
      type: list
      elements: dict
    hosts:
      description:
        - One entry per host, sorted by name - C(host), C(reported), C(present), C(count), C(models), C(groups) (from
          P(gpufleet.nvidia.gpu_model_group#filter)), C(driver),
          C(cuda_driver), C(source), C(error), C(health) (V(ok), V(no GPU), V(FAULTY) or V(unknown)), C(faulty)
          (one line per faulty GPU), C(cuda) (C(selected), C(selected_path), C(toolkits), C(nvcc_on_path)),
          C(runtime) (C(ready), C(docker), C(nvidia_runtime), C(cdi_devices), C(text)), C(burnin) (C(verdict) -
          V(pass), V(FAIL) or V(not run) - C(device), C(dtype), C(backend), C(finished), C(failing)), C(gpus) and
          C(torch).
        - C(torch) is V(null) when the torch subset was not gathered, else C(environments) (one per environment
          probed or refused - C(python), C(kind), C(name), C(prefix), C(owner), C(ran_as), C(probe),
          C(python_version), C(torch_version), C(build), C(build_tag), C(cuda_version), C(cuda_available),
          C(device_count), C(cuda_compat) (C(status), C(ok), C(message)), C(bitsandbytes) (V(null) when not
          installed, else C(version), C(library), C(ok), C(problem)), C(error), C(verdict) (V(ok), V(no torch),
          V(FAIL), V(warning) or V(not checked)) and C(findings) (C(kind), C(message))), C(discovery) (from
          C(torch_discovery) - C(discover), C(found), C(probed), C(max_envs), C(left_out), C(unmatched_patterns),
          C(search_truncated)) and C(not_probed) (why some environments were not probed, or V(null)).
      type: list
      elements: dict
    burnin:
      description: The output of P(gpufleet.nvidia.burnin_fleet#filter) over the hosts' recorded burn-ins.
      type: dict
"""

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import gpu_row, model_key, model_medians
from ansible_collections.gpufleet.nvidia.plugins.filter.gpu_model_group import gpu_model_groups
from ansible_collections.gpufleet.nvidia.plugins.plugin_utils._fleet_torch import (
    host_findings,
    host_torch,
    sort_findings,
    torch_summary,
)


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def _runtime(container, present, ready=None):
    """How containers on the host get its GPUs (Docker's nvidia runtime, CDI specs) and whether Docker's do.

    ``ready`` is docker_runtime's verdict (a GPU container listed every GPU; false on a host without Docker), None
    when it was not checked. The ways are described from the container facts, never judged here: a host whose CDI
    spec serves podman or containerd says so even when Docker's containers are not ready.
    """
    if not container:
        ready = ready if present else None  # no GPU facts: nothing is ready, whatever the inventory says
        return {"ready": ready, "docker": None, "nvidia_runtime": None, "cdi_devices": 0, "text": "not gathered"}
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
    if not docker.get("installed"):
        docker_state = "no Docker"
    elif not daemon:
        docker_state = "docker daemon not running"
    elif not nvidia_runtime:
        docker_state = "docker lacks the nvidia runtime"
    else:
        docker_state = "GPU container check failed"
    if not present:
        text = "-"
    elif ways:
        text = ", ".join(ways)
        if ready is False:
            text += f"; Docker: {docker_state}"
        elif ready is None:
            text += " (not checked)"
    else:
        text = f"no: {docker_state if docker.get('installed') else 'no Docker'}, no CDI spec"
        ready = False if ready is None else ready  # no way at all: no container can get a GPU, checked or not
    return {
        "ready": ready if present else None,
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


def _recorded_rows(host, burnin):
    """The GPU rows of a host's recorded burn-in, as the burnin role judged them (older records: as the module did)."""
    rows = []
    for gpu in burnin.get("gpus") or []:
        if not isinstance(gpu, Mapping):
            continue
        row = gpu_row(host, gpu)
        row.update(
            model_key=gpu.get("model_key") or model_key(row["name"], row["dtype"]),
            model_median_tflops=gpu.get("model_median_tflops"),
            outlier=bool(gpu.get("outlier")),
        )
        rows.append(row)
    return rows


def _recorded_failing(burnin, rows):
    """Why a recorded burn-in failed: the lines the burnin role recorded, or what its rows say."""
    if burnin.get("failing") is not None:
        return list(burnin["failing"])
    failing = [
        f"GPU {row['index']} ({row['name']}, {row['uuid']}): {'; '.join(row['reasons']) or 'failed'}"
        for row in rows
        if row["verdict"] != "pass"
    ]
    if burnin.get("passed") is not True and not failing:
        failing.append(f"burn-in did not pass: {burnin.get('msg') or 'no result'}")
    return failing


def _burnin_section(burn_rows, tolerances):
    """The report's burn-in section: every recorded row, and the medians per model for display (not for judging)."""
    rows = sorted(burn_rows, key=lambda row: (row["host"], row["index"] if row["index"] is not None else -1))
    models = model_medians(rows)
    for row in rows:  # a record from before the burnin role recorded the medians it judged against
        if row["model_median_tflops"] is None and row["model_key"] in models:
            row["model_median_tflops"] = models[row["model_key"]]["median_tflops"]
    return {
        "tolerance": tolerances[0] if len(set(tolerances)) == 1 else None,
        "passed": all(row["verdict"] == "pass" for row in rows),
        "models": models,
        "results": rows,
    }


def _host_problems(host, host_rows):
    """The problems of one host entry: per GPU that is faulty or failed its burn-in, else the host's own."""
    if not host["reported"]:
        return [_problem(host["host"], error=host["error"])]
    by_uuid = {}
    for gpu in host["gpus"]:
        if not gpu["healthy"]:
            by_uuid[gpu["uuid"]] = _problem(
                host["host"], gpu=gpu["index"], uuid=gpu["uuid"], model=gpu["name"], faulty=gpu["health"]
            )
    for row in host_rows:
        if row["verdict"] == "pass":
            continue
        problem = by_uuid.setdefault(
            row["uuid"], _problem(host["host"], gpu=row["index"], uuid=row["uuid"], model=row["name"])
        )
        problem["burnin"] = row["reasons"] or ["failed"]
        problem["outlier"] = row["outlier"]
    problems = sorted(by_uuid.values(), key=lambda item: item["gpu"] if item["gpu"] is not None else -1)
    if host["burnin"]["verdict"] == "FAIL" and not any(problem["burnin"] for problem in problems):
        # A run that failed before judging any GPU (no interpreter, a crash): the recorded lines say why.
        problems.insert(0, _problem(host["host"], burnin=host["burnin"]["failing"]))
    return problems


def _problem(host, gpu=None, uuid=None, model=None, faulty=(), burnin=(), error=None):
    return {
        "host": host,
        "gpu": gpu,
        "uuid": uuid,
        "model": model,
        "faulty": list(faulty),
        "burnin": list(burnin),
        "outlier": False,
        "error": error,
    }


def build_fleet_report(entries):
    """The fleet report document (see RETURN) from per-host entries of gpu facts and the gpufleet local fact."""
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise AnsibleFilterError(f"fleet_report expects a list of host entries, got {type(entries).__name__}")
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("host"):
            raise AnsibleFilterError(f"fleet_report: each entry needs a 'host', got {entry!r}")

    burn_rows = []
    tolerances = []
    hosts = []
    problems = []
    torch_findings = []
    for entry in sorted(entries, key=lambda item: str(item["host"])):
        name = str(entry["host"])
        gpu = _mapping(entry.get("gpu"))
        local = _mapping(entry.get("local"))
        reported = bool(gpu)
        present = bool(gpu.get("present"))
        devices = [d for d in gpu.get("devices") or [] if isinstance(d, Mapping)]
        burnin = _mapping(local.get("burnin"))
        host_rows = _recorded_rows(name, burnin)
        burn_rows.extend(host_rows)
        if burnin.get("tolerance") is not None:
            tolerances.append(burnin["tolerance"])
        gpus = [_gpu_row(device, {row["uuid"]: row for row in host_rows}) for device in devices]
        faulty = [f"GPU{row['index']}: {'; '.join(row['health'])}" for row in gpus if not row["healthy"]]
        if not reported:
            health = "unknown"
        elif not present:
            health = "no GPU"
        else:
            health = "FAULTY" if faulty else "ok"
        failing = _recorded_failing(burnin, host_rows) if burnin else []
        verdict = ("pass" if burnin.get("passed") is True and not failing else "FAIL") if burnin else "not run"
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
                "runtime": _runtime(_mapping(gpu.get("container")), present, entry.get("containers_ready")),
                "burnin": {
                    "verdict": verdict,
                    "device": burnin.get("device"),
                    "dtype": burnin.get("dtype"),
                    "backend": burnin.get("backend"),
                    "finished": burnin.get("finished"),
                    "failing": failing,
                },
                "gpus": gpus,
                "torch": host_torch(gpu) if reported else None,
            }
        )
        problems.extend(_host_problems(hosts[-1], host_rows))
        if hosts[-1]["torch"] is not None:
            torch_findings.extend(host_findings(name, hosts[-1]["torch"]))

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
        "runtime_not_ready_hosts": [host["host"] for host in hosts if host["runtime"]["ready"] is False],
        "burnin_passed_hosts": sum(1 for host in hosts if host["burnin"]["verdict"] == "pass"),
        "burnin_failed_hosts": [host["host"] for host in hosts if host["burnin"]["verdict"] == "FAIL"],
        "unreachable_hosts": [host["host"] for host in hosts if not host["reported"]],
        "models": models,
    }
    summary["healthy"] = not (summary["faulty_hosts"] or summary["burnin_failed_hosts"] or summary["unreachable_hosts"])
    torch_findings = sort_findings(torch_findings)
    summary["torch"] = torch_summary(hosts, torch_findings)
    return {
        "summary": summary,
        "problems": problems,
        "torch_findings": torch_findings,
        "hosts": hosts,
        "burnin": _burnin_section(burn_rows, tolerances),
    }


def host_entry(host, hostvars):
    """A host's entry for build_fleet_report: its name, ansible_facts.gpu, its gpufleet local fact and the
    containers verdict.

    The local fact is the one a role wrote in this play (local_facts returns it as ansible_facts.gpufleet_local),
    else the file as setup read it (ansible_local.gpufleet). Container readiness is docker_runtime's verdict of this
    play (gpufleet_gpu_containers_ready), else the one it recorded in the local fact.
    """
    try:
        variables = hostvars[host]
    except KeyError:
        variables = {}
    variables = variables if isinstance(variables, Mapping) else {}
    facts = _mapping(variables.get("ansible_facts"))
    local = facts.get("gpufleet_local")
    if not isinstance(local, Mapping):
        local = _mapping(_mapping(facts.get("ansible_local")).get("gpufleet"))
    ready = variables.get("gpufleet_gpu_containers_ready")
    if not isinstance(ready, bool):
        ready = _mapping(local.get("containers")).get("ready")
    return {
        "host": host,
        "gpu": facts.get("gpu"),
        "local": local,
        "containers_ready": ready if isinstance(ready, bool) else None,
    }


def fleet_report(hosts, hostvars):
    """The fleet report of the named hosts, read from hostvars."""
    if not isinstance(hosts, Sequence) or isinstance(hosts, (str, bytes)):
        raise AnsibleFilterError(f"fleet_report expects a list of host names, got {type(hosts).__name__}")
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError(f"fleet_report expects hostvars as its first argument, got {type(hostvars).__name__}")
    return build_fleet_report([host_entry(str(host), hostvars) for host in hosts])


class FilterModule:
    def filters(self):
        return {"fleet_report": fleet_report}
