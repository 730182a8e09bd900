# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Judge whether the running Docker gives containers the GPUs: its runtimes and CDI, then a real GPU container.

Used by the docker_gpu_check module (the docker_runtime role's verify). ``docker info`` is parsed by
container.parse_docker_info()/summarize_docker_info(), the same parser gpu_facts uses. The judgements are pure
functions; check_docker_gpus() runs docker only through ``runner`` (a _command.run_command) and never raises.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.gpufleet.nvidia.plugins.module_utils.container import (
    parse_docker_info,
    summarize_docker_info,
)

# `docker run --device <vendor/class=name>` (CDI device requests) needs Docker 25.
CDI_MIN_DOCKER_VERSION = (25, 0)
CDI_ALL_GPUS = "nvidia.com/gpu=all"
DOCKER_INFO_TIMEOUT = 30
_VERSION_RE = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?")
# What `nvidia-smi -L` prints for each GPU: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)".
_GPU_LINE_RE = re.compile(r"^GPU [0-9]+:")


class DockerCheckError(Exception):
    """The running Docker cannot give containers GPUs whatever is asked: fail, naming what to fix."""


def docker_supports_cdi_devices(version):
    """True when Docker ``version`` ("25.0.3", "20.10.24+dfsg1") takes CDI device requests; False when unknown."""
    match = _VERSION_RE.match(version or "")
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2) or 0)) >= CDI_MIN_DOCKER_VERSION


def judge_docker_info(summary, runtime, daemon_config_path, service_name):
    """Raise DockerCheckError when the running Docker lacks ``runtime`` or, on Docker 25+, reports no CDI dirs.

    ``summary`` is container.summarize_docker_info() of ``docker info``.
    """
    if runtime not in summary["runtimes"]:
        raise DockerCheckError(
            f"docker info lists the runtimes {', '.join(summary['runtimes']) or '(none)'} but not {runtime}; check "
            f"runtimes.{runtime} in {daemon_config_path} and that its executable is installed (the NVIDIA Container "
            f"Toolkit's nvidia-container-runtime), then restart {service_name}"
        )
    if docker_supports_cdi_devices(summary["version"]) and not summary["cdi_spec_dirs"]:
        raise DockerCheckError(
            f"Docker {summary['version']} reports no CDI spec directories (CDI is off) although it takes CDI device "
            f"requests; set features.cdi in {daemon_config_path} and restart {service_name}"
        )


def gpu_container_argv(docker, image, runtime, cdi_devices, pull_never=False):
    """``docker run`` of ``image`` listing its GPUs: by CDI device request on Docker 25+, else by the runtime."""
    argv = [docker, "run", "--rm"]
    if pull_never:
        argv += ["--pull", "never"]
    if cdi_devices:
        argv += ["--device", CDI_ALL_GPUS]
    else:
        argv += ["--runtime", runtime, "--env", "NVIDIA_VISIBLE_DEVICES=all"]
    return [*argv, image, "nvidia-smi", "-L"]


def listed_gpus(stdout):
    """The GPU lines of ``nvidia-smi -L`` output (MIG device lines and anything else left out)."""
    return [line.strip() for line in (stdout or "").splitlines() if _GPU_LINE_RE.match(line.strip())]


def judge_gpu_container(rc, stdout, stderr, expected_gpus, command):
    """None when the container ran and listed ``expected_gpus`` GPUs; else why GPU containers are not ready."""
    gpus = listed_gpus(stdout)
    if rc == 0 and len(gpus) == expected_gpus:
        return None
    reason = f"{command} listed {len(gpus)} of {expected_gpus} GPUs"
    if rc != 0:
        reason += f" (exit status {rc})"
    errors = (stderr or "").strip().splitlines()
    return f"{reason}: {errors[-1]}" if errors else reason


def restart_pending_reason(daemon_config_path, service_name):
    return (
        f"{daemon_config_path} changed and {service_name} has not been restarted since: restart {service_name} to load "
        "the NVIDIA runtime; GPU containers are not checked yet"
    )


def check_docker_gpus(
    runner,
    docker,
    runtime="nvidia",
    image="",
    expected_gpus=0,
    restart_pending=False,
    daemon_config_path="/etc/docker/daemon.json",
    service_name="docker",
    timeout=300,
    pull_never=False,
):
    """Ask the running Docker (``docker info``) and, with ``image``, run a GPU container; return the result dict.

    {ready, reasons, docker, cdi_devices, container_test}. ``ready`` is True when Docker lists ``runtime`` (and,
    on Docker 25+, CDI spec directories) and the container, when there is an image, listed ``expected_gpus`` GPUs.
    Raises DockerCheckError when docker info fails, lacks the runtime or CDI: those fail whatever the caller
    requires. ``restart_pending``: the configuration changed and Docker was not restarted, so it is not asked.
    """
    result = {"ready": False, "reasons": [], "docker": None, "cdi_devices": None, "container_test": None}
    if restart_pending:
        result["reasons"].append(restart_pending_reason(daemon_config_path, service_name))
        return result
    info_run = runner([docker, "info", "--format", "{{json .}}"], timeout=DOCKER_INFO_TIMEOUT)
    info = parse_docker_info(info_run.stdout)
    summary = summarize_docker_info(info) if info is not None else None
    if summary is None or summary["version"] is None:
        errors = info.get("ServerErrors") if info is not None else None
        if isinstance(errors, list) and errors:
            detail = str(errors[0])
        else:
            lines = (info_run.stderr or info_run.stdout or "").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {info_run.rc}"
        raise DockerCheckError(
            f"docker info cannot reach the Docker daemon: {detail}; is {service_name} running "
            f"(systemctl status {service_name})?"
        )
    result["docker"] = summary
    judge_docker_info(summary, runtime, daemon_config_path, service_name)
    result["cdi_devices"] = docker_supports_cdi_devices(summary["version"])
    if image:
        argv = gpu_container_argv(docker, image, runtime, result["cdi_devices"], pull_never)
        run = runner(argv, timeout=timeout)
        # Named without the docker path, as an operator would type it.
        command = " ".join(["docker", *argv[1:]])
        reason = judge_gpu_container(run.rc, run.stdout, run.stderr, expected_gpus, command)
        result["container_test"] = {
            "command": argv,
            "rc": run.rc,
            "gpus": listed_gpus(run.stdout),
            "stderr": (run.stderr or "").strip(),
        }
        if reason:
            result["reasons"].append(reason)
    result["ready"] = not result["reasons"]
    return result
