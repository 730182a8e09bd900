"""The cuda_env role through the real `ansible-playbook` CLI on this machine, with every file it writes moved under a
temporary root.

The host's CUDA is Debian's nvidia-cuda-toolkit layout (and NVIDIA's /usr/local/cuda-12.4 next to it) built by
tests/unit/plugins/module_utils/cuda_trees.py under that root. The role's paths (/etc/profile.d/...,
/etc/ld.so.conf.d/..., /etc/gpufleet/cuda.env, the systemd marker) are its vars, overridden with -e.

TEST DOUBLES, labelled, first on the PATH the play runs with:
- the facts are those discover_cuda() finds under the root, handed to the play by a tiny module of the test
  (gpu_facts cannot be pointed at another root);
- `ldconfig` records that it ran, and `ldconfig -p` lists the libcudart of the directories the rendered
  ld.so.conf.d file names plus the root's multiarch directory (the real one would rebuild this machine's cache);
- `bash -lc CMD` is a login shell of the root: systemd's default PATH under the root (then this machine's /usr/bin
  and /bin for ls and cat), then the rendered profile script (a real login shell reads this machine's /etc/profile).
Everything else is real, verify.yml (the cuda_env_check module) included: the templates, the CUDA home of links,
idempotence, check mode, the task budget of an idempotent run, every --tags/--skip-tags selection, and the early
failure for cuda_env_services on a host without systemd (molecule/cuda_env and molecule/real_userland run the role on
real nodes). After a run that changed something the role gathers the cuda facts again with the real gpu_facts, which
sees this machine rather than the fake root; it is the role's last task, so nothing decides from them.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, VENV_BIN, ansible_env
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.cuda_trees import (
    MULTIARCH,
    debian_cuda,
    debian_ldconfig,
    default_path,
    discover_under,
    link,
    nvidia_cuda,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files (run as root)")

FACTS_MODULE = """#!/usr/bin/python
# Test double for gpu_facts on a fake root: returns the CUDA facts discover_cuda() found there.
import json
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={"path": {"type": "path", "required": True}}, supports_check_mode=True)
with open(module.params["path"]) as handle:
    module.exit_json(changed=False, ansible_facts={"gpu": {"cuda": json.load(handle), "gather_subset": ["cuda"]}})
"""

PLAYBOOK = """---
- name: The cuda_env role on a fake root
  hosts: all
  gather_facts: false
  pre_tasks:
    - name: Load the CUDA facts of the fake root
      gpufleet_test_cuda_facts:
        path: "{{ test_facts_file }}"
      tags: [always]
  roles:
    - role: gpufleet.nvidia.cuda_env
