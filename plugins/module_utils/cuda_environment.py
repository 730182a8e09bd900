# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the environment of one CUDA toolkit must add to a host's: PATH, the linker's path, CUDA_HOME.

A pure decision over one entry of ``ansible_facts.gpu.cuda.toolkits`` (module_utils/cuda), made once here and rendered
by the cuda_env role (through the cuda_environment filter). Rules:

- a directory already on the default PATH is never prepended (that would move /usr/bin ahead of /usr/local/bin);
  every other directory keeps its order;
- the dynamic linker is told only about directories it does not search already: a distribution's toolkit installs
  its libraries into the system library directories (the multiarch directory on Debian/Ubuntu), so nothing;
- CUDA_HOME is a directory where ``bin/nvcc``, ``include/cuda_runtime.h`` and ``lib64/libcudart.so*`` all work, as
  build tools (PyTorch's C++ extensions) expect: an NVIDIA toolkit's root, or for a distribution's toolkit a small
  home of links the role builds (/usr fails lib64, Debian's /usr/lib/cuda has an empty bin/).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import LAYOUT_DISTRIBUTION


class CudaEnvironmentError(ValueError):
    """The toolkit or an argument cannot be planned for; the message names which."""


def _path_entries(path):
    if isinstance(path, str):
        return [entry for entry in path.split(":") if entry]
    return [entry for entry in path or [] if entry]


def toolkit_lib_dirs(toolkit):
    """The toolkit's library directories, libcudart's first; targets/<arch>/lib only when nothing else is known
    (lib64 is normally a link to it)."""
    dirs = [posixpath.dirname(toolkit["libcudart"])] if toolkit.get("libcudart") else []
    lib_dirs = toolkit.get("lib_dirs") or []
    for lib_dir in [d for d in lib_dirs if "/targets/" not in d] or lib_dirs:
        if lib_dir not in dirs:
            dirs.append(lib_dir)
    return dirs


def cuda_home_links(toolkit, home_dir):
    """The links of a CUDA home in home_dir for a distribution toolkit: [{"dest": link, "src": target}], in order.

    bin/ gets the toolkit's programs (not all of /usr/bin, which a ``PATH=$CUDA_HOME/bin:$PATH`` would put ahead of
    /usr/local/bin), include and lib64 the system directories, nvvm/libdevice the toolkit's libdevice.
    """
    tools = list(toolkit.get("tools") or [])
    if toolkit.get("nvcc") and toolkit["nvcc"] not in tools:
        tools.insert(0, toolkit["nvcc"])
    links = [("bin/" + posixpath.basename(tool), tool) for tool in tools]
    if toolkit.get("include_dir"):
        links.append(("include", toolkit["include_dir"]))
    lib_dirs = toolkit_lib_dirs(toolkit)
    if lib_dirs:
        links.append(("lib64", lib_dirs[0]))
    if toolkit.get("libdevice_dir"):
        links.append(("nvvm/libdevice", toolkit["libdevice_dir"]))
    return [{"dest": posixpath.join(home_dir, name), "src": src} for name, src in links]


def _check_home_dir(home_dir):
    if not isinstance(home_dir, str) or not home_dir.startswith("/"):
        raise CudaEnvironmentError(f"the CUDA home directory must be an absolute path, got {home_dir!r}")
    normalized = posixpath.normpath(home_dir)
    # At least two levels: the role removes this directory when it is no longer needed.
    if normalized.count("/") < 2:
        raise CudaEnvironmentError(f"the CUDA home directory {home_dir!r} is too close to / to be managed")
    return normalized


def plan_cuda_environment(toolkit, default_path, home_dir, wsl_lib_dir=None):
    """Return what the environment of toolkit must be on a host.

    default_path: the PATH a service gets without us (systemd's), as "a:b:c" or a list. home_dir: where a CUDA home
    of links is built when the toolkit's own root cannot serve as CUDA_HOME. wsl_lib_dir: the WSL driver library
    directory (``ansible_facts.gpu.cuda.wsl_lib_dir``), which the linker is told about too.

    Keys: layout, home_dir (normalized), cuda_home, home_links ([{"dest", "src"}]; [] when CUDA_HOME is the
    toolkit's root), home_dirs (the directories of the home to create, home_dir first), bin_dir, path_prepend ([] or
    [bin_dir]), service_path (a whole PATH: an EnvironmentFile cannot extend one), lib_dirs (where the libraries are),
    ld_conf_dirs (what ld.so.conf.d must list; may be empty), ld_library_path (what LD_LIBRARY_PATH must hold; may be
    empty).
    """
    if not isinstance(toolkit, dict) or not toolkit.get("path"):
        raise CudaEnvironmentError("expected one toolkit of ansible_facts.gpu.cuda.toolkits (a dict with a path)")
    layout = toolkit.get("layout") or "nvidia"
    default_entries = _path_entries(default_path)
    bin_dir = toolkit.get("bin_dir") or posixpath.join(toolkit["path"], "bin")
    path_prepend = [] if bin_dir in default_entries else [bin_dir]
    lib_dirs = toolkit_lib_dirs(toolkit)

    home_dir = _check_home_dir(home_dir)
    if layout == LAYOUT_DISTRIBUTION:
        cuda_home = home_dir
        home_links = cuda_home_links(toolkit, home_dir)
        linker_dirs = []  # the system library directories: the linker searches them already
    else:
        cuda_home = toolkit["path"]
        home_links = []
        linker_dirs = list(lib_dirs)

    home_dirs = [home_dir] if home_links else []
    for link in home_links:
        parent = posixpath.dirname(link["dest"])
        if parent not in home_dirs:
            home_dirs.append(parent)

    ld_conf_dirs = list(linker_dirs)
    if wsl_lib_dir and wsl_lib_dir not in ld_conf_dirs:
        ld_conf_dirs.append(wsl_lib_dir)

    return {
        "layout": layout,
        "home_dir": home_dir,
        "cuda_home": cuda_home,
        "home_links": home_links,
        "home_dirs": home_dirs,
        "bin_dir": bin_dir,
        "path_prepend": path_prepend,
        "service_path": ":".join(path_prepend + default_entries),
        "lib_dirs": lib_dirs,
        "ld_conf_dirs": ld_conf_dirs,
        "ld_library_path": linker_dirs,
    }
