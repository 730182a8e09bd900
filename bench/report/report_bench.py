"""The fleet report at fleet size: render it for SYNTHETIC fleets through ansible-playbook and time Chromium on it.

Per fleet size: the seconds the fleet_report role took (ansible-playbook, facts already in the fact cache), the size
of each file (fleet.html also gzip-compressed), and Chromium's time to open fleet.html two ways:

- cold: ``chromium --headless --screenshot`` of the page, wall time from start to exit, beside the same for an empty
  page (the browser's own start-up), median of the runs;
- warm: one browser opens the page again and again over the DevTools protocol; the wall time until the load event
  and the page's own DOMContentLoaded and load timings, median of the loads.

Screenshots of the 500-host page (first screen; details: the charts per model and the host table around a problem)
go to .build/report-shots/, and their paths are printed; the reports stay in .build/bench-report/500/reports.
"""

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.gpufleet.nvidia.tests.fleet_report import chromium, synthetic_fleet  # noqa: E402

SHOTS = os.path.join(REPO, ".build", "report-shots")


def cold_open_seconds(binary, url, runs):
    """Median wall seconds of a fresh headless Chromium that loads url, screenshots it and exits."""
    times = []
    for _run in range(runs):
        with tempfile.TemporaryDirectory(prefix="gpufleet-bench-chromium-") as profile:
            argv = [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={os.path.join(profile, 'shot.png')}",
                "--window-size=1400,1000",
                url,
            ]
            started = time.monotonic()
            subprocess.run(argv, capture_output=True, timeout=300, check=True)
            times.append(time.monotonic() - started)
    return statistics.median(times)


def warm_open(binary, url, loads):
    """(median wall seconds to the load event, median page timings, errors) over ``loads`` loads in one browser."""
    walls, timings = [], []
    with chromium.Browser(binary) as browser:
        for _load in range(loads):
            walls.append(browser.open(url))
            timings.append(browser.timing())
            browser.open("about:blank")
        errors = list(browser.errors)
    keys = ("dom_content_loaded_ms", "load_ms")
    medians = {key: statistics.median(t[key] for t in timings) for key in keys}
    medians.update(elements=timings[-1]["elements"], page_height_px=timings[-1]["page_height_px"])
    return statistics.median(walls), medians, errors


def screenshots(binary, html, hosts):
    """First screen and two details of the page; returns their paths."""
    os.makedirs(SHOTS, exist_ok=True)
    problem = synthetic_fleet.host_name(max(1, round(137 * hosts / 500)))  # a faulty GPU that is also an outlier
    paths = {}
    with chromium.Browser(binary) as browser:
        browser.open("file://" + html)
        prefix = os.path.join(SHOTS, f"fleet{hosts}")
        paths["first screen"] = browser.screenshot(prefix + "-first-screen.png")
        charts = browser.rect("#models")
        paths["detail: charts per model"] = browser.screenshot(
            prefix + "-detail-models.png", {"x": 0, "y": charts["y"], "width": 1400, "height": charts["height"] + 8}
        )
        row = browser.rect(f"#host-{problem}")
        paths[f"detail: host table around {problem}"] = browser.screenshot(
            prefix + "-detail-hosts.png", {"x": 0, "y": max(0, row["y"] - 200), "width": 1400, "height": 440}
        )
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,500", help="fleet sizes in hosts, comma-separated (default 50,500)")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per host (default 8)")
    parser.add_argument("--loads", type=int, default=5, help="page loads per measurement (default 5)")
    parser.add_argument(
        "--shots", type=int, help="screenshots of this size (default: 500 if measured, else the largest)"
    )
    args = parser.parse_args()
    binary = chromium.find_chromium()
    if not binary:
        sys.exit("bench/report: no Chromium (install Debian's chromium: hack/host-deps.sh does)")
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"bench/report: {chromium.version(binary)}; SYNTHETIC fleets of {args.sizes} hosts x {args.gpus} GPUs")
    blank = os.path.join(REPO, ".build", "bench-report", "blank.html")
    os.makedirs(os.path.dirname(blank), exist_ok=True)
    with open(blank, "w", encoding="utf-8") as handle:
        handle.write("<!DOCTYPE html><html><head><meta charset='utf-8'><title>blank</title></head><body></body></html>")
    baseline = cold_open_seconds(binary, "file://" + blank, args.loads)
    print(f"Chromium start-up (empty page, screenshot, exit): {baseline:.2f} s")
    header = (
        f"{'hosts':>6} {'GPUs':>6} {'playbook s':>10} {'html KiB':>9} {'gzip KiB':>9} {'json KiB':>9} {'md KiB':>7}"
        f" {'txt KiB':>7} {'cold s':>7} {'to load s':>9} {'DCL ms':>7} {'load ms':>8} {'elements':>8} {'height px':>9}"
    )
    print(header)
    shots = args.shots or (500 if 500 in sizes else max(sizes))
    shown = None
    for hosts in sizes:
        directory = os.path.join(REPO, ".build", "bench-report", str(hosts))
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        fleet = synthetic_fleet.build_fleet(hosts=hosts, gpus_per_host=args.gpus)
        reports, playbook_s, result = synthetic_fleet.render_report(fleet, directory)
        if result.returncode != 0:
            sys.exit(f"bench/report: ansible-playbook failed (rc {result.returncode}):\n{result.stdout[-3000:]}")
        html = os.path.join(reports, "fleet.html")
        sizes_kib = {
            name: os.path.getsize(os.path.join(reports, f"fleet.{name}")) / 1024
            for name in ("html", "json", "md", "txt")
        }
        with open(html, "rb") as handle:
            gzip_kib = len(gzip.compress(handle.read())) / 1024
        cold = cold_open_seconds(binary, "file://" + html, args.loads)
        to_load, timing, errors = warm_open(binary, "file://" + html, args.loads)
        gpus = sum(len(host["facts"]["gpu"]["devices"]) for host in fleet.values() if host["facts"])
        print(
            f"{hosts:>6} {gpus:>6} {playbook_s:>10.1f} {sizes_kib['html']:>9.0f} {gzip_kib:>9.0f}"
            f" {sizes_kib['json']:>9.0f} {sizes_kib['md']:>7.1f} {sizes_kib['txt']:>7.1f} {cold:>7.2f} {to_load:>9.3f}"
            f" {timing['dom_content_loaded_ms']:>7.0f} {timing['load_ms']:>8.0f} {timing['elements']:>8}"
            f" {timing['page_height_px']:>9}"
        )
        if errors:
            print(f"  page errors: {errors}")
        if hosts == shots:
            shown = html
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"cold s: a fresh Chromium opens the page, screenshots it and exits ({baseline:.2f} s of it is start-up).")
    print("to load s / DCL ms / load ms: an open browser loads the page (median of the loads).")
    if shown:
        for what, path in screenshots(binary, shown, shots).items():
            print(f"screenshot ({shots} hosts, {what}): {path}")
        print(f"report: {shown}")


if __name__ == "__main__":
    main()
