# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's PyTorch part: each host's torch environments summarised, and what is wrong with them.

Read from gpu_facts' torch subset (``ansible_facts.gpu.torch`` and ``.torch_discovery``). The CUDA verdict is the
module's (``cuda_compat``, judged once against the host's driver); the probe's status and errors are the module's.
Two answers the facts give as measurements rather than a verdict are read here: whether bitsandbytes' native library
was found and loads (``bitsandbytes.library``), and whether a CUDA build of torch that the driver can run sees no GPU
on a host that has GPUs (``cuda_available``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

# Each kind of finding: its severity and what the report calls it. The order is the report's: failures first, then
# warnings, then what was not checked.
FINDING_KINDS = (
    ("cpu_build", "fail", "CPU-only torch on a GPU host"),
    ("driver_too_old", "fail", "driver too old for the torch build's CUDA"),
    ("rocm_build", "fail", "ROCm (AMD) torch on an NVIDIA host"),
    ("torch_error", "fail", "torch does not import or cannot use the GPU"),
    ("bitsandbytes", "fail", "bitsandbytes cannot find or load its library"),
    ("minor_version_compat", "warning", "runs through CUDA minor-version compatibility"),
    ("refused", "not checked", "refused, not run"),
    ("timeout", "not checked", "no answer within the time budget"),
    ("probe_error", "not checked", "the probe failed"),
    ("not_probed", "not checked", "found but not probed"),
)
SEVERITY = {kind: severity for kind, severity, _title in FINDING_KINDS}
_ORDER = {kind: number for number, (kind, _severity, _title) in enumerate(FINDING_KINDS)}
_PROBE_FINDING = {"refused": "refused", "timeout": "timeout", "error": "probe_error"}
# How many prefixes a not_probed finding names (torch_discovery.left_out has them all).
_LEFT_OUT_NAMED = 5


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def bitsandbytes_summary(bnb):
    """{version, library, ok, problem} of an installed bitsandbytes, or None when it is not installed.

    ``problem`` says why bitsandbytes will not work: the library it loads at import is missing (and whether it falls
    back to its CPU library), does not load, or the import itself failed.
    """
    bnb = _mapping(bnb)
    if not bnb.get("installed"):
        return None
    library = _mapping(bnb.get("library"))
    problems = []
    if library.get("found") is False:
        fallback = "; bitsandbytes falls back to its CPU library" if bnb.get("cpu_fallback") else ""
        problems.append((library.get("error") or f"{library.get('expected')} not found") + fallback)
    elif library.get("loads") is False:
        problems.append(f"{library.get('expected')} does not load: {library.get('error') or 'unknown error'}")
    elif library.get("error"):
        problems.append(library["error"])
    if bnb.get("error"):
        problems.append(f"import bitsandbytes failed: {bnb['error']}")
    return {
        "version": bnb.get("version"),
        "library": library.get("expected"),
        "ok": not problems,
        "problem": "; ".join(problems) or None,
    }


def _torch_problem(entry, gpus):
    """Why a probed torch does not work, from the probe's own answers, or None."""
    if entry.get("error"):
        return entry["error"]  # import torch or the torch.cuda query failed
    smoke = _mapping(entry.get("smoke"))
    if smoke.get("ok") is False:
        return f"the GPU check (a small sum on {smoke.get('device')}) failed: {smoke.get('error') or 'wrong result'}"
    compat = _mapping(entry.get("cuda_compat"))
    if gpus and entry.get("build") == "cuda" and compat.get("ok") is True and entry.get("cuda_available") is False:
        return (
            f"torch {entry.get('torch_version')} is a CUDA build the driver can run, but torch.cuda.is_available() "
            f"is False on this host with {gpus} GPU{'' if gpus == 1 else 's'}"
        )
    return None


def environment_findings(entry, gpus):
    """[(kind, message)] of one environment entry of ansible_facts.gpu.torch, in the report's order."""
    probe = entry.get("probe")
    if probe in _PROBE_FINDING:
        return [(_PROBE_FINDING[probe], entry.get("error") or f"probe {probe}")]
    if probe != "ok":
        return []
    findings = []
    compat = _mapping(entry.get("cuda_compat"))
    status = compat.get("status")
    # The module's verdict: a failure when it says the build does not run here, the minor-version mode a warning.
    failed = status in ("cpu_build", "driver_too_old", "rocm_build") and compat.get("ok") is False
    if failed or status == "minor_version_compat":
        findings.append((status, compat.get("message")))
    problem = _torch_problem(entry, gpus)
    if problem:
        findings.append(("torch_error", problem))
    bnb = bitsandbytes_summary(entry.get("bitsandbytes"))
    if bnb and not bnb["ok"]:
        findings.append(("bitsandbytes", f"bitsandbytes {bnb['version'] or ''}".rstrip() + f": {bnb['problem']}"))
    return sorted(findings, key=lambda finding: _ORDER[finding[0]])


def _verdict(entry, kinds):
    severities = {SEVERITY[kind] for kind in kinds}
    for severity, verdict in (("fail", "FAIL"), ("warning", "warning"), ("not checked", "not checked")):
        if severity in severities:
            return verdict
    return "ok" if entry.get("torch_installed") else "no torch"


def environment_summary(entry, gpus):
    """One environment of the host as the report keeps it, with its findings ([{kind, message}]) and verdict."""
    compat = _mapping(entry.get("cuda_compat"))
    findings = environment_findings(entry, gpus)
    return {
        "python": entry.get("python"),
        "kind": entry.get("kind"),
        "name": entry.get("name"),
        "prefix": entry.get("prefix"),
        "owner": entry.get("owner"),
        "ran_as": entry.get("ran_as"),
        "probe": entry.get("probe"),
        "python_version": entry.get("python_version"),
        "torch_version": entry.get("torch_version"),
        "build": entry.get("build"),
        "build_tag": entry.get("build_tag"),
        "cuda_version": entry.get("cuda_version"),
        "cuda_available": entry.get("cuda_available"),
        "device_count": entry.get("device_count"),
        "cuda_compat": {"status": compat.get("status"), "ok": compat.get("ok"), "message": compat.get("message")}
        if compat
        else None,
        "bitsandbytes": bitsandbytes_summary(entry.get("bitsandbytes")),
        "error": entry.get("error"),
        "verdict": _verdict(entry, [kind for kind, _message in findings]),
        "findings": [{"kind": kind, "message": message} for kind, message in findings],
    }


def _not_probed(discovery):
    """The host's own not_probed message (environments left out by torch_max_envs, a truncated search), or None."""
    notes = []
    left_out = [str(prefix) for prefix in discovery.get("left_out") or []]
    if left_out:
        named = ", ".join(left_out[:_LEFT_OUT_NAMED])
        more = f" and {len(left_out) - _LEFT_OUT_NAMED} more" if len(left_out) > _LEFT_OUT_NAMED else ""
        notes.append(
            f"{len(left_out)} environment{'' if len(left_out) == 1 else 's'} found but not probed "
            f"(torch_max_envs {discovery.get('max_envs')}): {named}{more}"
        )
    if discovery.get("search_truncated"):
        notes.append("the search for venvs stopped at its bound on directories read; some may not have been found")
    return "; ".join(notes) or None


def host_torch(gpu):
    """A host's ``torch`` entry of the report from its ansible_facts.gpu; None when the torch subset was not gathered.

    {environments: [environment_summary], discovery: {discover, found, probed, max_envs, left_out,
    unmatched_patterns, search_truncated, seconds}, not_probed: why some were not probed, or None}.
    """
    gpu = _mapping(gpu)
    entries = gpu.get("torch")
    if not isinstance(entries, list):
        return None
    gpus = (gpu.get("count") or 0) if gpu.get("present") else 0
    discovery = _mapping(gpu.get("torch_discovery"))
    return {
        "environments": [environment_summary(entry, gpus) for entry in entries if isinstance(entry, Mapping)],
        "discovery": {
            key: discovery.get(key)
            for key in ("discover", "found", "probed", "max_envs", "left_out", "unmatched_patterns", "search_truncated")
        }
        if discovery
        else None,
        "not_probed": _not_probed(discovery),
    }


def host_findings(host, torch):
    """The fleet-level findings of one host's ``torch`` entry: one per problem of each environment, and one for the
    environments it did not probe."""
    findings = []
    for env in torch["environments"]:
        for finding in env["findings"]:
            findings.append(
                {
                    "host": host,
                    "python": env["python"],
                    "prefix": env["prefix"],
                    "env_kind": env["kind"],
                    "name": env["name"],
                    "owner": env["owner"],
                    "torch_version": env["torch_version"],
                    "kind": finding["kind"],
                    "severity": SEVERITY[finding["kind"]],
                    "message": finding["message"],
                }
            )
    if torch["not_probed"]:
        findings.append(
            {
                "host": host,
                "python": None,
                "prefix": None,
                "env_kind": None,
                "name": None,
                "owner": None,
                "torch_version": None,
                "kind": "not_probed",
                "severity": SEVERITY["not_probed"],
                "message": torch["not_probed"],
            }
        )
    return findings


def sort_findings(findings):
    """Failures first, then warnings, then what was not checked; within a kind by host and interpreter."""
    return sorted(findings, key=lambda f: (_ORDER[f["kind"]], f["host"], f["python"] or ""))


def torch_summary(hosts, findings):
    """The report's summary of every host's torch entry (hosts: the report's host entries) and its findings."""
    gathered = [host for host in hosts if host["torch"] is not None]
    envs = [env for host in gathered for env in host["torch"]["environments"]]
    kinds = []
    for kind, severity, title in FINDING_KINDS:
        of_kind = [finding for finding in findings if finding["kind"] == kind]
        if of_kind:
            kinds.append(
                {
                    "kind": kind,
                    "severity": severity,
                    "title": title,
                    "count": len(of_kind),
                    "hosts": len({finding["host"] for finding in of_kind}),
                }
            )
    verdicts = [env["verdict"] for env in envs]
    return {
        "hosts_gathered": len(gathered),
        # Hosts that reported facts without the torch subset (a host without facts is reported as such already).
        "hosts_not_gathered": [host["host"] for host in hosts if host["reported"] and host["torch"] is None],
        "environments": len(envs),
        "checked": sum(1 for env in envs if env["probe"] == "ok"),
        "ok": verdicts.count("ok"),
        "no_torch": verdicts.count("no torch"),
        "failed": verdicts.count("FAIL"),
        "warnings": verdicts.count("warning"),
        "not_checked": verdicts.count("not checked"),
        "not_probed": sum(len((host["torch"]["discovery"] or {}).get("left_out") or []) for host in gathered),
        "hosts_with_findings": sorted({finding["host"] for finding in findings}),
        "findings": kinds,
    }
