"""The SIMULATED nvidia-ctk (tests/simulators/bin/nvidia-ctk): cdi generate, cdi list, runtime configure."""

import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The one implementation of "the simulator at version V", shared with the apt repository generator that packages it.
NVIDIA_CTK_VERSION_HELPER = Path(__file__).resolve().parents[1] / "container_toolkit" / "nvidia_ctk_version.py"


def ctk(gpu_sim, args, profile=None):
    return gpu_sim.run_tool("nvidia-ctk", args, profile)


def test_version(gpu_sim):
    result = ctk(gpu_sim, ["--version"])
    assert result.returncode == 0
    assert result.stdout == "NVIDIA Container Toolkit CLI version 1.17.8\ncommit: simulated\n"


# ------------------------------------------------------------------------------------------------
# cdi generate
# ------------------------------------------------------------------------------------------------


def check_spec(spec, gpus, names, kind="nvidia.com/gpu"):
    assert spec["cdiVersion"] == "0.5.0"
    assert spec["kind"] == kind
    devices = spec["devices"]
    assert [device["name"] for device in devices] == [*names, "all"]
    for index, device in enumerate(devices[:-1]):
        assert device["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvidia%d" % index}]
    assert devices[-1]["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvidia%d" % i} for i in range(len(gpus))]
    shared = [node["path"] for node in spec["containerEdits"]["deviceNodes"]]
    assert "/dev/nvidiactl" in shared and "/dev/nvidia-uvm" in shared


def test_generate_yaml_to_stdout(gpu_sim):
    yaml = pytest.importorskip("yaml")
    gpus = gpu_sim.load_profile("a6000x8")["gpus"]
    result = ctk(gpu_sim, ["cdi", "generate"], gpu_sim.profile_path("a6000x8"))
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(result.stdout)
    check_spec(spec, gpus, [str(index) for index in range(8)])
    # the driver's libraries are mounted by their versioned names
    mounts = [mount["hostPath"] for mount in spec["containerEdits"]["mounts"]]
    assert any(path.endswith("libcuda.so.550.54.15") for path in mounts)


def test_yaml_and_json_outputs_describe_the_same_spec(gpu_sim, tmp_path):
    yaml = pytest.importorskip("yaml")
    profile = gpu_sim.profile_path("faulty")
    as_yaml = ctk(gpu_sim, ["cdi", "generate", "--device-name-strategy=uuid"], profile)
    as_json = ctk(gpu_sim, ["cdi", "generate", "--device-name-strategy=uuid", "--format=json"], profile)
    assert as_yaml.returncode == as_json.returncode == 0
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


@pytest.mark.parametrize("profile", ["a6000x8", "h100", "faulty"])
@pytest.mark.parametrize("strategy", ["index", "uuid", "type-index"])
def test_generate_json_file_by_extension(gpu_sim, tmp_path, profile, strategy):
    gpus = gpu_sim.load_profile(profile)["gpus"]
    output = tmp_path / "specs" / "nvidia.json"
    result = ctk(
        gpu_sim,
        ["cdi", "generate", "--output=%s" % output, "--device-name-strategy", strategy],
        gpu_sim.profile_path(profile),
    )
    assert result.returncode == 0, result.stderr
    assert "INFO[0000] Generated CDI spec with version 0.5.0" in result.stderr
    assert result.stdout == ""
    names = {
        "index": [str(index) for index in range(len(gpus))],
        "uuid": [gpu["uuid"] for gpu in gpus],
        "type-index": ["gpu%d" % index for index in range(len(gpus))],
    }[strategy]
    check_spec(json.loads(output.read_text()), gpus, names)


def test_format_flag_wins_over_the_extension(gpu_sim, tmp_path):
    output = tmp_path / "nvidia.yaml"
    result = ctk(gpu_sim, ["cdi", "generate", "--output", str(output), "--format=json"], gpu_sim.profile_path("h100"))
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text())["kind"] == "nvidia.com/gpu"


