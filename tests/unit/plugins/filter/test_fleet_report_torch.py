# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report's PyTorch part: each host's environments (gpu_facts' torch subset) summarised, and the findings.

The facts are hand-written in the module's real shape, taken from a real run on this machine
(``ansible localhost -m gpufleet.nvidia.gpu_facts -a 'gather_subset=torch,nvml torch_discover=true
torch_python=.build/torch-venv/bin/python'``: the CPU build of .build/torch-venv and the system python3 without
torch); the verdicts in them are checked against the module's own functions, so they cannot drift apart.
"""

import copy
import os
import re

import pytest
from ansible_collections.gpufleet.nvidia.plugins.filter.fleet_report import fleet_report
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_build import cuda_compatibility, torch_build
from ansible_collections.gpufleet.nvidia.tests.fleet_report import synthetic_fleet

DRIVER, DRIVER_CUDA = "550.54.15", "12.4"


def torch_entry(**changes):
    """One entry of ansible_facts.gpu.torch: the real one of .build/torch-venv (a CPU build), changed."""
    entry = {
        "arch_list": [],
        "bitsandbytes": {
            "cpu_fallback": None,
            "error": None,
            "installed": False,
            "libraries": [],
            "library": {"error": None, "expected": None, "found": None, "loads": None, "path": None},
            "version": None,
        },
        "build": "cpu",
        "build_tag": "cpu",
        "cuda_available": False,
        "cuda_compat": {
            "message": "torch 2.13.0+cpu is a CPU-only build (no GPU here)",
            "ok": None,
            "status": "not_applicable",
        },
        "cuda_version": None,
        "cudnn_version": None,
        "device_count": 0,
        "devices": [],
        "error": None,
        "hip_version": None,
        "kind": "venv",
        "name": "torch-venv",
        "owner": "root",
        "prefix": "/work/main/.build/torch-venv",
        "probe": "ok",
        "python": "/work/main/.build/torch-venv/bin/python",
        "python_version": "3.11.7",
        "ran_as": "root",
        "seconds": 1.369,
        "smoke": {"device": None, "error": None, "ok": None},
        "torch_installed": True,
        "torch_version": "2.13.0+cpu",
        "uid": 0,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key] = {**entry[key], **value}
        else:
            entry[key] = value
    return entry


def env_at(prefix, kind="venv", owner="alice", **changes):
    name = os.path.basename(prefix)
    return torch_entry(python=f"{prefix}/bin/python", prefix=prefix, kind=kind, name=name, owner=owner, **changes)


SYSTEM = torch_entry(
    build=None,
    build_tag=None,
    cuda_available=None,
    cuda_compat={"message": "no torch", "ok": None, "status": "not_applicable"},
    device_count=None,
    kind="system",
    name="system",
    prefix="/usr",
    python="/usr/bin/python3",
    python_version="3.11.2",
    seconds=0.028,
    torch_installed=False,
    torch_version=None,
)

CPU_ON_GPU_HOST = env_at(
    "/home/bob/venvs/quick",
    owner="bob",
    torch_version="2.6.0+cpu",
    cuda_compat={
        "status": "cpu_build",
        "ok": False,
        "message": "torch 2.6.0+cpu is a CPU-only build; this host has 8 GPUs it cannot use (install a CUDA build)",
    },
)


def cuda_env(prefix, version, cuda, compat, **changes):
    fields = {
        "build": "cuda",
        "build_tag": version.partition("+")[2],
        "torch_version": version,
        "cuda_version": cuda,
        "cudnn_version": 90100,
        "cuda_available": compat["ok"] is not False,
        "device_count": 8 if compat["ok"] is not False else 0,
        "smoke": {"ok": True, "device": "cuda:0", "error": None} if compat["ok"] is not False else {},
        "cuda_compat": compat,
    }
    fields.update(changes)
    return env_at(prefix, **fields)


TOO_NEW = cuda_env(
    "/home/carol/.conda/envs/llm-nightly",
    "2.13.0+cu130",
    "13.0",
    {
        "status": "driver_too_old",
        "ok": False,
        "message": "torch 2.13.0+cu130 needs a driver for CUDA 13.0; this host's driver 550.54.15 supports CUDA 12.4 "
        "(upgrade the driver or install a torch built for CUDA 12.x)",
    },
    kind="conda",
    owner="carol",
)
MINOR_COMPAT = cuda_env(
    "/opt/venvs/vllm",
    "2.7.1+cu128",
    "12.8",
    {
        "status": "minor_version_compat",
        "ok": True,
        "message": "torch 2.7.1+cu128 is built for CUDA 12.8; this host's driver 550.54.15 supports CUDA 12.4: runs "
        "through CUDA minor-version compatibility (features that need a newer driver, and PTX compiled for CUDA 12.8, "
        "fail)",
    },
)
GOOD = cuda_env(
    "/opt/conda/envs/train",
    "2.5.1+cu124",
    "12.4",
    {
        "status": "ok",
        "ok": True,
        "message": "torch 2.5.1+cu124 is built for CUDA 12.4; this host's driver 550.54.15 supports CUDA 12.4",
    },
    kind="conda",
    owner="mlops",
)
ROCM = env_at(
    "/opt/venvs/rocm-test",
    build="rocm",
    build_tag="rocm6.2",
    torch_version="2.5.1+rocm6.2",
    hip_version="6.2.41133",
    cuda_compat={
        "status": "rocm_build",
        "ok": False,
        "message": "torch 2.5.1+rocm6.2 is a ROCm (AMD) build and cannot use NVIDIA GPUs",
    },
)
SITE = "/home/dave/miniconda3/envs/qlora/lib/python3.11/site-packages/bitsandbytes"
BNB_FALLBACK = {
    "installed": True,
    "version": "0.41.1",
    "error": None,
    "libraries": ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so"],
    "cpu_fallback": True,
    "library": {
        "expected": "libbitsandbytes_cuda124.so",
        "path": None,
        "found": False,
        "loads": None,
        "error": f"libbitsandbytes_cuda124.so is not in {SITE}",
    },
}
BNB_NO_LOAD = {
    "installed": True,
    "version": "0.45.0",
    "error": None,
    "libraries": ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda124.so"],
    "cpu_fallback": False,
    "library": {
        "expected": "libbitsandbytes_cuda124.so",
        "path": f"{SITE}/libbitsandbytes_cuda124.so",
        "found": True,
        "loads": False,
        "error": "OSError: libcusparse.so.12: cannot open shared object file: No such file or directory",
    },
}
BNB_GOOD = {
    **BNB_NO_LOAD,
    "library": {**BNB_NO_LOAD["library"], "loads": True, "error": None},
}


def not_run(prefix, probe, error, **changes):
    """An environment the probe did not answer for: the module's empty entry (nothing known), with why."""
    return env_at(
        prefix,
        probe=probe,
        error=error,
        ran_as=None,
        python_version=None,
        uid=None,
        seconds=None,
        torch_installed=False,
        torch_version=None,
        build=None,
        build_tag=None,
        cuda_available=None,
        device_count=None,
        cuda_compat={"message": "no torch", "ok": None, "status": "not_applicable"},
        **changes,
    )


