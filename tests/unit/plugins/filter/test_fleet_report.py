# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report: the fleet document built from hostvars (gpu facts + the gpufleet local fact)."""

import copy
import json
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_chart_svg import burnin_chart_svg
from ansible_collections.gpufleet.nvidia.plugins.filter.burnin_fleet import host_verdict, judge_fleet
from ansible_collections.gpufleet.nvidia.plugins.filter.fleet_report import FilterModule, fleet_report
from ansible_collections.gpufleet.nvidia.plugins.filter.gpu_model_group import gpu_model_groups

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"


def device(index, name=H100, health="ok", temperature=40):
    return {
        "index": index,
        "uuid": f"GPU-{name[-4:]}-{index}",
        "name": name,
        "memory_total_mib": 81559,
        "compute_capability": "9.0",
        "temperature_c": temperature,
        "power_draw_w": 70.5,
        "health": health,
    }


def gpu_facts(devices, container=None, cuda=None):
    return {
        "present": bool(devices),
        "count": len(devices),
        "source": "nvml" if devices else "none",
        "driver_version": "570.86.15" if devices else None,
        "cuda_driver_version": "12.8" if devices else None,
        "error": None if devices else "NVML: Driver Not Loaded",
        "healthy": all(d["health"] == "ok" for d in devices),
        "devices": devices,
        "container": container,
        "cuda": cuda,
    }


def burn_gpu(dev, tflops, verdict="pass", reasons=()):
    return {
        "index": dev["index"],
        "uuid": dev["uuid"],
        "name": dev["name"],
        "device": f"cuda:{dev['index']}",
        "dtype": "bf16",
        "tflops": {"median": tflops, "min": tflops - 3, "max": tflops + 3},
        "max_temperature_c": 71,
        "verdict": verdict,
        "reasons": list(reasons),
    }


def hostvars_for(hosts, containers_ready=None):
    """hostvars as Ansible gives them: per host ansible_facts with gpu and ansible_local, and docker_runtime's
    gpufleet_gpu_containers_ready for the hosts named in containers_ready."""
    result = {}
    for name, (facts, local) in hosts.items():
        result[name] = {"inventory_hostname": name, "ansible_facts": {"gpu": facts, "ansible_local": local}}
        if containers_ready and name in containers_ready:
            result[name]["gpufleet_gpu_containers_ready"] = containers_ready[name]
    return result


def record_judged(hosts, tolerance):
    """Each host's burn-in as the burnin role records it: the module's result judged across the fleet."""
    records = []
    for name, (_facts, local) in hosts.items():
        burnin = (local.get("gpufleet") or {}).get("burnin")
        if burnin:
            records.append(
                {"host": name, "skipped": False, "passed": burnin["passed"], "msg": "", "gpus": burnin["gpus"]}
            )
    judged = judge_fleet(records, tolerance)
    out = copy.deepcopy(hosts)
    for name, (_facts, local) in out.items():
        if (local.get("gpufleet") or {}).get("burnin"):
            local["gpufleet"]["burnin"].update(host_verdict(judged, name))
    return out


DOCKER_READY = {
    "docker": {"installed": True, "daemon_running": True, "runtimes": ["nvidia", "runc"], "cdi_enabled": True},
    "cdi": {"devices": ["nvidia.com/gpu=0", "nvidia.com/gpu=all"]},
}


@pytest.fixture
def fleet():
    h1 = [device(0), device(1)]
    h2 = [device(0), device(1, health=["row_remap_pending", "hw_slowdown active"])]
    h2 = [dict(d, uuid=d["uuid"] + "-b") for d in h2]
    return {
        "gpu-b": (
            gpu_facts(h2, container={"docker": {"installed": False}, "cdi": {"devices": ["nvidia.com/gpu=0"]}}),
            {
                "gpufleet": {
                    "burnin": {
                        "passed": True,
                        "device": "cuda",
                        "dtype": "bf16",
                        "finished": 1.0,
                        "gpus": [burn_gpu(h2[0], 780), burn_gpu(h2[1], 600)],
                    }
                }
            },
        ),
        "gpu-a": (
            gpu_facts(
                h1,
                container=DOCKER_READY,
                cuda={"toolkits": [{"version": "12.4.131"}, {"version": "12.8.93"}], "nvcc_on_path": True},
            ),
            {
                "gpufleet": {
                    "cuda": {"version": "12.8.93", "path": "/usr/local/cuda-12.8"},
                    "burnin": {
                        "passed": True,
                        "device": "cuda",
                        "dtype": "bf16",
                        "finished": 2.0,
                        "gpus": [burn_gpu(h1[0], 790), burn_gpu(h1[1], 785)],
                    },
                }
            },
        ),
        "cpu-1": (gpu_facts([], container={"docker": {"installed": False}, "cdi": {"devices": []}}), {}),
    }


