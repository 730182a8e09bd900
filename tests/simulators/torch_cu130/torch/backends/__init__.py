"""SIMULATED torch.backends."""

from . import cudnn

__all__ = ["cudnn"]
