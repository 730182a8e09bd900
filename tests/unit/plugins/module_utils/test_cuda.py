# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import shutil

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult, run_command

NVCC_10_2 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2019 NVIDIA Corporation
Built on Wed_Oct_23_19:24:38_PDT_2019
Cuda compilation tools, release 10.2, V10.2.89
"""
NVCC_11_8 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2022 NVIDIA Corporation
Built on Wed_Sep_21_10:33:58_PDT_2022
Cuda compilation tools, release 11.8, V11.8.89
Build cuda_11.8.r11.8/compiler.31833905_0
"""
NVCC_12_1 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2023 NVIDIA Corporation
Built on Mon_Apr__3_17:16:06_PDT_2023
Cuda compilation tools, release 12.1, V12.1.105
Build cuda_12.1.r12.1/compiler.32688072_0
"""
NVCC_12_4 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""
NVCC_13_0 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
"""


def version_json(version="12.4.1"):
    return json.dumps(
        {
            "cuda": {"name": "CUDA SDK", "version": version},
            "cuda_cudart": {"name": "CUDA Runtime (cudart)", "version": version.rsplit(".", 1)[0] + ".127"},
            "cuda_nvcc": {"name": "CUDA NVCC", "version": version.rsplit(".", 1)[0] + ".131"},
        },
        indent=3,
    )


# ---------------------------------------------------------------------------------------------------------------------
# parsers


@pytest.mark.parametrize(
    "text, release, build",
    [
        (NVCC_10_2, "10.2", "10.2.89"),
        (NVCC_11_8, "11.8", "11.8.89"),
        (NVCC_12_1, "12.1", "12.1.105"),
        (NVCC_12_4, "12.4", "12.4.131"),
        (NVCC_13_0, "13.0", "13.0.88"),
        ("Cuda compilation tools, release 12.10, V12.10.7", "12.10", "12.10.7"),
        ("/bin/sh: 1: nvcc: not found", None, None),
        ("", None, None),
        (None, None, None),
        ("Cuda compilation tools, release twelve", None, None),
    ],
)
def test_parse_nvcc_version(text, release, build):
    assert cuda.parse_nvcc_version(text) == release
    assert cuda.parse_nvcc_build_version(text) == build


@pytest.mark.parametrize(
    "text, expected",
    [
        ("CUDA Version 10.2.89\n", "10.2.89"),
        ("CUDA Version 11.0.228", "11.0.228"),
        ("CUDA Version 9.0.176\nCUDA Patch Version 9.0.176.1\n", "9.0.176"),
        ("  CUDA Version 10.1.243  \n", "10.1.243"),
        ("CUDA Version unknown\n", None),
        ("", None),
        ("\x00\x01garbage", None),
    ],
)
def test_parse_version_txt(text, expected):
    assert cuda.parse_version_txt(text) == expected


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        (version_json("12.4.1"), "12.4.1", None),
        (version_json("11.8.0"), "11.8.0", None),
        (version_json("13.0.2"), "13.0.2", None),
        ('{"cuda": {"name": "CUDA SDK", "version": " 12.1.1 "}}', "12.1.1", None),
        ('{"cuda_cudart": {"version": "12.4.127"}}', None, "no cuda.version entry"),
        ('{"cuda": {"version": 12.4}}', None, "no cuda.version entry"),
        ('{"cuda": {"version": "twelve"}}', None, "no cuda.version entry"),
        ('{"cuda": "12.4.1"}', None, "no cuda.version entry"),
        ('["cuda", "12.4.1"]', None, "no cuda.version entry"),
        ('{"cuda": {"version": "12.4.1"', None, "not valid JSON"),
        ("", None, "not valid JSON"),
    ],
)
def test_parse_version_json(text, expected, problem):
    assert cuda.parse_version_json(text) == expected
    version, detail = cuda.parse_version_json_detail(text)
    assert version == expected
    if problem is None:
        assert detail is None
    else:
        assert problem in detail


@pytest.mark.parametrize(
    "version, short",
    [("12.4.1", "12.4"), ("10.2.89", "10.2"), ("13.0", "13.0"), ("12", None), (None, None), ("", None)],
)
def test_short_version(version, short):
    assert cuda.short_version(version) == short