REFUSED = not_run("/opt/venvs/shared", "refused", "not run: directory /opt/venvs/shared is world-writable (mode 0777)")
TIMEOUT = not_run(
    "/home/frank/.conda/envs/hang",
    "timeout",
    "probe timed out: no answer within the overall budget of 60s during 'import torch'",
)
CRASHED = not_run("/home/gina/venvs/segv", "error", "probe was killed by signal 11 during 'torch.cuda'")
NO_IMPORT = env_at(
    "/home/erin/venvs/broken",
    torch_version=None,
    build=None,
    build_tag=None,
    cuda_available=None,
    cuda_compat={"message": "no torch", "ok": None, "status": "not_applicable"},
    error="import torch failed: ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory",
)


def discovery(entries, **changes):
    summary = {
        "budget_s": 60,
        "discover": True,
        "found": len(entries),
        "left_out": [],
        "max_envs": 64,
        "probed": len(entries),
        "probes": {s: sum(1 for e in entries if e["probe"] == s) for s in ("ok", "timeout", "refused", "error")},
        "search_truncated": False,
        "seconds": 1.378,
        "unmatched_patterns": [],
    }
    summary.update(changes)
    return summary


def gpu_facts(entries=None, gpus=8, **discovery_changes):
    """ansible_facts.gpu of a host with ``gpus`` GPUs (driver 550.54.15, CUDA 12.4); the torch subset when entries
    is a list."""
    devices = [
        {"index": i, "uuid": f"GPU-{i}", "name": "NVIDIA A100-SXM4-80GB", "health": "ok", "memory_total_mib": 81920}
        for i in range(gpus)
    ]
    facts = {
        "present": bool(gpus),
        "count": gpus,
        "source": "nvml" if gpus else "none",
        "driver_version": DRIVER if gpus else None,
        "cuda_driver_version": DRIVER_CUDA if gpus else None,
        "error": None,
        "healthy": True,
        "devices": devices,
    }
    if entries is not None:
        facts["torch"] = copy.deepcopy(entries)
        facts["torch_discovery"] = discovery(entries, **discovery_changes)
    return facts


