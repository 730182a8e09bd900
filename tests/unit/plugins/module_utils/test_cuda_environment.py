"""plan_cuda_environment, the cuda_environment filter and the cuda_env role's templates rendered from the plan.

The toolkits come from discover_cuda() on the trees of cuda_trees (Debian's layout, NVIDIA's, both); the templates are
the role's own files rendered with Ansible's templar, and the profile script is then run by a real sh.
"""

import os
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible_collections.gpufleet.nvidia.plugins.filter.cuda_environment import FilterModule, cuda_environment
from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_environment import (
    CudaEnvironmentError,
    plan_cuda_environment,
)
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.cuda_trees import (
    MULTIARCH,
    debian_cuda,
    debian_ldconfig,
    default_path,
    discover_under,
    link,
    nvidia_cuda,
)

try:  # ansible-core >= 2.19 renders only strings marked as trusted templates
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core

    def trust_as_template(text):
        return text


REPO = Path(__file__).resolve().parents[4]
TEMPLATES = REPO / "roles" / "cuda_env" / "templates"
SYSTEMD_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOME = "/usr/local/lib/gpufleet/cuda"


def test_defaults_and_vars_agree_with_these_tests():
    """The values these tests assume are the role's."""
    assert f"cuda_env_home_dir: {HOME}\n" in (REPO / "roles/cuda_env/defaults/main.yml").read_text()
    assert (
        f"_cuda_env_systemd_default_path: {SYSTEMD_DEFAULT_PATH}\n"
        in (REPO / "roles/cuda_env/vars/main.yml").read_text()
    )


# ---------------------------------------------------------------------------------------------------------------------
# the plan, on the real paths of a Debian host and of NVIDIA's layout

DEBIAN_TOOLKIT = {
    "path": "/usr",
    "aliases": ["/usr/lib/cuda"],
    "layout": "distribution",
    "version": "11.8.89",
    "version_short": "11.8",
    "version_source": "nvcc",
    "nvcc": "/usr/bin/nvcc",
    "libcudart": "/usr/lib/x86_64-linux-gnu/libcudart.so",
    "lib_dirs": ["/usr/lib/x86_64-linux-gnu"],
    "bin_dir": "/usr/bin",
    "include_dir": "/usr/include",
    "libdevice_dir": "/usr/lib/nvidia-cuda-toolkit/libdevice",
    "tools": ["/usr/bin/nvcc", "/usr/bin/ptxas", "/usr/bin/fatbinary"],
    "error": None,
}
NVIDIA_TOOLKIT = {
    "path": "/usr/local/cuda-12.4",
    "aliases": ["/usr/local/cuda"],
    "layout": "nvidia",
    "version": "12.4.1",
    "version_short": "12.4",
    "version_source": "version.json",
    "nvcc": "/usr/local/cuda-12.4/bin/nvcc",
    "libcudart": "/usr/local/cuda-12.4/lib64/libcudart.so",
    "lib_dirs": ["/usr/local/cuda-12.4/lib64", "/usr/local/cuda-12.4/targets/x86_64-linux/lib"],
    "bin_dir": "/usr/local/cuda-12.4/bin",
    "include_dir": "/usr/local/cuda-12.4/include",
    "libdevice_dir": "/usr/local/cuda-12.4/nvvm/libdevice",
    "tools": ["/usr/local/cuda-12.4/bin/nvcc"],
    "error": None,
}


def test_plan_for_the_distribution_toolkit():
    plan = plan_cuda_environment(DEBIAN_TOOLKIT, SYSTEMD_DEFAULT_PATH, HOME)
    assert plan["layout"] == "distribution"
    # /usr/bin is on the default PATH: nothing is prepended, services keep systemd's PATH in its order
    assert plan["path_prepend"] == []
    assert plan["service_path"] == SYSTEMD_DEFAULT_PATH
    # the multiarch directory is searched by the linker already
    assert plan["lib_dirs"] == ["/usr/lib/x86_64-linux-gnu"]
    assert plan["ld_conf_dirs"] == []
    assert plan["ld_library_path"] == []
    assert plan["cuda_home"] == HOME
    assert plan["home_links"] == [
        {"dest": f"{HOME}/bin/nvcc", "src": "/usr/bin/nvcc"},
        {"dest": f"{HOME}/bin/ptxas", "src": "/usr/bin/ptxas"},
        {"dest": f"{HOME}/bin/fatbinary", "src": "/usr/bin/fatbinary"},
        {"dest": f"{HOME}/include", "src": "/usr/include"},
        {"dest": f"{HOME}/lib64", "src": "/usr/lib/x86_64-linux-gnu"},
        {"dest": f"{HOME}/nvvm/libdevice", "src": "/usr/lib/nvidia-cuda-toolkit/libdevice"},
    ]
    assert plan["home_dirs"] == [HOME, f"{HOME}/bin", f"{HOME}/nvvm"]