def test_registered():
    assert FilterModule().filters()["fleet_report"] is fleet_report


def test_hosts_sorted_with_health_runtime_cuda_and_burnin(fleet):
    report = fleet_report(["gpu-b", "gpu-a", "cpu-1"], hostvars_for(record_judged(fleet, 0.1), {"gpu-a": True}))
    assert [h["host"] for h in report["hosts"]] == ["cpu-1", "gpu-a", "gpu-b"]
    cpu, a, b = report["hosts"]
    assert (cpu["present"], cpu["health"], cpu["count"], cpu["runtime"]["text"]) == (False, "no GPU", 0, "-")
    assert cpu["burnin"]["verdict"] == "not run"
    assert a["health"] == "ok" and a["faulty"] == []
    assert a["runtime"] == {
        "ready": True,
        "docker": True,
        "nvidia_runtime": True,
        "cdi_devices": 1,
        "text": "docker nvidia runtime + CDI, CDI (1 device)",
    }
    assert a["cuda"] == {
        "selected": "12.8.93",
        "selected_path": "/usr/local/cuda-12.8",
        "toolkits": ["12.4.131", "12.8.93"],
        "nvcc_on_path": True,
    }
    assert a["burnin"]["verdict"] == "pass"
    assert b["health"] == "FAULTY"
    assert b["faulty"] == ["GPU1: row_remap_pending; hw_slowdown active"]
    # A CDI spec but no verdict of docker_runtime: a way exists, nobody checked it.
    assert b["runtime"]["ready"] is None and b["runtime"]["text"] == "CDI (1 device) (not checked)"
    # docker_runtime's verdict on a host without Docker: not ready for Docker, the CDI spec still described.
    no_docker = fleet_report(["gpu-b"], hostvars_for(fleet, {"gpu-b": False}))["hosts"][0]["runtime"]
    assert no_docker["ready"] is False and no_docker["text"] == "CDI (1 device); Docker: no Docker"


def test_the_report_reads_the_recorded_outlier_verdict(fleet):
    """The burnin role judged gpu-b's slow GPU an outlier (tolerance 0.1) and recorded it: the report says so."""
    report = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(record_judged(fleet, 0.1)))
    b = report["hosts"][2]
    assert b["burnin"]["verdict"] == "FAIL"
    assert any("outlier" in line for line in b["burnin"]["failing"])
    slow = b["gpus"][1]["burnin"]
    assert slow == {"tflops_median": 600, "max_temperature_c": 71, "verdict": "fail", "outlier": True}
    assert report["summary"]["burnin_failed_hosts"] == ["gpu-b"]
    assert report["burnin"]["tolerance"] == 0.1
    # Judged with a wider tolerance, the record says pass, and so does the report: it never judges again.
    relaxed = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(record_judged(fleet, 0.3)))
    assert relaxed["hosts"][2]["burnin"]["verdict"] == "pass"
    assert relaxed["burnin"]["tolerance"] == 0.3


def test_a_record_from_before_fleet_judgement_uses_the_modules_verdicts(fleet):
    """Local facts written before the burnin role recorded fleet verdicts: the module's per-GPU verdicts count."""
    report = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(fleet))
    assert [h["burnin"]["verdict"] for h in report["hosts"]] == ["not run", "pass", "pass"]
    failed = copy.deepcopy(fleet)
    failed["gpu-b"][1]["gpufleet"]["burnin"].update(passed=False, msg="exited with rc 1")
    failed["gpu-b"][1]["gpufleet"]["burnin"]["gpus"][1].update(verdict="fail", reasons=["3 NaN/Inf value(s)"])
    b = fleet_report(["gpu-b"], hostvars_for(failed))["hosts"][0]
    assert b["burnin"]["verdict"] == "FAIL"
    assert b["burnin"]["failing"] == [f"GPU 1 ({H100}, GPU-HBM3-1-b): 3 NaN/Inf value(s)"]


