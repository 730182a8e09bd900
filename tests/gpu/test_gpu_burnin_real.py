"""The torch burn-in on a REAL GPU (`make test-gpu`): bf16 on cuda:0 for a few seconds, and the fault self-test.

Drives module_utils directly, like test_real_gpu.py. The worker runs under GPUFLEET_TORCH_PYTHON (default: this
interpreter), which needs a CUDA build of PyTorch.
"""

import os
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, nvml

pytestmark = pytest.mark.gpu

TORCH_PYTHON = os.environ.get("GPUFLEET_TORCH_PYTHON", sys.executable)


def _skip_reason():
    facts = nvml.collect_gpu_facts()
    if not facts["present"]:
        return "no GPU: %s" % facts["error"]
    probe = subprocess.run(
        [TORCH_PYTHON, "-c", "import torch; assert torch.cuda.is_available()"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "%s has no CUDA-enabled torch" % TORCH_PYTHON
    return None


_REASON = _skip_reason()
if _REASON:
    pytestmark = [pytest.mark.gpu, pytest.mark.skip(reason=_REASON)]


def _plan(**overrides):
    params = {
        "backend": "torch",
        "duration": 15,
        "gpus": ["0"],
        "dtype": "bf16",
        "memory_fraction": 0.5,
        "matrix_size": "8192",
        "device": "cuda",
        "inject_fault": False,
    }
    params.update(overrides)
    return burn.plan_burn(params, nvml.collect_gpu_facts())


def _run(plan, tmp_path):
    with nvml.NvmlSession() as session:
        results = burn.run_torch_burn(plan, TORCH_PYTHON, str(tmp_path), session.sample)
    burn.judge(results, {"max_errors": 0})
    return results


def test_bf16_burn_passes_with_samples_and_tflops(tmp_path):
    (result,) = _run(_plan(), tmp_path)
    print("burn-in result:", result)
    assert result["verdict"] == "pass", result["reasons"]
    assert result["errors"] == 0 and result["nans"] == 0 and result["spot_checks"] >= 2
    assert result["samples"] >= 10 and result["max_temperature_c"] is not None
    assert result["tflops"]["median"] > 10
    if result["peak_tflops"]:
        assert result["fraction_of_peak"] > 0.3


def test_injected_fault_is_reported_on_that_gpu(tmp_path):
    (result,) = _run(_plan(inject_fault=True, duration=5), tmp_path)
    assert result["verdict"] == "fail" and result["errors"] == 1, result
