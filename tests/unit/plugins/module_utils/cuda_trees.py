"""CUDA installations built under a temporary root, for the discovery, planning and role tests.

TEST DOUBLES, labelled: the trees copy the real packages where discovery looks (paths, links, the text of Debian's
/usr/bin/nvcc wrapper, /usr/lib/cuda's links, the multiarch library names), but every nvcc is a shell script that
prints what the real one prints, libraries are empty files and ``ldconfig -p`` is canned text in its real format.
The real Debian packages are exercised by molecule/real_userland; this machine's real CUDA 13.0 by test_cuda.py.

Debian bookworm, from the .debs (nvidia-cuda-toolkit, nvidia-cuda-dev, libcudart11.0, libcublas11 11.8.89~11.8.0-5):
/usr/bin/nvcc is ``#!/bin/sh\\n\\nexec /usr/lib/nvidia-cuda-toolkit/bin/nvcc "$@"``; the ELF nvcc, cicc and crt/ are in
/usr/lib/nvidia-cuda-toolkit/bin with ``nvcc.profile -> /etc/nvcc.profile``; ptxas, fatbinary, nvlink, cudafe++,
cuobjdump, nvdisasm, bin2c, nvprune, cu++filt are in /usr/bin; libdevice in /usr/lib/nvidia-cuda-toolkit/libdevice;
headers in /usr/include; libraries in /usr/lib/x86_64-linux-gnu; /usr/lib/cuda has an empty bin/ and lib64/,
include/cuda.h -> ../../../include/cuda.h and nvvm/libdevice -> ../../nvidia-cuda-toolkit/libdevice.
"""

import contextlib
import json
import os
from unittest import mock

from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult, run_command

# Real `nvcc --version` output.
NVCC_11_8 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2022 NVIDIA Corporation
Built on Wed_Sep_21_10:33:58_PDT_2022
Cuda compilation tools, release 11.8, V11.8.89
Build cuda_11.8.r11.8/compiler.31833905_0
"""
NVCC_12_4 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""

# Debian's /etc/nvcc.profile, as shipped.
NVCC_PROFILE = """# Syntax:
#   name  = <text>   assignment
#   name ?= <text>   conditional assignment
#   name += <text>   prepend
#   name =+ <text>   append
# Predefined variables: _SPACE_, _HERE_, _TARGET_DIR_, _TARGET_SIZE_, _NVVM_BRANCH_


NVVMIR_LIBRARY_DIR = /usr/lib/nvidia-cuda-toolkit/libdevice

PATH\t\t+= /usr/lib/nvidia-cuda-toolkit/bin:

#INCLUDES\t+=

LIBRARIES\t=+ $(_SPACE_) -L/usr/lib/x86_64-linux-gnu/stubs -L/usr/lib/x86_64-linux-gnu

