"""discover_cuda on CUDA installed by the distribution (Debian/Ubuntu nvidia-cuda-toolkit), alone and next to NVIDIA's.

The trees are built by cuda_trees (test doubles for the binaries, real paths, links and wrapper text).
"""

import os

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_environment import plan_cuda_environment
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.cuda_trees import (
    MULTIARCH,
    debian_cuda,
    debian_ldconfig,
    default_path,
    discover_under,
    link,
    nvidia_cuda,
)


def only(result):
    assert len(result["toolkits"]) == 1, [tk["path"] for tk in result["toolkits"]]
    return result["toolkits"][0]


def test_debian_layout(tmp_path):
    usr = debian_cuda(tmp_path)
    result = discover_under(tmp_path)
    toolkit = only(result)

    assert toolkit["path"] == str(usr)
    assert toolkit["layout"] == "distribution"
    assert (toolkit["version"], toolkit["version_short"], toolkit["version_source"]) == ("11.8.89", "11.8", "nvcc")
    # the wrapper on PATH, which runs /usr/lib/nvidia-cuda-toolkit/bin/nvcc
    assert toolkit["nvcc"] == str(usr / "bin" / "nvcc")
    assert toolkit["bin_dir"] == str(usr / "bin")
    # the real multiarch directory (ldconfig names it /lib/x86_64-linux-gnu on a merged /usr), not /usr/lib64
    assert toolkit["lib_dirs"] == [str(tmp_path / MULTIARCH)]
    assert toolkit["libcudart"] == str(tmp_path / MULTIARCH / "libcudart.so")
    assert all(os.path.isdir(d) for d in toolkit["lib_dirs"])
    assert toolkit["include_dir"] == str(usr / "include")
    assert toolkit["libdevice_dir"] == str(usr / "lib" / "nvidia-cuda-toolkit" / "libdevice")
    names = [os.path.basename(tool) for tool in toolkit["tools"]]
    assert names == [
        "bin2c",
        "cu++filt",
        "cudafe++",
        "cuobjdump",
        "fatbinary",
        "nvcc",
        "nvdisasm",
        "nvlink",
        "nvprune",
        "ptxas",
    ]
    assert all(os.path.dirname(tool) == str(usr / "bin") for tool in toolkit["tools"])
    # /usr/lib/cuda (empty bin/) is not a second toolkit
    assert toolkit["aliases"] == [str(usr / "lib" / "cuda")]
    assert toolkit["error"] is None

    assert result["default"] == str(usr)
    assert result["nvcc_on_path"] is True
    assert result["nvcc_path_resolved"] == str(usr / "bin" / "nvcc")
    assert result["libcudart_resolvable"] is True
    assert cuda.select_toolkit(result, "default") is toolkit
    assert cuda.select_toolkit(result, "11.8") is toolkit


@pytest.mark.parametrize(
    "ldconfig",
    [
        pytest.param("debian", id="linker-cache"),
        pytest.param(None, id="no-ldconfig"),
        pytest.param("", id="empty-cache"),
        pytest.param("\tlibcudart.so.11.0 (libc6,x86-64) => /gone/libcudart.so.11.0\n", id="stale-cache"),
    ],
)
def test_debian_libraries_found_with_or_without_the_linker_cache(tmp_path, ldconfig):
    debian_cuda(tmp_path)
    toolkit = only(discover_under(tmp_path, ldconfig=ldconfig))
    assert toolkit["lib_dirs"] == [str(tmp_path / MULTIARCH)]
    assert toolkit["libcudart"] == str(tmp_path / MULTIARCH / "libcudart.so")


def test_debian_without_the_development_link(tmp_path):
    debian_cuda(tmp_path, dev=False)
    ldconfig = "\tlibcudart.so.11.0 (libc6,x86-64) => %s/lib/x86_64-linux-gnu/libcudart.so.11.0\n" % tmp_path
    toolkit = only(discover_under(tmp_path, ldconfig=ldconfig))
    assert toolkit["libcudart"] == str(tmp_path / MULTIARCH / "libcudart.so.11.0")
    assert toolkit["lib_dirs"] == [str(tmp_path / MULTIARCH)]