def test_plan_for_an_nvidia_toolkit():
    plan = plan_cuda_environment(NVIDIA_TOOLKIT, SYSTEMD_DEFAULT_PATH, HOME)
    assert plan["layout"] == "nvidia"
    assert plan["path_prepend"] == ["/usr/local/cuda-12.4/bin"]
    assert plan["service_path"] == "/usr/local/cuda-12.4/bin:" + SYSTEMD_DEFAULT_PATH
    # lib64, not targets/x86_64-linux/lib it links to
    assert plan["lib_dirs"] == plan["ld_conf_dirs"] == plan["ld_library_path"] == ["/usr/local/cuda-12.4/lib64"]
    assert plan["cuda_home"] == "/usr/local/cuda-12.4"
    assert plan["home_links"] == plan["home_dirs"] == []
    assert plan["home_dir"] == HOME


@pytest.mark.parametrize("toolkit", [DEBIAN_TOOLKIT, NVIDIA_TOOLKIT], ids=["distribution", "nvidia"])
def test_wsl_driver_libraries_go_to_the_linker(toolkit):
    plan = plan_cuda_environment(toolkit, SYSTEMD_DEFAULT_PATH.split(":"), HOME, wsl_lib_dir="/usr/lib/wsl/lib")
    assert plan["ld_conf_dirs"][-1] == "/usr/lib/wsl/lib"
    assert "/usr/lib/wsl/lib" not in plan["ld_library_path"]


def test_plan_without_the_keys_of_older_facts_is_nvidia():
    old = {k: v for k, v in NVIDIA_TOOLKIT.items() if k not in ("layout", "include_dir", "libdevice_dir", "tools")}
    plan = plan_cuda_environment(old, SYSTEMD_DEFAULT_PATH, HOME)
    assert plan["cuda_home"] == "/usr/local/cuda-12.4"
    assert plan["ld_conf_dirs"] == ["/usr/local/cuda-12.4/lib64"]


def test_a_distribution_toolkit_without_tools_list_still_links_nvcc():
    toolkit = dict(DEBIAN_TOOLKIT, tools=[], libdevice_dir=None, include_dir=None)
    plan = plan_cuda_environment(toolkit, SYSTEMD_DEFAULT_PATH, HOME + "/")
    assert plan["home_links"] == [
        {"dest": f"{HOME}/bin/nvcc", "src": "/usr/bin/nvcc"},
        {"dest": f"{HOME}/lib64", "src": "/usr/lib/x86_64-linux-gnu"},
    ]


@pytest.mark.parametrize("home", ["cuda", "", None, "/", "/opt", "/opt/../cuda"])
def test_bad_home_dir(home):
    with pytest.raises(CudaEnvironmentError, match="CUDA home directory"):
        plan_cuda_environment(DEBIAN_TOOLKIT, SYSTEMD_DEFAULT_PATH, home)


def test_filter():
    assert FilterModule().filters()["cuda_environment"] is cuda_environment
    assert cuda_environment(DEBIAN_TOOLKIT, SYSTEMD_DEFAULT_PATH, HOME)["cuda_home"] == HOME
    with pytest.raises(AnsibleFilterError, match="cuda_environment: the CUDA home directory"):
        cuda_environment(DEBIAN_TOOLKIT, SYSTEMD_DEFAULT_PATH, "relative")
    with pytest.raises(AnsibleFilterError, match="expects one toolkit"):
        cuda_environment([DEBIAN_TOOLKIT], SYSTEMD_DEFAULT_PATH, HOME)
    with pytest.raises(AnsibleFilterError, match="a dict with a path"):
        cuda_environment({}, SYSTEMD_DEFAULT_PATH, HOME)


# ---------------------------------------------------------------------------------------------------------------------
# the role's templates, rendered from facts discovered on the fake trees


def render(template, toolkit, plan, bnb=""):
    variables = {
        "ansible_managed": "Ansible managed",
        "_cuda_env_toolkit": toolkit,
        "_cuda_env_plan": plan,
        "cuda_env_bnb_cuda_version": bnb,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template((TEMPLATES / template).read_text()))


def rendered_files(toolkit, root):
    plan = plan_cuda_environment(toolkit, default_path(root), str(root / "usr/local/lib/gpufleet/cuda"))
    return plan, {
        name: render(template, toolkit, plan)
        for name, template in (
            ("profile", "etc/profile.d/gpufleet-cuda.sh.j2"),
            ("ld_conf", "etc/ld.so.conf.d/gpufleet-cuda.conf.j2"),
            ("env", "etc/gpufleet/cuda.env.j2"),
        )
    }


