# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import torch_probe
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult
from ansible_collections.gpufleet.nvidia.plugins.module_utils._parallel_commands import JobResult

# Old interpreters a user's venv may still run (the probe must answer under each); those this machine has.
OLD_PYTHONS = sorted(
    glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7")) + glob.glob("/usr/bin/python2.7")
)


def fake_interpreter(tmp_path, name, body):
    """An executable that ignores `-c SCRIPT` and does what body (sh) says."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


GOOD_REPORT = {
    "python_version": "3.12.3",
    "torch_installed": True,
    "torch_version": "2.13.0+cu128",
    "cuda_available": True,
    "cuda_version": "12.8",
    "cudnn_version": 91002,
    "device_count": 1,
    "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0", "memory_total_mib": 81559}],
    "arch_list": ["sm_80", "sm_90"],
    "bitsandbytes": {"version": "0.45.5", "error": None},
    "smoke": {"ok": True, "device": "cuda:0", "error": None},
    "error": None,
    "stage": "done",
}


# ---------------------------------------------------------------------------------------------------------------------
# build_entry (pure)


@pytest.mark.parametrize(
    "result, error_fragment",
    [
        pytest.param(CommandResult(0, json.dumps(GOOD_REPORT) + "\n", ""), None, id="ok"),
        pytest.param(
            CommandResult(0, "bitsandbytes banner\n" + json.dumps(GOOD_REPORT) + "\n===\n", ""), None, id="noise"
        ),
        pytest.param(CommandResult(127, "", "cannot execute"), "interpreter not found or not executable", id="missing"),
        pytest.param(
            CommandResult(124, "", "timed out"),
            "probe timed out: no answer within the overall budget of 5s",
            id="timeout",
        ),
        pytest.param(
            CommandResult(124, json.dumps(dict(GOOD_REPORT, stage="smoke")), ""),
            "probe timed out: no answer within the overall budget of 5s during 'smoke'",
            id="timeout-with-stage",
        ),
        pytest.param(
            JobResult(124, "", "", False, 0.0),
            "probe not started: the overall budget of 5s was spent on the other probes",
            id="not-started",
        ),
        pytest.param(
            CommandResult(-11, json.dumps(dict(GOOD_REPORT, stage="import torch")), ""),
            "probe was killed by signal 11 during 'import torch'",
            id="segfault",
        ),
        pytest.param(
            CommandResult(1, json.dumps(dict(GOOD_REPORT, stage="torch.cuda")), "Traceback\nMemoryError\n"),
            "probe exited with rc 1 during 'torch.cuda': Traceback | MemoryError",
            id="crash",
        ),
        pytest.param(
            CommandResult(0, "hello\n[1, 2]\n", ""), "probe printed no JSON (rc 0): hello | [1, 2]", id="junk"
        ),
        pytest.param(CommandResult(2, "", ""), "probe printed no JSON (rc 2): no output", id="silent"),
    ],
)
def test_build_entry(result, error_fragment):
    entry = torch_probe.build_entry("/usr/bin/python3", result, 5)
    assert entry["python"] == "/usr/bin/python3"
    assert set(entry) == set(torch_probe.empty_entry("x"))
    if error_fragment is None:
        assert entry["error"] is None
        assert entry["probe"] == "ok"
        assert entry["torch_version"] == "2.13.0+cu128"
        assert entry["devices"][0]["capability"] == "9.0"
        assert entry["smoke"] == {"ok": True, "device": "cuda:0", "error": None}
    else:
        assert error_fragment in entry["error"]
        assert entry["probe"] == ("timeout" if "budget" in error_fragment else "error")


def test_build_entry_ignores_unknown_keys():
    report = dict(GOOD_REPORT, surprise="x", python="/evil")
    entry = torch_probe.build_entry("/usr/bin/python3", CommandResult(0, json.dumps(report), ""), 5)
    assert "surprise" not in entry
    assert entry["python"] == "/usr/bin/python3"


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1}\n{"a": 2}\n', {"a": 2}),
        ('{"a": 1}\n{"a": \n', {"a": 1}),
        ("[1]\n", None),
        ("", None),
        (None, None),
    ],
)
def test_last_json_object(text, expected):
    assert torch_probe.last_json_object(text) == expected


# ---------------------------------------------------------------------------------------------------------------------
# fake interpreters, run for real


def test_probe_fake_interpreters(tmp_path):
    good = fake_interpreter(tmp_path, "good", f"echo 'some banner'\necho '{json.dumps(GOOD_REPORT)}'\n")
    hanging = fake_interpreter(tmp_path, "hanging", "exec sleep 30\n")
    crashing = fake_interpreter(tmp_path, "crashing", "echo 'Fatal Python error: Segmentation fault' >&2\nexit 139\n")
    junk = fake_interpreter(tmp_path, "junk", "echo 'not json at all'\n")
    not_executable = tmp_path / "not-executable"
    not_executable.write_text("#!/bin/sh\n")
    missing = str(tmp_path / "missing" / "python3")

    started = time.monotonic()
    entries = torch_probe.probe_torch_interpreters(
        [good, hanging, crashing, junk, str(not_executable), missing], timeout=1
    )
    elapsed = time.monotonic() - started

    assert [entry["python"] for entry in entries] == [good, hanging, crashing, junk, str(not_executable), missing]
    by_name = {os.path.basename(entry["python"]): entry for entry in entries}
    assert by_name["good"]["error"] is None
    assert by_name["good"]["cuda_available"] is True
    assert by_name["good"]["bitsandbytes"] == {"version": "0.45.5", "error": None}
    assert by_name["hanging"]["error"] == "probe timed out: no answer within the overall budget of 1s"
    assert by_name["hanging"]["probe"] == "timeout"
    assert by_name["good"]["probe"] == "ok"
    assert by_name["crashing"]["error"] == ("probe printed no JSON (rc 139): Fatal Python error: Segmentation fault")
    assert by_name["junk"]["error"].startswith("probe printed no JSON (rc 0): not json at all")
    assert by_name["not-executable"]["error"].startswith("interpreter not found or not executable")
    assert by_name["python3"]["error"].startswith("interpreter not found or not executable")
    assert all(entry["torch_version"] is None for name, entry in by_name.items() if name != "good")
    assert elapsed < 10


def test_probe_passes_script_budget_and_clean_environment(monkeypatch):
    calls = []

    def run_jobs(jobs, budget, max_parallel):
        calls.append((list(jobs), budget))
        return [JobResult(0, json.dumps(GOOD_REPORT), "", True, 0.1) for _job in jobs]

    monkeypatch.setattr(torch_probe, "run_jobs", run_jobs)
    monkeypatch.setenv("PYTHONPATH", "/evil")
    torch_probe.probe_torch_interpreters(["/a/python", "/b/python"], timeout=7)
    ((jobs, budget),) = calls
    assert budget == 7
    assert [job.argv for job in jobs] == [
        ["/a/python", "-c", torch_probe.PROBE_SCRIPT],
        ["/b/python", "-c", torch_probe.PROBE_SCRIPT],
    ]
    for job in jobs:
        assert job.cwd == "/"
        assert set(job.env) == {"PATH", "HOME", "LANG", "USER", "LOGNAME"}
        assert job.env["LANG"] == "C.UTF-8"
    assert torch_probe.probe_torch_interpreters([]) == []


# ---------------------------------------------------------------------------------------------------------------------
# the real probe script against a real interpreter, with stand-in torch / bitsandbytes packages


@pytest.fixture(scope="module")
def real_python(tmp_path_factory):
    """A real interpreter without torch: a fresh venv (no pip) of the interpreter running the tests."""
    venv = tmp_path_factory.mktemp("venv-probe")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def test_real_interpreter_without_torch(real_python):
    before = set(sys.modules)
    (entry,) = torch_probe.probe_torch_interpreters([real_python], timeout=60)
    assert entry["error"] is None, entry["error"]
    assert entry["python_version"].count(".") == 2
    assert entry["torch_installed"] is False
    assert entry["torch_version"] is None
    assert entry["smoke"]["ok"] is None
    assert "torch" not in set(sys.modules) - before


FAKE_TORCH = """
import os
MODE = open(os.path.join(os.path.dirname(__file__), "MODE")).read().strip()
if MODE == "segfault":
    import signal
    os.kill(os.getpid(), signal.SIGSEGV)
