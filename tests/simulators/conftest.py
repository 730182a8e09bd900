"""Fixtures for the tests of the SIMULATED GPU hardware (the test doubles under tests/simulators/).

The shared fixtures (``gpu_sim``, ``fake_nvml_dir``) live in tests/conftest.py.

Helpers reach the tests as fixtures (not imports), so these tests work under any pytest import mode.
"""

import json

import pytest


@pytest.fixture
def write_profile(tmp_path):
    """Writes a profile (a dict, or raw text) to a fresh temporary file and returns its path."""
    written = []

    def write(content):
        path = tmp_path / ("profile-%d.json" % len(written))
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        written.append(path)
        return path

    return write


@pytest.fixture(scope="session")
def nvml_report(gpu_sim, fake_nvml_dir):
    """nvml_report(profile_path) → what the real pynvml saw through the simulated NVML (cached per profile)."""
    cache = {}

    def report(profile):
        key = str(profile)
        if key not in cache:
            result = gpu_sim.run_python(gpu_sim.nvml_probe, profile, fake_nvml_dir)
            assert result.returncode == 0, "nvml_probe.py failed:\n%s" % result.stderr
            cache[key] = json.loads(result.stdout)
        return cache[key]

    return report
