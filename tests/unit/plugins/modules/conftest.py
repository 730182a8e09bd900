import pytest
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import patch_module_exits


@pytest.fixture(autouse=True)
def _catch_module_exit(monkeypatch):
    patch_module_exits(monkeypatch)
