"""container_toolkit's RHEL-family path, rendered in check mode.

No RHEL node can be converged here (molecule/container_toolkit converges the apt path on Debian), so this runs the role
against localhost with ``--check --diff --tags container_toolkit_repository``, with the role's own decisions (it
applies, the package manager is dnf) given as extra vars, and reads the .repo file it would write from the diff.
Nothing is written: check mode, and /etc/yum.repos.d does not even exist on this Debian machine.
"""

import json
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import VENV_BIN, ansible_env

PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: gpufleet.nvidia.container_toolkit
"""


def render_rhel(tmp_path, **settings):
    """The .repo file container_toolkit would write on a RHEL-family host, and every task result."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY, encoding="utf-8")
    extra = {
        "ansible_python_interpreter": sys.executable,
        "_container_toolkit_applies": True,
        "_container_toolkit_package_manager": "dnf",
        **settings,
    }
    result = subprocess.run(
        [
            *(f"{VENV_BIN}/ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook)),
            *("--check", "--diff", "--tags", "container_toolkit_repository", "-e", json.dumps(extra)),
        ],
        env=ansible_env(json_output=True),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tasks = {
        task["task"]["name"].split(" : ", 1)[-1]: task["hosts"]["localhost"]
        for task in json.loads(result.stdout)["plays"][0]["tasks"]
    }
    written = [r for name, r in tasks.items() if name.startswith("Write the repository file")]
    assert len(written) == 1, sorted(tasks)
    return written[0], tasks


def repo_options(text):
    """{key: value} of the [nvidia-container-toolkit] section."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "[nvidia-container-toolkit]", text
    return dict(line.split("=", 1) for line in lines[1:])


def test_rhel_repo_file_is_nvidias_with_metadata_signature_checked(tmp_path):
    written, tasks = render_rhel(tmp_path)
    assert written["changed"] is True
    assert "Write the repository file /etc/yum.repos.d/nvidia-container-toolkit.repo" in tasks
    options = repo_options(written["diff"][0]["after"])
    assert options == {
        "name": "NVIDIA Container Toolkit (stable)",
        "baseurl": "https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch",
        "repo_gpgcheck": "1",
        "gpgcheck": "0",
        "enabled": "1",
        "gpgkey": "https://nvidia.github.io/libnvidia-container/gpgkey",
        "sslverify": "1",
        "sslcacert": "/etc/pki/tls/certs/ca-bundle.crt",
    }
    # The apt path's tasks are not run on a dnf host.
    assert tasks["Read the installed toolkit packages (dpkg)"].get("skipped") is True


@pytest.mark.parametrize(
    ("settings", "baseurl", "gpgkey"),
    [
        (
            {"container_toolkit_channel": "experimental"},
            "https://nvidia.github.io/libnvidia-container/experimental/rpm/$basearch",
            "https://nvidia.github.io/libnvidia-container/gpgkey",
        ),
        (
            {"container_toolkit_repo_url": "https://mirror.example.internal/nvidia/libnvidia-container/"},
            "https://mirror.example.internal/nvidia/libnvidia-container/stable/rpm/$basearch",
            "https://mirror.example.internal/nvidia/libnvidia-container/gpgkey",
        ),
        (
            {
                "container_toolkit_repo_url": "https://mirror.example.internal/nvidia",
                "container_toolkit_gpg_key_url": "https://keys.example.internal/nvidia.asc",
            },
            "https://mirror.example.internal/nvidia/stable/rpm/$basearch",
            "https://keys.example.internal/nvidia.asc",
        ),
    ],
    ids=["experimental", "mirror-with-slash", "mirror-and-own-key"],
)
def test_rhel_repo_file_follows_channel_and_mirror(tmp_path, settings, baseurl, gpgkey):
    written = render_rhel(tmp_path, **settings)[0]
    options = repo_options(written["diff"][0]["after"])
    assert options["baseurl"] == baseurl
    assert options["gpgkey"] == gpgkey
    assert options["repo_gpgcheck"] == "1"
