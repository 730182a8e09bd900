"""SIMULATED torch.version: a CUDA 13.0 build."""

__version__ = "2.13.0+cu130"
cuda = "13.0"
hip = None
git_version = "simulated"
