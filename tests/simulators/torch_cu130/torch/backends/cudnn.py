"""SIMULATED torch.backends.cudnn: the cuDNN a CUDA 13.0 build ships with."""


def version():
    return 91300