def test_version_key_orders_numerically():
    versions = ["12.10.0", "12.4.1", "9.2.148", "12.4.0", "11.8.0"]
    assert sorted(versions, key=cuda.version_key) == ["9.2.148", "11.8.0", "12.4.0", "12.4.1", "12.10.0"]


LDCONFIG_P = """1234 libs found in cache `/etc/ld.so.cache'
\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12
\tlibcudart.so.12 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudart.so.12
\tlibcudart.so (libc6,x86-64) => /usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so
\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
\tlibcuda.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcuda.so.1
\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
Cache generated by: ldconfig (GNU libc) stable release version 2.36
"""


def test_parse_ldconfig_cache():
    cache = cuda.parse_ldconfig_cache(LDCONFIG_P)
    assert cache["libcudart.so.12"] == [
        "/usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12",
        "/usr/lib/x86_64-linux-gnu/libcudart.so.12",
    ]
    assert cache["libc.so.6"] == ["/lib/x86_64-linux-gnu/libc.so.6"]
    assert set(cache) == {"libcudart.so.12", "libcudart.so", "libc.so.6", "libcuda.so.1"}


@pytest.mark.parametrize(
    "text, expected",
    [
        (LDCONFIG_P, 3),
        ("\tlibcuda.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcuda.so.1\n", 0),
        ("\tlibcudart_static.a (libc6,x86-64) => /x/libcudart_static.a\n", 0),
        ("\tlibcudart.so.11.0 (libc6,x86-64) => /usr/lib/libcudart.so.11.0\n", 1),
        ("", 0),
        ("garbage\n=>\n", 0),
    ],
)
def test_libcudart_in_cache(text, expected):
    assert len(cuda.libcudart_in_cache(cuda.parse_ldconfig_cache(text))) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0)", True),
        ("Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) )", True),
        ("Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075) (x86_64-linux-gnu-gcc-13)", False),
        ("", False),
        (None, False),
    ],
)
def test_is_wsl(text, expected):
    assert cuda.is_wsl(text) is expected


@pytest.mark.parametrize(
    "paths, n_errors",
    [
        (cuda.DEFAULT_CUDA_SEARCH_PATHS, 0),
        (["/opt/nvidia/cuda-*", "${CUDA_HOME}/targets", "$CUDA_ROOT"], 0),
        (["cuda"], 1),
        (["./cuda", "/ok", "~/cuda", "cuda-*"], 2),
        ([""], 1),
        ([None, 3], 2),
        ("/usr/local/cuda", 1),
    ],
)
def test_validate_search_paths(paths, n_errors):
    errors = cuda.validate_search_paths(paths)
    assert len(errors) == n_errors
    assert all(isinstance(error, str) and error for error in errors)


@pytest.mark.parametrize(
    "entry, environ, expected",
    [
        ("$CUDA_HOME", {"CUDA_HOME": "/opt/cuda-12.4/"}, "/opt/cuda-12.4"),
        ("${CUDA_HOME}/sub", {"CUDA_HOME": "/opt/x"}, "/opt/x/sub"),
        ("$CUDA_HOME", {}, None),
        ("$CUDA_HOME", {"CUDA_HOME": ""}, None),
        ("$CUDA_HOME", {"CUDA_HOME": "relative/cuda"}, None),
        ("/usr/local/cuda-*", {}, "/usr/local/cuda-*"),
        ("~/cuda-12.4", {"HOME": "/home/ops"}, "/home/ops/cuda-12.4"),
        ("~", {"HOME": "/home/ops"}, "/home/ops"),
        ("~/cuda", {}, None),
        ("~root/cuda", {}, os.path.expanduser("~root") + "/cuda"),
    ],
)
def test_expand_search_path(entry, environ, expected):
    assert cuda.expand_search_path(entry, environ) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ('#!/bin/sh\nexec /usr/local/cuda-13.0/bin/nvcc "$@"\n', "/usr/local/cuda-13.0/bin/nvcc"),
        ("#!/bin/bash\nexec '/opt/cuda/bin/nvcc' \"$@\"\n", "/opt/cuda/bin/nvcc"),
        ('#!/bin/sh\nexec /opt/cuda/bin/nvcc.real "$@"\n', None),
        ("\x7fELF\x02\x01\x01 /usr/local/cuda/bin/nvcc", None),
        ("", None),
    ],
)
def test_parse_nvcc_wrapper(text, expected):
    assert cuda.parse_nvcc_wrapper(text) == expected


