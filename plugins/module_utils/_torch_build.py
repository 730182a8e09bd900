# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which build of PyTorch an environment has, and whether this host's NVIDIA driver can run it. Pure functions.

CUDA's compatibility rules (NVIDIA's CUDA Compatibility guide): a driver runs programs built for its own CUDA version
and every older one. A program built for a newer minor version of the driver's major version (built for 12.8, driver
supports 12.4) runs through minor-version compatibility, from CUDA 11.1 on, with the driver of that major version's
first release or newer (11.x: 450.80.02), but features of the newer minor version that need a newer driver (and PTX
compiled by the newer toolkit) fail. A program built for a newer major version needs a newer driver (or NVIDIA's
forward-compatibility package on data-center GPUs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The first major version with minor-version compatibility, and the oldest driver of each major version that has it.
MINOR_VERSION_COMPAT_MIN_DRIVER = {11: (450, 80, 2)}
_VERSION_RE = re.compile(r"^\s*(\d+)(?:\.(\d+))?")


def parse_version(text):
    """'12.4' -> (12, 4); '13' -> (13, 0); None or junk -> None."""
    if text is None:
        return None
    match = _VERSION_RE.match(str(text))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _driver_tuple(driver_version):
    if not driver_version:
        return None
    try:
        return tuple(int(part) for part in str(driver_version).split("."))
    except ValueError:
        return None


def torch_build(torch_version, cuda_version=None, hip_version=None):
    """dict(build: cuda|rocm|cpu|None, build_tag: 'cu128'|'rocm6.2'|'cpu'|None) of an installed torch.

    torch.version.cuda / .hip decide; the local part of ``__version__`` (``2.5.1+cu124``) is the tag when it has one
    (a build from conda or source has none, then the tag is made from the CUDA or HIP version).
    """
    if not torch_version:
        return {"build": None, "build_tag": None}
    local = str(torch_version).partition("+")[2] or None
    if hip_version:
        build = "rocm"
        parsed = parse_version(hip_version)
        tag = local or ("rocm%d.%d" % parsed if parsed else "rocm")
    elif cuda_version:
        build = "cuda"
        parsed = parse_version(cuda_version)
        tag = local or ("cu%d%d" % parsed if parsed else "cuda")
    else:
        build = "cpu"
        tag = local or "cpu"
    return {"build": build, "build_tag": tag}


def cuda_compatibility(torch_version, build, cuda_version, driver_cuda_version, driver_version=None, gpu_count=None):
    """dict(status, ok, message): whether the host's driver runs this torch build's CUDA code.

    status: ``ok``; ``minor_version_compat`` (runs, with that mode's limits); ``driver_too_old``; ``cpu_build`` (a
    CPU-only torch on a host with GPUs); ``rocm_build`` (AMD's build on an NVIDIA host); ``no_driver`` (a CUDA build,
    no driver answered); ``not_applicable`` (no torch, or a CPU build without GPUs). ok is None where there is no
    verdict.
    """
    label = "torch %s" % torch_version
    if not torch_version or build is None:
        return _verdict("not_applicable", None, "no torch")
    gpus = gpu_count or 0
    if build == "cpu":
        if gpus:
            message = "%s is a CPU-only build; this host has %d GPU%s it cannot use (install a CUDA build)" % (
                label,
                gpus,
                "" if gpus == 1 else "s",
            )
            return _verdict("cpu_build", False, message)
        return _verdict("not_applicable", None, "%s is a CPU-only build (no GPU here)" % label)
    if build == "rocm":
        return _verdict(
            "rocm_build", False if gpus else None, "%s is a ROCm (AMD) build and cannot use NVIDIA GPUs" % label
        )
    built = parse_version(cuda_version)
    host = parse_version(driver_cuda_version)
    if host is None:
        return _verdict(
            "no_driver", None, "%s is built for CUDA %s; no NVIDIA driver answered on this host" % (label, cuda_version)
        )
    driver = "this host's driver %s supports CUDA %d.%d" % (driver_version or "(version unknown)", host[0], host[1])
    if built is None:
        return _verdict("ok", None, "%s: CUDA version of the build unknown; %s" % (label, driver))
    if host >= built:
        return _verdict("ok", True, "%s is built for CUDA %d.%d; %s" % (label, built[0], built[1], driver))
    needs = "%s needs a driver for CUDA %d.%d; %s" % (label, built[0], built[1], driver)
    if host[0] < built[0]:
        return _verdict(
            "driver_too_old", False, needs + " (upgrade the driver or install a torch built for CUDA %d.x)" % host[0]
        )
    # Same major version, older minor version.
    if built < (11, 1):
        return _verdict("driver_too_old", False, needs + " (no minor-version compatibility before CUDA 11.1)")
    minimum = MINOR_VERSION_COMPAT_MIN_DRIVER.get(built[0])
    have = _driver_tuple(driver_version)
    if minimum and have and have < minimum:
        return _verdict(
            "driver_too_old",
            False,
            needs + " (minor-version compatibility needs driver %s or newer)" % ".".join(str(p) for p in minimum),
        )
    return _verdict(
        "minor_version_compat",
        True,
        "%s is built for CUDA %d.%d; %s: runs through CUDA minor-version compatibility (features that need a newer "
        "driver, and PTX compiled for CUDA %d.%d, fail)" % (label, built[0], built[1], driver, built[0], built[1]),
    )


def _verdict(status, ok, message):
    return {"status": status, "ok": ok, "message": message}
