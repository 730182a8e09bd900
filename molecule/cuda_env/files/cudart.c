/* A stand-in libcudart for the cuda_env scenario: a real shared object the dynamic linker can cache and load. */
int cudaRuntimeGetVersion(int *version)
{
    *version = CUDART_VERSION;
    return 0;
}