# ---------------------------------------------------------------------------------------------------------------------
# synthetic toolkit trees


def _write(path, text="", mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def fake_nvcc(root, output):
    """An executable bin/nvcc that prints output, run for real through run_command."""
    return _write(root / "bin" / "nvcc", f"#!/bin/sh\ncat <<'EOF'\n{output}EOF\n", 0o755)


def make_toolkit(root, json_version=None, txt_version=None, nvcc_output=None, libcudart="lib64", nvvm=True):
    root.mkdir(parents=True, exist_ok=True)
    if json_version is not None:
        _write(root / "version.json", version_json(json_version))
    if txt_version is not None:
        _write(root / "version.txt", f"CUDA Version {txt_version}\n")
    if nvcc_output is not None:
        fake_nvcc(root, nvcc_output)
    if nvvm:
        (root / "nvvm" / "bin").mkdir(parents=True, exist_ok=True)
    target_lib = root / "targets" / "x86_64-linux" / "lib"
    target_lib.mkdir(parents=True)
    if libcudart == "lib64":
        (root / "lib64").symlink_to("targets/x86_64-linux/lib")
    if libcudart:
        _write(target_lib / "libcudart.so.12.4.127")
        (target_lib / "libcudart.so.12").symlink_to("libcudart.so.12.4.127")
        (target_lib / "libcudart.so").symlink_to("libcudart.so.12")
    return root


def ldconfig_runner(stdout=None):
    """Real runner for nvcc scripts; a canned `ldconfig -p` (rc 127 when stdout is None)."""

    def runner(argv, timeout=30, env=None, stdin_data=None):
        if os.path.basename(argv[0]) == "ldconfig":
            if stdout is None:
                return CommandResult(127, "", "not found")
            return CommandResult(0, stdout, "")
        return run_command(argv, timeout=timeout, env=env, stdin_data=stdin_data)

    return runner


def discover(tmp_path, search_paths, environ=None, path_env="", ldconfig="", **kwargs):
    kwargs.setdefault("default_link", str(tmp_path / "cuda"))
    kwargs.setdefault("proc_version_path", str(tmp_path / "no-proc-version"))
    kwargs.setdefault("wsl_lib_dir", str(tmp_path / "no-wsl"))
    # This machine's own /usr may hold a distribution toolkit; these tests look only at their own tree.
    kwargs.setdefault("system_prefix", str(tmp_path / "no-usr"))
    return cuda.discover_cuda(
        search_paths=search_paths,
        environ=environ or {},
        path_env=path_env,
        runner=ldconfig_runner(ldconfig),
        **kwargs,
    )


def test_read_toolkit_version_prefers_json_then_txt_then_nvcc(tmp_path):
    root = make_toolkit(tmp_path / "tk", json_version="12.4.1", txt_version="12.4.0", nvcc_output=NVCC_12_4)
    assert cuda.read_toolkit_version(str(root)) == ("12.4.1", "version.json")
    (root / "version.json").unlink()
    assert cuda.read_toolkit_version(str(root)) == ("12.4.0", "version.txt")
    (root / "version.txt").unlink()
    assert cuda.read_toolkit_version(str(root)) == ("12.4.131", "nvcc")
    (root / "bin" / "nvcc").unlink()
    assert cuda.read_toolkit_version(str(root)) == (None, None)


def test_read_toolkit_version_runs_nvcc_only_when_needed(tmp_path):
    root = make_toolkit(tmp_path / "tk", json_version="12.4.1", nvcc_output=NVCC_12_4)
    calls = []

    def runner(argv, timeout=30, env=None, stdin_data=None):
        calls.append(argv)
        return CommandResult(0, NVCC_12_4, "")

    assert cuda.read_toolkit_version(str(root), runner=runner) == ("12.4.1", "version.json")
    assert calls == []
    (root / "version.json").unlink()
    assert cuda.read_toolkit_version(str(root), runner=runner) == ("12.4.131", "nvcc")
    assert calls == [[str(root / "bin" / "nvcc"), "--version"]]


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(124, "", "nvcc timed out after 15s"),
        CommandResult(1, "", "nvcc: error while loading shared libraries"),
        CommandResult(0, "some other tool 1.0\n", ""),
    ],
)
def test_nvcc_failures_are_reported_not_raised(tmp_path, result):
    root = make_toolkit(tmp_path / "tk", nvcc_output=NVCC_12_4)
    toolkit = cuda.describe_toolkit(str(root), runner=lambda argv, timeout=30: result)
    assert toolkit["version"] is None
    assert toolkit["version_source"] is None
    assert f"bin/nvcc --version: rc {result.rc}" in toolkit["error"]


