"""`make test-gpu`: the tests here need a real NVIDIA GPU and a CUDA build of PyTorch, and FAIL without them.

When any `gpu` test is selected, the session first checks the machine (tests/gpu/gpu_host.py) and stops with one
message naming everything that is missing: the NVIDIA driver/NVML, a GPU, torch, torch with CUDA. Nothing here is
skipped for want of a GPU; `make test` deselects these tests with -m "not gpu" instead.
"""

import pytest

from ansible_collections.gpufleet.nvidia.tests.gpu import gpu_host

_HOST = {}


def pytest_collection_finish(session):
    if not any(item.get_closest_marker("gpu") for item in session.items):
        return
    host = gpu_host.check_gpu_host()
    if host["missing"]:
        pytest.exit(gpu_host.missing_message(host), returncode=pytest.ExitCode.TESTS_FAILED)
    _HOST.update(host)


@pytest.fixture(scope="session")
def gpu_facts():
    """gpu_facts' view of this host (NVML), checked to have a GPU before any test ran."""
    return _HOST["facts"]


@pytest.fixture(scope="session")
def torch_python():
    """The interpreter with a CUDA torch: GPUFLEET_TORCH_PYTHON, else found (see gpu_host.torch_python_candidates)."""
    return _HOST["torch_python"]
