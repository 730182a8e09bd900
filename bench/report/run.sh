#!/usr/bin/env bash
# bench/report: the fleet report at the size of a real fleet. For SYNTHETIC fleets of 50 and 500 hosts x 8 GPUs
# (tests/fleet_report/synthetic_fleet.py: three models, a few faulty GPUs, burn-in outliers and failures), renders
# fleet.{json,md,html,txt} with the fleet_report role through ansible-playbook and prints the files' sizes, the
# playbook's time, and Chromium's time to open fleet.html (a fresh headless browser with a screenshot, and the page's
# own DOMContentLoaded/load timings, median of several loads). Screenshots of the 500-host page: .build/report-shots/.
#   bench/report/run.sh [--sizes 50,500,2000] [--loads 5] [--shots 500]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
hack/venv.sh >&2
command -v chromium >/dev/null 2>&1 || hack/host-deps.sh >&2
exec .venv/bin/python bench/report/report_bench.py "$@"
