"""The burn-in engine's decisions: aggregation, thresholds, records, plans and command lines.

The gpu_burn backend has its own tests (test_gpu_burn.py); records here are made from one of its transcripts.
"""

import ast
import json
import os

import time

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, gpu_burn
from ansible_collections.gpufleet.nvidia.plugins.module_utils.burn_worker import WORKER_SOURCE
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils import gpu_burn_transcripts


def gpu_plan(duration=60.0, dtype="fp32", names=("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3")):
    return gpu_burn_transcripts.gpu_burn_plan(duration, dtype, names=names)


def worker_output(progress_points, errors=0, summary=True):
    lines = [json.dumps({"event": "start", "matrix_size": 8192})]
    for t, tflops in progress_points:
        lines.append(json.dumps({"event": "progress", "t": t, "tflops": tflops, "iterations": 10, "errors": errors}))
    if summary:
        lines.append(
            json.dumps(
                {
                    "event": "summary",
                    "iterations": 100,
                    "errors": errors,
                    "nans": 0,
                    "matrix_size": 8192,
                    "spot_checks": 5,
                    "spot_check_failures": 0,
                    "tflops": 700.0,
                }
            )
        )
    lines.append("some stray warning from torch")
    return "\n".join(lines)


def torch_plan(duration=20.0, name="NVIDIA H100 80GB HBM3", dtype="bf16"):
    plan = gpu_plan(duration, dtype, names=(name,))
    plan["backend"] = "torch"
    return plan


def test_aggregate_torch_excludes_warmup_and_summarizes_samples():
    plan = torch_plan()
    events = burn.parse_worker_output(worker_output([(1.0, 100.0), (2.0, 300.0), (3.1, 780.0), (4.1, 790.0)]))
    assert events["noise"] == ["some stray warning from torch"]
    samples = [
        {"index": 0, "temperature_c": 60, "power_draw_w": 600.0, "sm_clock_mhz": 1980, "clock_event_reasons": []},
        {
            "index": 0,
            "temperature_c": 72,
            "power_draw_w": 700.0,
            "sm_clock_mhz": 1755,
            "clock_event_reasons": ["sw_power_cap"],
        },
    ]
    result = burn.aggregate_torch_gpu(plan["targets"][0], plan, events, samples)
    assert result["tflops"] == {"median": 785.0, "min": 780.0, "max": 790.0}
    assert result["fraction_of_peak"] == pytest.approx(785.0 / 989.0, abs=1e-4)
    assert result["max_temperature_c"] == 72
    assert result["power_w"] == {"mean": 650.0, "max": 700.0}
    assert result["throttle_fractions"] == {"sw_power_cap": 0.5}
    assert result["samples"] == 2
    assert burn.evaluate(result, {"max_errors": 0}) == ("pass", [])


def test_worker_without_summary_or_with_a_crash_fails():
    plan = torch_plan()
    events = burn.parse_worker_output(worker_output([(1.0, 100.0)], summary=False))
    result = burn.aggregate_torch_gpu(plan["targets"][0], plan, events, [])
    assert burn.evaluate(result, {})[1] == ["the worker ended without a summary"]
    crashed = burn.aggregate_torch_gpu(plan["targets"][0], plan, events, [], "exited with rc 1: CUDA error")
    assert burn.evaluate(crashed, {})[1] == ["exited with rc 1: CUDA error"]


@pytest.mark.parametrize(
    ("thresholds", "changes", "expected"),
    [
        ({}, {}, []),
        ({"min_tflops": 800}, {}, ["785.000 TFLOPS is below min_tflops 800"]),
        ({"min_fraction_of_peak": 0.9}, {}, ["79.4% of the 989 TFLOPS peak is below min_fraction_of_peak 90.0%"]),
        ({"max_temperature_c": 70}, {}, ["reached 72 C, above max_temperature_c 70"]),
        ({"max_errors": 0}, {"errors": 2}, ["2 result mismatch(es) against the first result (max_errors 0)"]),
        ({"max_errors": 5}, {"errors": 2}, []),
        ({}, {"nans": 3}, ["3 NaN/Inf value(s) in results"]),
        ({}, {"spot_check_failures": 1}, ["1 spot check(s) disagree with the FP64 reference"]),
        ({"min_fraction_of_peak": 0.9}, {"fraction_of_peak": None, "peak_tflops": None}, []),
    ],
    ids=["none", "tflops", "peak", "temperature", "errors", "errors-tolerated", "nans", "spot", "unknown-peak"],
)
def test_evaluate_thresholds(thresholds, changes, expected):
    result = {
        "tflops": {"median": 785.0},
        "peak_tflops": 989.0,
        "fraction_of_peak": 0.7937,
        "max_temperature_c": 72,
        "errors": 0,
        "nans": 0,
        "spot_check_failures": 0,
        "worker_problems": [],
    }
    result.update(changes)
    verdict, reasons = burn.evaluate(result, thresholds)
    assert [r.split(" (results")[0] for r in reasons] == expected
    assert verdict == ("fail" if expected else "pass")