def test_containers_verdict_recorded_in_the_local_fact(fleet):
    """facts.yml alone (docker_runtime did not run in this play) reads the verdict docker_runtime recorded."""
    local = copy.deepcopy(fleet)
    local["gpu-a"][1]["gpufleet"]["containers"] = {"ready": False}
    assert fleet_report(["gpu-a"], hostvars_for(local))["hosts"][0]["runtime"]["ready"] is False
    # This play's verdict wins over the recorded one.
    assert fleet_report(["gpu-a"], hostvars_for(local, {"gpu-a": True}))["hosts"][0]["runtime"]["ready"] is True


def test_summary_counts(fleet):
    summary = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(record_judged(fleet, 0.3), {"gpu-a": True}))[
        "summary"
    ]
    # The torch subset was not gathered (test_fleet_report_torch.py covers it).
    torch = summary.pop("torch")
    assert (torch["hosts_gathered"], torch["hosts_not_gathered"]) == (0, ["cpu-1", "gpu-a", "gpu-b"])
    assert summary == {
        "hosts": 3,
        "hosts_with_gpus": 2,
        "gpus": 4,
        "faulty_gpus": 1,
        "faulty_hosts": ["gpu-b"],
        "runtime_ready_hosts": 1,
        "runtime_not_ready_hosts": [],
        "burnin_passed_hosts": 2,
        "burnin_failed_hosts": [],
        "unreachable_hosts": [],
        "models": {H100: 4},
        "healthy": False,
    }


def test_healthy_fleet(fleet):
    fleet = {name: fleet[name] for name in ("gpu-a", "cpu-1")}
    summary = fleet_report(list(fleet), hostvars_for(fleet))["summary"]
    assert summary["healthy"] is True


def test_host_without_facts_is_unknown_and_makes_the_fleet_unhealthy(fleet):
    hostvars = hostvars_for(fleet)
    hostvars["gone"] = {"inventory_hostname": "gone"}
    report = fleet_report(["gpu-a", "gone"], hostvars)
    gone = report["hosts"][0]
    assert (gone["host"], gone["reported"], gone["health"]) == ("gone", False, "unknown")
    assert "not reached" in gone["error"]
    assert report["summary"]["unreachable_hosts"] == ["gone"]
    assert report["summary"]["healthy"] is False
    # A host that is not in hostvars at all is reported the same way.
    assert fleet_report(["nowhere"], {})["hosts"][0]["health"] == "unknown"


def test_report_ignores_volatile_readings(fleet):
    """Temperature and power change on every gather; the report must not, or re-runs would report a change."""
    first = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(fleet))
    hotter = copy.deepcopy(fleet)
    for facts, _local in hotter.values():
        for dev in facts["devices"]:
            dev["temperature_c"] += 20
            dev["power_draw_w"] += 100
    second = fleet_report(["gpu-a", "gpu-b", "cpu-1"], hostvars_for(hotter))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize(
    "container, present, ready, text",
    [
        (None, True, None, "not gathered"),
        (
            {"docker": {"installed": True, "daemon_running": True, "runtimes": ["nvidia"]}, "cdi": {}},
            True,
            None,
            "docker nvidia runtime (not checked)",
        ),
        (
            {"docker": {"installed": True, "daemon_running": False}, "cdi": {"devices": []}},
            True,
            False,
            "no: docker daemon not running, no CDI spec",
        ),
        (
            {"docker": {"installed": True, "daemon_running": True, "runtimes": ["runc"]}, "cdi": {}},
            True,
            False,
            "no: docker lacks the nvidia runtime, no CDI spec",
        ),
        ({"docker": {"installed": False}, "cdi": {"devices": []}}, True, False, "no: no Docker, no CDI spec"),
        (
            {"docker": {"installed": True, "daemon_running": True, "runtimes": ["nvidia"]}, "cdi": {}},
            True,
            True,
            "docker nvidia runtime",
        ),
    ],
)
def test_runtime_readiness(container, present, ready, text):
    devices = [device(0)] if present else []
    verdict = {"h": True} if text == "docker nvidia runtime" else None
    hostvars = hostvars_for({"h": (gpu_facts(devices, container=container), {})}, verdict)
    runtime = fleet_report(["h"], hostvars)["hosts"][0]["runtime"]
    assert (runtime["ready"], runtime["text"]) == (ready, text)


@pytest.mark.parametrize(
    "hosts, hostvars, message",
    [
        ("gpu-a", {}, "list of host names"),
        (["gpu-a"], ["not", "hostvars"], "hostvars"),
    ],
)
def test_bad_input_is_a_clear_error(hosts, hostvars, message):
    with pytest.raises(AnsibleFilterError, match=message):
        fleet_report(hosts, hostvars)