if MODE == "import-error":
    raise OSError("libtorch_cuda.so: cannot open shared object file: No such file or directory")

__version__ = "2.13.0+cpu" if MODE == "cpu" else "2.13.0+cu128"
float32 = "float32"


class version:
    cuda = None if MODE == "cpu" else "12.8"


class _Cudnn:
    @staticmethod
    def version():
        return None if MODE == "cpu" else 91002


class backends:
    cudnn = _Cudnn


class Tensor:
    def __init__(self, values, device="cpu"):
        self.values = list(values)
        self.device = device

    def to(self, device):
        if MODE == "no-kernel":
            raise RuntimeError("CUDA error: no kernel image is available for execution on the device")
        return Tensor(self.values, device)

    def cpu(self):
        return Tensor(self.values, "cpu")

    def __add__(self, other):
        wrong = 1.0 if (MODE == "wrong-math" and self.device != "cpu") else 0.0
        return Tensor([a + b + wrong for a, b in zip(self.values, other.values)], self.device)


def arange(n, dtype=None):
    return Tensor(float(i) for i in range(n))


def full(shape, value, dtype=None):
    return Tensor([value] * shape[0])


def equal(a, b):
    return a.values == b.values


class _Props:
    def __init__(self, name, major, minor, total_memory):
        self.name, self.major, self.minor, self.total_memory = name, major, minor, total_memory


