"""The collection as users get it: the tarball `ansible-galaxy collection build` makes, that tarball installed somewhere
else, and the execution environment (EE) build context ansible-builder makes from execution-environment.yml.

Every command is the real CLI from the venv with an isolated configuration: an empty ansible.cfg and ANSIBLE_HOME in a
temporary directory, no ANSIBLE_* variables inherited (the Makefile exports ANSIBLE_CONFIG), collections only from
ANSIBLE_COLLECTIONS_PATH, no sys.path scan. Nothing resolves through the checkout's .build/collections symlink or
ansible.cfg's library/roles paths, so a file that build_ignore drops or that never made it into the tarball fails here.
No container registry is reachable, so the image is not built: `ansible-builder create` writes the build context, and
its galaxy and introspection steps are replayed here exactly as the Containerfile runs them.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, VENV_BIN

GALAXY = yaml.safe_load(Path(REPO, "galaxy.yml").read_text(encoding="utf-8"))
FQCN = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
TARBALL_NAME = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
EE_FILE = Path(REPO, "execution-environment.yml")
# Known when pytest collects; test_tarball_playbooks_are_the_checkouts proves the tarball ships exactly these.
PLAYBOOKS = sorted(p.name for p in Path(REPO, "playbooks").glob("*.yml"))
ROLES = sorted(p.parent.parent.name for p in Path(REPO, "roles").glob("*/tasks/main.yml"))

MUST_SHIP = [
    "MANIFEST.json",
    "FILES.json",
    "plugins/modules/gpu_facts.py",
    "plugins/module_utils/nvml.py",
    "plugins/filter/cuda_select.py",
    "playbooks/site.yml",
    "roles/burnin/tasks/main.yml",
    "roles/burnin/meta/argument_specs.yml",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "bindep.txt",
    # The command service distribution the command_service role builds its wheel from on the controller.
    "files/gpufleet-command/pyproject.toml",
    "files/gpufleet-command/wheel_builder.py",
    "files/gpufleet-command/requirements.txt",
    "files/gpufleet-command/gpufleet_command/service.py",
]
# Repository tooling that build_ignore must keep out (a top-level name: the directory or the file itself).
MUST_NOT_SHIP = [
    "tests",
    "molecule",
    "hack",
    "bench",
    "requirements",
    "reports",
    ".venv",
    ".build",
    ".git",
    ".ci",
    "Makefile",
    "ansible.cfg",
    "pyproject.toml",
    "execution-environment.yml",
    "context",
]


def pinned(path, package):
    """The requirement line for package in a requirements file (None when it is not there)."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        name = line.split("==", 1)[0].split(">", 1)[0].split("<", 1)[0].split(";", 1)[0].strip()
        if name.lower() == package.lower():
            return line
    return None


