"""gpu_facts through the real `ansible` CLI against this machine (no GPU; a real CUDA toolkit may be installed).

Runs `ansible localhost -m gpufleet.nvidia.gpu_facts` the way an operator does, with the checkout's ansible.cfg,
and checks the answers against what this host really has: the CUDA toolkit under /usr/local/cuda-*, nvcc on PATH
or not as PATH says, and a venv with the CPU build of PyTorch (.build/torch-venv, made by hack/torch-venv.sh).
"""

import glob
import json
import os
import shutil
import subprocess

import pytest
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, TORCH_PYTHON, VENV_BIN, ansible_env


def run_gpu_facts(args, path_env=None, check_mode=False):
    """ansible_facts.gpu from `ansible localhost -m gpufleet.nvidia.gpu_facts -a ARGS` (json callback)."""
    env = ansible_env(json_output=True, path_env=path_env)
    argv = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "gpufleet.nvidia.gpu_facts", "-a", args]
    if check_mode:
        argv.append("--check")
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is False
    return result["ansible_facts"]["gpu"]


def run_gpu_facts_expecting_failure(args):
    """The completed `ansible localhost -m gpufleet.nvidia.gpu_facts -a ARGS`, which must fail."""
    env = ansible_env()
    argv = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "gpufleet.nvidia.gpu_facts", "-a", args]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc


def real_toolkits():
    return sorted(p for p in glob.glob("/usr/local/cuda-*") if os.path.isfile(os.path.join(p, "bin", "nvcc")))


def test_no_gpu_here_is_a_normal_answer():
    gpu = run_gpu_facts("gather_subset=nvml")
    assert gpu["present"] is False
    assert gpu["count"] == 0
    assert gpu["source"] == "none"
    assert gpu["devices"] == []
    assert "NVML" in gpu["error"]


def test_fail_on_missing_gpu_fails_with_the_reason():
    proc = run_gpu_facts_expecting_failure("gather_subset=nvml fail_on_missing_gpu=true")
    assert "No NVIDIA GPU found" in proc.stdout


@pytest.mark.skipif(not real_toolkits(), reason="no CUDA toolkit under /usr/local/cuda-* on this machine")
@pytest.mark.parametrize("nvcc_dir_on_path", [True, False])
def test_real_cuda_toolkit_is_found_and_nvcc_on_path_follows_path(nvcc_dir_on_path):
    toolkit = real_toolkits()[-1]
    path_env = "/usr/sbin:/usr/bin:/sbin:/bin"
    if nvcc_dir_on_path:
        path_env = os.path.join(toolkit, "bin") + os.pathsep + path_env
    cuda = run_gpu_facts("gather_subset=cuda", path_env=path_env)["cuda"]
    found = {t["path"]: t for t in cuda["toolkits"]}
    assert os.path.realpath(toolkit) in found, cuda
    entry = found[os.path.realpath(toolkit)]
    assert entry["version"].startswith(os.path.basename(toolkit)[len("cuda-") :]), entry
    assert entry["nvcc"] == os.path.join(os.path.realpath(toolkit), "bin", "nvcc")
    assert cuda["nvcc_on_path"] is nvcc_dir_on_path
    expected_default = os.path.realpath("/usr/local/cuda") if os.path.exists("/usr/local/cuda") else None
    if expected_default:
        assert cuda["default"] == expected_default


@pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (make integration does)")
def test_torch_probe_reports_the_cpu_build_in_a_venv():
    gpu = run_gpu_facts("gather_subset=torch torch_python=%s torch_timeout=120" % TORCH_PYTHON)
    (entry,) = gpu["torch"]
    assert entry["error"] is None, entry
    assert entry["python"] == TORCH_PYTHON
    assert entry["torch_installed"] is True
    assert entry["torch_version"].startswith("2.13.0"), entry
    assert entry["cuda_available"] is False
    assert entry["device_count"] == 0
    assert entry["smoke"]["ok"] is None


def test_check_mode_returns_the_same_facts():
    assert (
        run_gpu_facts("gather_subset=nvml,cuda", check_mode=True)["cuda"]
        == run_gpu_facts("gather_subset=nvml,cuda")["cuda"]
    )


def test_unknown_subset_fails_naming_the_option():
    proc = run_gpu_facts_expecting_failure("gather_subset=nvml,gpus")
    assert "gather_subset" in proc.stdout and "gpus" in proc.stdout


def test_shutil_which_agrees_about_nvcc_on_the_callers_path():
    cuda = run_gpu_facts("gather_subset=cuda")["cuda"]
    assert cuda["nvcc_on_path"] is (shutil.which("nvcc", path=VENV_BIN + os.pathsep + os.environ["PATH"]) is not None)


MERGE_PLAY = """
- name: Gather in steps, as site.yml and its roles do
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The play's gather
      gpufleet.nvidia.gpu_facts:
        gather_subset: [nvml]
    - name: A role that needs cuda too
      gpufleet.nvidia.gpu_facts:
        gather_subset: [nvml, cuda]
        refresh: false
      register: second
    - name: A role that needs what the play has
      gpufleet.nvidia.gpu_facts:
        gather_subset: [nvml, cuda]
        refresh: false
      register: third
    - name: Show the facts
      ansible.builtin.debug:
        var: ansible_facts['gpu']
"""


def test_gathers_merge_and_a_held_subset_is_not_gathered_again(tmp_path):
    """The action plugin: a second gather adds its subset to the first one; a third needing nothing new runs nothing."""
    playbook = tmp_path / "merge.yml"
    playbook.write_text(MERGE_PLAY)
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), str(playbook)],  # the implicit localhost, as `ansible localhost`
        cwd=REPO,
        env=ansible_env(json_output=True),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tasks = [task["hosts"]["localhost"] for task in json.loads(proc.stdout)["plays"][0]["tasks"]]
    first, second, third, shown = tasks
    assert first["ansible_facts"]["gpu"]["gather_subset"] == ["nvml"]
    assert second["gathered"] == ["cuda"]  # nvml was held: only cuda ran on the host
    gpu = shown["ansible_facts['gpu']"]
    assert gpu["gather_subset"] == ["cuda", "nvml"]
    assert gpu["present"] is False and "toolkits" in gpu["cuda"]  # both subsets held after the merge
    assert gpu["gathered"]["nvml"] == first["ansible_facts"]["gpu"]["gathered"]["nvml"]  # not gathered again
    assert third["gathered"] == [] and "ansible_facts" not in third  # nothing missing: the module did not run
