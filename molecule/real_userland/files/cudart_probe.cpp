// Asks the CUDA runtime (the real libcudart, which loads the real libcuda) how many devices there are, and prints
// which libcudart the dynamic linker gave it and the runtime's own error name and text. Host code only, so both nvcc
// and a plain g++ with $CUDA_HOME/include and $CUDA_HOME/lib64 (the way PyTorch's C++ extensions build) compile it.
#include <cstdio>
#include <dlfcn.h>
#include <cuda_runtime_api.h>

int main() {
  Dl_info info = {};
  dladdr(reinterpret_cast<void *>(&cudaGetDeviceCount), &info);
  int count = -1;
  cudaError_t err = cudaGetDeviceCount(&count);
  std::printf("libcudart: %s\n", info.dli_fname ? info.dli_fname : "?");
  std::printf("cudaGetDeviceCount: %s: %s (devices: %d)\n", cudaGetErrorName(err), cudaGetErrorString(err), count);
  return err == cudaSuccess ? 0 : 1;
}