def login_env(profile, tmp_path, path, ld_library_path=None, times=1):
    """PATH, LD_LIBRARY_PATH and CUDA_HOME after sourcing the profile script times times, in a real sh."""
    script = tmp_path / "gpufleet-cuda.sh"
    script.write_text(profile)
    env = {"PATH": path}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = ld_library_path
    sources = " ".join([f". {script};"] * times)
    out = subprocess.run(
        ["/bin/sh", "-c", f'{sources} printf "%s\\n" "$PATH" "${{LD_LIBRARY_PATH-unset}}" "$CUDA_HOME"'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return dict(zip(("PATH", "LD_LIBRARY_PATH", "CUDA_HOME"), out))


def env_file(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_distribution_toolkit_rendered(tmp_path):
    usr = debian_cuda(tmp_path)
    toolkit = discover_under(tmp_path)["toolkits"][0]
    plan, files = rendered_files(toolkit, tmp_path)
    home = str(tmp_path / "usr/local/lib/gpufleet/cuda")

    # login shells: PATH exactly as it was (not /usr/bin moved ahead of /usr/local/bin), no LD_LIBRARY_PATH
    user_path = f"{tmp_path}/usr/local/bin:{usr}/bin:{tmp_path}/bin:{tmp_path}/usr/games"
    env = login_env(files["profile"], tmp_path, user_path, times=2)
    assert env == {"PATH": user_path, "LD_LIBRARY_PATH": "unset", "CUDA_HOME": home}
    assert "PATH=" not in files["profile"].replace("CUDA_HOME=", "")
    subprocess.run(["/bin/sh", "-n", str(tmp_path / "gpufleet-cuda.sh")], check=True)

    # services: systemd's PATH is not overridden, no LD_LIBRARY_PATH, CUDA_HOME is the home of links
    assert env_file(files["env"]) == {"CUDA_HOME": f'"{home}"'}

    # the linker: nothing to add (the multiarch directory is searched already), so no directory at all
    assert [line for line in files["ld_conf"].splitlines() if line and not line.startswith("#")] == []
    assert plan["ld_conf_dirs"] == []
    assert str(tmp_path / MULTIARCH) not in files["ld_conf"]
    assert "lib64" not in files["ld_conf"]


def test_mixed_host_with_12_4_chosen_rendered(tmp_path):
    debian_cuda(tmp_path)
    home = nvidia_cuda(tmp_path)
    link(tmp_path / "usr" / "local" / "cuda", "cuda-12.4")
    result = discover_under(tmp_path, ldconfig=debian_ldconfig(tmp_path))
    toolkit = cuda.select_toolkit(result, "12.4")
    plan, files = rendered_files(toolkit, tmp_path)

    # 12.4's bin goes in front (it is not on the default PATH); the rest keeps its order
    system = default_path(tmp_path)
    env = login_env(files["profile"], tmp_path, system, ld_library_path="/opt/app/lib", times=2)
    assert env["PATH"] == f"{home}/bin:{system}"
    assert env["LD_LIBRARY_PATH"] == f"{home}/lib64:/opt/app/lib"
    assert env["CUDA_HOME"] == str(home)

    assert env_file(files["env"]) == {
        "CUDA_HOME": f'"{home}"',
        "PATH": f'"{home}/bin:{system}"',
        "LD_LIBRARY_PATH": f'"{home}/lib64"',
    }
    assert [line for line in files["ld_conf"].splitlines() if not line.startswith("#")] == [f"{home}/lib64"]
    assert plan["home_links"] == []


def test_mixed_host_with_the_distribution_chosen_rendered(tmp_path):
    usr = debian_cuda(tmp_path)
    nvidia_cuda(tmp_path)
    link(tmp_path / "usr" / "local" / "cuda", "cuda-12.4")
    toolkit = cuda.select_toolkit(discover_under(tmp_path), "11.8")
    plan, files = rendered_files(toolkit, tmp_path)
    system = default_path(tmp_path)
    assert login_env(files["profile"], tmp_path, system)["PATH"] == system
    assert plan["cuda_home"] == str(tmp_path / "usr/local/lib/gpufleet/cuda")
    assert {link["src"] for link in plan["home_links"]} >= {
        str(usr / "bin" / "nvcc"),
        str(usr / "include"),
        str(tmp_path / MULTIARCH),
    }


def test_the_cuda_home_of_links_works_for_builds(tmp_path):
    """$CUDA_HOME/bin/nvcc runs, include/cuda_runtime.h and lib64/libcudart.so* are there (what PyTorch reads)."""
    debian_cuda(tmp_path)
    toolkit = discover_under(tmp_path)["toolkits"][0]
    plan, _files = rendered_files(toolkit, tmp_path)
    for directory in plan["home_dirs"]:
        os.makedirs(directory)
    for home_link in plan["home_links"]:
        os.symlink(home_link["src"], home_link["dest"])
    home = Path(plan["cuda_home"])

    version = subprocess.run([str(home / "bin" / "nvcc"), "--version"], capture_output=True, text=True, check=True)
    assert "release 11.8, V11.8.89" in version.stdout
    assert (home / "include" / "cuda_runtime.h").is_file()
    assert sorted(p.name for p in (home / "lib64").glob("libcudart.so*")) == [
        "libcudart.so",
        "libcudart.so.11.0",
        "libcudart.so.11.8.89",
    ]
    assert (home / "nvvm" / "libdevice" / "libdevice.10.bc").is_file()
    # only CUDA's programs: a PATH=$CUDA_HOME/bin:$PATH does not shadow the rest of /usr/bin
    assert not (home / "bin" / "python3").exists()
    assert (home / "bin" / "ptxas").exists()
