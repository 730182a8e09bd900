"""A SYNTHETIC GPU fleet (a test double: no such hosts exist) as a controller's fact cache holds it.

What the roles would have left on each host, produced by the collection's own code from made-up measurements:

- ``ansible_facts.gpu``: device dicts in nvml's schema, with health judged by ``nvml.assess_health`` from the
  counters (ECC, row remaps, clock-event reasons, PCIe link), and the container subset through
  ``container.inspect_docker`` (given a canned ``docker info`` for the docker CLI) and ``collect_cdi_devices``;
- ``ansible_local.gpufleet.burnin``: per GPU the torch worker's events and NVML samples aggregated by
  ``_burn_judge.aggregate_torch_gpu`` and judged by ``_burn_judge.judge`` (the gpu_burnin module's verdict), then the
  whole fleet judged by ``burnin_fleet`` and each host's part recorded with ``burnin_host_verdict`` exactly as the
  burnin role does;
- ``ansible_local.gpufleet.cuda``: the toolkit cuda_env selected;
- ``gpufleet_gpu_containers_ready``: docker_runtime's verdict, as an inventory variable (the role sets it as a fact);
- ``ansible_facts.gpu.torch`` and ``.torch_discovery`` (the torch subset, discovery on; not gathered on every 25th
  host): per environment a made-up probe answer (the probe program's JSON line) turned into an entry and judged
  against the host's driver by ``torch_probe.build_entry`` and ``judge_build``, environments refused for being
  world-writable by ``_env_trust.writable_by_others``' words; TORCH_ENVS places CPU-only builds, torch too new for the
  driver, minor-version compatibility, broken bitsandbytes, a ROCm build, a torch that does not import, refused,
  hanging and crashing probes and environments beyond torch_max_envs on some hosts.

``write_fleet`` writes an inventory and a jsonfile fact cache; ``ansible-playbook`` with that cache and
``gather_facts: false`` sees the fleet in hostvars as if facts.yml had just gathered it. Deterministic (seeded).
"""

import json
import multiprocessing
import os
import random
import stat
import subprocess
import time
from types import SimpleNamespace

