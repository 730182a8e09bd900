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
  - Takes the output of P(gpufleet.nvidia.burnin_fleet#filter) and returns an C(<svg>) element for an HTML report -
    one bar per GPU for its median TFLOPS (red when the GPU failed, dashed and marked C(!) when it is an outlier of
    its model) and a dot for its maximum temperature on a second axis.
  - Every text is HTML-escaped. Without results it returns a short paragraph saying so.
author:
  - gpufleet contributors (@gpufleet)
options:
  _input:
    description: The judged fleet from P(gpufleet.nvidia.burnin_fleet#filter).
    type: dict
    required: true
  title:
    description: Accessible title of the chart.
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
  description: The SVG element (or a paragraph when there is nothing to chart).
  type: str
"""

from collections.abc import Mapping
from html import escape

from ansible.errors import AnsibleFilterError


def _number(value, digits=3):
    return f"{value:.{digits}g}"


def burnin_chart_svg(fleet, title="burn-in TFLOPS and max temperature per GPU"):
    """An inline SVG chart of a judged fleet: a TFLOPS bar per GPU (failing red, outliers dashed and marked "!")
    and its maximum temperature as a dot on a second axis. Every text is escaped, so host names cannot inject markup.
    """
    if not isinstance(fleet, Mapping):
        raise AnsibleFilterError(f"burnin_chart_svg expects the output of burnin_fleet, got {type(fleet).__name__}")
    rows = list(fleet.get("results") or [])
    if not rows:
        return '<p class="nochart">No burn-in results to chart.</p>'
    bar_w, gap, chart_h, top, left, right = 44, 14, 220, 28, 56, 56
    width = left + len(rows) * (bar_w + gap) + gap + right
    plot_right = width - right
    max_tflops = max([row.get("tflops_median") or 0 for row in rows] + [1e-9])
    temps = [row.get("max_temperature_c") for row in rows if isinstance(row.get("max_temperature_c"), (int, float))]
    max_temp = max([*temps, 100])
    base = top + chart_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{base + 56}" role="img"'
        f' aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{base}" x2="{plot_right}" y2="{base}" stroke="#444"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#444"/>',
        f'<line x1="{plot_right}" y1="{top}" x2="{plot_right}" y2="{base}" stroke="#c05000"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_number(max_tflops)}</text>',
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>',
        f'<text x="{left - 4}" y="{top - 10}" text-anchor="end">TFLOPS</text>',
        f'<text x="{plot_right + 4}" y="{top + 4}" fill="#c05000">{max_temp:g} &#176;C</text>',
        f'<text x="{plot_right + 4}" y="{base}" fill="#c05000">0 &#176;C</text>',
    ]
    for position, row in enumerate(rows):
        value = row.get("tflops_median") or 0
        height = round(value / max_tflops * chart_h, 1)
        x = left + gap + position * (bar_w + gap)
        failing = row.get("verdict") != "pass"
        outlier = bool(row.get("outlier"))
        label = f"{row.get('host')} GPU {row.get('index')} {row.get('name')}: {_number(value, 4)} TFLOPS"
        temp = row.get("max_temperature_c")
        if isinstance(temp, (int, float)):
            label += f", max {temp:g} \u00b0C"
        if outlier:
            label += " (outlier)"
        elif failing:
            label += " (failed)"
        outline = ' stroke="#000" stroke-width="2" stroke-dasharray="4 2"' if outlier else ""
        parts.append(f'<g class="{"outlier" if outlier else ("fail" if failing else "pass")}">')
        parts.append(f"<title>{escape(label)}</title>")
        parts.append(
            f'<rect x="{x}" y="{base - height}" width="{bar_w}" height="{height}"'
            f' fill="{"#d62728" if failing else "#2ca02c"}"{outline}/>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:g}" y="{base - height - 4}" text-anchor="middle">'
            f"{_number(value)}{' !' if outlier else ''}</text>"
        )
        if isinstance(temp, (int, float)):
            cy = round(base - min(temp, max_temp) / max_temp * chart_h, 1)
            parts.append(f'<circle cx="{x + bar_w / 2:g}" cy="{cy}" r="4" fill="#c05000"/>')
        host = str(row.get("host"))
        short = host if len(host) <= 9 else host[:8] + "\u2026"
        parts.append(f'<text x="{x + bar_w / 2:g}" y="{base + 14}" text-anchor="middle">{escape(short)}</text>')
        parts.append(f'<text x="{x + bar_w / 2:g}" y="{base + 28}" text-anchor="middle">GPU {row.get("index")}</text>')
        parts.append("</g>")
    parts.append(
        f'<text x="{left}" y="{base + 48}">bars: median TFLOPS (red: failed; dashed and "!": outlier);'
        " dots: max temperature</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


class FilterModule:
    def filters(self):
        return {"burnin_chart_svg": burnin_chart_svg}
