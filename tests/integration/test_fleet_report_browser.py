"""The fleet report at the size of a real fleet, rendered by the real role and looked at in a real browser.

A SYNTHETIC fleet of 500 hosts x 8 GPUs (tests/fleet_report/synthetic_fleet.py: three models, faulty GPUs, burn-in
outliers and failures, a host that was not reached, two hosts whose containers get no GPUs, PyTorch environments with
every kind of finding and hosts where the torch subset was not gathered; every verdict produced by the collection's own
code) is written to a fact cache, and the fleet_report role renders fleet.{json,md,html,txt}
through ansible-playbook. Debian's chromium, headless and driven over the DevTools protocol, then opens fleet.html:
the page loads without errors, its first screen names what is wrong and where, the charts are there (one per GPU model,
their texts inside the chart and apart), and the table lists every host. A small fleet checks the other branch of the
Markdown and text reports (every host listed).

Without Chromium the browser tests skip, saying so; `make test` installs it (hack/host-deps.sh).
Screenshots: .build/report-shots/test-fleet500-*.png.
"""

import json
import os

import pytest
from ansible_collections.gpufleet.nvidia.tests.fleet_report import chromium, synthetic_fleet

CHROMIUM = chromium.find_chromium()
SHOTS = os.path.join(synthetic_fleet.REPO, ".build", "report-shots")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH: install Debian's chromium (hack/host-deps.sh does as root; `make test` runs it)",
)
VIEWPORT = (1400, 1000)

# Every text of every chart: inside its SVG, and not on top of another text (the old chart cut its caption and
# overlapped its x labels). One pixel of slack for anti-aliasing.
TEXT_LAYOUT_PROBLEMS = """(() => {
  const problems = [];
  document.querySelectorAll('figure.burnin-model svg').forEach((svg, n) => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => ({text: t.textContent, r: t.getBoundingClientRect()}));
    for (const {text, r} of texts) {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        problems.push(`chart ${n}: "${text}" leaves the chart`);
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i].r, b = texts[j].r;
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        problems.push(`chart ${n}: "${texts[i].text}" overlaps "${texts[j].text}"`);
    }
  });
  return problems;
})()"""


@pytest.fixture(scope="module")
def fleet500(tmp_path_factory):
    """(fleet, report directory, fleet.json) of the synthetic 500-host fleet, rendered by the role."""
    fleet = synthetic_fleet.build_fleet(hosts=500, gpus_per_host=8)
    reports, _seconds, result = synthetic_fleet.render_report(fleet, str(tmp_path_factory.mktemp("fleet500")))
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-2000:])
    with open(os.path.join(reports, "fleet.json"), encoding="utf-8") as handle:
        return fleet, reports, json.load(handle)


@pytest.fixture(scope="module")
def page500(fleet500):
    """The 500-host fleet.html open in headless Chromium at 1400x1000."""
    if CHROMIUM is None:
        pytest.skip(needs_chromium.kwargs["reason"])
    _fleet, reports, _report = fleet500
    with chromium.Browser(CHROMIUM, *VIEWPORT) as browser:
        browser.open("file://" + os.path.join(reports, "fleet.html"))
        yield browser


def problem_hosts(expected):
    return sorted(set(expected["faulty"]) | set(expected["burnin_failed"]) | set(expected["unreachable"]))


def test_the_report_reads_every_verdict_of_the_fleet(fleet500):
    fleet, _reports, report = fleet500
    expected = synthetic_fleet.expected_problems(fleet)
    summary = report["summary"]
    assert (summary["hosts"], summary["gpus"]) == (500, 499 * 8)
    assert summary["faulty_hosts"] == expected["faulty"]
    assert summary["burnin_failed_hosts"] == expected["burnin_failed"]
    assert summary["unreachable_hosts"] == expected["unreachable"]
    assert summary["runtime_not_ready_hosts"] == ["gpu-0100", "gpu-0210"]
    assert sorted({p["host"] for p in report["problems"]}) == problem_hosts(expected)
    outliers = {(p["host"], p["gpu"]) for p in report["problems"] if p["outlier"]}
    assert outliers == {("gpu-0073", 1), ("gpu-0137", 6), ("gpu-0311", 4), ("gpu-0466", 7)}


def test_markdown_and_text_put_the_summary_first_and_list_only_the_problems(fleet500):
    fleet, reports, _report = fleet500
    hosts = problem_hosts(synthetic_fleet.expected_problems(fleet))
    for name in ("fleet.md", "fleet.txt"):
        with open(os.path.join(reports, name), encoding="utf-8") as handle:
            text = handle.read()
        head = "\n".join(text.splitlines()[:12])
        assert "500 hosts" in head and "13 hosts need attention" in head, (name, head)
        assert all(host in text for host in hosts), name
        # Problems only: one line per problem (13) and at most 3 per kind of PyTorch finding (10 kinds, each with a
        # heading and a "more" line), not one per host (fleet.json holds every host and GPU).
        assert len(text.splitlines()) < 110, name
        assert "gpu-0001" not in text and "fleet.json" in text, name
        assert "PyTorch: " in text and "not gathered on 20 hosts" in text, name
        for kind, hosts in synthetic_fleet.expected_torch_findings(fleet).items():
            # Each kind with its count, and at least its first host named.
            assert hosts[0] in text and f"{len(hosts)} on {len(hosts)} host" in text, (name, kind)