"""


class Host:
    """A fake root with the role's files redirected into it, and a way to run the role there."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.root.mkdir()
        for directory in ("etc/profile.d", "etc/ld.so.conf.d"):
            (self.root / directory).mkdir(parents=True)
        self.profile = self.root / "etc/profile.d/gpufleet-cuda.sh"
        self.ld_conf = self.root / "etc/ld.so.conf.d/gpufleet-cuda.conf"
        self.env_file = self.root / "etc/gpufleet/cuda.env"
        self.local_fact = self.root / "etc/ansible/facts.d/gpufleet.fact"
        self.home = self.root / "usr/local/lib/gpufleet/cuda"
        self.ldconfig_log = tmp_path / "ldconfig.log"
        self.ldconfig = ""

        (tmp_path / "library").mkdir()
        (tmp_path / "library" / "gpufleet_test_cuda_facts.py").write_text(FACTS_MODULE)
        (tmp_path / "play.yml").write_text(PLAYBOOK)
        fake_bin = tmp_path / "bin"
        fake_bin.mkdir()
        multiarch = self.root / MULTIARCH
        ldconfig = fake_bin / "ldconfig"
        ldconfig.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = -p ]; then\n'
            f"  for dir in $(grep -v '^#' {self.ld_conf} 2>/dev/null) {multiarch}; do\n"
            '    for lib in "$dir"/libcudart.so*; do\n'
            '      [ -e "$lib" ] && printf "\\t%s (libc6,x86-64) => %s\\n" "${lib##*/}" "$lib"\n'
            "    done\n"
            "  done\n"
            "  exit 0\n"
            "fi\n"
            f'echo "ldconfig $*" >> {self.ldconfig_log}\n'
        )
        ldconfig.chmod(0o755)
        bash = fake_bin / "bash"
        bash.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = -lc ]; then\n'
            # the root's default PATH, then this machine's for ls and cat
            f"  PATH={default_path(self.root)}:/usr/bin:/bin; export PATH\n"
            f'  exec /bin/bash --noprofile --norc -c ". {self.profile}; $2"\n'
            "fi\n"
            'exec /bin/bash "$@"\n'
        )
        bash.chmod(0o755)
        self.path_env = f"{fake_bin}:{os.environ.get('PATH', '')}"

    def facts(self):
        return discover_under(self.root, ldconfig=self.ldconfig)

    def run(self, check=False, args=(), **role_vars):
        facts_file = self.tmp / "facts.json"
        facts_file.write_text(json.dumps(self.facts()))
        extra = {
            "test_facts_file": str(facts_file),
            "_cuda_env_profile_script": str(self.profile),
            "_cuda_env_ld_conf": str(self.ld_conf),
            "_cuda_env_env_file": str(self.env_file),
            "_cuda_env_systemd_default_path": default_path(self.root),
            # This root was not booted with systemd, whatever this machine was.
            "_cuda_env_systemd_booted_dir": str(self.root / "run/systemd/system"),
            "cuda_env_home_dir": str(self.home),
            "cuda_env_local_fact": str(self.local_fact),
        }
        extra.update(role_vars)
        extra_file = self.tmp / "extra.json"
        extra_file.write_text(json.dumps(extra))
        inventory = self.tmp / "inventory.ini"
        inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={VENV_BIN}/python\n")
        argv = [f"{VENV_BIN}/ansible-playbook", str(self.tmp / "play.yml"), "-i", str(inventory)]
        argv += ["-e", f"@{extra_file}"] + (["--check"] if check else []) + list(args)
        env = ansible_env(path_env=self.path_env)
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)
        match = re.search(r"^localhost\s+:\s+(ok=.*)$", proc.stdout, re.MULTILINE)
        counts = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))} if match else {}
        return proc, counts

    def login(self, path=None):
        """PATH, LD_LIBRARY_PATH and CUDA_HOME of a login shell that sources the rendered script (twice)."""
        path = path or default_path(self.root)
        script = f'. {self.profile}; . {self.profile}; printf "%s\\n" "$PATH" "${{LD_LIBRARY_PATH-unset}}" "$CUDA_HOME"'
        out = subprocess.run(["/bin/sh", "-c", script], env={"PATH": path}, capture_output=True, text=True, check=True)
        return dict(zip(("PATH", "LD_LIBRARY_PATH", "CUDA_HOME"), out.stdout.splitlines()))

    def home_links(self):
        return {
            str(path.relative_to(self.home)): os.readlink(path)
            for path in sorted(self.home.rglob("*"))
            if path.is_symlink()
        }

    def env_values(self):
        return dict(line.split("=", 1) for line in self.env_file.read_text().splitlines() if not line.startswith("#"))


