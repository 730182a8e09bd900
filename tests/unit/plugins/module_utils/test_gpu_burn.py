"""The gpu_burn backend's decisions: reading gpu-burn's output at each release, the build and run command lines, the
environment, and the verdict that reaches the module.

Transcripts come from gpu_burn_transcripts (written from gpu-burn's format strings); the Makefile and driver texts
below are short descriptions of each Makefile generation written for these tests. tests/integration/
test_gpu_burn_real.py runs the same code on the real releases.
"""

import os
import stat
import tarfile

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, gpu_burn
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils import gpu_burn_transcripts as tx

# ---------------------------------------------------------------------------------------------------------------------
# Output


@pytest.mark.parametrize("release", tx.RELEASES)
def test_good_run_has_verdicts_numbers_and_no_failures(release):
    stdout, stderr = tx.good_run(release, gpus=2, seconds=60)
    if tx.SOURCE[release]["echoes_cuinit"]:
        assert "cuInit returned 0 (no error)" in stderr
    parsed = gpu_burn.parse_gpu_burn_output(stdout, stderr)
    assert parsed["failures"] == [] and parsed["warnings"] == []
    assert {i: g["verdict"] for i, g in parsed["gpus"].items()} == {0: "OK", 1: "OK"}
    assert parsed["gpus"][0]["percent"] == [10.0 * step for step in range(1, 11)]
    assert parsed["gpus"][1]["gflops"][:2] == [40101.0, 40201.0]
    assert parsed["gpus"][0]["temps"][-1] == 65 and parsed["gpus"][1]["errors"] == 0
    assert parsed["listed"][1]["uuid"].startswith("GPU-00000001")
    assert parsed["compare_file"] == tx.SOURCE[release]["kernel"] and parsed["burn_seconds"] == 60
    assert parsed["modes"] == ["floats"]


@pytest.mark.parametrize("release", tx.RELEASES)
@pytest.mark.parametrize(
    ("scenario", "verdicts", "died", "expected_failures"),
    [
        ("faulty", {0: "OK", 1: "FAULTY"}, [], lambda r: []),
        (
            "died",
            {0: "FAULTY", 1: "OK"},
            [0],
            lambda r: [
                "read[0] error 0",
                "Failure during compute: "
                + tx.check_error(r, "sgemm", "an illegal memory access was encountered", "SGEMM"),
            ],
        ),
        (
            "no-gpu",
            {},
            [],
            lambda r: (
                (["cuInit returned 100 (no CUDA-capable device is detected)"] if r != "9aefd7c" else [])
                + [
                    "Couldn't init CUDA: " + tx.check_error(r, "init", tx.NO_DEVICE),
                    "Couldn't init a GPU test: " + tx.check_error(r, "ctx", "initialization error"),
                    "No CUDA devices",
                ]
            ),
        ),
        (
            "all-died",
            {},
            [0],
            lambda r: [
                "read[0] error 0",
                "Couldn't init a GPU test: " + tx.check_error(r, "load", "a PTX JIT compilation failed", "load module"),
                "No clients are alive!  Aborting",
            ],
        ),
    ],
    ids=["faulty", "died", "no-gpu", "all-died"],
)
def test_failures_come_through_verbatim(release, scenario, verdicts, died, expected_failures):
    stdout, stderr = {
        "faulty": lambda: tx.good_run(release, faulty=(1,)),
        "died": lambda: tx.good_run(release, died=(0,)),
        "no-gpu": lambda: tx.no_gpu_run(release),
        "all-died": lambda: tx.all_died_run(release),
    }[scenario]()
    parsed = gpu_burn.parse_gpu_burn_output(stdout, stderr)
    assert {i: g["verdict"] for i, g in parsed["gpus"].items() if g["verdict"]} == verdicts
    assert [i for i, g in parsed["gpus"].items() if g["died"]] == died
    assert parsed["failures"] == expected_failures(release)
    assert parsed["no_clients_alive"] is (scenario == "all-died")
    if scenario == "faulty":
        assert parsed["gpus"][1]["errors"] == 7
    if scenario == "no-gpu":
        assert parsed["warnings"] == ["sh: 1: nvidia-smi: not found"]