@pytest.mark.parametrize(
    ("name", "dtype", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.0),
        ("NVIDIA H100 PCIe", "bf16", 756.0),
        ("NVIDIA H200", "tf32", 495.0),
        ("NVIDIA H100 80GB HBM3", "fp64", 67.0),
        ("NVIDIA A100-SXM4-80GB", "fp32", 19.5),
        ("NVIDIA RTX A6000", "bf16", 155.0),
        ("NVIDIA RTX A6000", "fp32", 38.7),
        ("NVIDIA RTX A6000", "fp64", None),
        ("NVIDIA H100 NVL", "bf16", 835.0),
        ("NVIDIA H100 NVL", "fp64", 60.0),
        ("NVIDIA H200 NVL", "bf16", 835.0),
        ("NVIDIA H200 NVL", "tf32", 418.0),
        ("NVIDIA H200", "bf16", 989.0),
        ("NVIDIA H100 PCIe", "fp64", 51.0),
        ("NVIDIA A100-PCIE-40GB", "tf32", 156.0),
        ("NVIDIA A100 80GB PCIe", "bf16", 312.0),
        ("NVIDIA L40S", "bf16", 362.0),
        ("NVIDIA L40S", "fp64", None),
        ("NVIDIA L40", "bf16", None),  # L40 is not L40S
        ("NVIDIA GH200 480GB", "bf16", None),  # not an H200
        ("NVIDIA H100", "bf16", None),  # an H100 variant we cannot tell: no guess
        ("Tesla T4", "bf16", None),
        (None, "bf16", None),
    ],
)
def test_peak_tflops(name, dtype, peak):
    assert burn.peak_tflops(name, dtype) == peak


def test_every_peak_says_where_it_comes_from():
    for pattern, peaks, source in burn.PEAK_TFLOPS:
        assert "datasheet" in source or "derived" in source, pattern
        assert set(peaks) <= set(burn.DTYPES) and all(value > 0 for value in peaks.values())


def test_unknown_peak_is_not_judged_and_the_result_says_so():
    plan = torch_plan(name="NVIDIA H100")  # a variant the table cannot tell apart
    events = burn.parse_worker_output(worker_output([(3.0, 700.0), (4.0, 700.0)]))
    result = burn.aggregate_torch_gpu(plan["targets"][0], plan, events, [])
    assert result["peak_tflops"] is None and result["peak_source"] is None
    assert burn.judge([result], {"min_fraction_of_peak": 0.7}) == []
    assert result["notes"] == ["min_fraction_of_peak not judged: no dense bf16 peak is known for NVIDIA H100"]
    known = burn.aggregate_torch_gpu(torch_plan()["targets"][0], torch_plan(), events, [])
    assert known["peak_source"] == "NVIDIA H100 SXM5 datasheet"
    assert burn.judge([known], {"min_fraction_of_peak": 0.9}) == [known] and known["notes"] == []