def test_discover_versions_aliases_and_default(tmp_path):
    make_toolkit(tmp_path / "cuda-10.2", txt_version="10.2.89", nvcc_output=NVCC_10_2)
    make_toolkit(tmp_path / "cuda-11.8", json_version="11.8.0")
    make_toolkit(tmp_path / "cuda-12.4", nvcc_output=NVCC_12_4, libcudart="targets-only")
    (tmp_path / "cuda").symlink_to("cuda-12.4")
    (tmp_path / "cuda-not-a-toolkit").mkdir()
    (tmp_path / "cuda-file").write_text("")

    result = discover(
        tmp_path,
        ["$CUDA_HOME", "$UNSET_VAR", str(tmp_path / "cuda"), str(tmp_path / "cuda-*")],
        environ={"CUDA_HOME": str(tmp_path / "cuda-11.8")},
    )

    toolkits = result["toolkits"]
    assert [tk["version"] for tk in toolkits] == ["10.2.89", "11.8.0", "12.4.131"]
    assert [tk["version_short"] for tk in toolkits] == ["10.2", "11.8", "12.4"]
    assert [tk["version_source"] for tk in toolkits] == ["version.txt", "version.json", "nvcc"]
    assert [tk["path"] for tk in toolkits] == [
        os.path.realpath(tmp_path / name) for name in ("cuda-10.2", "cuda-11.8", "cuda-12.4")
    ]
    assert toolkits[2]["aliases"] == [str(tmp_path / "cuda")]
    assert toolkits[0]["aliases"] == toolkits[1]["aliases"] == []
    assert toolkits[0]["nvcc"] == os.path.join(toolkits[0]["path"], "bin", "nvcc")
    assert toolkits[1]["nvcc"] is None
    assert toolkits[1]["bin_dir"] is None
    assert all(tk["error"] is None for tk in toolkits)
    assert result["default"] == toolkits[2]["path"]
    assert result["nvcc_on_path"] is False
    assert result["nvcc_path_resolved"] is None


def test_library_locations(tmp_path):
    lib64 = make_toolkit(tmp_path / "a", json_version="12.4.1")
    targets_only = make_toolkit(tmp_path / "b", json_version="12.1.1", libcudart="targets")
    no_lib = make_toolkit(tmp_path / "c", json_version="11.8.0", libcudart=None)
    (no_lib / "extras" / "CUPTI" / "lib64").mkdir(parents=True)
    broken = make_toolkit(tmp_path / "d", json_version="12.2.0", libcudart=None)
    (broken / "targets" / "x86_64-linux" / "lib" / "libcudart.so.12").symlink_to("missing.so")

    by_version = {tk["version"]: tk for tk in discover(tmp_path, [str(tmp_path / "*")])["toolkits"]}

    real = os.path.realpath
    assert by_version["12.4.1"]["libcudart"] == os.path.join(real(lib64), "lib64", "libcudart.so")
    assert by_version["12.4.1"]["lib_dirs"] == [
        os.path.join(real(lib64), "lib64"),
        os.path.join(real(lib64), "targets", "x86_64-linux", "lib"),
    ]
    assert by_version["12.1.1"]["libcudart"] == os.path.join(
        real(targets_only), "targets", "x86_64-linux", "lib", "libcudart.so"
    )
    assert by_version["12.1.1"]["lib_dirs"] == [os.path.join(real(targets_only), "targets", "x86_64-linux", "lib")]
    assert by_version["11.8.0"]["libcudart"] is None
    assert by_version["11.8.0"]["lib_dirs"][-1] == os.path.join(real(no_lib), "extras", "CUPTI", "lib64")
    assert by_version["12.2.0"]["libcudart"] is None