def ok(proc, counts):
    assert proc.returncode == 0 and counts.get("failed") == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_distribution_toolkit_then_nvidia_and_back(host):
    usr = debian_cuda(host.root)
    multiarch = str(host.root / MULTIARCH)

    # check mode on the fresh host: reports changes, writes nothing
    proc, counts = host.run(check=True)
    ok(proc, counts)
    assert counts["changed"] > 0
    assert not host.profile.exists() and not host.home.exists() and not host.env_file.exists()

    proc, counts = host.run()
    ok(proc, counts)
    # PATH and the linker left alone; CUDA_HOME is the home of links, where bin/nvcc, include and lib64 work
    system = default_path(host.root)
    assert host.login() == {"PATH": system, "LD_LIBRARY_PATH": "unset", "CUDA_HOME": str(host.home)}
    assert not host.ld_conf.exists()
    assert not host.ldconfig_log.exists()
    assert host.env_values() == {"CUDA_HOME": f'"{host.home}"'}
    links = host.home_links()
    assert links["bin/nvcc"] == str(usr / "bin/nvcc")
    assert links["include"] == str(usr / "include")
    assert links["lib64"] == multiarch
    assert links["nvvm/libdevice"] == str(usr / "lib/nvidia-cuda-toolkit/libdevice")
    assert "bin/python3" not in links
    assert (host.home / ".gpufleet-cuda-home").is_file()
    version = subprocess.run([str(host.home / "bin/nvcc"), "--version"], capture_output=True, text=True, check=True)
    assert "release 11.8, V11.8.89" in version.stdout
    assert (host.home / "include/cuda_runtime.h").is_file()
    assert (host.home / "lib64/libcudart.so").exists()
    fact = json.loads(host.local_fact.read_text())["cuda"]
    assert (fact["layout"], fact["cuda_home"], fact["lib_dirs"]) == ("distribution", str(host.home), [multiarch])

    # facts gathered again with CUDA_HOME set: still one toolkit; the role changes nothing the second time
    again = discover_under(host.root, environ={"CUDA_HOME": str(host.home)}, ldconfig="")
    assert [tk["path"] for tk in again["toolkits"]] == [str(usr)]
    proc, counts = host.run()
    ok(proc, counts)
    assert counts["changed"] == 0, proc.stdout[-6000:]

    # a link the toolkit no longer has is removed
    link(host.home / "bin" / "nvprof", "/nonexistent/nvprof")
    proc, counts = host.run()
    ok(proc, counts)
    assert "bin/nvprof" not in host.home_links()

    # NVIDIA's 12.4 appears next to it and is chosen: its bin in front, its lib64 to the linker, the home removed
    home_12_4 = nvidia_cuda(host.root)
    proc, counts = host.run(cuda_env_version="12.4")
    ok(proc, counts)
    assert host.login() == {
        "PATH": f"{home_12_4}/bin:{system}",
        "LD_LIBRARY_PATH": f"{home_12_4}/lib64",
        "CUDA_HOME": str(home_12_4),
    }
    assert [line for line in host.ld_conf.read_text().splitlines() if not line.startswith("#")] == [
        f"{home_12_4}/lib64"
    ]
    assert host.ldconfig_log.read_text() == "ldconfig \n"
    assert not host.home.exists()
    assert host.env_values()["PATH"] == f'"{home_12_4}/bin:{system}"'
    proc, counts = host.run(cuda_env_version="12.4")
    ok(proc, counts)
    assert counts["changed"] == 0, proc.stdout[-6000:]

    # back to the distribution's 11.8: the linker file goes (ldconfig runs), the home comes back
    proc, counts = host.run(cuda_env_version="11.8")
    ok(proc, counts)
    assert not host.ld_conf.exists()
    assert host.ldconfig_log.read_text() == "ldconfig \nldconfig \n"
    assert host.login()["PATH"] == system
    assert host.home_links()["bin/nvcc"] == str(usr / "bin/nvcc")


def test_latest_and_default_on_a_mixed_host(host):
    usr = debian_cuda(host.root)
    home_12_4 = nvidia_cuda(host.root)
    lib = home_12_4 / "targets/x86_64-linux/lib"
    host.ldconfig = debian_ldconfig(host.root, f"\tlibcudart.so.12 (libc6,x86-64) => {lib}/libcudart.so.12\n")

    # no /usr/local/cuda: the default is the nvcc on PATH, the distribution's
    assert cuda.select_toolkit(host.facts(), "default")["path"] == str(usr)
    proc, counts = host.run()
    ok(proc, counts)
    assert host.login()["CUDA_HOME"] == str(host.home)

    proc, counts = host.run(cuda_env_version="latest")
    ok(proc, counts)
    assert host.login()["PATH"].split(":")[0] == f"{home_12_4}/bin"

    link(host.root / "usr/local/cuda", "cuda-12.4")
    proc, counts = host.run(cuda_env_version="default")
    ok(proc, counts)
    assert host.login()["CUDA_HOME"] == str(home_12_4)
    assert "CUDA 12.4.1 at" in proc.stdout


def test_services_on_a_host_without_systemd_fail_early(host):
    debian_cuda(host.root)
    proc, counts = host.run(cuda_env_services=["gpu-worker"])
    assert proc.returncode != 0
    assert counts.get("failed") == 1
    assert "cuda_env_services is set (gpu-worker) but localhost was not booted with systemd" in proc.stdout
    assert "System has not been booted with systemd" not in proc.stdout
    # before anything was rendered
    assert not host.profile.exists() and not host.env_file.exists() and not host.home.exists()


def test_the_home_is_never_built_in_someone_elses_directory(host):
    debian_cuda(host.root)
    host.home.mkdir(parents=True)
    (host.home / "README").write_text("mine\n")
    proc, counts = host.run()
    assert proc.returncode != 0
    assert "exists and was not made by the cuda_env role" in proc.stdout
    assert sorted(p.name for p in host.home.iterdir()) == ["README"]

    # an NVIDIA toolkit chosen: a directory without the role's mark is not removed either
    nvidia_cuda(host.root)
    proc, counts = host.run(cuda_env_version="12.4")
    ok(proc, counts)
    assert (host.home / "README").read_text() == "mine\n"


def test_bad_home_dir_is_named(host):
    debian_cuda(host.root)
    proc, _counts = host.run(cuda_env_home_dir="/opt")
    assert proc.returncode != 0
    assert "cuda_env_home_dir=/opt: the CUDA home directory '/opt' is too close to /" in proc.stdout
    assert Path("/opt").exists()


