# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merge the NVIDIA runtime and CDI into Docker's daemon.json without losing anything the file already had.

Pure functions, used by the docker_daemon_config module: plan_daemon_config() takes the file's current text and
returns what to write (or why not). Parsing is container.parse_daemon_json(), shared with gpu_facts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import parse_daemon_json

DEFAULT_NVIDIA_RUNTIME_PATH = "nvidia-container-runtime"


class DaemonConfigError(ValueError):
    """daemon.json cannot be merged: it does not parse, or a key this merge needs has the wrong type."""


def deep_merge(base, overlay):
    """Return base with overlay merged in: objects merge key by key, any other value (lists too) replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _object_at(config, key, where):
    """config[key] as a dict (created empty when missing); DaemonConfigError when it is something else."""
    value = config.setdefault(key, {})
    if not isinstance(value, dict):
        raise DaemonConfigError(f"'{where}' must be a JSON object, not {type(value).__name__}")
    return value


def merge_daemon_config(
    current, nvidia_runtime_path=DEFAULT_NVIDIA_RUNTIME_PATH, default_nvidia=False, extra_options=None
):
    """Return a new daemon.json dict: current plus the NVIDIA runtime, CDI and extra_options.

    - ``extra_options`` merge recursively first; the keys below are applied after them, so they always hold.
    - ``runtimes.nvidia.path`` is set; whatever else the nvidia entry has (``runtimeArgs``, ``args``) stays.
    - ``features.cdi`` is true; every other feature stays.
    - ``default-runtime`` becomes ``nvidia`` only when ``default_nvidia``; otherwise it is left as it was.
    Every other key keeps its value. ``current`` is not modified.
    """
    merged = deep_merge(current, extra_options or {})
    runtimes = _object_at(merged, "runtimes", "runtimes")
    nvidia = _object_at(runtimes, "nvidia", "runtimes.nvidia")
    nvidia["path"] = nvidia_runtime_path
    _object_at(merged, "features", "features")["cdi"] = True
    if default_nvidia:
        merged["default-runtime"] = "nvidia"
    return merged


DEFAULT_INDENT = 4


def detect_indent(text):
    """The indentation the file already uses (spaces count, or a tab), so a rewrite keeps the operator's layout.

    DEFAULT_INDENT (as nvidia-ctk writes) when the file is missing, empty or on one line.
    """
    for line in (text or "").splitlines():
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return DEFAULT_INDENT


def render_daemon_json(config, indent=DEFAULT_INDENT):
    """The text written to daemon.json: JSON with the given indent, keys in their order, UTF-8 kept."""
    return json.dumps(config, indent=indent, ensure_ascii=False) + "\n"


def load_daemon_config(text, path):
    """Parse daemon.json text; DaemonConfigError naming path and the parser's message when it is unusable."""
    config, error = parse_daemon_json(text)
    if error is not None:
        raise DaemonConfigError(f"{path}: {error}")
    return config


def plan_daemon_config(
    text, path, nvidia_runtime_path=DEFAULT_NVIDIA_RUNTIME_PATH, default_nvidia=False, extra_options=None
):
    """Decide what to do with the daemon.json whose current text is ``text`` (None: the file does not exist).

    Return {changed, before, after, config}: ``before``/``after`` are texts for the diff, ``after`` is what to write
    when ``changed``. Semantic comparison: a file whose parsed content already equals the merge is left alone,
    however it is formatted. Raises DaemonConfigError (message names ``path``) when the file cannot be merged.
    """
    current = load_daemon_config(text, path)
    try:
        merged = merge_daemon_config(current, nvidia_runtime_path, default_nvidia, extra_options)
    except DaemonConfigError as exc:
        raise DaemonConfigError(f"{path}: {exc}") from None
    changed = merged != current
    return {
        "changed": changed,
        "before": text or "",
        "after": render_daemon_json(merged, detect_indent(text)) if changed else (text or ""),
        "config": merged,
    }