def test_odd_trees_never_raise(tmp_path, monkeypatch):
    # broken /usr/local/cuda-style symlink: skipped
    (tmp_path / "cuda").symlink_to("cuda-99.9")
    # broken bin/nvcc and nothing else: listed, with the reason
    (tmp_path / "cuda-broken" / "bin").mkdir(parents=True)
    (tmp_path / "cuda-broken" / "bin" / "nvcc").symlink_to("/nonexistent/nvcc")
    # garbage version.json, but nvcc works: version from nvcc, garbage reported
    garbage_json = make_toolkit(tmp_path / "cuda-garbage-json", nvcc_output=NVCC_12_1)
    _write(garbage_json / "version.json", "\x00\xff{not json")
    # garbage everything
    garbage_all = make_toolkit(tmp_path / "cuda-garbage-all")
    _write(garbage_all / "version.json", "[]")
    _write(garbage_all / "version.txt", "hello\n")
    # non-executable nvcc
    _write(tmp_path / "cuda-noexec" / "bin" / "nvcc", NVCC_11_8, 0o644)

    result = discover(tmp_path, [str(tmp_path / "cuda"), str(tmp_path / "cuda-*")])
    by_name = {os.path.basename(tk["path"]): tk for tk in result["toolkits"]}

    assert set(by_name) == {"cuda-broken", "cuda-garbage-json", "cuda-garbage-all", "cuda-noexec"}
    assert by_name["cuda-broken"]["version"] is None
    assert by_name["cuda-broken"]["nvcc"] is None
    assert "broken symlink" in by_name["cuda-broken"]["error"]
    assert by_name["cuda-garbage-json"]["version"] == "12.1.105"
    assert "version.json: not valid JSON" in by_name["cuda-garbage-json"]["error"]
    assert by_name["cuda-garbage-all"]["version"] is None
    assert "version.json: no cuda.version entry" in by_name["cuda-garbage-all"]["error"]
    assert "version.txt: no 'CUDA Version X.Y' line" in by_name["cuda-garbage-all"]["error"]
    assert by_name["cuda-noexec"]["nvcc"] is None
    # versionless toolkits sort last
    assert result["toolkits"][0]["version"] == "12.1.105"
    assert result["default"] is None

    # an unreadable version.json (cannot be made unreadable for root, so fake the read)
    real_read = cuda._read_text

    def unreadable(path):
        if path.endswith("version.json"):
            return None, "version.json: cannot read (Permission denied)"
        return real_read(path)

    monkeypatch.setattr(cuda, "_read_text", unreadable)
    toolkit = cuda.describe_toolkit(str(garbage_json))
    assert toolkit["version"] == "12.1.105"
    assert "Permission denied" in toolkit["error"]


def test_nvcc_on_path_symlink_gives_default(tmp_path):
    root = make_toolkit(tmp_path / "opt" / "cuda-12.4", json_version="12.4.1", nvcc_output=NVCC_12_4)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvcc").symlink_to(root / "bin" / "nvcc")

    result = discover(tmp_path, [str(tmp_path / "opt" / "cuda-*")], path_env=str(bin_dir))

    assert result["nvcc_on_path"] is True
    assert result["nvcc_path_resolved"] == str(bin_dir / "nvcc")
    assert result["default"] == os.path.realpath(root)