def test_debian_libraries_missing_are_not_invented(tmp_path):
    debian_cuda(tmp_path)
    for name in ("libcudart.so", "libcudart.so.11.0", "libcudart.so.11.8.89"):
        (tmp_path / MULTIARCH / name).unlink()
    toolkit = only(discover_under(tmp_path, ldconfig=None))
    assert toolkit["lib_dirs"] == []
    assert toolkit["libcudart"] is None


def test_nvcc_not_on_path_still_finds_the_distribution_toolkit(tmp_path):
    usr = debian_cuda(tmp_path)
    result = discover_under(tmp_path, path_env="")
    assert only(result)["path"] == str(usr)
    assert result["nvcc_on_path"] is False
    # no /usr/local/cuda and no nvcc on PATH: nothing is the default
    assert result["default"] is None


def test_searching_usr_lib_cuda_gives_the_distribution_toolkit(tmp_path):
    usr = debian_cuda(tmp_path)
    result = discover_under(tmp_path, search_paths=[str(usr / "lib" / "cuda")], path_env="")
    toolkit = only(result)
    assert toolkit["path"] == str(usr)
    assert toolkit["aliases"] == [str(usr / "lib" / "cuda")]


def test_older_ubuntu_compat_tree_with_version_txt_is_still_an_alias(tmp_path):
    usr = debian_cuda(tmp_path, compat_version_txt="11.8.89")
    toolkit = only(discover_under(tmp_path))
    assert toolkit["path"] == str(usr)
    assert str(usr / "lib" / "cuda") in toolkit["aliases"]


def test_cuda_home_set_to_usr_is_the_same_toolkit(tmp_path):
    usr = debian_cuda(tmp_path)
    toolkit = only(discover_under(tmp_path, environ={"CUDA_HOME": str(usr)}))
    assert toolkit["path"] == str(usr)


def test_the_cuda_home_of_links_is_an_alias_not_a_second_toolkit(tmp_path):
    """After the role ran, CUDA_HOME points at its home of links; gathering facts again must not change them."""
    debian_cuda(tmp_path)
    before = discover_under(tmp_path)
    plan = plan_cuda_environment(only(before), default_path(tmp_path), str(tmp_path / "opt" / "gpufleet" / "cuda"))
    for directory in plan["home_dirs"]:
        os.makedirs(directory, exist_ok=True)
    for home_link in plan["home_links"]:
        os.symlink(home_link["src"], home_link["dest"])

    after = discover_under(tmp_path, environ={"CUDA_HOME": plan["cuda_home"]})
    toolkit = only(after)
    assert toolkit["aliases"] == [plan["cuda_home"], *only(before)["aliases"]]
    assert {k: v for k, v in toolkit.items() if k != "aliases"} == {
        k: v for k, v in only(before).items() if k != "aliases"
    }


def test_wrapper_on_path_belongs_to_usr(tmp_path):
    usr = debian_cuda(tmp_path)
    assert cuda.toolkit_of_nvcc(str(usr / "bin" / "nvcc")) == str(usr)
    assert cuda.distribution_toolkit_root(str(usr)) == str(usr)
    assert cuda.distribution_toolkit_root(str(tmp_path / "elsewhere")) is None


def test_usr_bin_nvcc_linking_into_an_nvidia_toolkit_is_not_a_distribution_toolkit(tmp_path):
    home = nvidia_cuda(tmp_path)
    (tmp_path / "usr" / "include").mkdir(parents=True)
    link(tmp_path / "usr" / "bin" / "nvcc", home / "bin" / "nvcc")
    assert cuda.distribution_toolkit_root(str(tmp_path / "usr")) is None
    result = discover_under(tmp_path, ldconfig="")
    assert [tk["path"] for tk in result["toolkits"]] == [str(home)]
    assert result["toolkits"][0]["layout"] == "nvidia"
    assert result["default"] == str(home)