def role_tasks_run(proc, counts):
    """Tasks of the role that were ok or changed: the recap's, less the fact loader and the argument validation."""
    ok(proc, counts)
    return counts["ok"] - 2


def test_an_idempotent_run_is_short_and_still_checks_everything(host):
    """Issue 14 §4: at most 8 tasks on a distribution-layout host, 6 on NVIDIA's, and verify still runs."""
    debian_cuda(host.root)
    nvidia_cuda(host.root)
    ok(*host.run())
    proc, counts = host.run()
    assert counts["changed"] == 0 and role_tasks_run(proc, counts) <= 8, proc.stdout[-6000:]
    assert "Check the CUDA environment as an operator would" in proc.stdout
    # nothing changed: the facts are not gathered again
    assert re.search(
        r"TASK \[gpufleet.nvidia.cuda_env : Gather the CUDA facts again after a change\] \**\n(?!ok|changed)",
        proc.stdout,
    )

    ok(*host.run(cuda_env_version="12.4"))
    proc, counts = host.run(cuda_env_version="12.4")
    assert counts["changed"] == 0 and role_tasks_run(proc, counts) <= 6, proc.stdout[-6000:]


@pytest.mark.parametrize(
    "args",
    [["--skip-tags", "cuda_env_verify"], ["--skip-tags", "cuda_env_home"], ["--tags", "cuda_env_configure"]],
    ids=["skip-verify", "skip-home", "only-configure"],
)
def test_every_tag_selection_takes_the_same_decisions(host, args):
    """Issue 14 §1: the decisions do not depend on tags (`--skip-tags cuda_env_verify` once failed with
    "_cuda_env_toolkit is undefined")."""
    debian_cuda(host.root)
    home_12_4 = nvidia_cuda(host.root)
    ok(*host.run())
    # the selection alone on a converged host: nothing to do, nothing failing
    proc, counts = host.run(args=args)
    ok(proc, counts)
    assert counts["changed"] == 0, proc.stdout[-6000:]
    assert ("Check the CUDA environment as an operator would" in proc.stdout) is (
        args[0] == "--skip-tags" and "verify" not in args[1]
    )

    # a new pin applied with the selection alone
    proc, counts = host.run(args=args, cuda_env_version="12.4")
    ok(proc, counts)
    assert host.login()["CUDA_HOME"] == str(home_12_4)
    assert host.env_values()["CUDA_HOME"] == f'"{home_12_4}"'
    if args != ["--skip-tags", "cuda_env_home"]:
        assert not host.home.exists()  # the home of links goes with the distribution's toolkit
    # and checked afterwards with verify alone
    proc, counts = host.run(args=["--tags", "cuda_env_verify"], cuda_env_version="12.4")
    ok(proc, counts)
    assert counts["changed"] == 0 and "Check the CUDA environment as an operator would" in proc.stdout

    # the clear errors whatever the selection
    proc, _counts = host.run(args=args, cuda_env_version="10.2")
    assert proc.returncode != 0
    assert "cuda_env_version=10.2: CUDA 10.2 is not installed" in proc.stdout, proc.stdout[-4000:]
    proc, _counts = host.run(args=args, cuda_env_home_dir="/opt")
    assert proc.returncode != 0
    assert "cuda_env_home_dir=/opt: the CUDA home directory '/opt' is too close to /" in proc.stdout


def test_verify_names_what_is_wrong(host):
    debian_cuda(host.root)
    home_12_4 = nvidia_cuda(host.root)
    ok(*host.run(cuda_env_version="12.4"))
    # someone breaks the toolkit's nvcc and the linker's file after the role ran
    (home_12_4 / "bin" / "nvcc").write_text("#!/bin/sh\necho 'nvcc: broken' >&2\nexit 1\n")
    host.ld_conf.write_text("# emptied by hand\n")
    proc, counts = host.run(args=["--tags", "cuda_env_verify"], cuda_env_version="12.4")
    assert proc.returncode != 0 and counts.get("failed") == 1
    assert "2 of 6 checks of the CUDA environment failed" in proc.stdout, proc.stdout[-4000:]
    assert f"`ldconfig -p` lists no libcudart from {home_12_4}/lib64" in proc.stdout
    assert "check " in proc.stdout and str(host.ld_conf) in proc.stdout
    assert "$CUDA_HOME/bin/nvcc --version: rc 1, nvcc: broken (expected 'release 12.4,')" in proc.stdout
