# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find the CUDA toolkits installed on a host and tell which one a user actually gets.

One implementation shared by the gpu_facts module, the cuda_env role and the burn-in module. The parsers (in
cuda_parse) are pure functions over text; discovery reads the filesystem and runs ``nvcc --version`` / ``ldconfig -p``
only through the ``runner`` it is given, and never raises on odd trees: a toolkit whose version cannot be read is still
listed, with ``version: None`` and the reason in ``error``.

Two layouts exist. NVIDIA's (runfile, NVIDIA's .deb/.rpm, conda, tarballs): everything under one root such as
/usr/local/cuda-12.4. The distribution's (Debian/Ubuntu ``nvidia-cuda-toolkit``): the toolkit is spread over the system
prefix /usr - /usr/bin/nvcc is a wrapper script that execs /usr/lib/nvidia-cuda-toolkit/bin/nvcc, headers are in
/usr/include, libraries in the multiarch directory (/usr/lib/x86_64-linux-gnu) that the dynamic linker already searches,
and /usr/lib/cuda is only a compatibility tree (empty bin/ and lib64/, include/cuda.h and nvvm/libdevice links).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import shutil

from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command

# The parsers live in cuda_parse; they are re-exported here, where callers have always found them.
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_parse import (  # pylint: disable=unused-import
    VERSION_RE,
    expand_search_path as expand_search_path,
    is_wsl as is_wsl,
    libcudart_in_cache as libcudart_in_cache,
    parse_ldconfig_cache as parse_ldconfig_cache,
    parse_nvcc_build_version as parse_nvcc_build_version,
    parse_nvcc_version as parse_nvcc_version,
    parse_nvcc_wrapper as parse_nvcc_wrapper,
    parse_version_json_detail as parse_version_json_detail,
    parse_version_txt as parse_version_txt,
    short_version as short_version,
    validate_search_paths as validate_search_paths,
    version_key as version_key,
)

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
# The prefix a distribution's packages install CUDA into; a toolkit rooted there has the "distribution" layout.
SYSTEM_PREFIX = "/usr"
LAYOUT_NVIDIA = "nvidia"
LAYOUT_DISTRIBUTION = "distribution"
# The programs of a toolkit that build tools look for in $CUDA_HOME/bin (listed in the facts as ``tools``).
CUDA_TOOLS = (
    "bin2c",
    "compute-sanitizer",
    "cu++filt",
    "cuda-gdb",
    "cuda-gdbserver",
    "cudafe++",
    "cuobjdump",
    "fatbinary",
    "nvcc",
    "nvdisasm",
    "nvlink",
    "nvprof",
    "nvprune",
    "ptxas",
)
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

# Debian multiarch directory names: x86_64-linux-gnu, aarch64-linux-gnu, powerpc64le-linux-gnu, arm-linux-gnueabihf.
_MULTIARCH_RE = re.compile(r"^[a-z0-9_]+-linux-[a-z0-9_]+$")
# Wrapper scripts are tiny; anything bigger on PATH is the real (ELF) nvcc.
_WRAPPER_MAX_BYTES = 4096


class CudaSelectionError(Exception):
    """The toolkit asked for is not installed; the message lists the versions that are."""


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


def _libcudart_in_dir(lib_dir):
    """libcudart.so in lib_dir (the development link), else its first libcudart.so.* that is a file, else None."""
    unversioned = os.path.join(lib_dir, "libcudart.so")
    if os.path.isfile(unversioned):
        return unversioned
    for candidate in sorted(glob.glob(os.path.join(lib_dir, "libcudart.so.*"))):
        if os.path.isfile(candidate):
            return candidate
    return None


def _find_libcudart(root):
    for pattern in _LIBCUDART_DIR_PATTERNS:
        for lib_dir in sorted(glob.glob(os.path.join(root, pattern))):
            found = _libcudart_in_dir(lib_dir)
            if found:
                return found
    return None


def _lib_dirs(root):
    found = []
    for pattern in _LIB_DIR_PATTERNS:
        for lib_dir in sorted(glob.glob(os.path.join(root, pattern))):
            if os.path.isdir(lib_dir) and lib_dir not in found:
                found.append(lib_dir)
    return found