def test_problems_say_what_is_wrong_and_where(fleet):
    """One entry per faulty or failing GPU (both at once when both), per host without facts, per failed run."""
    crashed = copy.deepcopy(fleet)
    crashed["gpu-c"] = (gpu_facts([device(0, name=A100)]), {"gpufleet": {"burnin": {"passed": False, "gpus": []}}})
    hostvars = hostvars_for(record_judged(crashed, 0.1), {"gpu-a": True, "gpu-b": False})
    hostvars["gone"] = {"inventory_hostname": "gone"}
    report = fleet_report(["gpu-a", "gpu-b", "gpu-c", "cpu-1", "gone"], hostvars)
    assert [(p["host"], p["gpu"]) for p in report["problems"]] == [("gone", None), ("gpu-b", 1), ("gpu-c", None)]
    gone, slow, run = report["problems"]
    assert gone["error"] == "no facts: the host was not reached" and gone["faulty"] == gone["burnin"] == []
    # gpu-b's GPU 1 is faulty (its health) and an outlier (the recorded fleet judgement): one entry says both.
    assert slow["faulty"] == ["row_remap_pending", "hw_slowdown active"]
    assert slow["outlier"] is True and slow["burnin"][0].startswith("outlier: 600 TFLOPS")
    assert (slow["uuid"], slow["model"]) == ("GPU-HBM3-1-b", H100)
    # A run that failed before judging a GPU: the recorded line is the problem.
    assert run["burnin"] == ["burn-in did not pass: no result"]
    # Read, not judged: with the wider tolerance recorded, the slow GPU is only faulty.
    relaxed = fleet_report(["gpu-b"], hostvars_for(record_judged(fleet, 0.3)))["problems"]
    assert [(p["gpu"], p["burnin"], p["outlier"]) for p in relaxed] == [(1, [], False)]
    assert report["summary"]["runtime_not_ready_hosts"] == ["gpu-b"]


def test_a_healthy_fleet_has_no_problems(fleet):
    fleet = {name: fleet[name] for name in ("gpu-a", "cpu-1")}
    assert fleet_report(list(fleet), hostvars_for(record_judged(fleet, 0.1)))["problems"] == []


SVG = "{http://www.w3.org/2000/svg}"


def chart_rows(models, outliers=(), seed=3):
    """Judged rows of a fleet: ``models`` is {name: (GPUs, TFLOPS)}; the GPUs named in outliers are 20% slower."""
    records = []
    for name, (count, tflops) in models.items():
        for number in range(count):
            host = f"{name.split()[-1].lower()}-{number // 8:03d}"
            gpu = {
                "index": number % 8,
                "uuid": f"GPU-{name}-{number}",
                "name": name,
                "device": f"cuda:{number % 8}",
                "dtype": "bf16",
                "tflops": {"median": tflops * (0.8 if (host, number % 8) in outliers else 1 + (number % 7) / 500)},
                "max_temperature_c": 60 + (number * seed) % 15,
                "verdict": "pass",
                "reasons": [],
            }
            records.append({"host": host, "gpus": [gpu], "passed": True})
    merged = {}
    for record in records:  # one record per host, as the burnin role has
        host = merged.setdefault(record["host"], {"host": record["host"], "passed": True, "gpus": []})
        host["gpus"] += record["gpus"]
    return judge_fleet(list(merged.values()), 0.1)


def parse_charts(html):
    """The chart HTML as XML (it is well-formed: every text escaped, no HTML-only entity)."""
    return ET.fromstring(html)


def test_chart_is_one_figure_per_model_with_two_histograms():
    judged = chart_rows({H100: (64, 740.0), A100: (24, 270.0)}, outliers={("hbm3-002", 5)})
    root = parse_charts(burnin_chart_svg(judged))
    figures = root.findall("figure")
    assert [f.find("figcaption/b").text for f in figures] == [f"{H100} (bf16)", f"{A100} (bf16)"]  # biggest first
    assert [int(f.get("data-gpus")) for f in figures] == [64, 24]
    assert [int(f.get("data-failed")) for f in figures] == [1, 0]
    assert all(len(f.findall(f"{SVG}svg")) == 2 for f in figures)
    h100_tflops = figures[0].findall(f"{SVG}svg")[0]
    # The failed GPU is marked (hover: its name and the recorded reason) and named on the chart.
    (marker,) = h100_tflops.findall(f"{SVG}g[@class='failed-gpu']")
    assert marker.find(f"{SVG}title").text.startswith("hbm3-002 GPU 5: 592 TFLOPS, outlier:")
    texts = [t.text for t in h100_tflops.iter(f"{SVG}text")]
    assert "hbm3-002 GPU 5" in texts
    # The recorded median and the outlier floor (1 - tolerance) x median are drawn.
    centre = judged["models"][f"{H100} (bf16)"]["median_tflops"]
    assert f"median {centre:.4g}" in texts and f"floor {0.9 * centre:.4g}" in texts
    assert "1 failed (1 outlier)" in ET.tostring(figures[0].find("figcaption"), encoding="unicode")


