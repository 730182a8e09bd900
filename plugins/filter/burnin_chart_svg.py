# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: burnin_chart_svg
short_description: Draw a judged fleet's burn-in TFLOPS and maximum temperature per GPU as an inline SVG chart
version_added: 0.1.0
description:
  - Takes the output of P(gpufleet.nvidia.burnin_fleet#filter) (or the C(burnin) section of
    P(gpufleet.nvidia.fleet_report#filter)) and returns HTML for a report - one figure per GPU model and dtype
    burned, with the distribution of its GPUs' median TFLOPS and of their maximum temperatures as two inline SVG
    histograms. Its size does not grow with the fleet - a model of 2,000 GPUs is two histograms, not 2,000 bars.
  - Verdicts are drawn as recorded, never judged again - GPUs that failed are red in both histograms and each is
    marked under the axis (hover names it and says why); the model's median and, with one outlier tolerance for the
    fleet, the floor below which a GPU was an outlier ((1 - tolerance) times the median) are lines.
  - Every text is HTML-escaped. Without results it returns a short paragraph saying so.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The judged fleet from P(gpufleet.nvidia.burnin_fleet#filter).
    type: dict
    required: true
  title:
    description: Accessible title of the charts.
    type: str
    default: burn-in TFLOPS and max temperature per GPU
"""

EXAMPLES = r"""
- name: Write an HTML page with the chart
  ansible.builtin.copy:
    content: >-
      <html><body>{{ records | gpufleet.nvidia.burnin_fleet(0.1) | gpufleet.nvidia.burnin_chart_svg }}</body></html>
    dest: /tmp/burnin.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description:
    - A C(<div class="burnin-charts">) with one C(<figure class="burnin-model" data-gpus="N">) per model (N is the
      number of GPUs it draws), each with a caption and two C(<svg>) histograms; or a paragraph when there is nothing
      to chart.
  type: str
"""

import math
from collections.abc import Mapping
from html import escape
from statistics import median

from ansible.errors import AnsibleFilterError

# One histogram: its size in pixels and where the plot sits inside it.
WIDTH = 400
HEIGHT = 132
PLOT_LEFT = 34
PLOT_RIGHT = WIDTH - 10
PLOT_TOP = 26
PLOT_BOTTOM = HEIGHT - 32
SEPARATOR = " \u00b7 "
CHAR_W = 6.4  # the widest 10 px sans-serif digits (DejaVu Sans), to keep labels inside the chart
MAX_BINS = 40
# Failed GPUs named under a histogram; more are marked, named on hover and listed in the report's problems.
MAX_LABELS = 3
PASS_COLOUR = "#4c9a2a"
FAIL_COLOUR = "#d62728"
LINE_COLOUR = "#333"
# Text over bars stays readable: a white halo around each glyph.
HALO = ' paint-order="stroke" stroke="#fff" stroke-width="3"'


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value, digits=4):
    return f"{value:.{digits}g}"


def _gpu_name(row):
    return f"{row.get('host')} GPU {row.get('index')}"


def _nice_ticks(low, high, count=5):
    """About ``count`` round values (1, 2 or 5 times a power of ten apart) between low and high."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _tflops_range(values, centre, floor):
    """The TFLOPS axis: the fleet's spread with the median and the outlier floor in view.

    A GPU slower than half the median is broken, not slow; it would squeeze every other GPU into one bar, so it is
    drawn at the left edge (and says so) instead of stretching the axis.
    """
    kept = [v for v in values if v >= 0.5 * centre] or values
    low, high = min(kept), max(kept)
    if floor is not None:
        low = min(low, floor)
    low, high = min(low, centre), max(high, centre)
    pad = (high - low) * 0.04 or abs(centre) * 0.05 or 1.0
    return low - pad, high + pad


def _bins(low, high, count):
    width = (high - low) / count
    return [(low + i * width, low + (i + 1) * width) for i in range(count)]


def _bin_index(value, low, high, count):
    if value <= low:
        return 0
    if value >= high:
        return count - 1
    return min(count - 1, int((value - low) / (high - low) * count))


def _x(value, low, high):
    value = min(max(value, low), high)
    return PLOT_LEFT + (value - low) / (high - low) * (PLOT_RIGHT - PLOT_LEFT)


def _label(x, y, text, prefer="start", colour=FAIL_COLOUR):
    """A text beside x that stays inside the chart: on the preferred side when it fits there."""
    width = len(text) * CHAR_W
    anchor = prefer
    if anchor == "start" and x + 4 + width > WIDTH:
        anchor = "end"
    elif anchor == "end" and x - 4 - width < 0:
        anchor = "start"
    dx = 4 if anchor == "start" else -4
    return f'<text x="{x + dx:.1f}" y="{y}" text-anchor="{anchor}" fill="{colour}"{HALO}>{escape(text)}</text>'


def _histogram(items, low, high, bins, unit, label, lines=(), marks=(), note=""):
    """An SVG histogram of items (value, row) over [low, high]: passed GPUs green, failed ones red on top, each
    failed GPU marked under the axis, vertical lines (value, text, dashed) and labels (value, text) for some GPUs.
    """
    count = len(bins)
    passed = [[] for _bin in bins]
    failed = [[] for _bin in bins]
    for value, row in items:
        (passed if row.get("verdict") == "pass" else failed)[_bin_index(value, low, high, count)].append((value, row))
    tallest = max(len(p) + len(f) for p, f in zip(passed, failed)) or 1
    plot_h = PLOT_BOTTOM - PLOT_TOP
    bin_w = (PLOT_RIGHT - PLOT_LEFT) / count
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(label)}" font-size="10" font-family="sans-serif">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}" stroke="#666"/>',
        f'<text x="{PLOT_LEFT - 3}" y="{PLOT_TOP + 4}" text-anchor="end">{tallest}</text>',
        f'<text x="{PLOT_LEFT - 3}" y="{PLOT_BOTTOM}" text-anchor="end">0</text>',
    ]
    for tick in _nice_ticks(low, high):
        x = _x(tick, low, high)
        text = f"{tick:g}"
        # Centred under its tick unless that would cross the chart's edge.
        half = len(text) * CHAR_W / 2
        anchor = "end" if x + half > WIDTH else ("start" if x - half < 0 else "middle")
        parts.append(f'<line x1="{x:.1f}" y1="{PLOT_BOTTOM}" x2="{x:.1f}" y2="{PLOT_BOTTOM + 3}" stroke="#666"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{PLOT_BOTTOM + 13}" text-anchor="{anchor}">{text}</text>')
    parts.append(f'<text x="{PLOT_RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{escape(unit)}</text>')
    if note:
        parts.append(f'<text x="{PLOT_LEFT}" y="{HEIGHT - 4}" fill="{FAIL_COLOUR}">{escape(note)}</text>')
    for position, ((start, end), ok, bad) in enumerate(zip(bins, passed, failed)):
        if not ok and not bad:
            continue
        x = PLOT_LEFT + position * bin_w
        # Every non-empty bar stays visible: one GPU among 2,000 is at least 2 px.
        ok_h = max(2.0, len(ok) / tallest * plot_h) if ok else 0.0
        bad_h = max(2.0, len(bad) / tallest * plot_h) if bad else 0.0
        text = f"{len(ok) + len(bad)} GPU{'s' if len(ok) + len(bad) != 1 else ''}, {_fmt(start)} to {_fmt(end)} {unit}"
        if len(ok) + len(bad) <= 6:
            text += ": " + ", ".join(_gpu_name(row) for _v, row in ok + bad)
        elif bad:
            text += f"; failed: {', '.join(_gpu_name(row) for _v, row in bad)}"
        parts.append(f"<g><title>{escape(text)}</title>")
        if ok:
            parts.append(
                f'<rect x="{x + 0.5:.1f}" y="{PLOT_BOTTOM - ok_h:.1f}" width="{max(bin_w - 1, 1):.1f}"'
                f' height="{ok_h:.1f}" fill="{PASS_COLOUR}"/>'
            )
        if bad:
            parts.append(
                f'<rect x="{x + 0.5:.1f}" y="{PLOT_BOTTOM - ok_h - bad_h:.1f}" width="{max(bin_w - 1, 1):.1f}"'
                f' height="{bad_h:.1f}" fill="{FAIL_COLOUR}"/>'
            )
        parts.append("</g>")
    # Each line's name has a row of its own above the plot, so the median and the floor never overlap.
    for row_number, (value, name, dashed) in enumerate(lines):
        x = _x(value, low, high)
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        colour = FAIL_COLOUR if dashed else LINE_COLOUR
        y = 10 + 12 * row_number
        parts.append(f'<line x1="{x:.1f}" y1="{y - 8}" x2="{x:.1f}" y2="{PLOT_BOTTOM}" stroke="{colour}"{dash}/>')
        parts.append(_label(x, y, name, prefer="end" if dashed else "start", colour=colour))
    for value, row in items:
        if row.get("verdict") == "pass":
            continue
        x = _x(value, low, high)
        reasons = "; ".join(row.get("reasons") or []) or "failed"
        parts.append(
            f'<g class="failed-gpu"><title>{escape(f"{_gpu_name(row)}: {_fmt(value)} {unit}, {reasons}")}</title>'
            f'<path d="M{x:.1f} {PLOT_BOTTOM + 1} l-4 7 h8 z" fill="{FAIL_COLOUR}"/></g>'
        )
    # Labels take the rows below the lines' names: above the plot when there are no lines.
    for position, (value, text) in enumerate(marks[:MAX_LABELS], start=len(lines)):
        x = _x(value, low, high)
        prefer = "start" if x < (PLOT_LEFT + PLOT_RIGHT) / 2 else "end"
        parts.append(_label(x, 10 + 12 * position, text, prefer=prefer))
    parts.append("</svg>")
    return "".join(parts)


def _tflops_svg(key, rows, centre, floor):
    values = [(row["tflops_median"], row) for row in rows if _is_number(row.get("tflops_median"))]
    if not values:
        return '<p class="nochart">No TFLOPS recorded.</p>'
    low, high = _tflops_range([v for v, _row in values], centre, floor)
    below = sum(1 for v, _row in values if v < low)
    lines = [(centre, f"median {_fmt(centre)}", False)]
    if floor is not None:
        lines.append((floor, f"floor {_fmt(floor)}", True))
    count = max(8, min(MAX_BINS, round(2 * math.sqrt(len(values)))))
    # The slowest failed GPUs are named on the chart; every failed GPU is marked and named on hover.
    failed = sorted(((v, row) for v, row in values if row.get("verdict") != "pass"), key=lambda item: item[0])
    return _histogram(
        values,
        low,
        high,
        _bins(low, high, count),
        "TFLOPS",
        f"{key}: median TFLOPS per GPU",
        lines,
        marks=[(value, _gpu_name(row)) for value, row in failed],
        note=f"\u25c2 {below} below {_fmt(low, 3)}" if below else "",
    )


def _temperature_svg(key, rows):
    values = [(row["max_temperature_c"], row) for row in rows if _is_number(row.get("max_temperature_c"))]
    if not values:
        return '<p class="nochart">No temperatures recorded.</p>'
    low = math.floor(min(v for v, _row in values))
    high = math.ceil(max(v for v, _row in values))
    width = max(1, math.ceil((high - low + 1) / MAX_BINS))
    count = max(1, math.ceil((high - low + 1) / width))
    bins = [(low + i * width, low + (i + 1) * width) for i in range(count)]
    hottest, row = max(values, key=lambda item: item[0])
    return _histogram(
        values,
        low,
        low + count * width,
        bins,
        "\u00b0C",
        f"{key}: maximum temperature per GPU",
        marks=[(hottest, f"hottest: {_gpu_name(row)}")],
    )


def _figure(key, rows, tolerance):
    tflops = [row["tflops_median"] for row in rows if _is_number(row.get("tflops_median"))]
    recorded = [row["model_median_tflops"] for row in rows if _is_number(row.get("model_median_tflops"))]
    # The median the burnin role judged against, as it recorded it; the rows' own median for older records.
    centre = recorded[0] if recorded else (median(tflops) if tflops else None)
    floor = None
    if centre is not None and _is_number(tolerance) and 0 < tolerance < 1:
        floor = (1 - tolerance) * centre
    failed = [row for row in rows if row.get("verdict") != "pass"]
    outliers = sum(1 for row in failed if row.get("outlier"))
    temps = [(row["max_temperature_c"], row) for row in rows if _is_number(row.get("max_temperature_c"))]
    caption = [f"<b>{escape(key)}</b>", f"{len(rows)} GPU{'' if len(rows) == 1 else 's'}"]
    if tflops:
        caption.append(f"median {_fmt(centre)} TFLOPS ({_fmt(min(tflops))} to {_fmt(max(tflops))})")
    if temps:
        hottest, row = max(temps, key=lambda item: item[0])
        caption.append(f"hottest {hottest:g} \u00b0C ({escape(_gpu_name(row))})")
    if failed:
        text = f"{len(failed)} failed"
        if outliers:
            text += f" ({outliers} outlier{'' if outliers == 1 else 's'})"
        caption.append(f'<span class="failed" style="color:{FAIL_COLOUR};font-weight:bold">{text}</span>')
    else:
        caption.append("all passed")
    if centre is None:
        tflops_svg = '<p class="nochart">No TFLOPS recorded.</p>'
    else:
        tflops_svg = _tflops_svg(key, rows, centre, floor)
    return (
        f'<figure class="burnin-model" data-gpus="{len(rows)}" data-failed="{len(failed)}"'
        ' style="display:inline-block;vertical-align:top;margin:0 12px 12px 0;width:400px">'
        f'<figcaption style="font-size:13px;line-height:1.35">{SEPARATOR.join(caption)}</figcaption>'
        f"{tflops_svg}{_temperature_svg(key, rows)}</figure>"
    )


def burnin_chart_svg(fleet, title="burn-in TFLOPS and max temperature per GPU"):
    """Per GPU model (and dtype burned), histograms of its GPUs' median TFLOPS and maximum temperatures, with the
    recorded verdicts drawn (failed GPUs red and marked). Every text is escaped, so host names cannot inject markup.
    """
    if not isinstance(fleet, Mapping):
        raise AnsibleFilterError(f"burnin_chart_svg expects the output of burnin_fleet, got {type(fleet).__name__}")
    rows = [row for row in fleet.get("results") or [] if isinstance(row, Mapping)]
    if not rows:
        return '<p class="nochart">No burn-in results to chart.</p>'
    models = {}
    for row in rows:
        key = row.get("model_key") or f"{row.get('name') or 'unknown'} ({row.get('dtype')})"
        models.setdefault(str(key), []).append(row)
    # The biggest models first: they are most of the fleet.
    order = sorted(models, key=lambda key: (-len(models[key]), key))
    figures = "".join(_figure(key, models[key], fleet.get("tolerance")) for key in order)
    return f'<div class="burnin-charts" role="group" aria-label="{escape(title)}">{figures}</div>'


class FilterModule:
    def filters(self):
        return {"burnin_chart_svg": burnin_chart_svg}
