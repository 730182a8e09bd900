# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inspect how containers on this host get GPUs: docker, its daemon.json, the NVIDIA runtime and CDI specs.

Shared by gpu_facts (the ``container`` subset) and the docker_runtime / cdi roles, which reuse parse_daemon_json().
Parsers are pure; inspect_container_runtime() reads files and runs docker / nvidia-ctk only through ``runner``
and never raises.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command

try:
    import yaml

    HAS_YAML = True
except ImportError:  # the line parser below covers what we need from CDI specs
    yaml = None
    HAS_YAML = False

DAEMON_JSON_PATH = "/etc/docker/daemon.json"
CDI_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")
CDI_SPEC_EXTENSIONS = (".json", ".yaml", ".yml")

_DOCKER_TIMEOUT = 15
_CTK_TIMEOUT = 10

_DOCKER_CLIENT_VERSION_RE = re.compile(r"Docker version\s+v?([0-9][^\s,]*)")
_CTK_VERSION_RE = re.compile(r"version\s+v?(\d+\.\d+(?:\.\d+)*(?:[-~+][0-9A-Za-z.~+-]*)?)", re.IGNORECASE)
_YAML_KEY_RE = re.compile(r"^(-\s+)?([A-Za-z_][\w.-]*)\s*:\s*(.*)$")


# ---------------------------------------------------------------------------------------------------------------------
# daemon.json


def parse_daemon_json(text):
    """Parse daemon.json text; return (config dict, None) or (None, error message).

    An empty file is an empty configuration (dockerd accepts it); a top level that is not an object is an error.
    """
    if text is None or not text.strip():
        return {}, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    if not isinstance(data, dict):
        return None, f"top level must be a JSON object, not {type(data).__name__}"
    return data, None


def summarize_daemon_config(config):
    """Return {runtimes: [names], default_runtime, features} from a parsed daemon.json (tolerating odd types)."""
    config = config or {}
    runtimes = config.get("runtimes")
    features = config.get("features")
    default_runtime = config.get("default-runtime")
    return {
        "runtimes": sorted(runtimes) if isinstance(runtimes, dict) else [],
        "default_runtime": default_runtime if isinstance(default_runtime, str) else None,
        "features": dict(features) if isinstance(features, dict) else {},
    }


def read_daemon_json(path):
    """Return the daemon_json fact for the file at path.

    valid is True only when the file exists and parses to an object; a missing file is exists: False, valid: False,
    error: None (docker then runs on its defaults).
    """
    fact = {"path": path, "exists": os.path.exists(path), "valid": False, "error": None}
    fact.update(summarize_daemon_config(None))
    if not fact["exists"]:
        return fact
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        fact["error"] = f"cannot read: {exc.strerror or exc}"
        return fact
    config, error = parse_daemon_json(text)
    fact["valid"] = error is None
    fact["error"] = error
    fact.update(summarize_daemon_config(config))
    return fact


# ---------------------------------------------------------------------------------------------------------------------
# docker CLI


def parse_docker_client_version(text):
    """Return "28.2.2" from ``docker --version`` ("Docker version 28.2.2, build e6534b4"), or None."""
    match = _DOCKER_CLIENT_VERSION_RE.search(text or "")
    return match.group(1) if match else None


