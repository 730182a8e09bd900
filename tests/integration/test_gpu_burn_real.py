"""The gpu_burn backend against the REAL gpu-burn: three released tarballs, built with our command line and a real
nvcc for compute capability 9.0, then run through our run path on this GPU-less machine.

Inputs, each skipped with the reason when absent:
- the tarballs: ../shared/third_party/gpu-burn/gpu-burn-<commit>.tar.gz, or $GPUFLEET_GPU_BURN_SRC (a directory);
- nvcc: the CUDA toolkit gpu_burnin itself finds (or $GPUFLEET_NVCC), here /usr/local/cuda-13.0;
- cuBLAS, when the toolkit lacks it (this machine's toolkit is assembled from NVIDIA's wheels and has none):
  $GPUFLEET_CUBLAS_HOME or .build/gpu-burn-deps/cublas/<version>, made by hack/gpu-burn-deps.sh;
- optionally Debian's real libcuda1 (driver 535), unpacked by the same script into .build/gpu-burn-deps/libcuda
  (or $GPUFLEET_LIBCUDA_DIR): the built gpu_burn then starts and CUDA itself says there is no device. Without it
  the loader refuses to start gpu_burn (no libcuda.so.1); either way the result must be a failure quoting that.

Where the toolkit lacks cuBLAS or a libcuda to link against, the tests lay out a toolkit directory of links to the
real nvcc, headers and libraries. Its libcuda.so is a LINK-TIME STUB made here (a TEST DOUBLE, like the
lib64/stubs/libcuda.so of NVIDIA's full toolkit): empty functions named after cuda.h's entry points, with the real
library's soname, so the binary needs libcuda.so.1 at run time like any gpu_burn. Nothing else is simulated.

Each release is unpacked and built once per session, under a directory whose path holds -d, -tc, -h and -l, which
gpu-burn would take for options if it saw them.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import time

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, gpu_burn
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda import find_nvcc
from ansible_collections.gpufleet.nvidia.tests.integration.ansible_cli import REPO, VENV_BIN, ansible_env
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.gpu_burn_transcripts import gpu_burn_plan

RELEASES = ("3ead140", "671f4be", "9aefd7c")
KERNELS = {"3ead140": "compare.fatbin", "671f4be": "compare.ptx", "9aefd7c": "compare.ptx"}
TARBALL_DIR = os.environ.get("GPUFLEET_GPU_BURN_SRC") or os.path.join(REPO, "..", "shared", "third_party", "gpu-burn")
DEPS = os.path.join(REPO, ".build", "gpu-burn-deps")
# A path gpu-burn would read as -d, -tc, -h and -l if any argument held it.
HOSTILE_DIR = "gpu-burn-dev-tc-h-l"
NO_DEVICE = "no CUDA-capable device is detected"
NO_LIBCUDA = "error while loading shared libraries: libcuda.so.1: cannot open shared object file"


def tarball(release):
    path = os.path.join(TARBALL_DIR, f"gpu-burn-{release}.tar.gz")
    if not os.path.isfile(path):
        pytest.skip(f"gpu-burn {release} not found at {path} (set GPUFLEET_GPU_BURN_SRC to the tarballs' directory)")
    return path


def _link(target, link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink(target, link)


def _libcuda_link_stub(cuda_h, out_dir):
    """TEST DOUBLE: a libcuda.so to link against, with an empty function for every cu* name cuda.h mentions."""
    with open(cuda_h, encoding="utf-8", errors="replace") as handle:
        names = sorted(set(re.findall(r"\b(cu[A-Z]\w*)", handle.read())))
    source = os.path.join(out_dir, "libcuda_link_stub.c")
    with open(source, "w") as handle:
        handle.write("/* TEST DOUBLE: link-time stand-in for libcuda.so; never loaded (soname libcuda.so.1). */\n")
        handle.writelines(f"void {name}(void) {{}}\n" for name in names)
    stubs = os.path.join(out_dir, "lib64", "stubs")
    os.makedirs(stubs, exist_ok=True)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", os.path.join(stubs, "libcuda.so"), source],
        check=True,
        timeout=120,
    )


def _has_libcuda_to_link(root):
    candidates = [os.path.join(root, d, "libcuda.so") for d in ("lib64", "lib64/stubs", "lib", "lib/stubs")]
    candidates += [*glob.glob("/usr/lib/*-linux-gnu/libcuda.so"), "/usr/lib64/libcuda.so", "/usr/lib/libcuda.so"]
    return any(os.path.exists(path) for path in candidates)


@pytest.fixture(scope="session")
def toolkit(tmp_path_factory):
    """(nvcc, CUDAPATH, how) for building gpu-burn: the real toolkit, or a layout of links around it."""
    if os.environ.get("GPUFLEET_NVCC"):
        nvcc = os.environ["GPUFLEET_NVCC"]
        root = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    else:
        nvcc, root = find_nvcc(None)
    if not nvcc or not os.access(nvcc, os.X_OK):
        pytest.skip("no CUDA toolkit with nvcc on this machine (gpu_burnin's discovery found none)")
    if shutil.which("make") is None or shutil.which("g++") is None:
        pytest.skip("building gpu-burn needs make and g++")
    version = re.search(r"release (\d+\.\d+)", run_command([nvcc, "--version"]).stdout).group(1)
    has_cublas = os.path.isfile(os.path.join(root, "include", "cublas_v2.h"))
    cublas = os.environ.get("GPUFLEET_CUBLAS_HOME") or os.path.join(DEPS, "cublas", version)
    if not has_cublas and not os.path.isfile(os.path.join(cublas, "include", "cublas_v2.h")):
        pytest.skip(
            f"the CUDA {version} toolkit at {root} has no cuBLAS and none was provided: "
            "run hack/gpu-burn-deps.sh (or set GPUFLEET_CUBLAS_HOME)"
        )
    if has_cublas and _has_libcuda_to_link(root):
        return nvcc, root, f"CUDA {version} at {root}"
    layout = str(tmp_path_factory.mktemp("cuda-layout"))
    # A wrapper, as Debian's /usr/bin/nvcc is: a link would make CUDA discovery see the real toolkit instead.
    os.makedirs(os.path.join(layout, "bin"))
    with open(os.path.join(layout, "bin", "nvcc"), "w") as handle:
        handle.write(f'#!/bin/sh\nexec {os.path.realpath(nvcc)} "$@"\n')
    os.chmod(os.path.join(layout, "bin", "nvcc"), 0o755)
    for source in [os.path.join(root, "include")] + ([] if has_cublas else [os.path.join(cublas, "include")]):
        for entry in os.listdir(source):
            _link(os.path.join(source, entry), os.path.join(layout, "include", entry))
    for lib_dir in [os.path.join(root, "lib64"), os.path.join(root, "lib")] + ([] if has_cublas else [cublas + "/lib"]):
        for path in glob.glob(os.path.join(lib_dir, "lib*.so*")):
            _link(path, os.path.join(layout, "lib64", os.path.basename(path)))
    for path in glob.glob(os.path.join(layout, "lib64", "lib*.so.*")):
        _link(os.path.basename(path), re.sub(r"\.so\.[\d.]+$", ".so", path))
    if not _has_libcuda_to_link(root):
        _libcuda_link_stub(os.path.join(root, "include", "cuda.h"), layout)
    how = f"CUDA {version} at {root}" + ("" if has_cublas else f" with cuBLAS from {cublas}")
    return os.path.join(layout, "bin", "nvcc"), layout, how + " and a libcuda link stub"


@pytest.fixture(scope="session")
def libcuda_dir():
    """A directory with a real libcuda.so.1 to run with (LD_LIBRARY_PATH), or None."""
    directory = os.environ.get("GPUFLEET_LIBCUDA_DIR") or os.path.join(DEPS, "libcuda")
    return directory if os.path.exists(os.path.join(directory, "libcuda.so.1")) else None


BUILDS = {}


@pytest.fixture(scope="session", params=RELEASES)
def built(request, toolkit, tmp_path_factory):
    """gpu-burn at one release, fetched and built by our code for compute capability 9.0 (once per session)."""
    release = request.param
    source = tarball(release)
    nvcc, cuda_path, how = toolkit
    work = str(tmp_path_factory.mktemp(HOSTILE_DIR))
    src = gpu_burn.fetch_gpu_burn_src(source, work, run_command)
    started = time.monotonic()
    build = gpu_burn.build_gpu_burn(src, nvcc, cuda_path, ["9.0"], run_command)
    build["seconds"] = time.monotonic() - started
    build["release"], build["toolkit"] = release, how
    BUILDS[release] = build
    return build


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize(
    ("nvcc", "cuda_path"),
    [("/usr/local/cuda-13.0/bin/nvcc", "/usr/local/cuda-13.0"), ("/usr/bin/nvcc", "/usr")],
    ids=["toolkit", "debian"],
)
def test_makefile_dry_run(release, nvcc, cuda_path, tmp_path):
    """What each real Makefile runs with our variables (make -n: needs no nvcc), for GPUs of 8.6 and 9.0.

    "debian" is the layout of Debian's nvidia-cuda-toolkit: nvcc a wrapper in /usr/bin, headers in /usr/include,
    libraries in the multiarch directory, which the linker searches without any -L.
    """
    if shutil.which("make") is None:
        pytest.skip("needs make")
    src = gpu_burn.fetch_gpu_burn_src(tarball(release), str(tmp_path / HOSTILE_DIR), run_command)
    info = gpu_burn.read_gpu_burn_source(src)
    argv = gpu_burn.gpu_burn_build_argv(src, nvcc, cuda_path, ["9.0", "8.6"], info)
    result = run_command([argv[0], "-n", *argv[1:]], timeout=60)
    assert result.rc == 0, result.stderr
    lines = result.stdout.splitlines()
    (compile_line,) = [line for line in lines if line.startswith("g++") and " -c " in line]
    (nvcc_line,) = [line for line in lines if f"{nvcc} " in line]
    (link_line,) = [line for line in lines if line.startswith("g++ -o gpu_burn")]
    assert f"-I{cuda_path}/include" in compile_line and f"-I{cuda_path}/include" in nvcc_line
    assert ("-include gpufleet_cuda13_compat.h" in compile_line) is (release == "9aefd7c")
    assert "-arch=compute_86" in nvcc_line and "compute_ " not in nvcc_line
    if info["fatbin"]:
        assert "-gencode=arch=compute_86,code=sm_86 -gencode=arch=compute_90,code=sm_90" in nvcc_line
        assert nvcc_line.endswith("-fatbin compare.cu -o compare.fatbin")
    else:
        assert "-gencode" not in nvcc_line and nvcc_line.endswith("-ptx compare.cu -o compare.ptx")
    assert f"-L{cuda_path}/lib64" in link_line and "-lcuda" in link_line and "-lcublas" in link_line
    # The command line we used to pass empties COMPUTE: only the newest Makefile survives that.
    old = run_command([argv[0], "-n", *argv[1:3], "COMPUTE=", *argv[4:]], timeout=60).stdout
    assert ("-arch=compute_ " in old) is (release != "3ead140")


def test_each_release_builds_for_compute_9_0(built):
    release = built["release"]
    assert built["argv"][3:4] == ["COMPUTE=90"], built["argv"]
    assert built["kernel"] == KERNELS[release]
    assert os.path.isfile(os.path.join(built["src_dir"], built["kernel"]))
    assert os.access(built["binary"], os.X_OK)
    assert HOSTILE_DIR in built["src_dir"]
    if release == "3ead140":
        assert "NVCCFLAGS=-gencode=arch=compute_90,code=sm_90" in built["argv"]
    # 9aefd7c predates CUDA 13 (three-argument cuCtxCreate): it builds with the compatibility header.
    assert built["info"]["cuda13_compat"] is (release == "9aefd7c")
    with open(os.path.join(built["src_dir"], built["kernel"]), "rb") as handle:
        head = handle.read(4096)
    if built["kernel"] == "compare.ptx":
        assert b".target sm_90" in head
    print(f"\n{release}: built in {built['seconds']:.1f}s with {built['toolkit']}: {' '.join(built['argv'][3:])}")


def plan_for_one_h100(duration=3.0, dtype="fp32"):
    return gpu_burn_plan(duration, dtype, indices=(0,), driver_version="none")


def test_the_built_gpu_burn_fails_with_its_own_reason(built, libcuda_dir, monkeypatch):
    if libcuda_dir:
        monkeypatch.setenv("LD_LIBRARY_PATH", libcuda_dir)
    else:
        monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    (result,) = gpu_burn.run_gpu_burn(plan_for_one_h100(dtype="fp64"), built)
    verdict, reasons = burn.evaluate(result, {})
    assert verdict == "fail" and result["gpu_burn_verdict"] is None
    text = "; ".join(reasons)
    print(f"\n{built['release']}: {text}")
    if libcuda_dir:
        assert "Couldn't init CUDA: Error (gpu_burn-drv.cpp:" in text and f"): {NO_DEVICE}" in text
        assert "gpu_burn exited with rc 19" in text
        # gpu-burn said what it was asked: our arguments survived the path full of option names.
        assert not [r for r in reasons if r.startswith(("gpu-burn used", "gpu-burn burned for", "gpu-burn ran"))]
        if built["release"] != "9aefd7c":
            assert f"cuInit returned 100 ({NO_DEVICE})" in text
        assert "(no error)" not in text
    else:
        assert NO_LIBCUDA in text and "gpu_burn exited with rc 127" in text


def test_the_built_gpu_burn_reports_what_it_read(built, libcuda_dir):
    """Our command line, as gpu-burn itself echoes it, from the hostile build directory."""
    if not libcuda_dir:
        pytest.skip("needs Debian's libcuda1 (hack/gpu-burn-deps.sh): without libcuda.so.1 gpu_burn cannot start")
    argv = gpu_burn.gpu_burn_run_argv(built["binary"], built["kernel"], "fp64", 4, 0.5)
    proc = subprocess.run(
        argv,
        cwd=built["src_dir"],
        env=dict(os.environ, LD_LIBRARY_PATH=libcuda_dir, **gpu_burn.gpu_burn_env(plan_for_one_h100()["targets"])),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    parsed = gpu_burn.parse_gpu_burn_output(proc.stdout, proc.stderr)
    assert parsed["compare_file"] == built["kernel"] and parsed["burn_seconds"] == 4
    assert gpu_burn.misread_arguments(argv, parsed) == []
    # The old command line (-c with the kernel's absolute path) is read differently by the same binary.
    old = [built["binary"], "-m", "50%", "-c", os.path.join(built["src_dir"], built["kernel"]), "4"]
    proc = subprocess.run(
        old,
        cwd="/",
        env=dict(os.environ, LD_LIBRARY_PATH=libcuda_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.startswith("GPU Burn\nUsage:")  # the "-h" in the path asked for help


@pytest.mark.parametrize("release", RELEASES)
def test_module_reports_the_failure(release, toolkit, libcuda_dir, fake_nvml_dir, gpu_sim, tmp_path):
    """gpufleet.nvidia.gpu_burnin through the ansible CLI: one SIMULATED H100 (NVML double), the real gpu-burn."""
    _nvcc, cuda_path, _how = toolkit
    args = {
        "backend": "gpu_burn",
        "gpu_burn_src": tarball(release),
        "dtype": "fp32",
        "duration": 3,
        "cuda_search_paths": [cuda_path],
        "results_dir": str(tmp_path / HOSTILE_DIR),
    }
    env = ansible_env(json_output=True)
    env["GPUFLEET_SIM_GPU_PROFILE"] = str(gpu_sim.profile_path("h100"))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(fake_nvml_dir), libcuda_dir]))
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", "gpufleet.nvidia.gpu_burnin", "-a", json.dumps(args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["failed"] is True and result["passed"] is False and result["backend"] == "gpu_burn"
    (gpu,) = result["gpus"]
    assert gpu["verdict"] == "fail" and gpu["gpu_burn_verdict"] is None and gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert result["msg"].startswith("Burn-in failed on 1 device(s): cuda:0 (NVIDIA H100 80GB HBM3): ")
    assert (NO_DEVICE if libcuda_dir else NO_LIBCUDA) in result["msg"], result["msg"]
