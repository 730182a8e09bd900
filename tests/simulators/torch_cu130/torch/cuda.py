"""SIMULATED torch.cuda of a CUDA 13.0 build on a driver too old for it (as the real one answers there)."""

import warnings


def is_available():
    warnings.warn(
        "CUDA initialization: The NVIDIA driver on your system is too old. (SIMULATED torch: see torch/__init__.py)",
        stacklevel=2,
    )
    return False


def device_count():
    return 0


def get_arch_list():
    return ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