def parse_docker_info(text):
    """Parse ``docker info --format '{{json .}}'``; return the dict or None when it is not a JSON object."""
    try:
        data = json.loads((text or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def summarize_docker_info(info):
    """Return {version, runtimes, default_runtime, cdi_spec_dirs} from parsed docker info (None when unknown)."""
    runtimes = info.get("Runtimes")
    default_runtime = info.get("DefaultRuntime")
    version = info.get("ServerVersion")
    # CDISpecDirs appeared in docker 25; null or [] means CDI is off, absent means this docker cannot tell.
    cdi_dirs = list(info["CDISpecDirs"] or []) if "CDISpecDirs" in info else None
    return {
        "version": version if isinstance(version, str) and version else None,
        "runtimes": sorted(runtimes) if isinstance(runtimes, dict) else [],
        "default_runtime": default_runtime if isinstance(default_runtime, str) and default_runtime else None,
        "cdi_spec_dirs": cdi_dirs,
    }


def decide_cdi_enabled(info_cdi_dirs, daemon_features):
    """The running daemon's CDISpecDirs wins when it reports them; else daemon.json's features.cdi."""
    if info_cdi_dirs is not None:
        return bool(info_cdi_dirs)
    return daemon_features.get("cdi") is True


def _last_output_line(result):
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"rc {result.rc}"


def inspect_docker(docker_path, daemon_features, runner):
    """Return the docker fact; docker_path None means not installed."""
    fact = {
        "installed": docker_path is not None,
        "path": docker_path,
        "version": None,
        "daemon_running": False,
        "runtimes": [],
        "default_runtime": None,
        "cdi_enabled": decide_cdi_enabled(None, daemon_features),
        "error": None,
    }
    if docker_path is None:
        return fact
    # One `docker info` call gives server version, runtimes, default runtime and CDI dirs together. With the daemon
    # down (or the socket not ours) it still prints the client part and ServerErrors, and exits non-zero.
    result = runner([docker_path, "info", "--format", "{{json .}}"], timeout=_DOCKER_TIMEOUT)
    info = parse_docker_info(result.stdout)
    summary = summarize_docker_info(info) if info is not None else None
    if summary is not None and summary["version"] is not None:
        fact.update(
            version=summary["version"],
            daemon_running=True,
            runtimes=summary["runtimes"],
            default_runtime=summary["default_runtime"],
            cdi_enabled=decide_cdi_enabled(summary["cdi_spec_dirs"], daemon_features),
        )
        return fact
    server_errors = info.get("ServerErrors") if info is not None else None
    if isinstance(server_errors, list) and server_errors:
        fact["error"] = str(server_errors[0])
    else:
        fact["error"] = _last_output_line(result)
    # Without a server, report the client version: from the same output when it has ClientInfo, else ask.
    client_info = info.get("ClientInfo") if info is not None else None
    client_version = client_info.get("Version") if isinstance(client_info, dict) else None
    if not (isinstance(client_version, str) and client_version):
        client = runner([docker_path, "--version"], timeout=_DOCKER_TIMEOUT)
        client_version = parse_docker_client_version(client.stdout) if client.rc == 0 else None
    fact["version"] = client_version
    return fact


def parse_nvidia_ctk_version(text):
    """Return "1.17.8" from ``nvidia-ctk --version`` ("NVIDIA Container Toolkit CLI version 1.17.8"), or None."""
    match = _CTK_VERSION_RE.search(text or "")
    return match.group(1) if match else None


def inspect_nvidia_ctk(ctk_path, runner):
    if ctk_path is None:
        return {"path": None, "version": None}
    result = runner([ctk_path, "--version"], timeout=_CTK_TIMEOUT)
    return {"path": ctk_path, "version": parse_nvidia_ctk_version(result.stdout) if result.rc == 0 else None}


# ---------------------------------------------------------------------------------------------------------------------
# CDI specs


def _yaml_scalar(raw):
    """Unquote a plain YAML scalar and drop a trailing comment."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        return raw[1:end] if end > 0 else raw[1:]
    return raw.split(" #", 1)[0].strip()


def parse_cdi_yaml_lines(text):
    """Read ``kind`` and the device names from block-style CDI YAML without a YAML library.

    Good enough for specs written by nvidia-ctk and by hand: top-level ``kind:``, and ``name:`` keys directly inside
    the items of the top-level ``devices:`` list, in any key order. Flow style is not understood.
    """
    kind = None
    names = []
    in_devices = False
    item_col = None  # column of the "-" that starts each device item
    key_col = None  # column of the keys inside the current device item
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        col = len(line) - len(line.lstrip(" "))
        if col == 0 and not stripped.startswith("-"):
            match = _YAML_KEY_RE.match(stripped)
            in_devices = bool(match) and match.group(2) == "devices"
            item_col = key_col = None
            if match and match.group(2) == "kind":
                kind = _yaml_scalar(match.group(3))
            continue
        if not in_devices:
            continue
        if stripped.startswith("-") and item_col in (None, col):
            item_col = col
            rest = stripped[1:].lstrip()
            if not rest:  # a bare "-": the item's keys start on the next line
                key_col = None
                continue
            key_col = col + len(stripped) - len(rest)
            stripped, col = rest, key_col
        elif key_col is None and item_col is not None and col > item_col:
            key_col = col
        match = _YAML_KEY_RE.match(stripped)
        if match and not match.group(1) and col == key_col and match.group(2) == "name":
            names.append(_yaml_scalar(match.group(3)))
    return {"kind": kind, "devices": names}


def parse_cdi_spec(text, filename, has_yaml=None):
    """Return ({kind, devices: [names]}, None) or (None, error) for one CDI spec file's text."""
    use_yaml = HAS_YAML if has_yaml is None else has_yaml
    if filename.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            return None, f"{filename}: invalid JSON: {exc}"
    elif use_yaml:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return None, f"{filename}: invalid YAML: {str(exc).splitlines()[0]}"
    else:
        data = parse_cdi_yaml_lines(text)
        data["devices"] = [{"name": name} for name in data["devices"]]
    if not isinstance(data, dict):
        return None, f"{filename}: not a CDI spec (top level is not a mapping)"
    kind = data.get("kind")
    if not isinstance(kind, str) or "/" not in kind:
        return None, f"{filename}: missing or malformed 'kind' (want vendor/class, e.g. nvidia.com/gpu)"
    devices = data.get("devices")
    names = []
    for device in devices if isinstance(devices, list) else []:
        name = device.get("name") if isinstance(device, dict) else None
        if name is not None and str(name):
            names.append(str(name))
    return {"kind": kind, "devices": names}, None


def list_cdi_spec_files(spec_dirs):
    """Spec files (*.json, *.yaml, *.yml) directly inside each existing dir, sorted per dir, dirs in order."""
    files = []
    for spec_dir in spec_dirs:
        try:
            entries = sorted(os.listdir(spec_dir))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(spec_dir, entry)
            if entry.endswith(CDI_SPEC_EXTENSIONS) and os.path.isfile(path):
                files.append(path)
    return files


def collect_cdi_devices(parsed_specs):
    """Merge [(path, spec)] into (["kind=name", ...], errors); a name declared twice is reported, kept once."""
    devices = []
    errors = []
    declared_in = {}
    for path, spec in parsed_specs:
        for name in spec["devices"]:
            qualified = f"{spec['kind']}={name}"
            if qualified in declared_in:
                if declared_in[qualified] != path:
                    errors.append(f"{qualified} declared in both {declared_in[qualified]} and {path}")
                continue
            declared_in[qualified] = path
            devices.append(qualified)
    return devices, errors


def inspect_cdi(spec_dirs):
    spec_files = list_cdi_spec_files(spec_dirs)
    parsed = []
    errors = []
    for path in spec_files:
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError as exc:
            errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        spec, error = parse_cdi_spec(text, path)
        if error:
            errors.append(error)
        else:
            parsed.append((path, spec))
    devices, merge_errors = collect_cdi_devices(parsed)
    return {"spec_files": spec_files, "devices": devices, "errors": errors + merge_errors}


# ---------------------------------------------------------------------------------------------------------------------


def inspect_container_runtime(
    daemon_json_path=DAEMON_JSON_PATH, cdi_spec_dirs=CDI_SPEC_DIRS, runner=run_command, path_env=None
):
    """Return the ``container`` fact: docker, daemon_json, nvidia_ctk, nvidia_container_runtime and cdi.

    path_env (default: os.environ's PATH) is where docker, nvidia-ctk and nvidia-container-runtime are looked up.
    """
    if path_env is None:
        path_env = os.environ.get("PATH", os.defpath)
    daemon_json = read_daemon_json(daemon_json_path)
    docker = inspect_docker(shutil.which("docker", path=path_env), daemon_json["features"], runner)
    return {
        "docker": docker,
        "daemon_json": daemon_json,
        "nvidia_ctk": inspect_nvidia_ctk(shutil.which("nvidia-ctk", path=path_env), runner),
        "nvidia_container_runtime": {"path": shutil.which("nvidia-container-runtime", path=path_env)},
        "cdi": inspect_cdi(cdi_spec_dirs),
    }