@pytest.mark.parametrize(
    "directory, expected",
    [
        ("usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"),
        ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"),  # merged /usr
        ("usr/lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"),
        ("usr/lib/arm-linux-gnueabihf", "usr/lib/arm-linux-gnueabihf"),
        ("usr/lib64", "usr/lib64"),
        ("usr/lib", "usr/lib"),
        ("usr/lib/x86_64-linux-gnu/stubs", None),
        ("usr/lib/nvidia-cuda-toolkit", None),
        ("usr/lib/cuda", None),
        ("usr/local/cuda-12.4/lib64", None),
        ("usr/local/lib/x86_64-linux-gnu", None),
    ],
)
def test_system_lib_dir(tmp_path, directory, expected):
    debian_cuda(tmp_path)
    for name in ("usr/lib/aarch64-linux-gnu", "usr/lib/arm-linux-gnueabihf", "usr/local/lib/x86_64-linux-gnu"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    found = cuda.system_lib_dir(str(tmp_path / directory), str(tmp_path / "usr"))
    assert found == (str(tmp_path / expected) if expected else None)


# ---------------------------------------------------------------------------------------------------------------------
# Debian's toolkit next to NVIDIA's /usr/local/cuda-12.4


@pytest.fixture
def mixed(tmp_path):
    """(root, usr, cuda-12.4): Debian's 11.8 and NVIDIA's 12.4, whose .deb put its lib into the linker's path."""
    usr = debian_cuda(tmp_path)
    home = nvidia_cuda(tmp_path)
    lib = home / "targets" / "x86_64-linux" / "lib"
    extra = (
        f"\tlibcudart.so.12 (libc6,x86-64) => {lib}/libcudart.so.12\n"
        f"\tlibcudart.so (libc6,x86-64) => {lib}/libcudart.so\n"
    )
    return tmp_path, usr, home, debian_ldconfig(tmp_path, extra)


def test_mixed_host_lists_both_toolkits(mixed):
    root, usr, home, ldconfig = mixed
    result = discover_under(root, ldconfig=ldconfig)
    distribution, nvidia = result["toolkits"]
    assert (distribution["path"], distribution["layout"], distribution["version"]) == (
        str(usr),
        "distribution",
        "11.8.89",
    )
    assert (nvidia["path"], nvidia["layout"], nvidia["version"]) == (str(home), "nvidia", "12.4.1")
    # each keeps its own libraries: the NVIDIA toolkit's cache entries are not the distribution's
    assert distribution["lib_dirs"] == [str(root / MULTIARCH)]
    assert nvidia["lib_dirs"] == [str(home / "lib64"), str(home / "targets" / "x86_64-linux" / "lib")]
    assert nvidia["libcudart"] == str(home / "lib64" / "libcudart.so")
    assert nvidia["include_dir"] == str(home / "include")
    assert nvidia["libdevice_dir"] == str(home / "nvvm" / "libdevice")
    assert nvidia["aliases"] == []


@pytest.mark.parametrize(
    "want, usr_local_cuda_link, expected",
    [
        ("default", True, "nvidia"),  # /usr/local/cuda -> cuda-12.4 wins over /usr/bin/nvcc on PATH
        ("default", False, "distribution"),  # no link: the nvcc on PATH, /usr/bin/nvcc
        ("latest", False, "nvidia"),
        ("12.4", False, "nvidia"),
        ("12", True, "nvidia"),
        ("11.8", True, "distribution"),
        ("11", True, "distribution"),
    ],
)
def test_mixed_host_selection(mixed, want, usr_local_cuda_link, expected):
    root, usr, home, ldconfig = mixed
    if usr_local_cuda_link:
        link(root / "usr" / "local" / "cuda", "cuda-12.4")
    result = discover_under(root, ldconfig=ldconfig)
    chosen = cuda.select_toolkit(result, want)
    assert chosen["layout"] == expected
    assert chosen["path"] == (str(home) if expected == "nvidia" else str(usr))
    if usr_local_cuda_link:
        assert str(root / "usr" / "local" / "cuda") in result["toolkits"][1]["aliases"]


def test_mixed_host_missing_version_lists_both(mixed):
    root, usr, home, ldconfig = mixed
    with pytest.raises(cuda.CudaSelectionError) as info:
        cuda.select_toolkit(discover_under(root, ldconfig=ldconfig), "12.1")
    assert f"11.8.89 ({usr})" in str(info.value)
    assert f"12.4.1 ({home})" in str(info.value)