@pytest.mark.parametrize(
    ("stdout", "stderr", "failures", "warnings"),
    [
        ("", "cuInit returned 0 (no error)\n" * 4, [], []),
        ("", tx.LOADER_NO_LIBCUDA + "\n", [tx.LOADER_NO_LIBCUDA], []),
        ("", "./gpu_burn: symbol lookup error: ./gpu_burn: undefined symbol: cuCtxCreate_v4\n", 1, []),
        ("", "terminate called after throwing an instance of 'std::string'\n", 1, []),
        ("", "Syntax error near -m\n", ["Syntax error near -m"], []),
        ("", "Could not invoke nvidia-smi, no temps available\n", [], 1),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
            "",
            [],
            ["NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."],
        ),
        ("Killing processes with SIGKILL (force kill)\n", "", [], 1),
        # An unknown line that sounds like a failure is one; an unknown harmless line is not.
        ("", "CUDA error: out of memory\n", ["CUDA error: out of memory"], []),
        ("Tue Dec  1 09:00:00 UTC 2026\nRun length not specified in the command line. ", "", [], []),
        # The worker's error line runs on into the next message (no newline after "read[%zu] error %d").
        ("", "read[1] error 0read[1] error 0No CUDA devices\n", ["read[1] error 0", "No CUDA devices"], []),
        ("", "", [], []),
    ],
    ids=[
        "cuinit-ok",
        "no-libcuda",
        "symbol",
        "uncaught",
        "syntax",
        "no-nvidia-smi",
        "nvidia-smi-failed",
        "sigkill",
        "unknown-error",
        "harmless",
        "read-error",
        "empty",
    ],
)
def test_line_classes(stdout, stderr, failures, warnings):
    parsed = gpu_burn.parse_gpu_burn_output(stdout, stderr)
    assert (len(parsed["failures"]) if isinstance(failures, int) else parsed["failures"]) == failures
    assert (len(parsed["warnings"]) if isinstance(warnings, int) else parsed["warnings"]) == warnings


def test_failures_are_deduplicated_and_capped():
    stderr = "".join("Couldn't init a GPU test: error %d\n" % (i % 30) for i in range(90))
    failures = gpu_burn.parse_gpu_burn_output("", stderr)["failures"]
    assert len(failures) == gpu_burn.MAX_FAILURES + 1 and failures[-1] == "... and 10 more lines like these"


def test_doubles_and_tensor_modes_are_read():
    out = tx.initialized(0, doubles=True) + tx.initialized(1, tensors=True)
    assert gpu_burn.parse_gpu_burn_output(out)["modes"] == ["doubles", "floats with tensor cores"]


# ---------------------------------------------------------------------------------------------------------------------
# Results and verdicts


def gpu_plan(duration=60.0, dtype="fp32", indices=(0, 1), name="NVIDIA H100 80GB HBM3"):
    return tx.gpu_burn_plan(duration, dtype, indices=indices, name=name)


@pytest.mark.parametrize("release", tx.RELEASES)
def test_good_run_passes(release):
    results = gpu_burn.aggregate_gpu_burn(gpu_plan(), gpu_burn.parse_gpu_burn_output(*tx.good_run(release)), {})
    assert burn.judge(results, {"max_errors": 0}) == []
    # Warm-up (the first 10% of a 60 s run) is left out of the TFLOPS figures.
    assert results[0]["tflops"]["min"] == pytest.approx(40.100)
    assert results[0]["peak_tflops"] == 67.0 and results[0]["gpu_burn_verdict"] == "OK"
    assert results[1]["max_temperature_c"] == 66  # gpu-burn's temps: every GPU of the host is burned


@pytest.mark.parametrize("release", tx.RELEASES)
def test_faulty_died_and_missing_verdicts_fail_with_gpu_burns_words(release):
    plan = gpu_plan(indices=(0, 1, 2))
    stdout, stderr = tx.good_run(release, gpus=2, faulty=(1,), died=(0,))
    results = gpu_burn.aggregate_gpu_burn(plan, gpu_burn.parse_gpu_burn_output(stdout, stderr), {})
    failing = burn.judge(results, {"max_errors": 0})
    assert [r["index"] for r in failing] == [0, 1, 2]
    message = burn.failure_message(failing)
    assert "gpu-burn marked GPU 0 DIED! (its test process failed)" in message
    assert "Failure during compute: Error in SGEMM" in message and "an illegal memory access was encountered" in message
    assert "gpu-burn verdict FAULTY" in " ".join(results[1]["reasons"])
    assert "7 result mismatch(es)" in " ".join(results[1]["reasons"])
    assert "gpu-burn printed no verdict for this GPU" in results[2]["reasons"]