def test_nvcc_on_path_wrapper_script(tmp_path):
    root = make_toolkit(tmp_path / "opt" / "cuda-13.0", nvcc_output=NVCC_13_0)
    bin_dir = tmp_path / "usr" / "local" / "bin"
    _write(bin_dir / "nvcc", '#!/bin/sh\nexec %s "$@"\n' % (root / "bin" / "nvcc"), 0o755)

    # /usr/local/bin/nvcc must not make tmp/usr/local a toolkit of its own
    assert cuda.toolkit_of_nvcc(str(bin_dir / "nvcc")) == os.path.realpath(root)
    result = discover(tmp_path, [str(tmp_path / "opt" / "cuda-*")], path_env=str(bin_dir))
    assert [tk["path"] for tk in result["toolkits"]] == [os.path.realpath(root)]
    assert result["default"] == os.path.realpath(root)


def test_default_link_wins_over_path(tmp_path):
    make_toolkit(tmp_path / "cuda-12.4", json_version="12.4.1", nvcc_output=NVCC_12_4)
    other = make_toolkit(tmp_path / "cuda-11.8", json_version="11.8.0", nvcc_output=NVCC_11_8)
    (tmp_path / "cuda").symlink_to("cuda-12.4")
    result = discover(tmp_path, [str(tmp_path / "cuda-*")], path_env=str(other / "bin"))
    assert result["default"] == os.path.realpath(tmp_path / "cuda-12.4")
    assert result["nvcc_path_resolved"] == str(other / "bin" / "nvcc")


def test_path_toolkit_added_only_with_default_search_paths(tmp_path, monkeypatch):
    root = make_toolkit(tmp_path / "elsewhere" / "cuda", json_version="12.6.3", nvcc_output=NVCC_12_4)
    assert discover(tmp_path, [], path_env=str(root / "bin"))["toolkits"] == []
    monkeypatch.setattr(cuda, "DEFAULT_CUDA_SEARCH_PATHS", [str(tmp_path / "none-*")])
    result = discover(tmp_path, None, path_env=str(root / "bin"))
    assert [tk["path"] for tk in result["toolkits"]] == [os.path.realpath(root)]
    assert result["default"] == os.path.realpath(root)


def test_libcudart_resolvable(tmp_path):
    lib = _write(tmp_path / "lib" / "libcudart.so.12")
    present = f"\tlibcudart.so.12 (libc6,x86-64) => {lib}\n"
    stale = "\tlibcudart.so.12 (libc6,x86-64) => %s\n" % (tmp_path / "gone" / "libcudart.so.12")
    assert discover(tmp_path, [], ldconfig=present)["libcudart_resolvable"] is True
    assert discover(tmp_path, [], ldconfig=stale)["libcudart_resolvable"] is False
    assert discover(tmp_path, [], ldconfig="")["libcudart_resolvable"] is False
    assert discover(tmp_path, [], ldconfig=None)["libcudart_resolvable"] is None


def test_wsl(tmp_path):
    proc_version = _write(tmp_path / "proc-version", "Linux version 5.15.153.1-microsoft-standard-WSL2\n")
    (tmp_path / "wsl" / "lib").mkdir(parents=True)
    result = discover(tmp_path, [], proc_version_path=str(proc_version), wsl_lib_dir=str(tmp_path / "wsl" / "lib"))
    assert result["wsl"] is True
    assert result["wsl_lib_dir"] == str(tmp_path / "wsl" / "lib")
    result = discover(tmp_path, [])
    assert result["wsl"] is False
    assert result["wsl_lib_dir"] is None


# ---------------------------------------------------------------------------------------------------------------------
# select_toolkit


def _discovered(*versions, default=None):
    toolkits = [{"path": f"/usr/local/cuda-{v}" if v else "/opt/broken", "version": v} for v in versions]
    return {"toolkits": toolkits, "default": default}


@pytest.mark.parametrize(
    "want, expected",
    [
        ("latest", "12.10.0"),
        ("default", "11.8.0"),
        ("12", "12.10.0"),
        ("12.1", "12.1.1"),
        ("12.10", "12.10.0"),
        ("11.8.0", "11.8.0"),
        (" 12.4 ", "12.4.1"),
    ],
)
def test_select_toolkit(want, expected):
    discovered = _discovered("11.8.0", "12.1.0", "12.1.1", "12.4.1", "12.10.0", None, default="/usr/local/cuda-11.8.0")
    assert cuda.select_toolkit(discovered, want)["version"] == expected