@pytest.mark.parametrize("profile", ["cpu", "missing"])
def test_generate_fails_without_driver(gpu_sim, tmp_path, profile):
    path = tmp_path / "missing.json" if profile == "missing" else gpu_sim.profile_path(profile)
    output = tmp_path / "nvidia.yaml"
    result = ctk(gpu_sim, ["cdi", "generate", "--output=%s" % output], path)
    assert result.returncode == 1
    assert "ERROR" in result.stderr and "nvml: Driver Not Loaded" in result.stderr
    assert not output.exists()


def test_generate_fails_without_gpus(gpu_sim, write_profile):
    result = ctk(gpu_sim, ["cdi", "generate"], write_profile({"driver_loaded": True, "gpus": []}))
    assert result.returncode == 1 and "ERROR" in result.stderr and result.stdout == ""


@pytest.fixture
def nvidia_ctk_version():
    spec = importlib.util.spec_from_file_location("gpufleet_nvidia_ctk_version", NVIDIA_CTK_VERSION_HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "version, compat_hook",
    [("1.17.8", False), ("1.9.99", False), ("1.18.0", True), ("1.19.0-rc.1", True), ("2.0.0", True)],
)
def test_specs_from_1_18_carry_the_cuda_compat_hook(gpu_sim, tmp_path, nvidia_ctk_version, version, compat_hook):
    script = tmp_path / "nvidia-ctk"
    script.write_text(nvidia_ctk_version.nvidia_ctk_source(version), encoding="utf-8")
    profile = gpu_sim.profile_path("h100")
    reported = subprocess.run(
        [sys.executable, str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert reported.stdout.startswith("NVIDIA Container Toolkit CLI version %s\n" % version)
    generated = subprocess.run(
        [sys.executable, str(script), "cdi", "generate", "--format=json"],
        env=gpu_sim.env(profile),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    hooks = json.loads(generated.stdout)["containerEdits"]["hooks"]
    update_ldcache = {
        "hookName": "createContainer",
        "path": "/usr/bin/nvidia-cdi-hook",
        "args": ["nvidia-cdi-hook", "update-ldcache", "--folder", "/usr/lib/x86_64-linux-gnu"],
    }
    compat = {
        "hookName": "createContainer",
        "path": "/usr/bin/nvidia-cdi-hook",
        "args": ["nvidia-cdi-hook", "enable-cuda-compat", "--host-driver-version=570.86.15"],
    }
    assert hooks == ([compat, update_ldcache] if compat_hook else [update_ldcache])


def test_the_unpatched_simulator_writes_1_17_specs(gpu_sim):
    result = ctk(gpu_sim, ["cdi", "generate", "--format=json"], gpu_sim.profile_path("a6000x8"))
    hooks = json.loads(result.stdout)["containerEdits"]["hooks"]
    assert [hook["args"][1] for hook in hooks] == ["update-ldcache"]


def test_the_version_helper_needs_exactly_one_version_line(nvidia_ctk_version):
    assert nvidia_ctk_version.set_nvidia_ctk_version('A = 1\nVERSION = "1.17.8"\n', "1.18.0") == (
        'A = 1\nVERSION = "1.18.0"\n'
    )
    with pytest.raises(ValueError, match="exactly one"):
        nvidia_ctk_version.set_nvidia_ctk_version('VERSION = "1"\nVERSION = "2"\n', "1.18.0")
    with pytest.raises(ValueError, match="not a toolkit version"):
        nvidia_ctk_version.set_nvidia_ctk_version('VERSION = "1.17.8"\n', '1.18.0"; import os')


# ------------------------------------------------------------------------------------------------
# cdi list
# ------------------------------------------------------------------------------------------------

# Hand-written in the layout the real toolkit produces (keys sorted, sequences at their key's indentation,
# unquoted numbers), to check that list reads more than the simulated generate writes.
REAL_STYLE_SPEC = textwrap.dedent(
    """\
    ---
    cdiVersion: 0.5.0
    containerEdits:
      deviceNodes:
      - path: /dev/nvidiactl
      env:
      - NVIDIA_VISIBLE_DEVICES=void
      hooks:
      - args:
        - nvidia-cdi-hook
        - create-symlinks
        - --link
        - libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so
        hookName: createContainer
        path: /usr/bin/nvidia-cdi-hook
    devices:
    - containerEdits:
        deviceNodes:
        - path: /dev/nvidia3
      name: 3
    - containerEdits:
        deviceNodes: [ ]
      name: 'all'   # every GPU
    kind: example.com/accelerator
    """
)


def test_list_reads_json_and_yaml_specs(gpu_sim, tmp_path):
    first, second = tmp_path / "etc-cdi", tmp_path / "run-cdi"
    assert (
        ctk(
            gpu_sim, ["cdi", "generate", "--output=%s" % (first / "nvidia.yaml")], gpu_sim.profile_path("faulty")
        ).returncode
        == 0
    )
    assert (
        ctk(
            gpu_sim,
            ["cdi", "generate", "--output=%s" % (second / "h100.json"), "--device-name-strategy=uuid"],
            gpu_sim.profile_path("h100"),
        ).returncode
        == 0
    )
    (second / "other.yml").write_text(REAL_STYLE_SPEC)
    (second / "notes.txt").write_text("not a spec")
    (first / "broken.json").write_text("{")
    result = ctk(gpu_sim, ["cdi", "list", "--spec-dir", str(first), "--spec-dir=%s" % second])
    assert result.returncode == 0
    h100_uuid = gpu_sim.load_profile("h100")["gpus"][0]["uuid"]
    expected = sorted(
        [
            "nvidia.com/gpu=0",
            "nvidia.com/gpu=1",
            "nvidia.com/gpu=all",
            "nvidia.com/gpu=%s" % h100_uuid,
            "example.com/accelerator=3",
            "example.com/accelerator=all",
        ]
    )
    assert result.stdout.splitlines() == expected
    assert "INFO[0000] Found %d CDI devices" % len(expected) in result.stderr.splitlines()
    assert "broken.json" in result.stderr  # reported and skipped


def test_list_with_no_specs(gpu_sim, tmp_path):
    result = ctk(gpu_sim, ["cdi", "list", "--spec-dir", str(tmp_path / "nothing-here")])
    assert (result.returncode, result.stdout) == (0, "")
    assert "INFO[0000] Found 0 CDI devices" in result.stderr


def test_list_does_not_need_the_driver(gpu_sim, tmp_path):
    (tmp_path / "a.json").write_text(
        json.dumps({"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": [{"name": "0", "containerEdits": {}}]})
    )
    result = ctk(gpu_sim, ["cdi", "list", "--spec-dir", str(tmp_path)], gpu_sim.profile_path("cpu"))
    assert result.stdout == "nvidia.com/gpu=0\n"


# ------------------------------------------------------------------------------------------------
# runtime configure
# ------------------------------------------------------------------------------------------------

NVIDIA_RUNTIME = {"args": [], "path": "nvidia-container-runtime"}


def test_configure_dry_run_prints_and_leaves_the_file(gpu_sim, tmp_path):
    config = tmp_path / "daemon.json"
    original = '{"log-driver": "journald", "runtimes": {"runc": {"path": "runc"}}}'
    config.write_text(original)
    result = ctk(gpu_sim, ["runtime", "configure", "--runtime=docker", "--config=%s" % config, "--dry-run"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "log-driver": "journald",
        "runtimes": {"runc": {"path": "runc"}, "nvidia": NVIDIA_RUNTIME},
    }
    assert config.read_text() == original


def test_configure_writes_default_runtime_and_cdi(gpu_sim, tmp_path):
    config = tmp_path / "docker" / "daemon.json"
    args = ["runtime", "configure", "--runtime=docker", "--config=%s" % config, "--set-as-default", "--cdi.enabled"]
    result = ctk(gpu_sim, args)
    assert result.returncode == 0, result.stderr
    assert "Wrote updated config to %s" % config in result.stderr
    written = config.read_text()
    assert json.loads(written) == {
        "default-runtime": "nvidia",
        "features": {"cdi": True},
        "runtimes": {"nvidia": NVIDIA_RUNTIME},
    }
    assert ctk(gpu_sim, args).returncode == 0
    assert config.read_text() == written, "configuring twice changes nothing"


def test_configure_keeps_existing_features_and_mode(gpu_sim, tmp_path):
    config = tmp_path / "daemon.json"
    config.write_text('{"features": {"buildkit": true}, "default-runtime": "runc"}')
    os.chmod(str(config), 0o600)
    assert ctk(gpu_sim, ["runtime", "configure", "--config", str(config), "--cdi.enabled"]).returncode == 0
    assert json.loads(config.read_text()) == {
        "features": {"buildkit": True, "cdi": True},
        "default-runtime": "runc",
        "runtimes": {"nvidia": NVIDIA_RUNTIME},
    }
    assert os.stat(str(config)).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"runtimes": "nvidia"}'])
def test_configure_rejects_unusable_config(gpu_sim, tmp_path, content):
    config = tmp_path / "daemon.json"
    config.write_text(content)
    result = ctk(gpu_sim, ["runtime", "configure", "--config=%s" % config])
    assert result.returncode == 1
    assert "ERROR" in result.stderr
    assert config.read_text() == content


def test_configure_other_runtimes_are_not_simulated(gpu_sim, tmp_path):
    result = ctk(gpu_sim, ["runtime", "configure", "--runtime=containerd", "--config=%s" % (tmp_path / "c.toml")])
    assert result.returncode == 1 and "containerd" in result.stderr


def test_usage_errors_exit_1(gpu_sim):
    result = ctk(gpu_sim, ["cdi", "generate", "--no-such-flag"])
    assert result.returncode == 1 and "ERROR" in result.stderr


def test_script_is_a_marked_python38_executable(gpu_sim):
    path = gpu_sim.bin_dir / "nvidia-ctk"
    source = path.read_text(encoding="utf-8")
    assert os.access(str(path), os.X_OK)
    assert source.startswith("#!/usr/bin/env python3\n")
    assert "SIMULATED" in source.splitlines()[1]
    ast.parse(source, feature_version=(3, 8))


# ------------------------------------------------------------------------------------------------
# system create-dev-char-symlinks
# ------------------------------------------------------------------------------------------------


def test_dev_char_symlinks_created_only_in_the_test_directory(gpu_sim, tmp_path, monkeypatch):
    links = tmp_path / "char"
    links.mkdir()
    monkeypatch.setenv("GPUFLEET_SIM_DEV_CHAR_DIR", str(links))
    gpus = gpu_sim.load_profile("a6000x8")["gpus"]
    args = ["system", "create-dev-char-symlinks", "--create-all"]
    result = ctk(gpu_sim, args, gpu_sim.profile_path("a6000x8"))
    assert result.returncode == 0, result.stderr
    made = {entry.name: os.readlink(str(entry)) for entry in links.iterdir()}
    expected = {"195:%d" % index: "/dev/nvidia%d" % index for index in range(len(gpus))}
    expected.update({"195:255": "/dev/nvidiactl", "510:0": "/dev/nvidia-uvm", "510:1": "/dev/nvidia-uvm-tools"})
    assert made == expected
    # a second run finds every link in place and says nothing
    again = ctk(gpu_sim, args, gpu_sim.profile_path("a6000x8"))
    assert again.returncode == 0 and "Created link" not in again.stderr


def test_dev_char_symlinks_without_the_test_directory_only_report(gpu_sim, monkeypatch):
    monkeypatch.delenv("GPUFLEET_SIM_DEV_CHAR_DIR", raising=False)
    result = ctk(gpu_sim, ["system", "create-dev-char-symlinks", "--create-all"], gpu_sim.profile_path("h100"))
    assert result.returncode == 0, result.stderr
    assert "Would create link /dev/char/195:0 => /dev/nvidia0 (simulated)" in result.stderr
    assert "/dev/char/195:255 => /dev/nvidiactl" in result.stderr


def test_dev_char_symlinks_need_the_driver(gpu_sim, tmp_path, monkeypatch):
    links = tmp_path / "char"
    links.mkdir()
    monkeypatch.setenv("GPUFLEET_SIM_DEV_CHAR_DIR", str(links))
    result = ctk(gpu_sim, ["system", "create-dev-char-symlinks"], tmp_path / "no-profile.json")
    assert result.returncode == 1
    assert "Driver Not Loaded" in result.stderr
    assert list(links.iterdir()) == []
