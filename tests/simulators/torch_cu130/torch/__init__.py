"""SIMULATED PyTorch for tests and the demo -- not PyTorch.

Stands in for a CUDA 13.0 build of PyTorch (``pip install torch --index-url .../cu130``), which cannot be installed
here (several GB of NVIDIA libraries, no GPU to use them). It has what gpu_facts' torch probe reads: the version with
its local build tag, ``torch.version.cuda``, and ``torch.cuda`` answering as a CUDA build does on a host whose driver is
too old for it (``is_available()`` is False, with PyTorch's warning). Whether the driver is too old is decided by
gpu_facts from NVML, never by this package.
"""

from . import backends, cuda, version

__version__ = version.__version__
__all__ = ["backends", "cuda", "version"]