def test_chart_size_does_not_grow_with_the_fleet():
    """4,000 GPUs are drawn as histograms (at most 40 bins each), not 4,000 bars."""
    small = burnin_chart_svg(chart_rows({H100: (16, 740.0), A100: (8, 270.0)}))
    large = burnin_chart_svg(chart_rows({H100: (2400, 740.0), A100: (1600, 270.0)}))
    assert len(large) < 2 * len(small) and len(large) < 40_000
    for svg in parse_charts(large).iter(f"{SVG}svg"):
        assert len(svg.findall(f"{SVG}g")) <= 40


def test_chart_texts_stay_inside_the_chart():
    """Labels near an edge flip to the other side of their line or mark (the old chart cut its caption)."""
    judged = chart_rows({H100: (40, 740.0)}, outliers={("hbm3-000", 0), ("hbm3-004", 7)})
    for svg in parse_charts(burnin_chart_svg(judged)).iter(f"{SVG}svg"):
        width = float(svg.get("width"))
        for text in svg.iter(f"{SVG}text"):
            x, size = float(text.get("x")), len(text.text) * 6.4
            left = {"start": x, "middle": x - size / 2, "end": x - size}[text.get("text-anchor", "start")]
            assert left >= -1 and left + size <= width + 1, (text.text, left, size)


def test_chart_draws_a_broken_gpu_at_the_edge_instead_of_stretching_the_axis():
    judged = chart_rows({H100: (32, 740.0)})
    judged["results"][3].update(tflops_median=12.0, verdict="fail", reasons=["1 NaN/Inf value(s) in results"])
    svg = parse_charts(burnin_chart_svg(judged)).find(f"figure/{SVG}svg")
    ticks = [float(t.text) for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert min(ticks) > 600  # the axis still spans the healthy GPUs
    assert any((t.text or "").startswith("\u25c2 1 below") for t in svg.iter(f"{SVG}text"))


def test_chart_escapes_names(fleet):
    fleet["<b>evil&host"] = fleet.pop("gpu-b")
    report = fleet_report(list(fleet), hostvars_for(record_judged(fleet, 0.1)))
    html = burnin_chart_svg(report["burnin"])
    parse_charts(html)  # well-formed: the host name did not inject markup
    assert "&lt;b&gt;evil" in html and "<b>evil" not in html


def test_chart_without_temperatures_or_tflops_says_so():
    judged = chart_rows({H100: (4, 740.0)})
    for row in judged["results"]:
        row["max_temperature_c"] = None
    assert "No temperatures recorded." in burnin_chart_svg(judged)


@pytest.mark.parametrize(
    "names, groups",
    [
        (["NVIDIA H100 80GB HBM3"], ["gpu_model_h100_80gb_hbm3"]),
        (["NVIDIA RTX A6000"] * 8, ["gpu_model_rtx_a6000"]),
        (["NVIDIA A100-SXM4-80GB", "NVIDIA H200"], ["gpu_model_a100_sxm4_80gb", "gpu_model_h200"]),
        (["Tesla V100-PCIE-32GB"], ["gpu_model_tesla_v100_pcie_32gb"]),
        (["  NVIDIA  GeForce RTX 4090 (D) "], ["gpu_model_geforce_rtx_4090_d"]),
        (["???"], ["gpu_model_unknown"]),
        ([], ["gpu_model_none"]),
    ],
)
def test_gpu_model_groups(names, groups):
    assert gpu_model_groups({"devices": [{"name": name} for name in names]}) == groups


def test_gpu_model_group_needs_the_gpu_facts():
    with pytest.raises(AnsibleFilterError, match="ansible_facts"):
        gpu_model_groups(["NVIDIA H100"])


def test_report_lists_each_hosts_model_groups(fleet):
    report = fleet_report(["gpu-a", "cpu-1"], hostvars_for(fleet))
    assert [h["groups"] for h in report["hosts"]] == [["gpu_model_none"], ["gpu_model_h100_80gb_hbm3"]]
