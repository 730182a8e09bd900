"""gpu_facts' torch discovery through the real `ansible` CLI, the way an operator runs it ad hoc.

The environments of another user are probed as that user: a throwaway account made with useradd (root only; skipped
otherwise), owning a conda-style root with an env, a conda env known only from its ~/.conda/environments.txt, and a
venv, all on the system Python 3 (the user cannot reach root's pyenv builds). The probe program reports the uid it ran
as. A world-writable env of that user is refused and, by its sitecustomize.py marker, proved not run.
"""

import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _parallel_commands, torch_probe
from ansible_collections.gpufleet.nvidia.plugins.module_utils._torch_envs import discover_envs, select_envs
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, TORCH_PYTHON
from ansible_collections.gpufleet.nvidia.tests.integration.test_gpu_facts_localhost import run_gpu_facts

SYSTEM_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a throwaway user and probing as it needs root")
needs_system_python = pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason=f"no {SYSTEM_PYTHON}")


@pytest.fixture
def throwaway_user():
    """An unprivileged account with a home, removed afterwards."""
    if not shutil.which("useradd"):
        pytest.skip("useradd is not installed")
    name = f"gpft{os.getpid() % 100000}"
    subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--remove", "--force", name], check=False, capture_output=True)


def make_conda_env(prefix):
    os.makedirs(os.path.join(prefix, "conda-meta"))
    os.makedirs(os.path.join(prefix, "bin"))
    os.symlink(SYSTEM_PYTHON, os.path.join(prefix, "bin", "python"))


def chown_tree(path, user):
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, user.pw_uid, user.pw_gid)


@pytest.fixture
def users_envs(throwaway_user, tmp_path):
    home = throwaway_user.pw_dir
    make_conda_env(os.path.join(home, "miniconda3"))
    os.makedirs(os.path.join(home, "miniconda3", "condabin"))
    make_conda_env(os.path.join(home, "miniconda3", "envs", "job_7"))
    make_conda_env(os.path.join(home, "scratch", "tool_venv2_job_8"))
    os.makedirs(os.path.join(home, ".conda"))
    with open(os.path.join(home, ".conda", "environments.txt"), "w") as handle:
        handle.write(os.path.join(home, "scratch", "tool_venv2_job_8") + "\n")
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", os.path.join(home, "venvs", "train")], check=True)
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", os.path.join(home, "venvs", "open")], check=True)
    markers = tempfile.mkdtemp(prefix="gpft-markers-")
    os.chmod(markers, 0o1777)
    (site,) = _site_dirs(os.path.join(home, "venvs", "open"))
    with open(os.path.join(site, "sitecustomize.py"), "w") as handle:
        handle.write("open(%r, 'w').write('ran')\n" % os.path.join(markers, "open-ran"))
    chown_tree(home, throwaway_user)
    os.chmod(os.path.join(home, "venvs", "open"), 0o777)  # anyone may change it: refused
    yield {"home": home, "user": throwaway_user, "marker": os.path.join(markers, "open-ran")}
    shutil.rmtree(markers, ignore_errors=True)


def _site_dirs(prefix):
    lib = os.path.join(prefix, "lib")
    return [os.path.join(lib, d, "site-packages") for d in os.listdir(lib) if d.startswith("python")]


@needs_root
@needs_system_python
def test_another_users_environments_are_probed_as_that_user(users_envs):
    home, user = users_envs["home"], users_envs["user"]
    gpu = run_gpu_facts(f"gather_subset=torch torch_discover=true torch_search_roots={home} torch_timeout=120")
    by_prefix = {entry["prefix"]: entry for entry in gpu["torch"]}
    expected = {
        os.path.join(home, "miniconda3"): ("conda", "base"),
        os.path.join(home, "miniconda3", "envs", "job_7"): ("conda", "job_7"),
        os.path.join(home, "scratch", "tool_venv2_job_8"): ("conda", "tool_venv2_job_8"),
        os.path.join(home, "venvs", "train"): ("venv", "train"),
    }
    for prefix, (kind, name) in expected.items():
        entry = by_prefix[prefix]
        assert (entry["kind"], entry["name"], entry["owner"]) == (kind, name, user.pw_name), entry
        assert entry["probe"] == "ok", entry["error"]
        assert entry["ran_as"] == user.pw_name
        assert entry["uid"] == user.pw_uid  # reported by the probe program itself: not root
    refused = by_prefix[os.path.join(home, "venvs", "open")]
    assert refused["probe"] == "refused"
    assert refused["error"].startswith("not run: directory %s is world-writable" % os.path.join(home, "venvs", "open"))
    assert not os.path.exists(users_envs["marker"]), "the world-writable environment was run"
    system = [entry for entry in gpu["torch"] if entry["kind"] == "system"]
    assert [(e["prefix"], e["ran_as"], e["uid"]) for e in system] == [("/usr", "root", 0)]
    assert gpu["torch_discovery"]["probes"]["refused"] >= 1
    assert gpu["gathered"]["torch"]["options"]["torch_discover"] is True


