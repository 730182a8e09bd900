# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpufleet-command wheel as the role ships it: built reproducibly from the checkout by wheel_builder.py (and the
same bytes through PEP 517), carrying the collection's module_utils unchanged, installed by pip into a fresh venv
whose console scripts run the daemon and the client against the simulated Ollama."""

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile

import pytest
import wheel_builder
from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

from ansible_collections.gpufleet.nvidia.tests.command_service.harness import PROJECT, REPO

MODULE_UTILS = os.path.join(REPO, "plugins", "module_utils")
MODULE_UTILS_IN_WHEEL = "ansible_collections/gpufleet/nvidia/plugins/module_utils/"
BUILDER = os.path.join(PROJECT, "wheel_builder.py")


def build(wheel_dir, project=PROJECT):
    result = subprocess.run(
        [sys.executable, os.path.join(project, "wheel_builder.py"), "--wheel-dir", str(wheel_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("wheel"))


def read_wheel(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}, archive.infolist()


def test_two_builds_are_the_same_file(built, tmp_path):
    again = build(tmp_path)
    assert again["version"] == built["version"] and again["sha256"] == built["sha256"]
    assert again["changed"] is True  # a new directory
    assert build(tmp_path)["changed"] is False  # the same bytes are there: nothing written
    with open(again["wheel"], "rb") as first, open(built["wheel"], "rb") as second:
        assert first.read() == second.read()


def test_version_is_the_release_plus_a_content_hash(built):
    from gpufleet_command import __version__

    assert re.fullmatch(re.escape(__version__) + r"\+g[0-9a-f]{12}", built["version"])
    assert built["filename"] == "gpufleet_command-%s-py3-none-any.whl" % built["version"]
    assert built["name"] == "gpufleet-command"
    printed = subprocess.run([sys.executable, BUILDER, "--version"], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == built["version"]


def test_wheel_carries_the_package_and_the_module_utils_it_imports(built):
    files, infos = read_wheel(built["wheel"])
    package = sorted(n for n in os.listdir(os.path.join(PROJECT, "gpufleet_command")) if n.endswith(".py"))
    assert sorted(n.split("/", 1)[1] for n in files if n.startswith("gpufleet_command/")) == package
    # Found by reading the imports: the protocol, NVML for gpu_status, and NVML's subprocess helper. No other one.
    assert built["module_utils"] == ["_command", "command_queue", "nvml"]
    carried = sorted(n for n in files if n.startswith(MODULE_UTILS_IN_WHEEL))
    assert carried == [MODULE_UTILS_IN_WHEEL + n + ".py" for n in built["module_utils"]]
    for name in carried:  # the one implementation, byte for byte, under its import name
        with open(os.path.join(MODULE_UTILS, os.path.basename(name)), "rb") as source:
            assert files[name] == source.read(), name
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o100644 for i in infos)


def test_metadata_entry_points_and_record(built):
    files = read_wheel(built["wheel"])[0]
    dist_info = "gpufleet_command-%s.dist-info/" % built["version"]
    metadata = files[dist_info + "METADATA"].decode()
    assert "Name: gpufleet-command\n" in metadata and "Version: %s\n" % built["version"] in metadata
    requires = [line[len("Requires-Dist: ") :] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert requires == wheel_builder.read_requirements(os.path.join(PROJECT, "requirements.txt"))
    assert 'watchdog==4.0.2; python_version < "3.9"' in requires and "Requires-Python: >=3.8" in metadata
    assert files[dist_info + "entry_points.txt"].decode() == (
        "[console_scripts]\n"
        "gpufleet-command = gpufleet_command.client:main\n"
        "gpufleet-command-service = gpufleet_command.service:main\n"
    )
    assert "Root-Is-Purelib: true" in files[dist_info + "WHEEL"].decode()
    record = list(csv.reader(io.StringIO(files[dist_info + "RECORD"].decode())))
    assert sorted(row[0] for row in record) == sorted(files)
    for name, digest, size in record:
        if name == dist_info + "RECORD":
            assert digest == size == ""
            continue
        expected = base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=").decode()
        assert digest == "sha256=" + expected and int(size) == len(files[name]), name


def test_pep517_build_gives_the_same_bytes(built, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path),
            PROJECT,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / built["filename"], "rb") as pip_built, open(built["wheel"], "rb") as ours:
        assert pip_built.read() == ours.read()


def test_sdist_builds_the_same_wheel_on_its_own(built, tmp_path):
    sdist = wheel_builder.build_sdist(str(tmp_path / "sdist"))
    with tarfile.open(tmp_path / "sdist" / sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / sdist[: -len(".tar.gz")]
    assert (unpacked / "module_utils" / "command_queue.py").is_file() and (unpacked / "PKG-INFO").is_file()
    assert build(tmp_path / "from-sdist", project=str(unpacked))["sha256"] == built["sha256"]


def copy_project(tmp_path):
    """The distribution and the collection's module_utils in a scratch tree of the same shape."""
    project = tmp_path / "files" / "gpufleet-command"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(MODULE_UTILS, tmp_path / "plugins" / "module_utils", ignore=shutil.ignore_patterns("__pycache__"))
    return project, tmp_path / "plugins" / "module_utils"


