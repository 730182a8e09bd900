"""Fixtures shared by every test layer: the SIMULATED GPU hardware under tests/simulators/.

The simulated libnvidia-ml.so.1 is built once per session with its own Makefile, into a temporary directory, with
-Werror so that a compiler warning fails the suite (and an edited fake_nvml.c is always rebuilt). Whatever loads it
runs with LD_LIBRARY_PATH (or an explicit CDLL) pointing there: the real pynvml then finds it, as on a GPU host.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SIMULATORS_DIR = Path(__file__).resolve().parent / "simulators"
PROFILE_ENV = "GPUFLEET_SIM_GPU_PROFILE"


class Simulators:
    """Paths of the doubles and ways to run them against a profile."""

    root = SIMULATORS_DIR
    nvml_source_dir = SIMULATORS_DIR / "nvml"
    profiles_dir = SIMULATORS_DIR / "profiles"
    bin_dir = SIMULATORS_DIR / "bin"
    nvml_probe = SIMULATORS_DIR / "nvml_probe.py"

    def profile_path(self, name):
        return self.profiles_dir / ("%s.json" % name)

    def load_profile(self, name):
        return json.loads(self.profile_path(name).read_text(encoding="utf-8"))

    @staticmethod
    def env(profile, library_dir=None):
        """A child's environment with the given profile (a path; None unsets the variable)."""
        env = dict(os.environ)
        env.pop(PROFILE_ENV, None)
        if profile is not None:
            env[PROFILE_ENV] = str(profile)
        if library_dir is not None:
            env["LD_LIBRARY_PATH"] = str(library_dir)
        return env

    def run_python(self, code, profile, library_dir, *args):
        """Runs Python code (a string) or a script (a Path) with LD_LIBRARY_PATH=library_dir."""
        command = [sys.executable] + ([str(code)] if isinstance(code, Path) else ["-c", code])
        return subprocess.run(
            command + [str(arg) for arg in args],
            env=self.env(profile, library_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def run_tool(self, tool, args, profile):
        """Runs bin/<tool> (nvidia-smi, nvidia-ctk) with the profile."""
        return subprocess.run(
            [sys.executable, str(self.bin_dir / tool)] + [str(arg) for arg in args],
            env=self.env(profile),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="session")
def gpu_sim():
    return Simulators()


@pytest.fixture(scope="session")
def fake_nvml_dir(tmp_path_factory):
    """The directory holding a freshly built simulated libnvidia-ml.so.1."""
    compiler = os.environ.get("CC", "gcc")
    if shutil.which(compiler) is None:
        pytest.fail(
            "C compiler %r not found: the simulated NVML (tests/simulators/nvml/fake_nvml.c) must be built to "
            "run these tests; install gcc (apt-get install gcc) or point CC at a C compiler" % compiler,
            pytrace=False,
        )
    if shutil.which("make") is None:
        pytest.fail(
            "make not found: it builds the simulated NVML (tests/simulators/nvml/Makefile); apt-get install make",
            pytrace=False,
        )
    build_dir = tmp_path_factory.mktemp("fake-nvml")
    result = subprocess.run(
        [
            "make",
            "-C",
            str(Simulators.nvml_source_dir),
            "BUILD_DIR=%s" % build_dir,
            "EXTRA_CFLAGS=-Werror",
            "CC=%s" % compiler,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail("building the simulated NVML failed (warnings are errors here):\n%s" % result.stdout, pytrace=False)
    assert (build_dir / "libnvidia-ml.so.1").is_file(), "make succeeded but left no libnvidia-ml.so.1"
    return build_dir