@pytest.mark.parametrize("release", tx.RELEASES)
def test_no_gpu_run_fails_quoting_cuda(release):
    plan = gpu_plan(indices=(0,))
    parsed = gpu_burn.parse_gpu_burn_output(*tx.no_gpu_run(release))
    note = gpu_burn.gpu_burn_exit_note({"rc": 19, "stderr": "No CUDA devices\n"}, False, 120.0, parsed)
    results = gpu_burn.aggregate_gpu_burn(plan, parsed, {}, [note])
    (failing,) = burn.judge(results, {})
    message = burn.failure_message([failing])
    assert "Couldn't init CUDA: " + tx.check_error(release, "init", "no CUDA-capable device is detected") in message
    assert "gpu_burn exited with rc 19;" in message  # gpu-burn said why: no stderr tail repeated
    assert "no error" not in message


def test_temperatures_of_a_subset_are_not_trusted():
    # gpu-burn cycles nvidia-smi's temperatures over all GPUs of the host, not over the ones it burns.
    stdout, stderr = tx.good_run("3ead140", gpus=2)
    parsed = gpu_burn.parse_gpu_burn_output(tx.listing(4) + stdout, stderr)
    results = gpu_burn.aggregate_gpu_burn(gpu_plan(indices=(2, 3)), parsed, {})
    assert [r["max_temperature_c"] for r in results] == [None, None]


@pytest.mark.parametrize(
    ("rc", "timed_out", "stderr", "failures", "expected"),
    [
        (0, False, "", [], None),
        (127, False, tx.LOADER_NO_LIBCUDA, [], "gpu_burn exited with rc 127: " + tx.LOADER_NO_LIBCUDA),
        (19, False, "No CUDA devices", ["No CUDA devices"], "gpu_burn exited with rc 19"),
        (-9, False, "", [], "gpu_burn was killed by signal 9"),
        (None, True, "", [], "gpu_burn timed out after 186s and was killed"),
    ],
)
def test_exit_note(rc, timed_out, stderr, failures, expected):
    parsed = {"failures": failures}
    assert gpu_burn.gpu_burn_exit_note({"rc": rc, "stderr": stderr}, timed_out, 186.0, parsed) == expected


@pytest.mark.parametrize(
    ("argv", "said", "expected"),
    [
        (["gpu_burn", "-m", "90%", "-c", "compare.ptx", "60"], ("compare.ptx", 60, ["floats"]), []),
        (["gpu_burn", "-m", "90%", "-d", "-c", "compare.ptx", "60"], ("compare.ptx", 60, ["doubles"]), []),
        (
            # What the old command line did with a kernel path under /opt/gpu-burn-dev: doubles, 10 s.
            ["gpu_burn", "-m", "90%", "-c", "/opt/gpu-burn-dev/compare.ptx", "60"],
            ("/opt/gpu-burn-dev/compare.ptx", 10, ["doubles"]),
            ["gpu-burn burned for 10 seconds, not the 60 asked", "gpu-burn ran with doubles, not floats"],
        ),
        (
            ["gpu_burn", "-m", "90%", "-c", "compare.fatbin", "60"],
            ("compare.ptx", 60, ["floats with tensor cores"]),
            [
                "gpu-burn used compare file 'compare.ptx', not 'compare.fatbin'",
                "gpu-burn ran with floats with tensor cores, not floats",
            ],
        ),
    ],
)
def test_misread_arguments(argv, said, expected):
    parsed = {"compare_file": said[0], "burn_seconds": said[1], "modes": said[2]}
    assert gpu_burn.misread_arguments(argv, parsed) == expected


# ---------------------------------------------------------------------------------------------------------------------
# Source, build and command lines

# Our own one-line summaries of what tells the generations apart.
MAKEFILE_FATBIN = "COMPUTE ?= 75\ngpu_burn: gpu_burn-drv.o compare.fatbin\n\tg++ -o $@ $< $(LDFLAGS)\n"
MAKEFILE_PTX = "COMPUTE ?= 50\ngpu_burn: gpu_burn-drv.o compare.ptx\n\tg++ -o $@ $< $(LDFLAGS)\n"
DRIVER_CUDA12 = "    checkError(cuCtxCreate(&ctx, 0, dev));\n"
DRIVER_CUDA13 = (
    "#if CUDA_VERSION >= 13000\n  cuCtxCreate(&ctx, nullptr, 0, dev);\n#else\n  cuCtxCreate(&ctx, 0, dev);\n#endif\n"
)