def test_a_small_fleet_keeps_its_full_table_in_markdown_and_text(tmp_path):
    fleet = synthetic_fleet.build_fleet(hosts=6, gpus_per_host=2)
    reports, _seconds, result = synthetic_fleet.render_report(fleet, str(tmp_path))
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-2000:])
    for name in ("fleet.md", "fleet.txt"):
        with open(os.path.join(reports, name), encoding="utf-8") as handle:
            text = handle.read()
        assert all(synthetic_fleet.host_name(number) in text for number in range(1, 7)), name
    if CHROMIUM is not None:
        with chromium.Browser(CHROMIUM, *VIEWPORT) as browser:
            browser.open("file://" + os.path.join(reports, "fleet.html"))
            assert browser.errors == []
            assert browser.evaluate("document.querySelectorAll('table.hosts tbody tr').length") == 6
            assert browser.evaluate(TEXT_LAYOUT_PROBLEMS) == []


@needs_chromium
def test_the_page_loads_without_errors(page500):
    assert page500.errors == []
    assert page500.evaluate("document.title").startswith("GPU fleet report: 13 hosts need attention")
    # One self-contained file: nothing to fetch (no script, stylesheet, image or frame from elsewhere).
    assert page500.evaluate("document.querySelectorAll('script, link, img, iframe, object, embed').length") == 0


@needs_chromium
def test_the_first_screen_says_what_is_wrong_and_where(fleet500, page500):
    fleet, _reports, _report = fleet500
    expected = synthetic_fleet.expected_problems(fleet)
    os.makedirs(SHOTS, exist_ok=True)
    page500.screenshot(os.path.join(SHOTS, "test-fleet500-first-screen.png"))
    status = page500.evaluate("document.getElementById('status').innerText")
    for host in expected["faulty"] + expected["burnin_failed"] + expected["unreachable"]:
        assert host in status, (host, status)
    listed = page500.evaluate(
        "[...new Set([...document.querySelectorAll('#problems tbody tr td:first-child')].map(td => td.innerText))]"
    )
    assert sorted(listed) == problem_hosts(expected)
    # The status, the problems and the first model's charts are on the first screen.
    height = VIEWPORT[1]
    assert page500.rect("#status")["y"] < height
    problems = page500.rect("#problems")
    assert problems["y"] + problems["height"] < height
    first_chart = page500.rect("figure.burnin-model svg")
    assert first_chart["y"] + first_chart["height"] <= height


@needs_chromium
def test_the_charts_are_one_per_model_and_readable(fleet500, page500):
    _fleet, _reports, report = fleet500
    figures = page500.evaluate(
        "[...document.querySelectorAll('figure.burnin-model')].map(f => ({"
        " key: f.querySelector('figcaption b').innerText, gpus: +f.dataset.gpus, failed: +f.dataset.failed,"
        " svgs: f.querySelectorAll('svg').length, markers: f.querySelectorAll('svg g.failed-gpu').length,"
        " width: f.getBoundingClientRect().width }))"
    )
    assert [f["key"] for f in figures] == [
        "NVIDIA H100 80GB HBM3 (bf16)",
        "NVIDIA A100-SXM4-80GB (bf16)",
        "NVIDIA L40S (bf16)",
    ]
    assert sum(f["gpus"] for f in figures) == len(report["burnin"]["results"])
    failed = [row for row in report["burnin"]["results"] if row["verdict"] != "pass"]
    assert sum(f["failed"] for f in figures) == len(failed)
    # Each failed GPU is marked in both histograms (TFLOPS and temperature).
    assert [f["svgs"] for f in figures] == [2, 2, 2]
    assert sum(f["markers"] for f in figures) == 2 * len(failed)
    assert page500.evaluate(TEXT_LAYOUT_PROBLEMS) == []
    # The three models side by side within the window: no horizontal scrolling.
    assert page500.evaluate("document.documentElement.scrollWidth") <= VIEWPORT[0]
    models = page500.rect("#models")
    page500.screenshot(
        os.path.join(SHOTS, "test-fleet500-detail-models.png"),
        {"x": 0, "y": models["y"], "width": VIEWPORT[0], "height": models["height"]},
    )