def report_of(hosts):
    """fleet_report of {host: ansible_facts.gpu (None: never reached)}."""
    hostvars = {name: {"ansible_facts": {"gpu": facts} if facts is not None else {}} for name, facts in hosts.items()}
    return fleet_report(list(hosts), hostvars)


@pytest.mark.parametrize(
    "entry, gpus",
    [
        (SYSTEM, 8),
        (torch_entry(), 0),
        (CPU_ON_GPU_HOST, 8),
        (TOO_NEW, 8),
        (MINOR_COMPAT, 8),
        (GOOD, 8),
        (ROCM, 8),
    ],
)
def test_the_hand_written_verdicts_are_the_modules(entry, gpus):
    """The facts above say what gpu_facts would say of them (the module's functions, not a copy of them)."""
    build = torch_build(entry["torch_version"], entry["cuda_version"], entry["hip_version"])
    assert build == {"build": entry["build"], "build_tag": entry["build_tag"]}
    driver = (DRIVER_CUDA, DRIVER) if gpus else (None, None)
    compat = cuda_compatibility(entry["torch_version"], entry["build"], entry["cuda_version"], *driver, gpus)
    assert compat == entry["cuda_compat"]


@pytest.mark.parametrize(
    "entry, kind, severity, verdict, message",
    [
        (CPU_ON_GPU_HOST, "cpu_build", "fail", "FAIL", "is a CPU-only build; this host has 8 GPUs"),
        (TOO_NEW, "driver_too_old", "fail", "FAIL", TOO_NEW["cuda_compat"]["message"]),
        (ROCM, "rocm_build", "fail", "FAIL", "ROCm (AMD) build"),
        (NO_IMPORT, "torch_error", "fail", "FAIL", "import torch failed: ImportError: libcudnn.so.9"),
        (
            dict(GOOD, smoke={"ok": False, "device": "cuda:0", "error": "GPU result differs from CPU result"}),
            "torch_error",
            "fail",
            "FAIL",
            "the GPU check (a small sum on cuda:0) failed: GPU result differs from CPU result",
        ),
        (
            dict(GOOD, cuda_available=False, device_count=0, smoke={"ok": None, "device": None, "error": None}),
            "torch_error",
            "fail",
            "FAIL",
            "is a CUDA build the driver can run, but torch.cuda.is_available() is False on this host with 8 GPUs",
        ),
        (
            dict(GOOD, bitsandbytes=BNB_FALLBACK),
            "bitsandbytes",
            "fail",
            "FAIL",
            f"bitsandbytes 0.41.1: libbitsandbytes_cuda124.so is not in {SITE}; bitsandbytes falls back to its CPU "
            "library",
        ),
        (
            dict(GOOD, bitsandbytes=BNB_NO_LOAD),
            "bitsandbytes",
            "fail",
            "FAIL",
            "bitsandbytes 0.45.0: libbitsandbytes_cuda124.so does not load: OSError: libcusparse.so.12",
        ),
        (
            dict(GOOD, bitsandbytes=dict(BNB_GOOD, version=None, error="RuntimeError: CUDA Setup failed")),
            "bitsandbytes",
            "fail",
            "FAIL",
            "bitsandbytes: import bitsandbytes failed: RuntimeError: CUDA Setup failed",
        ),
        (MINOR_COMPAT, "minor_version_compat", "warning", "warning", "runs through CUDA minor-version compatibility"),
        (REFUSED, "refused", "not checked", "not checked", "world-writable (mode 0777)"),
        (TIMEOUT, "timeout", "not checked", "not checked", "no answer within the overall budget of 60s"),
        (CRASHED, "probe_error", "not checked", "not checked", "killed by signal 11"),
    ],
)
def test_each_kind_of_finding(entry, kind, severity, verdict, message):
    report = report_of({"gpu-1": gpu_facts([SYSTEM, GOOD, entry])})
    (finding,) = report["torch_findings"]
    assert (finding["kind"], finding["severity"]) == (kind, severity)
    assert message in finding["message"]
    assert (finding["host"], finding["python"], finding["prefix"]) == ("gpu-1", entry["python"], entry["prefix"])
    assert (finding["env_kind"], finding["owner"]) == (entry["kind"], entry["owner"])
    envs = report["hosts"][0]["torch"]["environments"]
    assert [env["verdict"] for env in envs] == ["no torch", "ok", verdict]
    assert envs[2]["findings"] == [{"kind": kind, "message": finding["message"]}]
    assert report["summary"]["torch"]["findings"][0]["kind"] == kind