class cuda:
    @staticmethod
    def is_available():
        return MODE != "cpu"

    @staticmethod
    def device_count():
        return 0 if MODE == "cpu" else 2

    @staticmethod
    def get_arch_list():
        return [] if MODE == "cpu" else ["sm_80", "sm_90"]

    @staticmethod
    def get_device_properties(index):
        return _Props("NVIDIA H100 80GB HBM3", 9, 0, 85520809984)

    @staticmethod
    def synchronize():
        pass
"""

FAKE_BNB_BROKEN = """
import torch
raise RuntimeError("CUDA Setup failed despite GPU being available. libcudart.so not found")
"""


@pytest.fixture
def fake_site(real_python):
    """Stand-in torch (and, per test, bitsandbytes) installed into the real venv's site-packages.

    Installed there, not put on PYTHONPATH: probes run with a clean environment. Its mode is the file torch/MODE.
    """
    site = pathlib.Path(
        subprocess.run(
            [real_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(textwrap.dedent(FAKE_TORCH))
    yield site
    shutil.rmtree(site / "torch")
    shutil.rmtree(site / "bitsandbytes", ignore_errors=True)


def _probe_with(python, site, mode, timeout=60):
    (site / "torch" / "MODE").write_text(mode)
    (entry,) = torch_probe.probe_torch_interpreters([python], timeout=timeout)
    return entry


def test_script_with_cpu_build(real_python, fake_site):
    entry = _probe_with(real_python, fake_site, "cpu")
    assert entry["error"] is None
    assert entry["torch_installed"] is True
    assert entry["torch_version"] == "2.13.0+cpu"
    assert entry["cuda_available"] is False
    assert entry["cuda_version"] is None
    assert entry["cudnn_version"] is None
    assert entry["device_count"] == 0
    assert entry["devices"] == []
    assert entry["smoke"] == {"ok": None, "device": None, "error": None}
    assert entry["bitsandbytes"]["installed"] is False
    assert entry["bitsandbytes"]["version"] is None
    assert entry["build"] == "cpu" and entry["build_tag"] == "cpu"


def test_script_with_gpu_build(real_python, fake_site):
    bnb = fake_site / "bitsandbytes"
    bnb.mkdir()
    (bnb / "__init__.py").write_text('__version__ = "0.45.5"\n')
    entry = _probe_with(real_python, fake_site, "gpu")
    assert entry["error"] is None
    assert entry["cuda_available"] is True
    assert entry["cuda_version"] == "12.8"
    assert entry["cudnn_version"] == 91002
    assert entry["device_count"] == 2
    assert entry["devices"][1] == {
        "index": 1,
        "name": "NVIDIA H100 80GB HBM3",
        "capability": "9.0",
        "memory_total_mib": 81559,
    }
    assert entry["arch_list"] == ["sm_80", "sm_90"]
    assert entry["smoke"] == {"ok": True, "device": "cuda:0", "error": None}
    assert entry["bitsandbytes"]["version"] == "0.45.5"
    assert entry["bitsandbytes"]["error"] is None


@pytest.mark.parametrize(
    "mode, smoke_error",
    [
        ("wrong-math", "GPU result differs from CPU result"),
        ("no-kernel", "RuntimeError: CUDA error: no kernel image is available for execution on the device"),
    ],
)
def test_script_smoke_failures(real_python, fake_site, mode, smoke_error):
    entry = _probe_with(real_python, fake_site, mode)
    assert entry["error"] is None
    assert entry["smoke"] == {"ok": False, "device": "cuda:0", "error": smoke_error}


def test_script_reports_bitsandbytes_import_error(real_python, fake_site):
    bnb = fake_site / "bitsandbytes"
    bnb.mkdir()
    (bnb / "__init__.py").write_text(FAKE_BNB_BROKEN)
    entry = _probe_with(real_python, fake_site, "gpu")
    assert entry["error"] is None
    assert entry["bitsandbytes"]["version"] is None
    assert entry["bitsandbytes"]["error"].startswith("RuntimeError: CUDA Setup failed")


# A real shared object that loads into any CPython of this build, standing in for bitsandbytes' native library.
LOADABLE_SO = __import__("_ctypes").__file__


@pytest.mark.parametrize(
    "mode, files, expected, found, loads, cpu_fallback",
    [
        # torch built for CUDA 12.8: bitsandbytes looks for libbitsandbytes_cuda128.so
        ("gpu", {"libbitsandbytes_cuda128.so": "real"}, "libbitsandbytes_cuda128.so", True, True, False),
        ("gpu", {"libbitsandbytes_cuda128.so": "junk"}, "libbitsandbytes_cuda128.so", True, False, False),
        # only other CUDA versions' libraries and the CPU one: not found; newer versions fall back to the CPU
        (
            "gpu",
            {"libbitsandbytes_cuda118.so": "real", "libbitsandbytes_cpu.so": "real"},
            "libbitsandbytes_cuda128.so",
            False,
            None,
            True,
        ),
        ("gpu", {"libbitsandbytes_cuda118.so": "real"}, "libbitsandbytes_cuda128.so", False, None, False),
        # a CPU torch: the CPU library
        ("cpu", {"libbitsandbytes_cpu.so": "real"}, "libbitsandbytes_cpu.so", True, True, False),
    ],
)
def test_script_checks_the_library_bitsandbytes_will_load(
    real_python, fake_site, mode, files, expected, found, loads, cpu_fallback
):
    bnb = fake_site / "bitsandbytes"
    bnb.mkdir()
    (bnb / "__init__.py").write_text('__version__ = "0.45.5"\n')
    for name, content in files.items():
        if content == "real":
            shutil.copy(LOADABLE_SO, bnb / name)
        else:
            (bnb / name).write_text("not a shared object\n")
    entry = _probe_with(real_python, fake_site, mode)
    report = entry["bitsandbytes"]
    assert report["installed"] is True and report["version"] == "0.45.5"
    assert report["libraries"] == sorted(files)
    assert report["library"]["expected"] == expected
    assert report["library"]["found"] is found
    assert report["library"]["loads"] is loads
    assert report["cpu_fallback"] is cpu_fallback
    if found and loads:
        assert report["library"]["path"] == str(bnb / expected) and report["library"]["error"] is None
    elif found:
        assert "OSError" in report["library"]["error"]
    else:
        assert report["library"]["error"] == f"{expected} is not in {bnb}"


@pytest.mark.parametrize(
    "cuda, hip, override, expected",
    [
        ("12.8", None, None, "libbitsandbytes_cuda128.so"),
        ("11.8", None, None, "libbitsandbytes_cuda118.so"),
        ("12.8", None, "124", "libbitsandbytes_cuda124.so"),  # BNB_CUDA_VERSION
        (None, "6.2.41133-dd7f95766", None, "libbitsandbytes_rocm62.so"),
        (None, None, None, "libbitsandbytes_cpu.so"),
    ],
)
def test_bitsandbytes_library_name(cuda, hip, override, expected):
    from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_probe_main

    assert _torch_probe_main.bitsandbytes_library_name(cuda, hip, override) == expected


def test_script_reports_torch_import_error(real_python, fake_site):
    entry = _probe_with(real_python, fake_site, "import-error")
    assert entry["torch_installed"] is True
    assert entry["torch_version"] is None
    assert entry["error"].startswith("import torch failed: OSError: libtorch_cuda.so")


def test_script_survives_crash_inside_torch(real_python, fake_site):
    entry = _probe_with(real_python, fake_site, "segfault")
    assert entry["python_version"] is not None
    assert entry["torch_installed"] is True
    assert entry["error"].startswith("probe was killed by signal 11 during 'import torch'")


def test_script_ignores_torch_in_working_directory(real_python, tmp_path, monkeypatch):
    (tmp_path / "torch.py").write_text("raise SystemExit('picked up ./torch.py')\n")
    monkeypatch.chdir(tmp_path)
    (entry,) = torch_probe.probe_torch_interpreters([real_python], timeout=60)
    assert entry["error"] is None
    assert entry["torch_installed"] is False


@pytest.mark.parametrize("python", OLD_PYTHONS)
def test_probe_program_runs_on_old_pythons(python):
    """The probe is shipped as source to whatever Python a venv has; it must answer under Python 2.7 too."""
    (entry,) = torch_probe.probe_torch_interpreters([python], timeout=60)
    assert entry["error"] is None
    assert entry["python_version"].startswith("2.7.")
    assert entry["torch_installed"] is False


def test_probe_program_in_process(monkeypatch):
    """The probe program is a module: main() run here, without torch, reports each stage and ends with 'done'."""
    from ansible_collections.gpufleet.nvidia.plugins.module_utils import _torch_probe_main

    monkeypatch.setattr(_torch_probe_main, "installed", lambda name: False)
    lines = []

    class Out:
        def write(self, text):
            lines.extend(line for line in text.splitlines() if line)

        def flush(self):
            pass

    report = _torch_probe_main.main(Out())
    assert [json.loads(line)["stage"] for line in lines] == ["start", "done"]
    assert report["torch_installed"] is False and report["error"] is None
    # Every key the probe reports is an entry key; the entry adds what the caller knows (environment, verdicts).
    added = {"python", "probe", "ran_as", "seconds", "kind", "name", "prefix", "owner", "build", "build_tag"}
    assert set(report) - {"stage"} == set(torch_probe.empty_entry("x")) - added - {"cuda_compat"}


# ---------------------------------------------------------------------------------------------------------------------
# default_torch_pythons


@pytest.fixture
def interpreters(tmp_path):
    """A base interpreter with a python3 link, and a venv whose bin/python links to the same base binary."""
    base_bin = tmp_path / "base" / "bin"
    base_bin.mkdir(parents=True)
    real = base_bin / "python3.12"
    real.write_text("#!/bin/sh\n")
    real.chmod(0o755)
    (base_bin / "python3").symlink_to("python3.12")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base_bin}\n")
    (venv / "bin" / "python").symlink_to(real)
    (venv / "bin" / "python3").symlink_to("python")
    return {
        "base": str(real),
        "base_bin": str(base_bin),
        "venv": str(venv / "bin" / "python"),
        "venv_bin": str(venv / "bin"),
    }


@pytest.mark.parametrize(
    "current, path_env, expected",
    [
        ("base", "base_bin", ["base"]),
        ("venv", "base_bin", ["venv", "base_bin/python3"]),
        ("venv", "venv_bin", ["venv"]),
        ("base", "", ["base"]),
        (None, "base_bin", ["base_bin/python3"]),
        ("", "venv_bin", ["venv_bin/python3"]),
    ],
)
def test_default_torch_pythons(interpreters, current, path_env, expected):
    def resolve(name):
        key, _sep, rest = name.partition("/")
        return os.path.join(interpreters[key], rest) if rest else interpreters[key]

    result = torch_probe.default_torch_pythons(
        current=interpreters[current] if current else current, path_env=resolve(path_env) if path_env else ""
    )
    assert result == [resolve(name) for name in expected]


def test_default_torch_pythons_uses_running_interpreter():
    assert torch_probe.default_torch_pythons()[0] == sys.executable


def test_interpreter_in_a_missing_prefix_is_an_error_not_a_refusal():
    (entry,) = torch_probe.probe_torch_interpreters(["/nonexistent-gpufleet/env/bin/python"], timeout=10)
    assert entry["probe"] == "error"
    assert entry["error"] == "interpreter not found or not executable: /nonexistent-gpufleet/env/bin/python"
    assert entry["prefix"] == "/nonexistent-gpufleet/env" and entry["owner"] is None