@pytest.mark.parametrize(
    ("makefile", "driver", "expected"),
    [
        (MAKEFILE_FATBIN, DRIVER_CUDA13, {"kernel": "compare.fatbin", "fatbin": True, "cuda13_compat": False}),
        (MAKEFILE_PTX, DRIVER_CUDA13, {"kernel": "compare.ptx", "fatbin": False, "cuda13_compat": False}),
        (MAKEFILE_PTX, DRIVER_CUDA12, {"kernel": "compare.ptx", "fatbin": False, "cuda13_compat": True}),
        ("all:\n\ttrue\n", "", {"kernel": None, "fatbin": False, "cuda13_compat": False}),
    ],
    ids=["2026-05-fatbin", "2025-11-ptx-cuda13", "2024-04-ptx-cuda12", "unknown"],
)
def test_source_info(makefile, driver, expected):
    assert gpu_burn.gpu_burn_source_info(makefile, driver) == expected


TOOLKIT = ("/usr/local/cuda-13.0/bin/nvcc", "/usr/local/cuda-13.0")
DEBIAN = ("/usr/bin/nvcc", "/usr")


@pytest.mark.parametrize(
    ("makefile", "driver", "toolkit", "capabilities", "extra"),
    [
        (
            MAKEFILE_FATBIN,
            DRIVER_CUDA13,
            TOOLKIT,
            ["9.0"],
            ["COMPUTE=90", "NVCCFLAGS=-gencode=arch=compute_90,code=sm_90"],
        ),
        (
            MAKEFILE_FATBIN,
            DRIVER_CUDA13,
            TOOLKIT,
            ["9.0", "8.0", (8, 6), "9.0"],
            [
                "COMPUTE=80",
                "NVCCFLAGS=-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_86,code=sm_86 "
                "-gencode=arch=compute_90,code=sm_90",
            ],
        ),
        (MAKEFILE_PTX, DRIVER_CUDA13, TOOLKIT, ["9.0", "10.0"], ["COMPUTE=90"]),
        (MAKEFILE_PTX, DRIVER_CUDA12, TOOLKIT, ["9.0"], ["COMPUTE=90", "CFLAGS=-include gpufleet_cuda13_compat.h"]),
        (MAKEFILE_PTX, DRIVER_CUDA12, DEBIAN, ["8.6"], ["COMPUTE=86", "CFLAGS=-include gpufleet_cuda13_compat.h"]),
        (
            MAKEFILE_FATBIN,
            DRIVER_CUDA13,
            DEBIAN,
            ["12.0"],
            ["COMPUTE=120", "NVCCFLAGS=-gencode=arch=compute_120,code=sm_120"],
        ),
    ],
    ids=["fatbin", "fatbin-mixed", "ptx-lowest", "ptx-cuda12-source", "debian-ptx", "debian-fatbin"],
)
def test_build_argv_per_generation(makefile, driver, toolkit, capabilities, extra):
    nvcc, cuda_path = toolkit
    info = gpu_burn.gpu_burn_source_info(makefile, driver)
    argv = gpu_burn.gpu_burn_build_argv("/b/gpu-burn-dev", nvcc, cuda_path, capabilities, info)
    compute = [arg for arg in extra if arg.startswith("COMPUTE=")]
    rest = [arg for arg in extra if not arg.startswith("COMPUTE=")]
    assert argv == ["make", "-C", "/b/gpu-burn-dev", *compute, f"CUDAPATH={cuda_path}", f"NVCC={nvcc}", *rest]
    # Never an empty COMPUTE: the ptx generations turn it into "-arch=compute_", which nvcc rejects.
    assert "COMPUTE=" not in argv


@pytest.mark.parametrize("capability", [None, "9", "sm_90", "9.0.1", ""])
def test_build_argv_rejects_unknown_capabilities(capability):
    info = gpu_burn.gpu_burn_source_info(MAKEFILE_PTX, DRIVER_CUDA13)
    with pytest.raises(burn.BurnError, match="compute capability"):
        gpu_burn.gpu_burn_build_argv("/b", *TOOLKIT, [capability], info)
    with pytest.raises(burn.BurnError, match="no GPU compute capability"):
        gpu_burn.gpu_burn_build_argv("/b", *TOOLKIT, [], info)