def test_each_worker_burns_the_gpu_nvml_named_by_uuid():
    facts = {
        "present": True,
        "driver_version": "570.86.15",
        "devices": [
            {"index": 0, "uuid": "GPU-aaaa", "name": "NVIDIA H200"},
            {"index": 1, "uuid": "GPU-bbbb", "name": "NVIDIA H200"},
            {"index": 2, "uuid": None, "name": "NVIDIA H200"},
        ],
    }
    plan = burn.plan_burn(params(gpus=["1", "2"]), facts)
    first, second = plan["targets"]
    argv = burn.torch_worker_argv("/py", "/w.py", plan, first, 1, "run")
    assert argv[argv.index("--device") + 1] == "cuda:0"  # the only GPU the environment leaves visible
    assert burn.torch_worker_env(first) == {"CUDA_VISIBLE_DEVICES": "GPU-bbbb", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    # no UUID: NVML's index, in PCI bus order as NVML counts
    assert burn.torch_worker_env(second) == {"CUDA_VISIBLE_DEVICES": "2", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    cpu = burn.plan_burn(params(device="cpu"), {}, cpu_name="cpu")
    assert burn.torch_worker_env(cpu["targets"][0]) == {}
    assert "cpu" in burn.torch_worker_argv("/py", "/w.py", cpu, cpu["targets"][0], 1, "run")


def test_runner_gives_each_process_its_own_environment_over_the_inherited_one(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,2")  # what Slurm or a container left behind
    envs = [{"CUDA_VISIBLE_DEVICES": "GPU-aaaa"}, {"CUDA_VISIBLE_DEVICES": "GPU-bbbb"}]
    script = 'echo "$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER $GF_COMMON"'
    with burn.BurnRunner() as runner:
        outputs, _samples, timed_out = runner.run(
            [["sh", "-c", script]] * 2, timeout=30, env={"GF_COMMON": "x", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, envs=envs
        )
    assert not timed_out
    assert [o["stdout"].strip() for o in outputs] == ["GPU-aaaa PCI_BUS_ID x", "GPU-bbbb PCI_BUS_ID x"]


def test_record_key_covers_uuids_driver_backend_dtype_duration():
    plan = gpu_plan()
    same = gpu_plan()
    same["targets"].reverse()
    assert burn.record_key(same) == plan["key"]
    for field, value in (("driver_version", "580.82"), ("backend", "torch"), ("dtype", "fp64"), ("duration", 61.0)):
        other = gpu_plan()
        other[field] = value
        assert burn.record_key(other) != plan["key"], field
    other = gpu_plan()
    other["targets"][1]["uuid"] = "GPU-replaced"
    assert burn.record_key(other) != plan["key"]
    # Thresholds, memory fraction and matrix size do not change what a passing result proves about the GPUs.
    other = gpu_plan()
    other["memory_fraction"] = 0.5
    assert burn.record_key(other) == plan["key"]


def passing_record(plan, finished):
    parsed = gpu_burn.parse_gpu_burn_output(*gpu_burn_transcripts.good_run("3ead140", gpus=2))
    results = gpu_burn.aggregate_gpu_burn(plan, parsed, {})
    burn.judge(results, {})
    return burn.build_record(plan, results, finished - 60, finished)


def test_record_roundtrip_and_max_age(tmp_path):
    plan = gpu_plan()
    record = passing_record(plan, finished=1000.0)
    path = burn.write_record(str(tmp_path), record)
    assert os.path.basename(path) == f"burnin-{plan['key']}.json"
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(path)]  # no temporary file left
    loaded = burn.read_record(str(tmp_path), plan["key"])
    assert loaded == json.loads(json.dumps(record))
    assert burn.reusable(loaded, {}, max_age=3600, now=2000.0)
    assert not burn.reusable(loaded, {}, max_age=500, now=2000.0)
    assert not burn.reusable(loaded, {}, max_age=0, now=2000.0)
    # Reused only while it still passes the thresholds asked for now.
    assert not burn.reusable(loaded, {"min_tflops": 100}, max_age=3600, now=2000.0)
    assert burn.read_record(str(tmp_path), "other") is None


def test_failing_or_corrupt_records_are_not_reused(tmp_path):
    plan = gpu_plan()
    record = passing_record(plan, finished=1000.0)
    record["gpus"][0]["errors"] = 4
    assert not burn.reusable(record, {"max_errors": 0}, max_age=3600, now=1100.0)
    (tmp_path / f"burnin-{plan['key']}.json").write_text("{not json")
    assert burn.read_record(str(tmp_path), plan["key"]) is None


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90.0), ("90", 90.0), ("10m", 600.0), ("2h", 7200.0), ("7d", 604800.0), ("1.5m", 90.0)]
)
def test_parse_duration(value, seconds):
    assert burn.parse_duration(value, "duration") == seconds