def system_lib_dir(directory, prefix=SYSTEM_PREFIX):
    """The real path of directory when it is a library directory of prefix (lib, lib64 or lib/<multiarch>), else None.

    ldconfig names /lib/x86_64-linux-gnu on a merged /usr; its real path is /usr/lib/x86_64-linux-gnu.
    """
    real = os.path.realpath(directory)
    real_prefix = os.path.realpath(prefix)
    lib = os.path.join(real_prefix, "lib")
    if real in (lib, os.path.join(real_prefix, "lib64")):
        return real
    if os.path.dirname(real) == lib and _MULTIARCH_RE.match(os.path.basename(real)):
        return real
    return None


def _distribution_libraries(prefix, cached_libcudart):
    """Return (lib_dirs, libcudart) of a distribution toolkit: the system library directories that hold libcudart.

    The linker cache says where libcudart really is (the multiarch directory on Debian/Ubuntu); without one, the
    directories distributions install into are looked at. Only existing directories that hold a libcudart count.
    """
    lib_dirs = []
    for path in cached_libcudart or ():
        lib_dir = system_lib_dir(os.path.dirname(path), prefix)
        if lib_dir and lib_dir not in lib_dirs and _libcudart_in_dir(lib_dir):
            lib_dirs.append(lib_dir)
    if not lib_dirs:
        real_prefix = os.path.realpath(prefix)
        for pattern in ("lib/*-linux-*", "lib64", "lib"):
            for candidate in sorted(glob.glob(os.path.join(real_prefix, pattern))):
                lib_dir = system_lib_dir(candidate, prefix) if os.path.isdir(candidate) else None
                if lib_dir and lib_dir not in lib_dirs and _libcudart_in_dir(lib_dir):
                    lib_dirs.append(lib_dir)
    return lib_dirs, (_libcudart_in_dir(lib_dirs[0]) if lib_dirs else None)


def _real_nvcc(nvcc):
    """The program an nvcc really is: its real path, or the real path of what a small wrapper script execs."""
    real = os.path.realpath(nvcc)
    target = _nvcc_wrapper_target(real)
    return os.path.realpath(target) if target else real


def _include_dir(root):
    for include in [os.path.join(root, "include"), *sorted(glob.glob(os.path.join(root, "targets", "*", "include")))]:
        if os.path.isfile(os.path.join(include, "cuda_runtime.h")):
            return include
    return None


def _libdevice_dir(root, nvcc):
    """nvvm/libdevice of the toolkit; for Debian's layout, libdevice next to the real nvcc's bin directory."""
    candidates = [os.path.join(root, "nvvm", "libdevice")]
    if nvcc:
        home = os.path.dirname(os.path.dirname(_real_nvcc(nvcc)))
        candidates += [os.path.join(home, "nvvm", "libdevice"), os.path.join(home, "libdevice")]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
    return None


