# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find the CUDA toolkits installed on a host and tell which one a user actually gets.

One implementation shared by the gpu_facts module, the cuda_env role and the burn-in module. Parsers are pure
functions over text; discovery reads the filesystem and runs ``nvcc --version`` / ``ldconfig -p`` only through the
``runner`` it is given, and never raises on odd trees: a toolkit whose version cannot be read is still listed, with
``version: None`` and the reason in ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import shutil

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command

DEFAULT_CUDA_SEARCH_PATHS = [
    "$CUDA_HOME",
    "$CUDA_PATH",
    "/usr/local/cuda",
    "/usr/local/cuda-*",
    "/opt/cuda",
    "/usr/lib/cuda",
]

# The symlink the NVIDIA packages (and update-alternatives) point at the toolkit users get by default.
DEFAULT_CUDA_LINK = "/usr/local/cuda"
WSL_LIB_DIR = "/usr/lib/wsl/lib"
PROC_VERSION = "/proc/version"

# Where libcudart lives inside a toolkit: lib64 for runfile/deb installs, lib for some redistributable layouts,
# targets/<arch>/lib for everything since CUDA 6 (lib64 is usually a symlink to it).
_LIB_DIR_PATTERNS = ("lib64", "targets/*/lib", "extras/CUPTI/lib64")
_LIBCUDART_DIR_PATTERNS = ("lib64", "lib", "targets/*/lib")

# ldconfig is in sbin, which is not on a non-root PATH.
_LDCONFIG_CANDIDATES = ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig")

_NVCC_TIMEOUT = 15
_LDCONFIG_TIMEOUT = 10

_VERSION_RE = re.compile(r"^\d+\.\d+(?:\.\d+)*$")
_NVCC_RELEASE_RE = re.compile(r"\brelease\s+(\d+\.\d+)\b")
_NVCC_BUILD_RE = re.compile(r"\bV(\d+\.\d+\.\d+)\b")
_VERSION_TXT_RE = re.compile(r"^\s*CUDA\s+Version\s+(\d+\.\d+(?:\.\d+)*)\s*$", re.MULTILINE)
_ENV_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_LDCONFIG_LINE_RE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s*=>\s*(\S.*?)\s*$")
_NVCC_WRAPPER_RE = re.compile(r"(/[^\s'\"]*/bin/nvcc)(?![\w.-])")
# Wrapper scripts are tiny; anything bigger on PATH is the real (ELF) nvcc.
_WRAPPER_MAX_BYTES = 4096


class CudaSelectionError(Exception):
    """The toolkit asked for is not installed; the message lists the versions that are."""


# ---------------------------------------------------------------------------------------------------------------------
# Pure parsers


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
    if isinstance(version, str) and _VERSION_RE.match(version.strip()):
        return version.strip(), None
    return None, "no cuda.version entry"


def parse_version_json(text):
    """Return ``cuda.version`` ("12.4.1") from a CUDA >= 11.1 ``version.json``, or None (also for garbage)."""
    return parse_version_json_detail(text)[0]


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


def libcudart_in_cache(cache):
    """Return the cached paths of any libcudart.so* soname (empty list when the linker cannot find one)."""
    paths = []
    for soname in sorted(cache):
        if soname == "libcudart.so" or soname.startswith("libcudart.so."):
            paths.extend(cache[soname])
    return paths


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


# ---------------------------------------------------------------------------------------------------------------------
# Filesystem edges