@pytest.mark.parametrize("value", ["soon", "-5", "5w", ""])
def test_parse_duration_rejects(value):
    with pytest.raises(burn.BurnError, match="max_age"):
        burn.parse_duration(value, "max_age")


def params(**overrides):
    base = {
        "backend": "auto",
        "duration": 60,
        "gpus": ["all"],
        "dtype": "bf16",
        "memory_fraction": 0.9,
        "matrix_size": "auto",
        "device": "cuda",
        "gpu_burn_src": None,
        "inject_fault": False,
    }
    base.update(overrides)
    return base


FACTS = {
    "present": True,
    "driver_version": "580.65",
    "devices": [
        {"index": 0, "uuid": "GPU-0", "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
        {"index": 1, "uuid": "GPU-1", "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
    ],
}


def test_plan_selects_gpus_and_backend():
    plan = burn.plan_burn(params(gpus=["1"]), FACTS)
    assert [t["device"] for t in plan["targets"]] == ["cuda:1"]
    assert plan["backend"] == "torch"
    assert burn.plan_burn(params(dtype="fp32", gpu_burn_src="/src"), FACTS, nvcc="/cuda/bin/nvcc")["backend"] == (
        "gpu_burn"
    )
    # auto falls back to torch for a dtype gpu-burn does not have (tf32 included: -tc is FP16 math), or without nvcc
    assert burn.plan_burn(params(gpu_burn_src="/src"), FACTS, nvcc="/cuda/bin/nvcc")["backend"] == "torch"
    assert burn.plan_burn(params(dtype="tf32", gpu_burn_src="/src"), FACTS, nvcc="/cuda/bin/nvcc")["backend"] == "torch"
    assert burn.plan_burn(params(dtype="fp32", gpu_burn_src="/src"), FACTS)["backend"] == "torch"


@pytest.mark.parametrize(
    ("overrides", "facts", "message"),
    [
        ({}, {"present": False, "error": "NVML: Driver Not Loaded"}, "No NVIDIA GPU found: NVML: Driver Not Loaded"),
        ({"gpus": ["7"]}, FACTS, "gpus: GPU 7 does not exist"),
        ({"gpus": ["all", "0"]}, FACTS, "'all' cannot be combined"),
        ({"backend": "gpu_burn", "dtype": "fp32"}, FACTS, "needs gpu_burn_src"),
        ({"backend": "gpu_burn", "dtype": "fp64", "gpu_burn_src": "/src"}, FACTS, "needs nvcc"),
        (
            {"backend": "gpu_burn", "dtype": "bf16", "gpu_burn_src": "/src"},
            FACTS,
            "runs fp32, fp64 only, not dtype=bf16",
        ),
        (
            {"backend": "gpu_burn", "dtype": "tf32", "gpu_burn_src": "/src"},
            FACTS,
            "dtype=tf32: gpu-burn has no TF32 mode: its -tc flag .*CUBLAS_COMPUTE_32F_FAST_16F.*backend=torch",
        ),
        ({"duration": 0}, FACTS, "duration: must be more than 0"),
        ({"memory_fraction": 1.5}, FACTS, "memory_fraction"),
        ({"matrix_size": "big"}, FACTS, "matrix_size"),
        ({"device": "cpu", "backend": "gpu_burn"}, {}, "device=cpu runs the torch worker"),
    ],
)
def test_plan_errors(overrides, facts, message):
    with pytest.raises(burn.BurnError, match=message):
        burn.plan_burn(params(**overrides), facts)


def test_plan_cpu_needs_no_gpu():
    plan = burn.plan_burn(params(device="cpu"), {}, cpu_name="cpu: Xeon")
    assert plan["targets"] == [{"index": 0, "uuid": "cpu", "name": "cpu: Xeon", "device": "cpu"}]
    assert plan["driver_version"] == "cpu" and plan["backend"] == "torch"
    assert "on cpu (cpu: Xeon)" in burn.describe_plan(plan)


def test_prometheus_metrics():
    plan = gpu_plan()
    text = burn.prometheus_metrics(passing_record(plan, finished=1000.0))
    assert "# TYPE gpufleet_burnin_passed gauge" in text
    assert 'gpufleet_burnin_passed{gpu="1",uuid="GPU-1",device="cuda:1",backend="gpu_burn",dtype="fp32"} 1' in text
    assert 'gpufleet_burnin_timestamp_seconds{gpu="0",' in text
    assert "gpufleet_burnin_max_temperature_celsius" in text


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, "none"),
        (False, "none"),
        (True, "transient"),
        ("none", "none"),
        ("transient", "transient"),
        ("persistent", "persistent"),
        ("Persistent", "persistent"),
        ("true", "transient"),
        ("True", "transient"),
        ("false", "none"),
        ("no", "none"),
    ],
)
def test_fault_mode_keeps_accepting_booleans(value, mode):
    assert burn.fault_mode(value) == mode