def test_the_environment_summary_keeps_what_an_operator_asks():
    env = report_of({"gpu-1": gpu_facts([dict(TOO_NEW, bitsandbytes=BNB_GOOD)])})["hosts"][0]["torch"]["environments"]
    assert env == [
        {
            "python": "/home/carol/.conda/envs/llm-nightly/bin/python",
            "kind": "conda",
            "name": "llm-nightly",
            "prefix": "/home/carol/.conda/envs/llm-nightly",
            "owner": "carol",
            "ran_as": "root",
            "probe": "ok",
            "python_version": "3.11.7",
            "torch_version": "2.13.0+cu130",
            "build": "cuda",
            "build_tag": "cu130",
            "cuda_version": "13.0",
            "cuda_available": False,
            "device_count": 0,
            "cuda_compat": TOO_NEW["cuda_compat"],
            "bitsandbytes": {"version": "0.45.0", "library": "libbitsandbytes_cuda124.so", "ok": True, "problem": None},
            "error": None,
            "verdict": "FAIL",
            "findings": [{"kind": "driver_too_old", "message": TOO_NEW["cuda_compat"]["message"]}],
        }
    ]


def test_a_cpu_torch_without_gpus_and_an_environment_without_torch_are_fine():
    report = report_of({"cpu-1": gpu_facts([SYSTEM, torch_entry()], gpus=0)})
    assert report["torch_findings"] == []
    assert [env["verdict"] for env in report["hosts"][0]["torch"]["environments"]] == ["no torch", "ok"]
    summary = report["summary"]["torch"]
    assert (summary["ok"], summary["no_torch"], summary["failed"], summary["findings"]) == (1, 1, 0, [])


def test_one_environment_with_two_problems_has_two_findings_and_fails():
    report = report_of({"gpu-1": gpu_facts([dict(TOO_NEW, bitsandbytes=BNB_FALLBACK)])})
    assert [f["kind"] for f in report["torch_findings"]] == ["driver_too_old", "bitsandbytes"]
    assert report["summary"]["torch"]["failed"] == 1


