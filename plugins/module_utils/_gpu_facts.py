# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The subsets of ``ansible_facts.gpu``: which to gather, which a play already holds, and how a gather merges in.

One gather is shared by every role of a play: the gpu_facts action plugin gathers only the subsets asked for that
the play does not hold yet (unless ``refresh``) and merges them into what it holds, so a role that needs
``container`` never drops the ``torch`` probe an earlier play paid for. ``gathered`` says, per subset, when it was
gathered and with which options (a ``cuda`` gathered with other search paths is not the one asked for).
Pure functions: used by the module, the action plugin and the ``gpu_facts_missing`` filter alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean

SUBSETS = ("nvml", "cuda", "container", "torch")
# The keys of ansible_facts.gpu each subset owns; nvml owns every other key (present, count, devices, ...).
SUBSET_KEYS = {"cuda": ("cuda",), "container": ("container",), "torch": ("torch", "torch_discovery")}
META_KEYS = ("gather_subset", "gathered")
# The options a subset was gathered with; a held subset gathered with other values is gathered again.
SUBSET_OPTIONS = {
    "cuda": ("cuda_search_paths",),
    "torch": ("torch_python", "torch_discover", "torch_search_roots", "torch_max_envs"),
}
# Options that are not lists, recorded as their type (an ad-hoc ``-a torch_discover=true`` gives the string "true").
_OPTION_TYPES = {"torch_discover": "bool", "torch_max_envs": "int"}


def resolve_gather_subset(requested):
    """Return (subsets to gather as a set, list of errors) for a gather_subset list, with setup's semantics.

    Names add a subset, ``!name`` removes it, ``all`` adds every subset, ``!all`` removes every subset not named
    individually; when only exclusions are given they apply to ``all``.
    """
    errors = []
    named, exclude = set(), set()
    include_all = exclude_all = False
    for item in requested or []:
        name = str(item).strip()
        negated = name.startswith("!")
        if negated:
            name = name[1:].strip()
        if name != "all" and name not in SUBSETS:
            errors.append(
                f"gather_subset: unknown subset {str(item)!r}; "
                f"choose from all, {', '.join(SUBSETS)}, optionally prefixed with '!'"
            )
            continue
        if name == "all":
            exclude_all = exclude_all or negated
            include_all = include_all or not negated
        elif negated:
            exclude.add(name)
        else:
            named.add(name)
    if exclude_all:
        chosen = named
    elif include_all or not named:
        chosen = set(SUBSETS)
    else:
        chosen = named
    return chosen - exclude, errors


def _option_value(name, value):
    if value is None:
        return None
    kind = _OPTION_TYPES.get(name)
    if kind == "bool":
        return boolean(value, strict=False)
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if isinstance(value, str):  # a list option given as "a,b" on the command line
        return [item.strip() for item in value.split(",") if item.strip()]
    return list(value)


def subset_options(subset, params):
    """The options that shape a subset's answer, as recorded in ``gathered`` (None for an option left unset)."""
    return {name: _option_value(name, params.get(name)) for name in SUBSET_OPTIONS.get(subset, ())}


def held_subsets(facts):
    """The subsets ``facts`` (an ansible_facts.gpu) holds: from ``gathered``, or from the older ``gather_subset``."""
    if not isinstance(facts, dict):
        return {}
    gathered = facts.get("gathered")
    if isinstance(gathered, dict):
        return {name: info for name, info in gathered.items() if name in SUBSETS and isinstance(info, dict)}
    return {name: {} for name in facts.get("gather_subset") or [] if name in SUBSETS}


def missing_subsets(facts, wanted, params=None):
    """The subsets of ``wanted`` that ``facts`` does not hold as asked (absent, or gathered with other options)."""
    params = params or {}
    held = held_subsets(facts)
    missing = []
    for subset in SUBSETS:
        if subset not in wanted:
            continue
        if subset not in held:
            missing.append(subset)
            continue
        recorded = held[subset].get("options") or {}
        for name, value in subset_options(subset, params).items():
            # An option the task leaves unset accepts what the play holds; a set one must match what it was.
            if value is not None and recorded.get(name) != value:
                missing.append(subset)
                break
    return missing


def subset_facts(facts, subset):
    """The part of an ansible_facts.gpu that one subset owns."""
    if subset in SUBSET_KEYS:
        return {key: facts[key] for key in SUBSET_KEYS[subset] if key in facts}
    owned = {key for keys in SUBSET_KEYS.values() for key in keys} | set(META_KEYS)
    return {key: value for key, value in facts.items() if key not in owned}


def gathered_info(subsets, params, now):
    """The ``gathered`` entry of subsets gathered with ``params`` at ``now`` (seconds since the epoch)."""
    return {subset: {"at": round(now, 3), "options": subset_options(subset, params)} for subset in sorted(subsets)}


def merge_gpu_facts(held, fresh):
    """``held`` (what the play has) with every subset ``fresh`` (a gather's answer) gathered put in its place.

    Every other subset ``held`` has is kept as it is, with when and how it was gathered.
    """
    held_info = held_subsets(held)
    fresh_info = held_subsets(fresh)
    merged = {}
    gathered = {}
    for subset in SUBSETS:
        if subset in fresh_info:
            merged.update(subset_facts(fresh, subset))
            gathered[subset] = fresh_info[subset]
        elif subset in held_info:
            merged.update(subset_facts(held, subset))
            gathered[subset] = held_info[subset]
    merged["gathered"] = gathered
    merged["gather_subset"] = sorted(gathered)
    return merged