#CUDAFE_FLAGS\t+=
#PTXAS_FLAGS\t+=
"""

DEBIAN_USR_BIN_TOOLS = (
    "bin2c",
    "cu++filt",
    "cudafe++",
    "cuobjdump",
    "fatbinary",
    "nvdisasm",
    "nvlink",
    "nvprune",
    "ptxas",
)
MULTIARCH = "usr/lib/x86_64-linux-gnu"
# systemd's default PATH, under a root.
DEFAULT_PATH_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin")


def write(path, text="", mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def fake_nvcc(path, output):
    """An executable that prints output, as `nvcc --version` does (run for real through run_command)."""
    return write(path, f"#!/bin/sh\ncat <<'EOF'\n{output}EOF\n", 0o755)


def debian_cuda(root, dev=True, compat_version_txt=None):
    """Debian's nvidia-cuda-toolkit 11.8 laid out under root (merged /usr: root/lib -> usr/lib); returns root/usr.

    dev=False leaves out nvidia-cuda-dev's libcudart.so link (only libcudart11.0's libraries). compat_version_txt
    puts a version.txt into /usr/lib/cuda, as older Ubuntu releases did.
    """
    usr = root / "usr"
    toolkit_lib = usr / "lib" / "nvidia-cuda-toolkit"
    write(root / "etc" / "nvcc.profile", NVCC_PROFILE)
    # The wrapper's real text, with the real path moved under root.
    write(usr / "bin" / "nvcc", f'#!/bin/sh\n\nexec {toolkit_lib}/bin/nvcc "$@"\n', 0o755)
    fake_nvcc(toolkit_lib / "bin" / "nvcc", NVCC_11_8)
    write(toolkit_lib / "bin" / "cicc", "#!/bin/sh\nexit 0\n", 0o755)
    write(toolkit_lib / "bin" / "crt" / "link.stub")
    link(toolkit_lib / "bin" / "nvcc.profile", root / "etc" / "nvcc.profile")
    write(toolkit_lib / "libdevice" / "libdevice.10.bc")
    for tool in DEBIAN_USR_BIN_TOOLS:
        write(usr / "bin" / tool, "#!/bin/sh\nexit 0\n", 0o755)
    # Programs of other packages that live in /usr/bin too (must not land in the CUDA home).
    write(usr / "bin" / "python3", "#!/bin/sh\nexit 0\n", 0o755)
    for header in ("cuda.h", "cuda_runtime.h", "cuda_runtime_api.h", "cublas_v2.h", "nvvm.h"):
        write(usr / "include" / header, "/* test double */\n")

    multiarch = root / MULTIARCH
    write(multiarch / "libcudart.so.11.8.89")
    link(multiarch / "libcudart.so.11.0", "libcudart.so.11.8.89")
    write(multiarch / "libcublas.so.11.11.3.6")
    link(multiarch / "libcublas.so.11", "libcublas.so.11.11.3.6")
    write(multiarch / "stubs" / "libcuda.so")
    write(multiarch / "libc.so.6")
    if dev:
        link(multiarch / "libcudart.so", "libcudart.so.11.0")
        link(multiarch / "libcublas.so", "libcublas.so.11")
        write(multiarch / "libcudart_static.a")
    # Debian amd64 has /usr/lib64 too, holding only the dynamic loader: not a CUDA library directory.
    link(usr / "lib64" / "ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

    compat = usr / "lib" / "cuda"
    (compat / "bin").mkdir(parents=True)
    (compat / "lib64").mkdir(parents=True)
    link(compat / "include" / "cuda.h", "../../../include/cuda.h")
    link(compat / "nvvm" / "libdevice", "../../nvidia-cuda-toolkit/libdevice")
    if compat_version_txt:
        write(compat / "version.txt", f"CUDA Version {compat_version_txt}\n")

    for directory in ("lib", "bin", "sbin"):
        if not (root / directory).exists():
            link(root / directory, f"usr/{directory}")
    for directory in DEFAULT_PATH_DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    return usr


def nvidia_cuda(root, short="12.4", version="12.4.1", nvcc_output=NVCC_12_4):
    """NVIDIA's layout (runfile/.deb) at root/usr/local/cuda-<short>; returns it."""
    home = root / "usr" / "local" / f"cuda-{short}"
    write(home / "version.json", json.dumps({"cuda": {"name": "CUDA SDK", "version": version}}))
    fake_nvcc(home / "bin" / "nvcc", nvcc_output)
    write(home / "bin" / "ptxas", "#!/bin/sh\nexit 0\n", 0o755)
    target = home / "targets" / "x86_64-linux"
    write(target / "include" / "cuda_runtime.h", "/* test double */\n")
    link(home / "include", "targets/x86_64-linux/include")
    major = version.split(".")[0]
    write(target / "lib" / f"libcudart.so.{version}")
    link(target / "lib" / f"libcudart.so.{major}", f"libcudart.so.{version}")
    link(target / "lib" / "libcudart.so", f"libcudart.so.{major}")
    link(home / "lib64", "targets/x86_64-linux/lib")
    write(home / "nvvm" / "libdevice" / "libdevice.10.bc")
    return home


def debian_ldconfig(root, extra=""):
    """`ldconfig -p` of a merged-/usr Debian host: it names the multiarch directory /lib/x86_64-linux-gnu."""
    lib = root / "lib" / "x86_64-linux-gnu"
    return (
        "412 libs found in cache `/etc/ld.so.cache'\n"
        f"\tlibcudart.so.11.0 (libc6,x86-64) => {lib}/libcudart.so.11.0\n"
        f"\tlibcudart.so (libc6,x86-64) => {lib}/libcudart.so\n"
        f"\tlibcublas.so.11 (libc6,x86-64) => {lib}/libcublas.so.11\n"
        f"\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => {lib}/libc.so.6\n"
        f"{extra}"
    )


def canned_ldconfig(stdout):
    """The real runner for nvcc; `ldconfig -p` answers stdout (rc 127, as when there is none, for None)."""

    def runner(argv, timeout=30, env=None, stdin_data=None):
        if os.path.basename(argv[0]) == "ldconfig":
            return CommandResult(127, "", "not found") if stdout is None else CommandResult(0, stdout, "")
        return run_command(argv, timeout=timeout, env=env, stdin_data=stdin_data)

    return runner


def default_path(root):
    """systemd's default PATH, each directory under root."""
    return ":".join(str(root / directory) for directory in DEFAULT_PATH_DIRS)


@contextlib.contextmanager
def search_defaults_under(root):
    """gpu_facts' default search paths, moved under root."""
    moved = [p if p.startswith("$") else str(root) + p for p in cuda.DEFAULT_CUDA_SEARCH_PATHS]
    with mock.patch.object(cuda, "DEFAULT_CUDA_SEARCH_PATHS", moved):
        yield moved


def discover_under(root, environ=None, path_env=None, ldconfig="debian", search_paths=None):
    """discover_cuda() as gpu_facts runs it (default search paths unless given), for the host under root."""
    if ldconfig == "debian":
        ldconfig = debian_ldconfig(root)
    if path_env is None:
        path_env = default_path(root)
    with search_defaults_under(root):
        return cuda.discover_cuda(
            search_paths=search_paths,
            environ=environ or {},
            path_env=path_env,
            runner=canned_ldconfig(ldconfig),
            default_link=str(root / "usr" / "local" / "cuda"),
            proc_version_path=str(root / "proc" / "version"),
            wsl_lib_dir=str(root / "usr" / "lib" / "wsl" / "lib"),
            system_prefix=str(root / "usr"),
        )
