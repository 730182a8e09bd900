# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torch build and CUDA's driver compatibility rules (module_utils/_torch_build.py), table-driven."""

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_build import (
    cuda_compatibility,
    parse_version,
    torch_build,
)


@pytest.mark.parametrize(
    "version, cuda, hip, expected",
    [
        ("2.13.0+cu130", "13.0", None, ("cuda", "cu130")),
        ("2.5.1+cu124", "12.4", None, ("cuda", "cu124")),
        ("2.1.0+cu118", "11.8", None, ("cuda", "cu118")),
        ("2.13.0+cpu", None, None, ("cpu", "cpu")),
        ("2.5.1+rocm6.2", None, "6.2.41133-dd7f95766", ("rocm", "rocm6.2")),
        # conda / source builds have no local part: the tag comes from the CUDA or HIP version
        ("2.5.1", "12.4", None, ("cuda", "cu124")),
        ("2.5.1", None, "6.1.40091", ("rocm", "rocm6.1")),
        ("2.5.1", None, None, ("cpu", "cpu")),
        (None, None, None, (None, None)),
    ],
)
def test_torch_build(version, cuda, hip, expected):
    build = torch_build(version, cuda, hip)
    assert (build["build"], build["build_tag"]) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("12.4", (12, 4)), ("13", (13, 0)), ("11.8.89", (11, 8)), (None, None), ("", None), ("n/a", None)],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize(
    "torch_version, build, cuda, driver_cuda, driver, gpus, status, ok, message",
    [
        # the driver supports the build's CUDA or newer: fine
        ("2.5.1+cu124", "cuda", "12.4", "12.4", "550.54.15", 8, "ok", True, "built for CUDA 12.4"),
        ("2.1.0+cu118", "cuda", "11.8", "12.4", "550.54.15", 8, "ok", True, "supports CUDA 12.4"),
        # same major, newer minor: minor-version compatibility, said so
        ("2.7.0+cu128", "cuda", "12.8", "12.4", "550.54.15", 8, "minor_version_compat", True, "minor-version"),
        ("2.0.0+cu118", "cuda", "11.8", "11.4", "470.82.01", 1, "minor_version_compat", True, "minor-version"),
        # CUDA 11.x minor-version compatibility needs 450.80.02 or newer (11.0 GA's 450.36.06 is too old)
        ("1.9.0+cu111", "cuda", "11.1", "11.0", "450.36.06", 1, "driver_too_old", False, "450.80.2 or newer"),
        # before 11.1 there is no minor-version compatibility
        ("1.6.0+cu102", "cuda", "10.2", "10.1", "418.87.00", 1, "driver_too_old", False, "before CUDA 11.1"),
        # newer major version than the driver: fails, in the words operators meet
        (
            "2.13.0+cu130",
            "cuda",
            "13.0",
            "12.4",
            "550.54.15",
            8,
            "driver_too_old",
            False,
            "torch 2.13.0+cu130 needs a driver for CUDA 13.0; this host's driver 550.54.15 supports CUDA 12.4",
        ),
        (
            "2.5.1+cu121",
            "cuda",
            "12.1",
            "11.8",
            "520.61.05",
            1,
            "driver_too_old",
            False,
            "needs a driver for CUDA 12.1",
        ),
        # CPU builds: a problem only on a host with GPUs
        ("2.13.0+cpu", "cpu", None, "12.4", "550.54.15", 8, "cpu_build", False, "CPU-only build; this host has 8 GPUs"),
        ("2.13.0+cpu", "cpu", None, None, None, 0, "not_applicable", None, "no GPU here"),
        ("2.5.1+rocm6.2", "rocm", None, "12.4", "550.54.15", 8, "rocm_build", False, "ROCm"),
        # a CUDA build without a driver answering
        ("2.5.1+cu124", "cuda", "12.4", None, None, 0, "no_driver", None, "no NVIDIA driver answered"),
        (None, None, None, "12.4", "550.54.15", 8, "not_applicable", None, "no torch"),
    ],
)
def test_cuda_compatibility(torch_version, build, cuda, driver_cuda, driver, gpus, status, ok, message):
    verdict = cuda_compatibility(torch_version, build, cuda, driver_cuda, driver, gpus)
    assert verdict["status"] == status, verdict
    assert verdict["ok"] is ok
    assert message in verdict["message"]
