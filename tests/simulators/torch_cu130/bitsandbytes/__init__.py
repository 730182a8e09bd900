"""SIMULATED bitsandbytes -- not bitsandbytes. Built for CUDA 12.8 (its native libraries are named for 12.8 and the
CPU), next to a torch for CUDA 13.0: the real one looks for libbitsandbytes_cuda130.so at import, does not find it and
falls back to the CPU. The .so files here are empty names, never loaded: gpu_facts only loads the one it expects."""

__version__ = "0.48.0"