def fake_runner(produce, rc=0, stderr=""):
    """Stands in for make: records argv and leaves the named files in the -C directory."""
    calls = []

    def run(argv, timeout):
        calls.append((argv, timeout))
        src = argv[argv.index("-C") + 1]
        for name in produce:
            path = os.path.join(src, name)
            with open(path, "w") as handle:
                handle.write("#!/bin/sh\n")
            os.chmod(path, stat.S_IRWXU)
        return CommandResult(rc, "", stderr)

    run.calls = calls
    return run


def source_tree(root, makefile, driver):
    root.mkdir(parents=True)
    (root / "Makefile").write_text(makefile)
    (root / "gpu_burn-drv.cpp").write_text(driver)
    return str(root)


@pytest.mark.parametrize(
    ("makefile", "driver", "produce", "kernel", "compat"),
    [
        (MAKEFILE_FATBIN, DRIVER_CUDA13, ["gpu_burn", "compare.fatbin"], "compare.fatbin", False),
        (MAKEFILE_PTX, DRIVER_CUDA13, ["gpu_burn", "compare.ptx"], "compare.ptx", False),
        (MAKEFILE_PTX, DRIVER_CUDA12, ["gpu_burn", "compare.ptx"], "compare.ptx", True),
        # The build made the other kind than the Makefile names: use what is there.
        (MAKEFILE_PTX, DRIVER_CUDA13, ["gpu_burn", "compare.fatbin"], "compare.fatbin", False),
    ],
)
def test_build_uses_the_kernel_the_build_produced(tmp_path, makefile, driver, produce, kernel, compat):
    src = source_tree(tmp_path / "src", makefile, driver)
    runner = fake_runner(produce)
    build = gpu_burn.build_gpu_burn(src, *TOOLKIT, ["9.0"], runner)
    assert build["kernel"] == kernel and build["binary"] == os.path.join(src, "gpu_burn")
    assert runner.calls[0][1] == gpu_burn.BUILD_TIMEOUT
    header = os.path.join(src, gpu_burn.CUDA13_COMPAT_HEADER)
    assert os.path.isfile(header) is compat
    if compat:
        with open(header) as handle:
            assert "cuCtxCreate_v2(pctx, flags, dev)" in handle.read()


@pytest.mark.parametrize(
    ("produce", "rc", "stderr", "message"),
    [
        (["gpu_burn"], 0, "", "left no compare kernel in .*: expected compare.ptx"),
        (["compare.ptx"], 0, "", "left no executable"),
        (
            [],
            2,
            "nvcc fatal   : Value 'compute_' is not defined for option 'gpu-architecture'\nmake: *** Error 1\n",
            r"building gpu-burn failed \(rc 2\): nvcc fatal .*compute_.* / make: \*\*\* Error 1; ran make -C",
        ),
    ],
    ids=["no-kernel", "no-binary", "make-failed"],
)
def test_build_failures_say_what_is_missing(tmp_path, produce, rc, stderr, message):
    src = source_tree(tmp_path / "src", MAKEFILE_PTX, DRIVER_CUDA13)
    with pytest.raises(burn.BurnError, match=message):
        gpu_burn.build_gpu_burn(src, *TOOLKIT, ["9.0"], fake_runner(produce, rc, stderr))


def test_build_needs_a_makefile(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(burn.BurnError, match="no readable Makefile"):
        gpu_burn.build_gpu_burn(str(tmp_path / "empty"), *TOOLKIT, ["9.0"], fake_runner([]))


@pytest.mark.parametrize(
    ("dtype", "fraction", "duration", "args"),
    [
        ("fp32", 0.9, 120.0, ["-m", "90%", "-c", "compare.ptx", "120"]),
        ("fp64", 0.5, 59.6, ["-m", "50%", "-d", "-c", "compare.ptx", "60"]),
        ("fp32", 0.001, 0.2, ["-m", "1%", "-c", "compare.ptx", "1"]),
    ],
)
def test_run_argv(dtype, fraction, duration, args):
    assert gpu_burn.gpu_burn_run_argv("/w/gpu-burn-dev/gpu_burn", "compare.ptx", dtype, duration, fraction) == [
        "/w/gpu-burn-dev/gpu_burn",
        *args,
    ]


@pytest.mark.parametrize("dtype", ["tf32", "bf16", "fp16"])
def test_run_argv_refuses_what_gpu_burn_cannot_run(dtype):
    with pytest.raises(burn.BurnError, match="fp32, fp64 only"):
        gpu_burn.gpu_burn_run_argv("/b/gpu_burn", "compare.ptx", dtype, 60, 0.9)


@pytest.mark.parametrize(
    ("kernel", "reads_as"),
    [
        ("/opt/gpu-burn-dev/compare.ptx", "-d"),
        ("/srv/x-tc/compare.ptx", "-tc"),
        ("/home/ops/gpu-burn-help/compare.ptx", "-h"),
        ("/var/lib/gpu-burn-latest/compare.ptx", "-l"),
        ("-stts", "-s"),
        ("-image", "-i"),
        ("sub/compare.ptx", None),
    ],
)
def test_run_argv_refuses_arguments_gpu_burn_would_misread(kernel, reads_as):
    message = f"gpu-burn would read it as .*{reads_as}" if reads_as else "bare file name"
    with pytest.raises(burn.BurnError, match=message):
        gpu_burn.gpu_burn_run_argv("/b/gpu_burn", kernel, "fp32", 60, 0.9)


def test_env_selects_the_plans_gpus_in_pci_order():
    assert gpu_burn.gpu_burn_env(gpu_plan(indices=(3, 1))["targets"]) == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "3,1",
    }