@pytest.mark.parametrize(
    "discovered, want, fragment",
    [
        (_discovered("11.8.0", "12.4.1"), "12.1", "found: 11.8.0 (/usr/local/cuda-11.8.0), 12.4.1"),
        (_discovered("12.4.1"), "1", "CUDA 1 is not installed"),
        (_discovered("12.4.1"), "default", "no default CUDA toolkit"),
        (_discovered(None), "latest", "no CUDA toolkit with a readable version"),
        (_discovered(), "12.4", "found: none"),
        (_discovered("12.4.1"), "cuda12", "is not 'default', 'latest' or a version"),
    ],
)
def test_select_toolkit_errors(discovered, want, fragment):
    with pytest.raises(cuda.CudaSelectionError) as info:
        cuda.select_toolkit(discovered, want)
    assert fragment in str(info.value)


# ---------------------------------------------------------------------------------------------------------------------
# the real toolkit on this machine


REAL_TOOLKIT = "/usr/local/cuda-13.0"


def test_real_cuda_13_toolkit():
    if not os.path.isdir(REAL_TOOLKIT):
        pytest.skip(f"{REAL_TOOLKIT} is not installed on this host")
    result = cuda.discover_cuda()
    by_path = {tk["path"]: tk for tk in result["toolkits"]}
    toolkit = by_path.get(os.path.realpath(REAL_TOOLKIT))
    assert toolkit is not None, f"found only {sorted(by_path)}"
    assert toolkit["version"].startswith("13.0.")
    assert toolkit["version_short"] == "13.0"
    assert toolkit["version_source"] in ("version.json", "version.txt", "nvcc")
    assert toolkit["nvcc"] == os.path.join(toolkit["path"], "bin", "nvcc")
    assert toolkit["libcudart"] is not None and os.path.basename(toolkit["libcudart"]).startswith("libcudart.so")
    assert result["nvcc_on_path"] is (shutil.which("nvcc") is not None)
    if os.path.realpath("/usr/local/cuda") == toolkit["path"]:
        assert "/usr/local/cuda" in toolkit["aliases"]
        assert result["default"] == toolkit["path"]
    assert cuda.select_toolkit(result, "13.0")["path"] == toolkit["path"]

    # the classic trap: installed but not on PATH
    without_path = cuda.discover_cuda(path_env="")
    assert without_path["nvcc_on_path"] is False
    assert os.path.realpath(REAL_TOOLKIT) in [tk["path"] for tk in without_path["toolkits"]]


@pytest.mark.parametrize(
    "default, toolkits, expected",
    [
        # The default toolkit wins over a newer one (what a user gets is what gpu-burn is built with).
        ("/usr", [("/usr", "/usr/bin/nvcc"), ("/usr/local/cuda-13.0", "/usr/local/cuda-13.0/bin/nvcc")], "/usr"),
        # No default: the newest (discover_cuda lists them ascending).
        (
            None,
            [("/usr", "/usr/bin/nvcc"), ("/usr/local/cuda-13.0", "/usr/local/cuda-13.0/bin/nvcc")],
            "/usr/local/cuda-13.0",
        ),
        # A default without nvcc (a runtime-only install) does not count.
        ("/usr/local/cuda-13.0", [("/usr", "/usr/bin/nvcc"), ("/usr/local/cuda-13.0", None)], "/usr"),
        (None, [("/usr/local/cuda-12.4", None)], None),
    ],
)
def test_find_nvcc_picks_the_default_toolkit_else_the_newest(monkeypatch, default, toolkits, expected):
    listed = [{"path": path, "nvcc": nvcc} for path, nvcc in toolkits]
    monkeypatch.setattr(cuda, "discover_cuda", lambda **_kwargs: {"toolkits": listed, "default": default})
    nvcc, path = cuda.find_nvcc()
    assert path == expected
    assert nvcc == (dict(toolkits)[expected] if expected else None)