def test_fault_mode_rejects_other_words():
    with pytest.raises(burn.BurnError, match="inject_fault: 'sometimes' is not one of none, transient, persistent"):
        burn.fault_mode("sometimes")


@pytest.mark.parametrize(("value", "expected"), [(False, None), (True, "transient"), ("persistent", "persistent")])
def test_worker_argv_injects_the_fault_on_the_first_device_only(value, expected):
    plan = burn.plan_burn(params(inject_fault=value), FACTS)
    first, second = (burn.torch_worker_argv("/py", "/w.py", plan, t, 1, "run") for t in plan["targets"])
    assert "--inject-fault" not in second
    if expected is None:
        assert "--inject-fault" not in first
    else:
        assert first[first.index("--inject-fault") + 1] == expected
        assert f"with an injected {expected} fault" in burn.describe_plan(plan)


def test_checksum_failures_fail_the_device_and_say_why():
    result = {"errors": 0, "nans": 0, "checksum_failures": 12, "checksum_max_excess": 41.5, "worker_problems": []}
    verdict, reasons = burn.evaluate(result, {})
    assert verdict == "fail"
    assert reasons == [
        "12 result(s) disagree with the FP64 checksum of the whole output (worst column 41.5x its tolerance; a fault "
        "that corrupts every product the same way)"
    ]


def test_worker_source_compiles_and_never_imports_torch_at_top_level():
    tree = ast.parse(WORKER_SOURCE, "gpufleet_burn_worker.py")  # a SyntaxError in the shipped text fails here
    compile(tree, "gpufleet_burn_worker.py", "exec")
    top_level_imports = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top_level_imports |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    every_import = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "torch" in every_import, "the worker imports torch (inside a function, once it runs)"
    assert not {name for name in top_level_imports if name.split(".")[0] == "torch"}
    assert not hasattr(burn, "torch")


def test_install_worker_writes_once(tmp_path):
    path = burn.install_worker(str(tmp_path))
    mtime = os.stat(path).st_mtime_ns
    assert burn.install_worker(str(tmp_path)) == path
    assert os.stat(path).st_mtime_ns == mtime
    assert os.access(path, os.X_OK)


def test_runner_timeout_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {marker}; echo started; wait"
    with burn.BurnRunner() as runner:
        (output,), samples, timed_out = runner.run([["sh", "-c", script]], timeout=1.0)
    assert timed_out is True and samples == {}
    assert output["stdout"].strip() == "started"
    # Signals are delivered asynchronously: give the kernel a moment, but the child must go.
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(child)


def test_runner_kills_children_that_ignore_sigterm(tmp_path):
    marker = tmp_path / "child.pid"
    # The child ignores SIGTERM; the leader (sh) exits on it at once.
    script = f"sh -c 'trap \"\" TERM; sleep 60' & echo $! > {marker}; echo started; wait"
    with burn.BurnRunner() as runner:
        _outputs, _samples, timed_out = runner.run([["sh", "-c", script]], timeout=1.0)
    assert timed_out is True
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(child)


def process_alive(pid):
    """False when pid is gone or a zombie (killed, not yet reaped by whatever adopted it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_runner_samples_while_processes_run():
    calls = []

    def sampler(indices):
        calls.append(list(indices))
        return [{"index": i, "temperature_c": 50} for i in indices]

    with burn.BurnRunner(sampler=sampler, sample_indices=[0, 1]) as runner:
        outputs, samples, timed_out = runner.run([["sh", "-c", "sleep 1.5; echo done"]], timeout=30)
    assert timed_out is False and outputs[0]["rc"] == 0 and outputs[0]["stdout"] == "done\n"
    assert len(calls) >= 2 and len(samples[0]) == len(calls)