FAKE_GPU_BURN = """#!/bin/sh
# TEST DOUBLE standing in for a built gpu_burn (the real one runs in tests/integration/test_gpu_burn_real.py):
# records how it was started, then prints a passing run for one GPU.
printf '%s\\n' "$PWD" "$CUDA_DEVICE_ORDER" "$CUDA_VISIBLE_DEVICES" "$@" > "$GPU_BURN_RECORD"
printf 'Using compare file: %s\\nBurning for %s seconds.\\n' "$4" "$5"
printf "\\r100.0%%  proc'd: 5 (40000 Gflop/s)   errors: 0   temps: -- \\n"
printf 'done\\n\\nTested 1 GPUs:\\n\\tGPU 0: OK\\n'
echo 'cuInit returned 0 (no error)' >&2
"""


def test_run_gpu_burn_from_a_path_full_of_option_names(tmp_path, monkeypatch):
    """A build directory whose path holds -d, -tc, -h and -l: gpu_burn still gets exactly our arguments."""
    src = tmp_path / "gpu-burn-dev-tc-h-l" / "gpu-burn-d1"
    src.mkdir(parents=True)
    (src / "gpu_burn").write_text(FAKE_GPU_BURN)
    (src / "gpu_burn").chmod(0o755)
    (src / "compare.fatbin").write_text("")
    record = tmp_path / "record"
    monkeypatch.setenv("GPU_BURN_RECORD", str(record))
    build = {"src_dir": str(src), "binary": str(src / "gpu_burn"), "kernel": "compare.fatbin"}
    plan = gpu_plan(duration=3.0, indices=(1,))
    (result,) = gpu_burn.run_gpu_burn(plan, build)
    assert record.read_text().splitlines() == [
        str(src),
        "PCI_BUS_ID",
        "1",
        "-m",
        "90%",
        "-c",
        "compare.fatbin",
        "3",
    ]
    assert burn.evaluate(result, {}) == ("pass", [])


def test_fetch_copies_without_old_build_products(tmp_path):
    src = tmp_path / "gpu-burn"
    src.mkdir()
    for name in ("Makefile", "compare.cu", "gpu_burn", "gpu_burn-drv.o", "compare.ptx", "compare.fatbin"):
        (src / name).write_text("x")
    copy = gpu_burn.fetch_gpu_burn_src(str(src), str(tmp_path / "work"), runner=None)
    assert sorted(os.listdir(copy)) == ["Makefile", "compare.cu"] and copy != str(src)
    assert (src / "gpu_burn").exists()  # the operator's tree is left alone
    with pytest.raises(burn.BurnError, match="not a directory"):
        gpu_burn.fetch_gpu_burn_src(str(tmp_path / "missing"), str(tmp_path / "work"), runner=None)


def test_fetch_unpacks_an_archive_with_one_top_directory(tmp_path):
    tree = tmp_path / "tree" / "gpu-burn-3ead140"
    tree.mkdir(parents=True)
    (tree / "Makefile").write_text("x")
    archive = tmp_path / "gpu-burn.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(tree, arcname="gpu-burn-3ead140")
    copy = gpu_burn.fetch_gpu_burn_src(str(archive), str(tmp_path / "work"), runner=None)
    assert os.path.basename(copy) == "gpu-burn-3ead140" and os.listdir(copy) == ["Makefile"]