def describe_toolkit(root, runner=run_command, system_prefix=SYSTEM_PREFIX, cached_libcudart=None):
    """Return the toolkit dict for the directory root (already a realpath).

    A root equal to system_prefix is a distribution toolkit: its libraries are found from cached_libcudart (the
    libcudart paths of ``ldconfig -p``; run here when None) instead of under the root.
    """
    version, source, problems = _toolkit_version_detail(root, runner)
    nvcc = os.path.join(root, "bin", "nvcc")
    nvcc = nvcc if _is_executable_file(nvcc) else None
    bin_dir = os.path.join(root, "bin")
    bin_dir = bin_dir if os.path.isdir(bin_dir) else None
    if system_prefix and root == os.path.realpath(system_prefix):
        layout = LAYOUT_DISTRIBUTION
        if cached_libcudart is None:
            cached_libcudart = _ldconfig_libcudart(runner)[1]
        lib_dirs, libcudart = _distribution_libraries(root, cached_libcudart)
    else:
        layout = LAYOUT_NVIDIA
        lib_dirs, libcudart = _lib_dirs(root), _find_libcudart(root)
    tools = [
        os.path.join(bin_dir, name)
        for name in CUDA_TOOLS
        if bin_dir and _is_executable_file(os.path.join(bin_dir, name))
    ]
    return {
        "path": root,
        "aliases": [],
        "layout": layout,
        "version": version,
        "version_short": short_version(version),
        "version_source": source,
        "nvcc": nvcc,
        "libcudart": libcudart,
        "lib_dirs": lib_dirs,
        "bin_dir": bin_dir,
        "include_dir": _include_dir(root),
        "libdevice_dir": _libdevice_dir(root, nvcc),
        "tools": tools,
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


def distribution_toolkit_root(system_prefix=SYSTEM_PREFIX):
    """The real path of system_prefix when its bin/nvcc belongs to a toolkit laid out over it (Debian's
    /usr/bin/nvcc wrapper, with /usr/include/cuda_runtime.h), else None (no nvcc there, or one that leads elsewhere)."""
    if not system_prefix:
        return None
    real_prefix = os.path.realpath(system_prefix)
    nvcc = os.path.join(real_prefix, "bin", "nvcc")
    if os.path.lexists(nvcc) and toolkit_of_nvcc(nvcc) == real_prefix:
        return real_prefix
    return None


def _is_compat_tree(real, distribution_root):
    """Debian's /usr/lib/cuda: no nvcc of its own, include/cuda.h or nvvm/libdevice leading into the distribution's."""
    if not distribution_root or real == distribution_root or os.path.lexists(os.path.join(real, "bin", "nvcc")):
        return False
    nvcc = os.path.join(distribution_root, "bin", "nvcc")
    pairs = (
        (os.path.join(real, "include", "cuda.h"), os.path.join(distribution_root, "include", "cuda.h")),
        (os.path.join(real, "nvvm", "libdevice"), _libdevice_dir(distribution_root, nvcc)),
    )
    return any(
        theirs and os.path.exists(ours) and os.path.realpath(ours) == os.path.realpath(theirs) for ours, theirs in pairs
    )


def _toolkit_identity(candidate, distribution_root):
    """The real path of the toolkit a searched directory stands for, or None when it is not one."""
    real = os.path.realpath(candidate)
    if _is_compat_tree(real, distribution_root):
        return distribution_root
    if not looks_like_toolkit(candidate):
        return None
    # A directory whose bin/nvcc is another toolkit's (the CUDA home of links cuda_env builds for a distribution
    # toolkit, whose bin/nvcc links to /usr/bin/nvcc) is that toolkit, not a second one.
    nvcc = os.path.join(real, "bin", "nvcc")
    owner = toolkit_of_nvcc(nvcc) if os.path.lexists(nvcc) else None
    return owner or real


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
    system_prefix=SYSTEM_PREFIX,
):
    """Discover CUDA toolkits; see the module's RETURN for the shape.

    search_paths defaults to DEFAULT_CUDA_SEARCH_PATHS plus the toolkit of the nvcc found on PATH and the distribution's
    toolkit in system_prefix. environ defaults to os.environ (for $VAR expansion), path_env to environ's PATH. The last
    four arguments exist for tests (a fake root).
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
    distribution_root = distribution_toolkit_root(system_prefix)
    if use_defaults:
        for root in (path_root, distribution_root):
            if root and root not in candidates:
                candidates.append(root)

    resolvable, cached_libcudart = _ldconfig_libcudart(runner)

    toolkits = {}
    order = []
    for candidate in candidates:
        real = _toolkit_identity(candidate, distribution_root)
        if real is None:
            continue
        if real not in toolkits:
            toolkits[real] = describe_toolkit(real, runner, system_prefix, cached_libcudart)
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


def find_nvcc(search_paths=None, runner=run_command):
    """(nvcc, toolkit path) to build with: the default toolkit's, else the newest; (None, None) without one."""
    cuda = discover_cuda(search_paths=search_paths, runner=runner)
    toolkits = [tk for tk in cuda["toolkits"] if tk.get("nvcc")]
    default = [tk for tk in toolkits if tk["path"] == cuda.get("default")]
    chosen = (default or toolkits[-1:] or [None])[0]
    return (chosen["nvcc"], chosen["path"]) if chosen else (None, None)


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
    if not VERSION_RE.match(want) and not want.isdigit():
        raise CudaSelectionError(f"CUDA version {want!r} is not 'default', 'latest' or a version like '12.4'")

    prefix = want.split(".")
    matches = [tk for tk in toolkits if tk["version"].split(".")[: len(prefix)] == prefix]
    if not matches:
        raise CudaSelectionError(f"CUDA {want} is not installed; found: {found}")
    return max(matches, key=lambda tk: version_key(tk["version"]))