@needs_root
@needs_system_python
def test_python38_way_of_switching_user(users_envs, monkeypatch):
    """On Python 3.8 (no Popen user=) the switch is a preexec_fn: the same uid, groups and clean environment."""
    monkeypatch.setattr(_parallel_commands, "POPEN_HAS_USER", False)
    envs, _notes = discover_envs([users_envs["home"]], users=[users_envs["user"]], conda_roots=(), system_python=None)
    envs, _left_out = select_envs([], envs)
    entries = torch_probe.probe_envs(envs, budget=60)
    ran = [entry for entry in entries if entry["probe"] == "ok"]
    assert len(ran) == 4, [(e["prefix"], e["probe"], e["error"]) for e in entries]
    assert {entry["uid"] for entry in ran} == {users_envs["user"].pw_uid}


@pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason="run hack/torch-venv.sh (make integration does)")
def test_discovery_reports_the_torch_build_of_a_venv():
    gpu = run_gpu_facts(
        "gather_subset=torch torch_discover=true torch_search_roots=%s torch_timeout=180" % os.path.join(REPO, ".build")
    )
    prefix = os.path.dirname(os.path.dirname(TORCH_PYTHON))
    (entry,) = [entry for entry in gpu["torch"] if entry["prefix"] == prefix]
    assert (entry["kind"], entry["name"], entry["probe"]) == ("venv", "torch-venv", "ok"), entry
    assert entry["torch_version"].startswith("2.13.0")
    assert (entry["build"], entry["build_tag"]) == ("cpu", "cpu")
    # no GPU on this machine: a CPU build is not a problem here (on a GPU host it is "cpu_build")
    assert entry["cuda_compat"]["status"] == "not_applicable"
    assert gpu["torch_discovery"]["discover"] is True


NON_ROOT_PROBE = """
import json, sys
from ansible_collections.gpufleet.nvidia.plugins.module_utils import torch_probe
entries = torch_probe.probe_torch_interpreters(sys.argv[1:], timeout=60)
print(json.dumps([{k: e[k] for k in ("prefix", "owner", "probe", "ran_as", "uid", "error")} for e in entries]))
"""


@needs_root
@needs_system_python
def test_a_module_without_become_runs_only_its_own_and_roots_environments(throwaway_user, tmp_path):
    """The probe code run as the throwaway user (as gpu_facts without become): nobody's environment is refused."""
    shared = tempfile.mkdtemp(prefix="gpft-shared-")
    try:
        os.chmod(shared, 0o755)
        prefixes = {owner: os.path.join(shared, owner) for owner in ("root", "nobody", "mine")}
        for prefix in prefixes.values():
            subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", prefix], check=True)
        nobody = pwd.getpwuid(65534)
        chown_tree(prefixes["nobody"], nobody)
        chown_tree(prefixes["mine"], throwaway_user)
        pythons = [os.path.join(prefixes[owner], "bin", "python") for owner in ("root", "nobody", "mine")]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.path.join(REPO, ".build", "collections"), "HOME": "/"}
        proc = subprocess.run(
            # the system Python: root's pyenv (this test's interpreter) is out of the user's reach
            [
                shutil.which("runuser") or "runuser",
                "-u",
                throwaway_user.pw_name,
                "--",
                SYSTEM_PYTHON,
                "-c",
                NON_ROOT_PROBE,
                *pythons,
            ],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        root_env, nobodys, mine = json.loads(proc.stdout)
        me = throwaway_user.pw_name
        assert (root_env["probe"], root_env["ran_as"], root_env["uid"]) == ("ok", me, throwaway_user.pw_uid)
        assert (mine["probe"], mine["ran_as"], mine["uid"]) == ("ok", me, throwaway_user.pw_uid)
        assert nobodys["probe"] == "refused" and nobodys["uid"] is None
        assert nobodys["error"] == (
            f"not run: the environment belongs to {nobody.pw_name} and the module runs as {me}, which cannot run it "
            f"as {nobody.pw_name} (run gpu_facts with become)"
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