from ansible.plugins.loader import cache_loader
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import host_verdict, judge_fleet
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_probe_main, nvml, torch_probe
from ansible_collections.gpufleet.nvidia.plugins.module_utils._burn_judge import (
    aggregate_torch_gpu,
    failure_message,
    judge,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import RC_TIMEOUT, CommandResult
from ansible_collections.gpufleet.nvidia.plugins.module_utils._env_trust import writable_by_others
from ansible_collections.gpufleet.nvidia.plugins.module_utils._parallel_commands import JobResult
from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import collect_cdi_devices, inspect_docker

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.yml")

# name, compute capability, memory MiB, driver, CUDA, bf16 TFLOPS a healthy GPU sustains, its max temperature, PCIe
MODELS = {
    "h100": ("NVIDIA H100 80GB HBM3", "9.0", 81559, "570.86.15", 12080, 742.0, 68, 5),
    "a100": ("NVIDIA A100-SXM4-80GB", "8.0", 81920, "550.54.15", 12040, 268.0, 61, 4),
    "l40s": ("NVIDIA L40S", "8.9", 46068, "550.54.15", 12040, 301.0, 71, 4),
}
THRESHOLDS = {"max_errors": 0, "max_temperature_c": 90, "min_tflops": None, "min_fraction_of_peak": None}
TOLERANCE = 0.1  # burnin_outlier_tolerance
DURATION = 30
DTYPE = "bf16"
FINISHED = 1767225600.0  # 2026-01-01: the report of an unchanged fleet is the same on every run

# What is wrong in a fleet of 500 hosts, by host number and GPU index (placed proportionally in a fleet of another
# size, where faults may share a host). Hardware faults are counters that assess_health judges;
# burn-in faults are measurements the module and the fleet judgement turn into verdicts.
FAULTS = {
    (42, 3): {"ecc_uncorrected": 2, "row_remap_pending": True},
    (137, 6): {"clock_reasons": ["hw_slowdown", "hw_thermal_slowdown"], "slow": 0.78, "temperature": 88},
    (288, 0): {"pcie_width": 8},
    (401, 5): {"row_remap_failure": True},
    (455, 2): {"retired_pages_pending": True},
    (73, 1): {"slow": 0.82},
    (311, 4): {"slow": 0.85},
    (466, 7): {"slow": 0.74},
    (199, 2): {"mismatches": 3},
    (350, 0): {"nans": 12},
    (420, 5): {"temperature": 93},
}
CRASHED_HOSTS = {250: "the torch worker exited with rc 1: CUDA error: an illegal memory access was encountered"}
UNREACHABLE_HOSTS = {333}
DOCKER_PROBLEMS = {100: "no nvidia runtime", 210: "daemon down"}

# The torch subset: gathered on every host but every 25th; each host has the system python3 (no torch) and a conda
# env with a working torch and bitsandbytes; TORCH_ENVS adds one environment with a problem to some hosts (by number,
# placed proportionally like FAULTS; CPU-only builds on every 16th host, counting from the 3rd).
TORCH_NOT_GATHERED_EVERY = 25
TORCH_BUDGET = 60
TORCH_ENVS = {
    "cpu_build": "every 16th from 3",
    "driver_too_old": (260, 301, 380, 430, 470, 490),
    "minor_version_compat": (270, 320, 360, 410, 440, 480, 495),
    "bitsandbytes": (12, 151, 276, 390),
    "rocm_build": (60,),
    "torch_error": (88,),
    "refused": (45, 222, 404),
    "timeout": (120, 340),
    "probe_error": (160,),
    "not_probed": (177,),
}


def _placed(hosts):
    """FAULTS and the host sets, written for 500 hosts, placed proportionally in a fleet of ``hosts``."""

    def place(number):
        return max(1, min(hosts, round(number * hosts / 500)))

    return (
        {(place(number), index): fault for (number, index), fault in FAULTS.items()},
        {place(number): msg for number, msg in CRASHED_HOSTS.items()},
        {place(number) for number in UNREACHABLE_HOSTS},
        {place(number): problem for number, problem in DOCKER_PROBLEMS.items()},
    )


def host_name(number):
    return f"gpu-{number:04d}"


def model_of(number, hosts):
    """Hosts by model: the first half H100, then about a third A100, the rest L40S."""
    if number <= hosts // 2:
        return "h100"
    return "a100" if number <= hosts * 5 // 6 else "l40s"


def _uuid(rng):
    hexes = f"{rng.getrandbits(128):032x}"
    return f"GPU-{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}"


def _device(index, uuid, model, fault, rng):
    name, cc, memory, _driver, _cuda, _tflops, temperature, pcie_gen = MODELS[model]
    device = nvml.empty_device(index)
    reasons = list(fault.get("clock_reasons") or ["gpu_idle"])
    device.update(
        uuid=uuid,
        name=name,
        serial=str(1650000000000 + rng.randrange(10**9)),
        pci_bus_id=f"00000000:{0x18 + 16 * index:02X}:00.0",
        memory_total_mib=memory,
        memory_used_mib=1,
        compute_capability=cc,
        temperature_c=temperature - 35 + rng.randrange(5),
        power_draw_w=round(60 + rng.random() * 20, 2),
        power_limit_w=700.0 if model == "h100" else 400.0,
        sm_clock_mhz=345,
        max_sm_clock_mhz=1980 if model == "h100" else 1410,
        clock_event_reasons=reasons,
        clock_event_reasons_mask=sum(bit for bit, reason in nvml.CLOCK_EVENT_REASONS if reason in reasons),
        ecc_enabled=True,
        ecc_errors={
            "volatile": {"corrected": 0, "uncorrected": fault.get("ecc_uncorrected", 0)},
            "aggregate": {"corrected": 0, "uncorrected": fault.get("ecc_uncorrected", 0)},
        },
        row_remap={
            "corrected": 0,
            "uncorrected": 1 if fault.get("row_remap_pending") or fault.get("row_remap_failure") else 0,
            "pending": bool(fault.get("row_remap_pending")),
            "failure": bool(fault.get("row_remap_failure")),
        },
        retired_pages={"pending": True} if fault.get("retired_pages_pending") else None,
        mig_mode=False,
        persistence_mode=True,
        utilization_gpu=0,
        pcie={"gen": pcie_gen, "max_gen": pcie_gen, "width": fault.get("pcie_width", 16), "max_width": 16},
    )
    device["health"] = nvml.assess_health(device)
    return device


def _docker_info(problem):
    """A canned `docker info --format '{{json .}}'` result: the docker CLI's part of inspect_docker (a double)."""
    if problem == "daemon down":
        info = {"ClientInfo": {"Version": "26.1.5"}, "ServerErrors": ["Cannot connect to the Docker daemon"]}
        return CommandResult(1, json.dumps(info), "")
    runtimes = {"runc": {}} if problem == "no nvidia runtime" else {"nvidia": {}, "runc": {}}
    info = {"ServerVersion": "26.1.5", "Runtimes": runtimes, "DefaultRuntime": "runc", "CDISpecDirs": ["/etc/cdi"]}
    return CommandResult(0, json.dumps(info), "")


def _container(count, problem):
    docker = inspect_docker("/usr/bin/docker", {"cdi": True}, lambda argv, timeout=None: _docker_info(problem))
    spec = {"kind": "nvidia.com/gpu", "devices": [*(str(i) for i in range(count)), "all"]}
    devices, errors = collect_cdi_devices([("/var/run/cdi/nvidia.yaml", spec)])
    return {
        "docker": docker,
        "cdi": {"spec_files": ["/var/run/cdi/nvidia.yaml"], "devices": devices, "errors": errors},
    }


def _probe_answer(stage="done", **answer):
    """The probe program's last JSON line (its report, _torch_probe_main.new_report's keys) with made-up answers."""
    report = _torch_probe_main.new_report()
    report.update(python_version="3.11.2", uid=None, stage=stage)
    bitsandbytes = answer.pop("bitsandbytes", None)
    if bitsandbytes:
        report["bitsandbytes"].update(installed=True, **bitsandbytes)
    report.update(answer)
    return json.dumps(report)


def _cuda_torch(version, cuda, gpus, available=True, **answer):
    devices = [{"index": i, "name": "(as NVML)", "capability": "9.0", "memory_total_mib": 81559} for i in range(gpus)]
    fields = {
        "torch_installed": True,
        "torch_version": version,
        "cuda_version": cuda,
        "cudnn_version": 90100,
        "cuda_available": available,
        "device_count": gpus if available else 0,
        "devices": devices if available else [],
        "arch_list": ["sm_80", "sm_86", "sm_90"],
        "smoke": {"ok": True, "device": "cuda:0", "error": None} if available else {"ok": None, "device": None},
    }
    fields.update(answer)
    return fields


def _bnb(prefix, version, expected, libraries, loads=True, error=None):
    site = f"{prefix}/lib/python3.11/site-packages/bitsandbytes"
    found = expected in libraries
    return {
        "version": version,
        "libraries": libraries,
        "cpu_fallback": not found and "libbitsandbytes_cpu.so" in libraries,
        "library": {
            "expected": expected,
            "path": f"{site}/{expected}" if found else None,
            "found": found,
            "loads": (loads if found else None),
            "error": (None if loads else error) if found else f"{expected} is not in {site}",
        },
    }


def _env(prefix, kind, owner, name=None):
    return {
        "python": f"{prefix}/bin/python",
        "kind": kind,
        "name": name or os.path.basename(prefix),
        "prefix": prefix,
        "owner": owner,
    }


def _probed(env, answer, rc=0, stage="done", stderr="", ran_as=None):
    result = JobResult(rc, _probe_answer(stage=stage, **answer) + "\n", stderr, True, 1.7)
    entry = torch_probe.build_entry(env["python"], result, TORCH_BUDGET, env)
    entry["ran_as"] = ran_as or env["owner"]
    return entry


def _torch_problem_env(kind, number, gpus):
    """(entry without the driver verdict, torch_discovery changes) of the environment with a problem of ``kind``."""
    if kind == "cpu_build":
        env = _env("/home/bob/venvs/quick", "venv", "bob")
        return _probed(env, {"torch_installed": True, "torch_version": "2.6.0+cpu", "cuda_available": False}), {}
    if kind == "driver_too_old":
        env = _env("/home/carol/.conda/envs/llm-nightly", "conda", "carol")
        return _probed(env, _cuda_torch("2.13.0+cu130", "13.0", gpus, available=False)), {}
    if kind == "minor_version_compat":
        return _probed(_env("/opt/venvs/vllm", "venv", "svc-vllm"), _cuda_torch("2.7.1+cu128", "12.8", gpus)), {}
    if kind == "bitsandbytes":
        env = _env("/home/dave/miniconda3/envs/qlora", "conda", "dave")
        if number % 2:  # the library is there, but a CUDA library it needs is not
            libraries = ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda124.so"]
            error = "OSError: libcusparse.so.12: cannot open shared object file: No such file or directory"
            bnb = _bnb(env["prefix"], "0.45.0", "libbitsandbytes_cuda124.so", libraries, loads=False, error=error)
        else:  # built for another CUDA only: bitsandbytes falls back to its CPU library
            libraries = ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so"]
            bnb = _bnb(env["prefix"], "0.41.1", "libbitsandbytes_cuda124.so", libraries)
        return _probed(env, _cuda_torch("2.5.1+cu124", "12.4", gpus, bitsandbytes=bnb)), {}
    if kind == "rocm_build":
        env = _env("/opt/venvs/rocm-test", "venv", "root")
        answer = {"torch_installed": True, "torch_version": "2.5.1+rocm6.2", "hip_version": "6.2.41133"}
        return _probed(env, dict(answer, cuda_available=False)), {}
    if kind == "torch_error":
        error = (
            "import torch failed: ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"
        )
        return _probed(_env("/home/erin/venvs/broken", "venv", "erin"), {"torch_installed": True, "error": error}), {}
    if kind == "refused":
        env = _env("/opt/venvs/shared", "venv", "root")
        entry = torch_probe.empty_entry(env["python"], env)
        world_writable = SimpleNamespace(st_mode=stat.S_IFDIR | 0o777, st_uid=0)
        entry.update(probe="refused", error="not run: " + writable_by_others(env["prefix"], world_writable, 0, None))
        return entry, {}
    if kind == "timeout":
        env = _env("/home/frank/.conda/envs/hang", "conda", "frank")
        return _probed(env, {"torch_installed": True}, rc=RC_TIMEOUT, stage="import torch"), {}
    if kind == "probe_error":
        env = _env("/home/gina/venvs/segv", "venv", "gina")
        answer = {"torch_installed": True, "torch_version": "2.4.0+cu121", "cuda_version": "12.1"}
        return _probed(env, answer, rc=-11, stage="torch.cuda"), {}
    if kind == "not_probed":
        left_out = [f"/home/hpc/job_{job}_venv2" for job in range(41, 48)]
        return None, {"found": 4 + len(left_out), "probed": 4, "max_envs": 4, "left_out": left_out}
    raise ValueError(kind)


def torch_problem_hosts(hosts):
    """{kind: set of host numbers} of TORCH_ENVS placed in a fleet of ``hosts`` (without the not gathered ones)."""
    placed = {}
    for kind, numbers in TORCH_ENVS.items():
        if kind == "cpu_build":
            numbers = range(3, hosts + 1, 16)
        else:
            numbers = [max(1, min(hosts, round(number * hosts / 500))) for number in numbers]
        placed[kind] = {number for number in numbers if number % TORCH_NOT_GATHERED_EVERY}
    return placed


def _torch_facts(number, gpus, driver, cuda, problems):
    """(ansible_facts.gpu.torch, .torch_discovery) of host ``number``, or None when the subset was not gathered."""
    if number % TORCH_NOT_GATHERED_EVERY == 0:
        return None
    system = _env("/usr", "system", "root", name="system")
    system["python"] = "/usr/bin/python3"
    train = _env("/opt/conda/envs/train", "conda", "mlops")
    libraries = ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda124.so"]
    bnb = _bnb(train["prefix"], "0.45.0", "libbitsandbytes_cuda124.so", libraries)
    entries = [_probed(system, {}), _probed(train, _cuda_torch("2.5.1+cu124", "12.4", gpus, bitsandbytes=bnb))]
    discovery = {}
    for kind in TORCH_ENVS:
        if number in problems[kind]:
            entry, changes = _torch_problem_env(kind, number, gpus)
            if entry is not None:
                entries.append(entry)
            discovery.update(changes)
    driver_facts = {"cuda_driver_version": nvml.format_cuda_version(cuda), "driver_version": driver, "count": gpus}
    entries = [torch_probe.judge_build(entry, driver_facts) for entry in entries]
    summary = {
        "discover": True,
        "found": len(entries),
        "probed": len(entries),
        "max_envs": 64,
        "left_out": [],
        "unmatched_patterns": [],
        "search_truncated": False,
        "budget_s": TORCH_BUDGET,
        "seconds": 2.4,
        "probes": {status: sum(1 for e in entries if e["probe"] == status) for status in torch_probe.PROBE_STATUSES},
    }
    summary.update(discovery)
    return entries, summary


def expected_torch_findings(fleet):
    """{kind: sorted host names} the report must list, from TORCH_ENVS (not from the report's code)."""
    hosts = len(fleet)
    reachable = {host["number"] for host in fleet.values() if host["facts"] is not None}
    return {
        kind: sorted(host_name(number) for number in numbers if number in reachable)
        for kind, numbers in torch_problem_hosts(hosts).items()
    }


def _burn_result(index, uuid, model, fault, rng):
    """The gpu_burnin module's result for one GPU: worker events and NVML samples, aggregated and judged."""
    name, *_rest, tflops, temperature, _gen = MODELS[model]
    speed = tflops * fault.get("slow", 1.0) * (1 + rng.gauss(0, 0.006))
    progress = [
        {"event": "progress", "t": t, "tflops": round(speed * (1 + rng.gauss(0, 0.003)), 3), "iterations": 40 * t}
        for t in range(1, DURATION + 1)
    ]
    summary = {
        "event": "summary",
        "tflops": speed,
        "iterations": 40 * DURATION,
        "errors": fault.get("mismatches", 0),
        "nans": fault.get("nans", 0),
        "spot_checks": 30,
        "spot_check_failures": 0,
        "checksum_checks": 30,
        "checksum_failures": 0,
    }
    events = {
        "start": {"event": "start", "matrix_size": 8192},
        "progress": progress,
        "summary": summary,
        "errors": [],
        "spot_check_failed": [],
        "checksum_failed": [],
        "noise": [],
    }
    hottest = fault.get("temperature", temperature + rng.randrange(-4, 5))
    samples = [
        {
            "temperature_c": hottest - 3 + min(t, 3),
            "power_draw_w": 610.0,
            "sm_clock_mhz": 1755,
            "clock_event_reasons": [],
        }
        for t in range(DURATION)
    ]
    target = {"index": index, "uuid": uuid, "name": name, "device": f"cuda:{index}"}
    plan = {"device": "cuda", "dtype": DTYPE, "backend": "torch", "duration": DURATION}
    return aggregate_torch_gpu(target, plan, events, samples)


def build_fleet(hosts=500, gpus_per_host=8, seed=15):
    """{host: {"facts": cached facts or None (unreachable), "vars": inventory vars}} of the synthetic fleet."""
    rng = random.Random(seed)
    faults, crashed_hosts, unreachable_hosts, docker_problems = _placed(hosts)
    torch_problems = torch_problem_hosts(hosts)
    fleet = {}
    records = []
    modules = {}
    for number in range(1, hosts + 1):
        name = host_name(number)
        model = model_of(number, hosts)
        _model_name, _cc, _memory, driver, cuda, *_rest = MODELS[model]
        devices, results = [], []
        for index in range(gpus_per_host):
            uuid = _uuid(rng)
            fault = faults.get((number, index), {})
            devices.append(_device(index, uuid, model, fault, rng))
            results.append(_burn_result(index, uuid, model, fault, rng))
        failing = judge(results, THRESHOLDS)
        if number in crashed_hosts:
            results, failing = [], None
        passed = failing == []
        msg = (
            crashed_hosts[number]
            if failing is None
            else (failure_message(failing) if failing else f"Burn-in passed on {len(results)} device(s)")
        )
        modules[name] = {"passed": passed, "msg": msg}
        # The burnin role's _burnin_host_record (a passing run's message is left out).
        records.append(
            {"host": name, "skipped": False, "passed": passed, "msg": "" if passed else msg, "gpus": results}
        )
        facts = nvml.no_gpu_facts(source="nvml")
        facts.update(
            driver_version=driver,
            cuda_driver_version=nvml.format_cuda_version(cuda),
            nvml_version=f"12.{driver}",
            present=True,
            count=len(devices),
            devices=devices,
            healthy=nvml.summarize(devices),
            container=_container(len(devices), docker_problems.get(number)),
            cuda={"toolkits": [{"version": "12.4.131", "path": "/usr/local/cuda-12.4"}], "nvcc_on_path": True},
        )
        torch = _torch_facts(number, len(devices), driver, cuda, torch_problems)
        if torch is not None:
            facts["torch"], facts["torch_discovery"] = torch
        fleet[name] = {
            "facts": {"gpu": facts},
            "vars": {"gpufleet_gpu_containers_ready": number not in docker_problems},
            "number": number,
        }

    judged = judge_fleet(records, TOLERANCE)
    for name, host in fleet.items():
        record = {
            "msg": "" if modules[name]["passed"] else modules[name]["msg"],
            "device": "cuda",
            "backend": "torch",
            "dtype": DTYPE,
            "duration": DURATION,
            "finished": FINISHED,
            "record_path": f"/var/lib/gpufleet/burnin/{name}.json",
        }
        record.update(host_verdict(judged, name))  # the role's `combine(... | burnin_host_verdict(host))`
        host["facts"]["ansible_local"] = {
            "gpufleet": {"cuda": {"version": "12.4.131", "path": "/usr/local/cuda-12.4"}, "burnin": record}
        }
    for host in fleet.values():
        if host["number"] in unreachable_hosts:
            # In the inventory, never reached: no facts, and no role of this play set a verdict on it.
            host["facts"], host["vars"] = None, {}
    return fleet


def expected_problems(fleet):
    """What the report must name: the hosts with a faulty GPU, a failed burn-in, or no facts."""
    faulty, failed, unreachable = set(), set(), set()
    for name, host in fleet.items():
        facts = host["facts"]
        if facts is None:
            unreachable.add(name)
            continue
        if not facts["gpu"]["healthy"]:
            faulty.add(name)
        if not facts["ansible_local"]["gpufleet"]["burnin"]["passed"]:
            failed.add(name)
    return {"faulty": sorted(faulty), "burnin_failed": sorted(failed), "unreachable": sorted(unreachable)}


def _write_cache(fleet, cache_dir):
    cache = cache_loader.get("jsonfile", _uri=cache_dir, _timeout=0)
    for name, host in fleet.items():
        if host["facts"] is not None:
            cache.set(name, host["facts"])


def write_fleet(fleet, directory):
    """Write inventory.yml and a jsonfile fact cache (facts/) under directory; returns their paths.

    The cache is written by Ansible's own jsonfile cache plugin, so ansible-playbook reads it back as the facts an
    earlier gather stored.
    """
    cache_dir = os.path.join(directory, "facts")
    # ansible-core's file caches leave one descriptor open per host they write (mkstemp, never closed): write in a
    # child process, so that a fleet of thousands of hosts does not use up this process's descriptors.
    writer = multiprocessing.get_context("fork").Process(target=_write_cache, args=(fleet, cache_dir))
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise RuntimeError(f"writing the fact cache {cache_dir} failed (exit code {writer.exitcode})")
    hosts = {name: dict(host["vars"]) for name, host in fleet.items()}
    inventory = os.path.join(directory, "inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        # JSON is YAML: the inventory plugin reads it as the yaml inventory it is.
        json.dump({"all": {"children": {"gpus": {"hosts": hosts}}}}, handle, indent=1)
    return inventory, cache_dir


def playbook_env(cache, base_env):
    """ansible-playbook's environment: the checkout's settings plus the fact cache the fleet was written to."""
    env = dict(base_env)
    env.update(
        ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
        ANSIBLE_CACHE_PLUGIN_CONNECTION=cache,
        ANSIBLE_CACHE_PLUGIN_TIMEOUT="0",
    )
    return env


def render_report(fleet, directory, timeout=600):
    """Write the fleet's facts under directory and run the fleet_report role on it through ansible-playbook.

    Returns (report directory, seconds ansible-playbook took, its CompletedProcess).
    """
    inventory, cache = write_fleet(fleet, directory)
    reports = os.path.join(directory, "reports")
    env = playbook_env(cache, os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_HOME=os.path.join(REPO, ".build", "ansible-home"),
        # One line per task instead of one per host and task: 500 hosts would print 3,500 lines.
        ANSIBLE_DISPLAY_OK_HOSTS="false",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="false",
    )
    argv = [
        os.path.join(REPO, ".venv", "bin", "ansible-playbook"),
        "-i",
        inventory,
        PLAYBOOK,
        "-e",
        json.dumps({"fleet_report_dir": reports}),
    ]
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return reports, time.monotonic() - started, result
