"""site.yml checks every role's settings in its first play, once per host, before any role runs.

Run against this machine with a wrong setting: the host must fail at the check, naming the setting, with nothing
applied (the check is the first task after the read-only GPU gather, and a failed host takes no further task).
"""

import os
import subprocess
import sys

import pytest
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, VENV_BIN, ansible_env


def run_site(*extra):
    argv = [
        os.path.join(VENV_BIN, "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-e",
        '{"gpufleet_facts_subset": ["nvml"]}',
        os.path.join(REPO, "playbooks", "site.yml"),
        *extra,
    ]
    return subprocess.run(argv, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "setting, message",
    [
        ('{"burnin_device": "gpu"}', "burnin_device"),
        ('{"cuda_env_services": {"a": 1}}', "cuda_env_services"),
        ('{"fleet_report_formats": ["pdf"]}', "fleet_report_formats"),
        ('{"docker_runtime_require_gpu": "perhaps"}', "docker_runtime_require_gpu"),
        ('{"container_toolkit_channel": "nightly"}', "container_toolkit_channel"),
    ],
)
def test_a_wrong_setting_of_any_role_stops_the_host_before_any_role_runs(setting, message):
    proc = run_site("-e", setting)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Check the settings of every role against its argument_specs" in out
    assert "Validation of arguments failed" in out and message in out, out[-3000:]
    # No role ran: the play of the first role never reached the host.
    assert "Apply the cuda_env role" not in out and "cuda_env :" not in out, out[-3000:]