def test_environments_found_but_not_probed_are_a_finding_of_the_host():
    left_out = [f"/home/hpc/job_{n}_venv2" for n in range(7)]
    facts = gpu_facts([SYSTEM], found=8, probed=1, max_envs=1, left_out=left_out, search_truncated=True)
    report = report_of({"gpu-1": facts})
    (finding,) = report["torch_findings"]
    assert (finding["kind"], finding["severity"], finding["python"]) == ("not_probed", "not checked", None)
    assert finding["message"] == (
        "7 environments found but not probed (torch_max_envs 1): /home/hpc/job_0_venv2, /home/hpc/job_1_venv2, "
        "/home/hpc/job_2_venv2, /home/hpc/job_3_venv2, /home/hpc/job_4_venv2 and 2 more; the search for venvs "
        "stopped at its bound on directories read; some may not have been found"
    )
    assert report["hosts"][0]["torch"]["discovery"]["left_out"] == left_out
    assert report["summary"]["torch"]["not_probed"] == 7


def test_findings_are_ordered_failures_warnings_then_not_checked_and_counted():
    report = report_of(
        {
            "gpu-2": gpu_facts([SYSTEM, REFUSED, MINOR_COMPAT, CPU_ON_GPU_HOST]),
            "gpu-1": gpu_facts([GOOD, TIMEOUT, dict(GOOD, bitsandbytes=BNB_NO_LOAD, prefix="/x", python="/x/bin/p")]),
            "gpu-3": gpu_facts([CPU_ON_GPU_HOST, TOO_NEW]),
            "gpu-4": gpu_facts(None),
            "gone": None,
        }
    )
    order = [(f["kind"], f["host"]) for f in report["torch_findings"]]
    assert order == [
        ("cpu_build", "gpu-2"),
        ("cpu_build", "gpu-3"),
        ("driver_too_old", "gpu-3"),
        ("bitsandbytes", "gpu-1"),
        ("minor_version_compat", "gpu-2"),
        ("refused", "gpu-2"),
        ("timeout", "gpu-1"),
    ]
    summary = report["summary"]["torch"]
    assert summary == {
        "hosts_gathered": 3,
        "hosts_not_gathered": ["gpu-4"],  # "gone" reported nothing at all: it is in unreachable_hosts
        "environments": 9,
        "checked": 7,
        "ok": 1,
        "no_torch": 1,
        "failed": 4,
        "warnings": 1,
        "not_checked": 2,
        "not_probed": 0,
        "hosts_with_findings": ["gpu-1", "gpu-2", "gpu-3"],
        "findings": [
            {"kind": "cpu_build", "severity": "fail", "title": "CPU-only torch on a GPU host", "count": 2, "hosts": 2},
            {
                "kind": "driver_too_old",
                "severity": "fail",
                "title": "driver too old for the torch build's CUDA",
                "count": 1,
                "hosts": 1,
            },
            {
                "kind": "bitsandbytes",
                "severity": "fail",
                "title": "bitsandbytes cannot find or load its library",
                "count": 1,
                "hosts": 1,
            },
            {
                "kind": "minor_version_compat",
                "severity": "warning",
                "title": "runs through CUDA minor-version compatibility",
                "count": 1,
                "hosts": 1,
            },
            {"kind": "refused", "severity": "not checked", "title": "refused, not run", "count": 1, "hosts": 1},
            {
                "kind": "timeout",
                "severity": "not checked",
                "title": "no answer within the time budget",
                "count": 1,
                "hosts": 1,
            },
        ],
    }
    # PyTorch findings do not make the GPU fleet unhealthy (summary.healthy keeps its meaning).
    assert "gone" in report["summary"]["unreachable_hosts"] and report["summary"]["healthy"] is False
    assert report_of({"gpu-3": gpu_facts([CPU_ON_GPU_HOST])})["summary"]["healthy"] is True


def test_hosts_without_the_torch_subset_have_no_torch_entry_and_no_findings():
    report = report_of({"gpu-1": gpu_facts(None), "gpu-2": gpu_facts(None), "gone": None})
    assert [host["torch"] for host in report["hosts"]] == [None, None, None]
    assert report["torch_findings"] == []
    summary = report["summary"]["torch"]
    assert (summary["hosts_gathered"], summary["hosts_not_gathered"], summary["environments"]) == (
        0,
        ["gpu-1", "gpu-2"],
        0,
    )


