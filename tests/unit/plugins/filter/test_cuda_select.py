# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.cuda_select import FilterModule, cuda_select


def _toolkit(version):
    short = ".".join(version.split(".")[:2])
    path = f"/usr/local/cuda-{short}"
    return {
        "path": path,
        "aliases": [],
        "version": version,
        "version_short": short,
        "nvcc": f"{path}/bin/nvcc",
        "libcudart": f"{path}/lib64/libcudart.so.{version.split('.')[0]}",
        "lib_dirs": [f"{path}/lib64"],
        "bin_dir": f"{path}/bin",
    }


def _facts(versions, default=None):
    return {
        "toolkits": [_toolkit(v) for v in versions],
        "default": f"/usr/local/cuda-{default}" if default else None,
        "nvcc_on_path": False,
        "libcudart_resolvable": False,
        "wsl": False,
        "wsl_lib_dir": None,
    }


@pytest.mark.parametrize(
    ("versions", "want", "expected"),
    [
        (["11.8.89", "12.4.131"], "12.4", "/usr/local/cuda-12.4"),
        (["11.8.89", "12.4.131"], "11.8", "/usr/local/cuda-11.8"),
        (["11.8.89", "12.1.105", "12.4.131"], "12", "/usr/local/cuda-12.4"),
        (["11.8.89", "12.4.131"], "latest", "/usr/local/cuda-12.4"),
        (["12.4.131", "11.8.89"], "latest", "/usr/local/cuda-12.4"),
        (["13.0.88"], " 13.0 ", "/usr/local/cuda-13.0"),
    ],
)
def test_selects_pinned_and_latest(versions, want, expected):
    assert cuda_select(_facts(versions), want)["path"] == expected


def test_default_follows_the_symlink_not_the_newest():
    facts = _facts(["11.8.89", "12.4.131"], default="11.8")
    assert cuda_select(facts)["path"] == "/usr/local/cuda-11.8"
    assert cuda_select(facts, "default")["version"] == "11.8.89"


def test_pin_does_not_match_a_longer_minor():
    with pytest.raises(AnsibleFilterError, match=r"CUDA 12\.1 is not installed"):
        cuda_select(_facts(["12.10.1"]), "12.1")


def test_missing_pin_lists_the_versions_found():
    with pytest.raises(AnsibleFilterError) as excinfo:
        cuda_select(_facts(["11.8.89", "12.4.131"]), "12.1")
    message = str(excinfo.value)
    assert "CUDA 12.1 is not installed" in message
    assert "11.8.89 (/usr/local/cuda-11.8)" in message
    assert "12.4.131 (/usr/local/cuda-12.4)" in message


@pytest.mark.parametrize(
    ("want", "message"),
    [
        ("12.4", "found: none"),
        ("latest", "no CUDA toolkit"),
        ("default", "no default CUDA toolkit"),
    ],
)
def test_none_found(want, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cuda_select(_facts([]), want)


def test_default_without_symlink_lists_the_versions_found():
    with pytest.raises(AnsibleFilterError, match=r"found: 11\.8\.89 \(/usr/local/cuda-11\.8\)"):
        cuda_select(_facts(["11.8.89"]), "default")


def test_bad_version_string():
    with pytest.raises(AnsibleFilterError, match="not 'default', 'latest'"):
        cuda_select(_facts(["12.4.131"]), "twelve")


def test_rejects_something_that_is_not_the_facts():
    with pytest.raises(AnsibleFilterError, match="expects"):
        cuda_select(["12.4"], "12.4")


def test_filter_module_exposes_cuda_select():
    assert FilterModule().filters()["cuda_select"] is cuda_select