def isolated_env(root, collections_path=None):
    """An environment for the CLI that sees no configuration of this checkout (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    config = root / "ansible.cfg"
    config.touch()
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(root / "ansible-home"),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
    )
    if collections_path is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    return env


def run(argv, cwd, env, timeout=60):
    """Run a command; fail with its output when it does not succeed."""
    proc = subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed (rc=%s)\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(map(str, argv)),
        proc.returncode,
        proc.stdout,
        proc.stderr,
    )
    return proc


def venv_tool(name):
    return os.path.join(VENV_BIN, name)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("packaging")


@pytest.fixture(scope="module")
def tarball(workdir):
    """The collection tarball, built once from the checkout."""
    out = workdir / "dist"
    out.mkdir()
    run(
        [venv_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), REPO],
        workdir,
        isolated_env(workdir),
    )
    built = sorted(out.iterdir())
    assert [p.name for p in built] == [TARBALL_NAME]
    return built[0]


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name.rstrip("/") for m in tar.getmembers()}


@pytest.fixture(scope="module")
def installed(workdir, tarball):
    """(collections path, environment) of the tarball installed with ansible-galaxy into a temporary directory."""
    root = workdir / "installed"
    root.mkdir()
    collections = root / "collections"
    env = isolated_env(root, collections)
    proc = run([venv_tool("ansible-galaxy"), "collection", "install", str(tarball), "-p", str(collections)], root, env)
    assert "%s:%s was installed successfully" % (FQCN, GALAXY["version"]) in proc.stdout
    return collections, env


def test_tarball_is_named_after_galaxy_version(tarball):
    assert tarball.name == TARBALL_NAME


@pytest.mark.parametrize("member", MUST_SHIP)
def test_tarball_ships(members, member):
    assert member in members


@pytest.mark.parametrize("role", ROLES)
def test_tarball_ships_role(members, role):
    assert "roles/%s/tasks/main.yml" % role in members
    assert "roles/%s/meta/argument_specs.yml" % role in members


@pytest.mark.parametrize("top", MUST_NOT_SHIP)
def test_tarball_leaves_out(members, top):
    shipped = sorted(m for m in members if m == top or m.startswith(top + "/"))
    assert not shipped, "build_ignore lets %s into the tarball: %s" % (top, shipped[:5])


def test_tarball_has_no_bytecode(members):
    assert not [m for m in members if "__pycache__" in m.split("/") or m.endswith(".pyc")]


def test_tarball_playbooks_are_the_checkouts(members):
    assert sorted(m[len("playbooks/") :] for m in members if m.startswith("playbooks/") and m.endswith(".yml")) == (
        PLAYBOOKS
    )


def test_ee_metadata_names_shipped_files(tarball, members):
    """meta/execution-environment.yml (what ansible-builder introspects) points at files inside the tarball."""
    with tarfile.open(tarball) as tar:
        meta = yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))
    assert meta["version"] == 1
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for path in meta["dependencies"].values():
        assert path in members


def test_collection_requirements_pin_nvml_like_dev_in():
    """The EE gets the nvidia-ml-py the tests run with."""
    shipped = pinned(Path(REPO, "requirements.txt"), "nvidia-ml-py")
    assert shipped is not None, "requirements.txt does not name nvidia-ml-py"
    assert shipped == pinned(Path(REPO, "requirements", "dev.in"), "nvidia-ml-py")


def test_installed_copy_is_the_only_one_visible(installed):
    collections, env = installed
    proc = run([venv_tool("ansible-galaxy"), "collection", "list", FQCN, "--format", "json"], collections.parent, env)
    assert json.loads(proc.stdout) == {str(collections / "ansible_collections"): {FQCN: {"version": GALAXY["version"]}}}


def test_installed_module_runs(installed):
    collections, env = installed
    proc = run(
        [
            venv_tool("ansible"),
            "localhost",
            "-c",
            "local",
            "-i",
            "localhost,",
            "-m",
            FQCN + ".gpu_facts",
            "-a",
            "gather_subset=cuda",
            "-e",
            "ansible_python_interpreter=%s" % sys.executable,
        ],
        collections.parent,
        env,
    )
    # The default callback prints "<host> | SUCCESS => <result as JSON>".
    status, arrow, result = proc.stdout.partition(" => ")
    assert (status.strip(), arrow) == ("localhost | SUCCESS", " => "), proc.stdout
    gpu = json.loads(result)["ansible_facts"]["gpu"]
    assert "toolkits" in gpu["cuda"]


def test_installed_copy_builds_the_command_service_wheel(installed, workdir):
    """What the command_service role runs on the controller, from the installed collection alone: the same wheel, byte
    for byte, as the checkout builds (the tarball carries the distribution and the module_utils it imports)."""
    collections, env = installed
    builds = {}
    for name, root in (("installed", collections / "ansible_collections" / "gpufleet" / "nvidia"), ("checkout", REPO)):
        builder = Path(root, "files", "gpufleet-command", "wheel_builder.py")
        proc = run([sys.executable, str(builder), "--wheel-dir", str(workdir / ("wheel-" + name))], workdir, env)
        builds[name] = json.loads(proc.stdout)
    assert builds["installed"]["sha256"] == builds["checkout"]["sha256"]
    assert builds["installed"]["module_utils"] == ["_command", "command_queue", "nvml"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_installed_playbook_syntax(installed, members, playbook):
    assert "playbooks/" + playbook in members
    collections, env = installed
    name = "%s.%s" % (FQCN, playbook[: -len(".yml")])
    proc = run([venv_tool("ansible-playbook"), name, "--syntax-check", "-i", "localhost,"], collections.parent, env)
    # The playbook ran from the installed copy, not from the checkout.
    assert str(collections / "ansible_collections" / "gpufleet" / "nvidia" / "playbooks" / playbook) in proc.stdout


@pytest.mark.parametrize("plugin_type, directory", [("module", "modules"), ("filter", "filter")])
def test_installed_plugin_docs(installed, members, plugin_type, directory):
    """ansible-doc renders every module and filter of the tarball from the installed path."""
    names = sorted(
        m.rsplit("/", 1)[1][: -len(".py")]
        for m in members
        if m.startswith("plugins/%s/" % directory) and m.endswith(".py") and not m.endswith("/__init__.py")
    )
    assert names
    collections, env = installed
    fqcns = ["%s.%s" % (FQCN, n) for n in names]
    proc = run([venv_tool("ansible-doc"), "-t", plugin_type, "-j", *fqcns], collections.parent, env)
    docs = json.loads(proc.stdout)
    assert sorted(docs) == fqcns
    plugin_dir = str(collections / "ansible_collections" / "gpufleet" / "nvidia" / "plugins" / directory) + os.sep
    for fqcn, doc in docs.items():
        assert doc["doc"]["filename"].startswith(plugin_dir), fqcn
        assert doc["doc"]["short_description"], fqcn


# --- execution environment -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ee_definition():
    return yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ee_context(workdir, tarball, ee_definition):
    """`ansible-builder create` for execution-environment.yml, with the tarball where the definition expects it.

    The definition and the files it names are copied into a temporary project, so the checkout's .build is untouched.
    """
    project = workdir / "ee-project"
    project.mkdir()
    shutil.copy2(EE_FILE, project / EE_FILE.name)
    deps = ee_definition["dependencies"]
    for kind in ("python", "system"):
        if isinstance(deps.get(kind), str):
            shutil.copy2(Path(REPO, deps[kind]), project / deps[kind])
    sources = [entry["src"] for entry in ee_definition.get("additional_build_files", [])]
    tarball_srcs = [src for src in sources if src.endswith(".tar.gz")]
    assert [Path(src).name for src in tarball_srcs] == [TARBALL_NAME], (
        "execution-environment.yml must copy %s (galaxy.yml's version) into the build context" % TARBALL_NAME
    )
    (project / tarball_srcs[0]).parent.mkdir(parents=True)
    shutil.copy2(tarball, project / tarball_srcs[0])

    context = workdir / "ee-context"
    run(
        [
            venv_tool("ansible-builder"),
            "create",
            "-f",
            str(project / EE_FILE.name),
            "-c",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        project,
        isolated_env(project),
    )
    return context


def test_ee_pins_ansible_core_like_dev_in(ee_definition, ee_context):
    want = pinned(Path(REPO, "requirements", "dev.in"), "ansible-core")
    assert want and "==" in want
    assert ee_definition["dependencies"]["ansible_core"]["package_pip"] == want
    assert ee_definition["options"]["tags"] == ["gpufleet-ee:%s" % GALAXY["version"]]
    containerfile = (ee_context / "Containerfile").read_text(encoding="utf-8")
    install_refs = [line for line in containerfile.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS=")]
    assert len(install_refs) == 1 and want in install_refs[0].split('"')[1].split()


def test_ee_context_holds_the_tarball(tarball, ee_context):
    copied = ee_context / "_build" / "collections" / TARBALL_NAME
    assert copied.read_bytes() == tarball.read_bytes()
    galaxy = yaml.safe_load((ee_context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert galaxy == {"collections": [{"name": "collections/" + TARBALL_NAME, "type": "file"}]}


def test_ee_context_names_nvml(ee_context):
    assert pinned(ee_context / "_build" / "requirements.txt", "nvidia-ml-py") == pinned(
        Path(REPO, "requirements.txt"), "nvidia-ml-py"
    )
    containerfile = (ee_context / "Containerfile").read_text(encoding="utf-8")
    assert "--user-pip=requirements.txt" in containerfile


def test_ee_galaxy_and_introspection_steps(workdir, ee_context):
    """Replay the Containerfile's galaxy stage (install from /build) and builder stage (introspect.py) offline."""
    build = workdir / "ee-build"
    shutil.copytree(ee_context / "_build", build)
    collections = workdir / "ee-usr-share-ansible" / "collections"
    env = isolated_env(build)
    env["ANSIBLE_GALAXY_DISABLE_GPG_VERIFY"] = "1"
    run(
        [
            venv_tool("ansible-galaxy"),
            "collection",
            "install",
            "-r",
            "requirements.yml",
            "--collections-path",
            str(collections),
        ],
        build,
        env,
    )
    installed_copy = collections / "ansible_collections" / "gpufleet" / "nvidia"
    assert (installed_copy / "meta" / "execution-environment.yml").is_file()

    pip_out, bindep_out = workdir / "ee-pip.txt", workdir / "ee-bindep.txt"
    run(
        [
            sys.executable,
            "scripts/introspect.py",
            "introspect",
            "--user-pip=requirements.txt",
            "--write-pip=%s" % pip_out,
            "--write-bindep=%s" % bindep_out,
            str(collections),
        ],
        build,
        env,
    )
    lines = [line for line in pip_out.read_text(encoding="utf-8").splitlines() if line.startswith("nvidia-ml-py")]
    assert any(line.endswith("# from collection %s" % FQCN) for line in lines), lines
    # No system packages: bindep.txt has comments only, so the builder writes no bindep file at all.
    assert not bindep_out.exists() or not bindep_out.read_text(encoding="utf-8").strip()


def test_builder_introspects_installed_collection(installed):
    collections, env = installed
    proc = run([venv_tool("ansible-builder"), "introspect", str(collections)], collections.parent, env)
    data = next(doc for doc in yaml.safe_load_all(proc.stdout) if doc)
    nvml = pinned(Path(REPO, "requirements.txt"), "nvidia-ml-py")
    assert data["python"] == ["%s  # from collection %s" % (nvml, FQCN)]
    assert data["system"] == []