def test_an_older_torch_fact_without_verdicts_is_summarised_without_findings():
    """Facts cached before the module judged builds (no kind, build, cuda_compat, torch_discovery)."""
    old = {key: value for key, value in GOOD.items() if key not in ("kind", "name", "prefix", "owner", "cuda_compat")}
    facts = gpu_facts([old])
    del facts["torch_discovery"]
    report = report_of({"gpu-1": facts})
    (env,) = report["hosts"][0]["torch"]["environments"]
    assert (env["verdict"], env["cuda_compat"], env["kind"]) == ("ok", None, None)
    assert report["hosts"][0]["torch"]["discovery"] is None and report["torch_findings"] == []


# The role's templates, rendered by the real role through ansible-playbook (tests/fleet_report/report.yml).


def render(tmp_path, hosts):
    """fleet.{html,md,txt} of {host: ansible_facts.gpu} as the fleet_report role writes them."""
    fleet = {name: {"facts": {"gpu": facts}, "vars": {}} for name, facts in hosts.items()}
    reports, _seconds, result = synthetic_fleet.render_report(fleet, str(tmp_path))
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-2000:])
    texts = {}
    for name in ("fleet.html", "fleet.md", "fleet.txt"):
        with open(os.path.join(reports, name), encoding="utf-8") as handle:
            texts[name] = handle.read()
    return texts


def test_nothing_gathered_says_so_once_and_has_no_section(tmp_path):
    texts = render(tmp_path, {"gpu-1": gpu_facts(None), "gpu-2": gpu_facts(None, gpus=0)})
    for name, text in texts.items():
        assert text.count("PyTorch environments: not gathered.") == 1, name
        assert "PyTorch:" not in text, name
    assert 'id="torch"' not in texts["fleet.html"] and 'id="torch-findings"' not in texts["fleet.html"]
    assert "## PyTorch" not in texts["fleet.md"]


def test_the_findings_are_capped_per_kind_at_fleet_scale(tmp_path):
    """40 hosts with a CPU-only torch, one with a torch too new: 10 rows each kind on the page, 3 in the text
    reports, each with how many more fleet.json has."""
    hosts = {f"gpu-{n:03d}": gpu_facts([SYSTEM, GOOD, CPU_ON_GPU_HOST]) for n in range(40)}
    hosts["gpu-100"] = gpu_facts([TOO_NEW, REFUSED])
    texts = render(tmp_path, hosts)
    html = texts["fleet.html"]
    section = html[html.index('<section id="torch">') :]
    section = section[: section.index("</section>")]
    cpu = section[section.index('data-kind="cpu_build"') :]
    cpu = cpu[: cpu.index("</tbody>")]
    assert len(re.findall(r'<tr><td><a href="#host-gpu-0\d\d">', cpu)) == 10
    assert "and 30 more: fleet.json, torch_findings with kind cpu_build" in cpu
    assert 'data-count="40"' in cpu and "CPU-only torch on a GPU host: 40 on 40 hosts" in cpu
    assert "gpu-100" in section and "(upgrade the driver or install a torch built for CUDA 12.x)" in section
    assert "world-writable (mode 0777)" in section
    assert "PyTorch: 122 environments on 41 hosts: 41 failing, 1 not checked, 40 OK, 40 without torch." in html
    for name in ("fleet.md", "fleet.txt"):
        text = texts[name]
        assert "PyTorch: 122 environments on 41 hosts" in text, name
        assert sum(1 for line in text.splitlines() if "/home/bob/venvs/quick" in line) == 3, name
        assert "and 37 more" in text and "kind cpu_build" in text.replace("`", ""), name
        assert "gpu-100" in text, name


def test_a_fleet_whose_environments_are_all_fine_says_so(tmp_path):
    texts = render(tmp_path, {"gpu-1": gpu_facts([SYSTEM, GOOD]), "gpu-2": gpu_facts(None)})
    line = "PyTorch: 2 environments on 1 host: 1 OK, 1 without torch; not gathered on 1 host."
    for name, text in texts.items():
        assert line in text, name
        assert "failing" not in text and "not checked" not in text and "/opt/conda/envs/train" not in text, name
    html = texts["fleet.html"]
    assert '<section id="torch">' in html and 'id="torch-findings"' not in html
    assert "No finding: every environment was checked" in html