def _read_text(path):
    """Return (text, error); never raises."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace"), None
    except OSError as exc:
        return None, f"{os.path.basename(path)}: cannot read ({exc.strerror or exc})"


def _is_executable_file(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def looks_like_toolkit(path):
    """A directory is a toolkit when it has bin/nvcc (even a broken link, reported later) or a version file."""
    return os.path.isdir(path) and (
        os.path.lexists(os.path.join(path, "bin", "nvcc"))
        or os.path.isfile(os.path.join(path, "version.json"))
        or os.path.isfile(os.path.join(path, "version.txt"))
    )


def _toolkit_version_detail(path, runner):
    """Return (version, source, problems) trying version.json, version.txt, then bin/nvcc --version."""
    problems = []

    json_path = os.path.join(path, "version.json")
    if os.path.isfile(json_path):
        text, error = _read_text(json_path)
        if error:
            problems.append(error)
        else:
            version, problem = parse_version_json_detail(text)
            if version:
                return version, "version.json", problems
            problems.append(f"version.json: {problem}")

    txt_path = os.path.join(path, "version.txt")
    if os.path.isfile(txt_path):
        text, error = _read_text(txt_path)
        if error:
            problems.append(error)
        else:
            version = parse_version_txt(text)
            if version:
                return version, "version.txt", problems
            problems.append("version.txt: no 'CUDA Version X.Y' line")

    nvcc = os.path.join(path, "bin", "nvcc")
    if _is_executable_file(nvcc):
        result = runner([nvcc, "--version"], timeout=_NVCC_TIMEOUT)
        output = f"{result.stdout}\n{result.stderr}"
        version = parse_nvcc_build_version(output) or parse_nvcc_version(output)
        if result.rc == 0 and version:
            return version, "nvcc", problems
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        detail = lines[-1] if lines else "no version in output"
        problems.append(f"bin/nvcc --version: rc {result.rc}, {detail}")
    elif os.path.lexists(nvcc):
        problems.append("bin/nvcc: broken symlink or not executable")

    if not problems:
        problems.append("no version.json, version.txt or bin/nvcc")
    return None, None, problems


def read_toolkit_version(path, runner=run_command):
    """Return (version, source) of the toolkit at path; source is "version.json", "version.txt", "nvcc" or None."""
    version, source, _problems = _toolkit_version_detail(path, runner)
    return version, source


def _find_libcudart(root):
    for pattern in _LIBCUDART_DIR_PATTERNS:
        for lib_dir in sorted(glob.glob(os.path.join(root, pattern))):
            unversioned = os.path.join(lib_dir, "libcudart.so")
            if os.path.isfile(unversioned):
                return unversioned
            for candidate in sorted(glob.glob(os.path.join(lib_dir, "libcudart.so.*"))):
                if os.path.isfile(candidate):
                    return candidate
    return None


def _lib_dirs(root):
    found = []
    for pattern in _LIB_DIR_PATTERNS:
        for lib_dir in sorted(glob.glob(os.path.join(root, pattern))):
            if os.path.isdir(lib_dir) and lib_dir not in found:
                found.append(lib_dir)
    return found


def describe_toolkit(root, runner=run_command):
    """Return the toolkit dict for the directory root (already a realpath)."""
    version, source, problems = _toolkit_version_detail(root, runner)
    nvcc = os.path.join(root, "bin", "nvcc")
    bin_dir = os.path.join(root, "bin")
    return {
        "path": root,
        "aliases": [],
        "version": version,
        "version_short": short_version(version),
        "version_source": source,
        "nvcc": nvcc if _is_executable_file(nvcc) else None,
        "libcudart": _find_libcudart(root),
        "lib_dirs": _lib_dirs(root),
        "bin_dir": bin_dir if os.path.isdir(bin_dir) else None,
        "error": "; ".join(problems) if problems else None,
    }


def candidate_dirs(search_paths, environ):
    """Expand search paths ($VAR, globs) into existing directories, in order, without duplicates (not resolved)."""
    found = []
    for entry in search_paths:
        if not isinstance(entry, str):
            continue
        expanded = expand_search_path(entry, environ)
        if expanded is None:
            continue
        matches = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
        for match in matches:
            if os.path.isdir(match) and match not in found:
                found.append(match)
    return found


def _is_toolkit_root(root):
    """Stricter than looks_like_toolkit, for roots guessed from an nvcc on PATH (/usr/local/bin/nvcc -> /usr/local)."""
    return looks_like_toolkit(root) and (
        os.path.isfile(os.path.join(root, "version.json"))
        or os.path.isfile(os.path.join(root, "version.txt"))
        or os.path.isdir(os.path.join(root, "nvvm"))
        or os.path.isfile(os.path.join(root, "include", "cuda_runtime.h"))
    )


def _nvcc_wrapper_target(path):
    try:
        if os.path.getsize(path) > _WRAPPER_MAX_BYTES:
            return None
    except OSError:
        return None
    text, _error = _read_text(path)
    return parse_nvcc_wrapper(text)


def toolkit_of_nvcc(nvcc_path):
    """The toolkit root (realpath) an nvcc belongs to: <root>/bin/nvcc after links and one wrapper script, or None."""
    if not nvcc_path:
        return None
    real = os.path.realpath(nvcc_path)
    for _hop in range(2):
        root = os.path.dirname(os.path.dirname(real))
        if os.path.basename(os.path.dirname(real)) == "bin" and _is_toolkit_root(root):
            return os.path.realpath(root)
        target = _nvcc_wrapper_target(real)
        if not target:
            return None
        real = os.path.realpath(target)
    return None


def _ldconfig_libcudart(runner):
    """Return (resolvable, paths): resolvable is None when no ldconfig could be run."""
    for ldconfig in _LDCONFIG_CANDIDATES:
        result = runner([ldconfig, "-p"], timeout=_LDCONFIG_TIMEOUT)
        if result.rc == 0:
            # A stale cache entry (library removed since ldconfig ran) does not load.
            paths = [p for p in libcudart_in_cache(parse_ldconfig_cache(result.stdout)) if os.path.exists(p)]
            return bool(paths), paths
    return None, []


def discover_cuda(
    search_paths=None,
    environ=None,
    path_env=None,
    runner=run_command,
    default_link=DEFAULT_CUDA_LINK,
    proc_version_path=PROC_VERSION,
    wsl_lib_dir=WSL_LIB_DIR,
):
    """Discover CUDA toolkits; see the module's RETURN for the shape.

    search_paths defaults to DEFAULT_CUDA_SEARCH_PATHS plus the toolkit of the nvcc found on PATH. environ defaults
    to os.environ (for $VAR expansion), path_env to environ's PATH. The last three arguments exist for tests.
    """
    if environ is None:
        environ = os.environ
    if path_env is None:
        path_env = environ.get("PATH", os.defpath)
    use_defaults = search_paths is None
    if use_defaults:
        search_paths = DEFAULT_CUDA_SEARCH_PATHS

    nvcc_on_path = shutil.which("nvcc", path=path_env) if path_env else None
    candidates = candidate_dirs(search_paths, environ)
    path_root = toolkit_of_nvcc(nvcc_on_path)
    if use_defaults and path_root and path_root not in candidates:
        candidates.append(path_root)

    toolkits = {}
    order = []
    for candidate in candidates:
        if not looks_like_toolkit(candidate):
            continue
        real = os.path.realpath(candidate)
        if real not in toolkits:
            toolkits[real] = describe_toolkit(real, runner)
            order.append(real)
        if candidate != real and candidate not in toolkits[real]["aliases"]:
            toolkits[real]["aliases"].append(candidate)

    # Ascending by version; toolkits whose version could not be read go last.
    ordered = sorted(
        (toolkits[real] for real in order),
        key=lambda tk: (tk["version"] is None, version_key(tk["version"]), tk["path"]),
    )

    default = None
    link_target = os.path.realpath(default_link) if default_link and os.path.exists(default_link) else None
    if link_target in toolkits:
        default = link_target
    elif path_root in toolkits:
        default = path_root

    resolvable, _paths = _ldconfig_libcudart(runner)
    proc_version, _error = _read_text(proc_version_path)
    wsl = is_wsl(proc_version)

    return {
        "toolkits": ordered,
        "default": default,
        "nvcc_on_path": nvcc_on_path is not None,
        "nvcc_path_resolved": nvcc_on_path,
        "libcudart_resolvable": resolvable,
        "wsl": wsl,
        "wsl_lib_dir": wsl_lib_dir if wsl_lib_dir and os.path.isdir(wsl_lib_dir) else None,
    }


def select_toolkit(discovered, want):
    """Pick a toolkit from discover_cuda()'s result.

    want: "default" (what /usr/local/cuda or PATH gives), "latest" (highest version), or a version prefix matched on
    whole components ("12" or "12.1" matches 12.1.1, "12.1" does not match 12.10). Raises CudaSelectionError.
    """
    toolkits = [tk for tk in discovered.get("toolkits", []) if tk.get("version")]
    found = ", ".join(f"{tk['version']} ({tk['path']})" for tk in toolkits) or "none"
    want = str(want).strip()

    if want == "default":
        for toolkit in discovered.get("toolkits", []):
            if toolkit["path"] == discovered.get("default"):
                return toolkit
        raise CudaSelectionError(
            f"no default CUDA toolkit ({DEFAULT_CUDA_LINK} does not point at a toolkit and no nvcc on PATH); "
            f"found: {found}"
        )
    if want == "latest":
        if toolkits:
            return max(toolkits, key=lambda tk: version_key(tk["version"]))
        raise CudaSelectionError("no CUDA toolkit with a readable version found")
    if not _VERSION_RE.match(want) and not want.isdigit():
        raise CudaSelectionError(f"CUDA version {want!r} is not 'default', 'latest' or a version like '12.4'")

    prefix = want.split(".")
    matches = [tk for tk in toolkits if tk["version"].split(".")[: len(prefix)] == prefix]
    if not matches:
        raise CudaSelectionError(f"CUDA {want} is not installed; found: {found}")
    return max(matches, key=lambda tk: version_key(tk["version"]))