def test_only_an_imported_module_utils_changes_the_version(built, tmp_path):
    project, module_utils = copy_project(tmp_path)
    with open(module_utils / "cuda.py", "a") as handle:  # not imported by the daemon: same wheel
        handle.write("\n# a change the daemon does not see\n")
    assert build(tmp_path / "a", project=str(project))["sha256"] == built["sha256"]
    with open(module_utils / "_command.py", "a") as handle:  # imported through nvml: a new version
        handle.write("\n# a change the daemon runs\n")
    changed = build(tmp_path / "b", project=str(project))
    assert changed["version"] != built["version"] and changed["module_utils"] == built["module_utils"]


def test_builder_refuses_a_module_utils_that_needs_ansible(tmp_path):
    project, module_utils = copy_project(tmp_path)
    with open(module_utils / "nvml.py", "a") as handle:
        handle.write("\nfrom ansible.module_utils.basic import AnsibleModule\n")
    result = subprocess.run(
        [sys.executable, str(project / "wheel_builder.py"), "--wheel-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and not (tmp_path / "out").exists()
    assert "nvml.py:" in result.stderr and "imports ansible.module_utils.basic" in result.stderr


def test_role_keeps_no_copy_of_the_protocol():
    """The queue directories and the id rule live in command_queue only; the role asks the installed package."""
    role = os.path.join(REPO, "roles", "command_service")
    for directory in ("tasks", "vars", "defaults", "templates", "handlers"):
        for dirpath, _dirs, names in os.walk(os.path.join(role, directory)):
            for name in names:
                with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                    text = handle.read()
                assert cq.COMMAND_ID_PATTERN.pattern not in text, name
                # The two names no other word of a role contains (done, failed, processing... are everyday words).
                assert cq.COMMANDS_DIR not in text and cq.QUARANTINE_DIR not in text, name


# The wheel installed ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A fresh venv with the wheel pip-installed (no index); the pinned dependencies come from this test venv."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, "install", "--no-index", "--no-deps", built["wheel"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # ollama, watchdog and PyYAML at the pins requirements.txt names (requirements/dev.txt has the same ones).
    with open(os.path.join(site, "gpufleet_test_dependencies.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {"venv": str(venv), "python": python, "pip": pip, "site": site, "env": dict(env, PYTHONUNBUFFERED="1")}


def run_installed(installed, *argv, timeout=60):
    return subprocess.run(
        list(argv), env=installed["env"], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_pip_knows_the_package(installed, built):
    show = run_installed(installed, *installed["pip"], "show", "--files", "gpufleet-command")
    assert show.returncode == 0, show.stderr
    assert "Version: %s" % built["version"] in show.stdout
    assert "Requires: ollama, PyYAML, watchdog" in show.stdout
    assert "plugins/module_utils/command_queue.py" in show.stdout


def test_installed_code_is_the_wheels_not_the_checkout(installed):
    probe = run_installed(
        installed,
        installed["python"],
        "-c",
        "import gpufleet_command.service as s; "
        "from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq; "
        "print(s.__file__); print(cq.__file__)",
    )
    assert probe.returncode == 0, probe.stderr
    assert all(path.startswith(installed["site"]) for path in probe.stdout.split()), probe.stdout


def test_console_scripts_check_config(installed, tmp_path):
    daemon = os.path.join(installed["venv"], "bin", "gpufleet-command-service")
    good = run_installed(installed, daemon, "--check-config", "--root", str(tmp_path / "q"))
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["queue_dirs"] == [str(tmp_path / "q" / d) for d in cq.QUEUE_DIRS]
    bad = tmp_path / "bad.yml"
    bad.write_text("root: %s\nworker_id: 'gpu 07'\n" % (tmp_path / "q"))
    refused = run_installed(installed, daemon, "--check-config", "--config", str(bad))
    assert refused.returncode == 2
    assert refused.stderr.startswith("gpufleet-command-service: invalid configuration: config %s: worker_id" % bad)


def test_console_scripts_round_trip(installed, tmp_path, ollama_sim):
    root = str(tmp_path / "queue")
    bindir = os.path.join(installed["venv"], "bin")
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - open for the process lifetime
    daemon = subprocess.Popen(
        [
            os.path.join(bindir, "gpufleet-command-service"),
            "--root",
            root,
            "--ollama-url",
            ollama_sim.url,
            "--worker-id",
            "w1",
        ],
        env=installed["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while '"event": "started"' not in (tmp_path / "daemon.log").read_text():
            assert daemon.poll() is None and time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()
            time.sleep(0.05)
        client = run_installed(
            installed, os.path.join(bindir, "gpufleet-command"), "--root", root, "submit", "version", timeout=60
        )
        assert client.returncode == 0, client.stderr + (tmp_path / "daemon.log").read_text()
        assert json.loads(client.stdout)["version"] == "0.0.0-sim"
    finally:
        daemon.terminate()
        assert daemon.wait(20) == 0
        log.close()
