# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure functions over what CUDA installations print and contain, for the discovery in ``cuda``.

``nvcc --version`` output, version.json / version.txt, nvcc wrapper scripts, ``ldconfig -p``, /proc/version and the
``cuda_search_paths`` entries. Nothing here touches the host (``expand_search_path`` reads only the environ given, and
the password database for ``~user``); ``cuda`` re-exports every public name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

VERSION_RE = re.compile(r"^\d+\.\d+(?:\.\d+)*$")
_NVCC_RELEASE_RE = re.compile(r"\brelease\s+(\d+\.\d+)\b")
_NVCC_BUILD_RE = re.compile(r"\bV(\d+\.\d+\.\d+)\b")
_VERSION_TXT_RE = re.compile(r"^\s*CUDA\s+Version\s+(\d+\.\d+(?:\.\d+)*)\s*$", re.MULTILINE)
_ENV_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_LDCONFIG_LINE_RE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s*=>\s*(\S.*?)\s*$")
_NVCC_WRAPPER_RE = re.compile(r"(/[^\s'\"]*/bin/nvcc)(?![\w.-])")


# ---------------------------------------------------------------------------------------------------------------------
# Parsers


def parse_nvcc_version(text):
    """Return the release ("12.4") from ``nvcc --version`` output, or None.

    Every nvcc since CUDA 7 prints ``Cuda compilation tools, release 12.4, V12.4.131``.
    """
    match = _NVCC_RELEASE_RE.search(text or "")
    return match.group(1) if match else None


def parse_nvcc_build_version(text):
    """Return nvcc's own full version ("12.4.131", from ``V12.4.131``) or None."""
    match = _NVCC_BUILD_RE.search(text or "")
    return match.group(1) if match else None


def parse_version_txt(text):
    """Return the version from a CUDA <= 11.0 ``version.txt`` ("CUDA Version 10.2.89"), or None."""
    match = _VERSION_TXT_RE.search(text or "")
    return match.group(1) if match else None


def parse_version_json_detail(text):
    """Return (version, problem) for a CUDA >= 11.1 ``version.json``; problem says why version is None."""
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    cuda = data.get("cuda") if isinstance(data, dict) else None
    version = cuda.get("version") if isinstance(cuda, dict) else None
    if isinstance(version, str) and VERSION_RE.match(version.strip()):
        return version.strip(), None
    return None, "no cuda.version entry"


def parse_nvcc_wrapper(text):
    """Return the nvcc a shell wrapper execs ("exec /usr/local/cuda-13.0/bin/nvcc \"$@\""), or None."""
    if not (text or "").startswith("#!"):
        return None
    match = _NVCC_WRAPPER_RE.search(text)
    return match.group(1) if match else None


def short_version(version):
    """Return "major.minor" of a dotted version, or None."""
    if not version:
        return None
    parts = version.split(".")
    if len(parts) < 2:
        return None
    return f"{parts[0]}.{parts[1]}"


def version_key(version):
    """Sort key for dotted versions; None gives () (compare only among toolkits that have a version)."""
    if not version:
        return ()
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def parse_ldconfig_cache(text):
    """Parse ``ldconfig -p`` output into {soname: [paths]} in cache order (first path wins at load time)."""
    cache = {}
    for line in (text or "").splitlines():
        match = _LDCONFIG_LINE_RE.match(line)
        if not match:
            continue
        soname, path = match.group(1), match.group(3)
        paths = cache.setdefault(soname, [])
        if path not in paths:
            paths.append(path)
    return cache


def libcudart_entries(cache):
    """[(soname, path)] of every libcudart.so* soname in a parsed ``ldconfig -p`` cache, sonames sorted."""
    return [
        (soname, path)
        for soname in sorted(cache)
        if soname == "libcudart.so" or soname.startswith("libcudart.so.")
        for path in cache[soname]
    ]


def libcudart_in_cache(cache):
    """Return the cached paths of any libcudart.so* soname (empty list when the linker cannot find one)."""
    return [path for _soname, path in libcudart_entries(cache)]


def is_wsl(proc_version_text):
    """True when /proc/version names a WSL kernel ("...-microsoft-standard-WSL2")."""
    lowered = (proc_version_text or "").lower()
    return "microsoft" in lowered or "wsl" in lowered


def validate_search_paths(paths):
    """Return a list of error strings for cuda_search_paths entries the module must reject (empty when fine).

    Entries must be absolute paths or globs, or start with ``~`` or a ``$VAR`` / ``${VAR}`` reference.
    """
    errors = []
    if not isinstance(paths, (list, tuple)):
        return ["cuda_search_paths must be a list of absolute paths, globs or $VAR references"]
    for entry in paths:
        if not isinstance(entry, str) or not entry.strip():
            errors.append(f"cuda_search_paths entry {entry!r} is not a non-empty string")
        elif not (entry.startswith(("/", "~")) or _ENV_VAR_RE.match(entry)):
            errors.append(
                f"cuda_search_paths entry {entry!r} is relative; "
                "use an absolute path (globs allowed), ~ or a $VAR reference"
            )
    return errors


def expand_search_path(entry, environ):
    """Expand ``~`` and $VAR references from environ; None when a variable is unset/empty or the result is relative."""
    missing = []
    if entry == "~" or entry.startswith("~/"):
        entry = "$HOME" + entry[1:]
    elif entry.startswith("~"):
        entry = os.path.expanduser(entry)  # ~user: from the password database

    def _substitute(match):
        name = match.group(1) or match.group(2)
        value = environ.get(name)
        if not value:
            missing.append(name)
            return ""
        return value

    expanded = _ENV_VAR_RE.sub(_substitute, entry)
    if missing or not os.path.isabs(expanded):
        return None
    return os.path.normpath(expanded)