def test_the_report_lists_every_pytorch_finding_of_the_fleet(fleet500):
    fleet, _reports, report = fleet500
    expected = synthetic_fleet.expected_torch_findings(fleet)
    found = {}
    for finding in report["torch_findings"]:
        found.setdefault(finding["kind"], []).append(finding["host"])
    assert found == expected
    summary = report["summary"]["torch"]
    not_gathered = [name for name, host in fleet.items() if host["facts"] and "torch" not in host["facts"]["gpu"]]
    assert summary["hosts_not_gathered"] == not_gathered and len(not_gathered) == 20
    assert summary["hosts_gathered"] == 500 - 1 - 20
    # Every host that gathered it has its environments in fleet.json, with the module's verdict.
    torch_hosts = [host for host in report["hosts"] if host["torch"] is not None]
    assert len(torch_hosts) == summary["hosts_gathered"]
    too_old = next(f for f in report["torch_findings"] if f["kind"] == "driver_too_old")
    assert too_old["message"].startswith(
        "torch 2.13.0+cu130 needs a driver for CUDA 13.0; this host's driver 550.54.15 supports CUDA 12.4"
    )


@needs_chromium
def test_the_page_names_the_faulty_pytorch_environments(fleet500, page500):
    fleet, _reports, report = fleet500
    expected = synthetic_fleet.expected_torch_findings(fleet)
    # One line under the status counts them and links to the section.
    line = page500.evaluate("document.getElementById('torch-summary').innerText")
    assert line.startswith("PyTorch: ") and "43 failing, 7 with a warning, 6 not checked" in line, line
    assert page500.evaluate("document.querySelector('#torch-summary a').getAttribute('href')") == "#torch"
    assert page500.rect("#torch-summary")["y"] < VIEWPORT[1]
    groups = page500.evaluate(
        "[...document.querySelectorAll('#torch-findings tbody')].map(g => ({kind: g.dataset.kind,"
        " count: +g.dataset.count, heading: g.querySelector('tr.group').innerText,"
        " hosts: [...g.querySelectorAll('tr:not(.group):not(.more) td:first-child')].map(td => td.innerText),"
        " more: (g.querySelector('tr.more') || {}).innerText || ''}))"
    )
    assert [g["kind"] for g in groups] == [g["kind"] for g in report["summary"]["torch"]["findings"]]
    for group in groups:
        hosts = expected[group["kind"]]
        assert group["count"] == len(hosts), group
        assert group["hosts"] == hosts[:10], group  # at most 10 rows a kind, the rest counted
        assert (f"and {len(hosts) - 10} more" in group["more"]) if len(hosts) > 10 else group["more"] == ""
    cpu = groups[0]
    assert cpu["heading"].startswith("FAIL CPU-only torch on a GPU host: 31 on 31 hosts"), cpu
    # A faulty environment is named with its host, its path and what is wrong, in the module's words.
    row = page500.evaluate(
        "[...document.querySelectorAll('#torch-findings tbody[data-kind=driver_too_old] tr')][1].innerText"
    )
    assert "gpu-0260" in row and "/home/carol/.conda/envs/llm-nightly" in row, row
    assert "needs a driver for CUDA 13.0; this host's driver 550.54.15 supports CUDA 12.4" in row, row
    refused = page500.evaluate("document.querySelector('#torch-findings tbody[data-kind=refused]').innerText")
    assert "/opt/venvs/shared" in refused and "world-writable" in refused, refused
    # The section lies between the charts and the table of every host, its links lead to the host's row.
    assert page500.rect("#models")["y"] < page500.rect("#torch")["y"] < page500.rect("#hosts")["y"]
    assert page500.evaluate("document.querySelector('#torch-findings a').getAttribute('href')") == "#host-gpu-0003"
    torch = page500.rect("#torch")
    page500.screenshot(
        os.path.join(SHOTS, "test-fleet500-detail-torch.png"),
        {"x": 0, "y": torch["y"], "width": VIEWPORT[0], "height": min(torch["height"], 1600)},
    )


@needs_chromium
def test_the_table_below_lists_every_host(fleet500, page500):
    fleet, _reports, _report = fleet500
    rows = page500.evaluate("document.querySelectorAll('table.hosts tbody tr').length")
    assert rows == 500
    marked = page500.evaluate("[...document.querySelectorAll('table.hosts tr.attention')].map(tr => tr.id)")
    assert marked == ["host-" + host for host in problem_hosts(synthetic_fleet.expected_problems(fleet))]
    cells = page500.evaluate("document.querySelectorAll('table.hosts span.g').length")
    assert cells == 499 * 8
    # A problem's link leads to its host's row.
    assert page500.evaluate("document.querySelector('#problems a').getAttribute('href')") == "#host-gpu-0042"
    row = page500.rect("#host-gpu-0137")
    page500.screenshot(
        os.path.join(SHOTS, "test-fleet500-detail-hosts.png"),
        {"x": 0, "y": max(0, row["y"] - 200), "width": VIEWPORT[0], "height": 440},
    )
