"""The GPU check behind hack/gpu-check.sh: the collection's own code against a real H100/H200, in one short run.

Runs on a GPU host that has torch (CUDA), nvidia-ml-py and pytest but no ansible-core and no network: the checkout
is exposed as ansible_collections/gpufleet/nvidia in a temporary directory and the module_utils the modules call are
driven directly (nvml.collect_gpu_facts and cuda.discover_cuda as gpu_facts does; burn.plan_burn, run_torch_burn and
judge as gpu_burnin does; gpu_burn.fetch/build/run for the gpu_burn backend; bench/burnin/bench.py).

Every step runs in its own process group with its own timeout, inside one overall budget; a failing step does not
stop the others. One JSON summary ($OUT/gpu-check.json, else .build/gpu-check.json) and a table on stdout; the exit
status is 1 when any check failed, 2 when the machine cannot run the check at all (no GPU, no CUDA torch).

GPUFLEET_GPU_CHECK_DEVICE=cpu runs the same steps on the CPU with small matrices and short runs (NVML and gpu-burn
steps are skipped, saying why): the path the integration tests take on a machine without a GPU.
GPUFLEET_GPU_CHECK_BUDGET (seconds) replaces the overall budget; a step that no longer fits fails as "not run".
"""

import argparse
import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ("bf16", "fp16", "tf32", "fp32", "fp64")
# issue 13: an 8192^3 bf16 GEMM reaches ~0.75-0.8 of the 989 TFLOPS peak; a burn-in below 0.7 is not at speed.
MIN_FRACTION_OF_PEAK = {"bf16": 0.7, "fp16": 0.7}
GPU_BURN_RELEASE = "3ead140"  # the newest of the releases under ../shared/third_party/gpu-burn (2026-05-31)

# What each step does on each device. The CUDA figures fit one call of at most 8 minutes on an H200:
# 5 x 30 s burns + 2 faults + gpu-burn (build ~1 min, run 20 s) + bench (5 dtypes x 2 x 6 s), with start-up costs.
PROFILES = {
    "cuda": {
        "budget": 450.0,
        "burn": {"duration": 30, "matrix_size": "auto", "memory_fraction": 0.9, "gpus": ["all"]},
        "fault": {"duration": 8, "matrix_size": "8192", "memory_fraction": 0.5, "gpus": ["0"], "dtype": "bf16"},
        "gpu_burn_duration": 20,
        "bench_seconds": 6,
    },
    "cpu": {
        "budget": 240.0,
        "burn": {"duration": 2, "matrix_size": "256", "memory_fraction": 0.9, "gpus": ["all"]},
        "fault": {"duration": 2, "matrix_size": "256", "memory_fraction": 0.9, "gpus": ["all"], "dtype": "fp32"},
        "gpu_burn_duration": 0,
        "bench_seconds": 2,
    },
}


# ---------------------------------------------------------------------------------------------------------------------
# The collection, importable without ansible-core


def collection_root():
    """A temporary ansible_collections/gpufleet/nvidia -> checkout tree (what `make venv` makes under .build)."""
    root = tempfile.mkdtemp(prefix="gpufleet-collections-")
    os.makedirs(os.path.join(root, "ansible_collections", "gpufleet"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "gpufleet", "nvidia"))
    return root


def _import_collection():
    from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn, cuda, gpu_burn, nvml
    from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import run_command

    return burn, cuda, gpu_burn, nvml, run_command


def _watched_run(plan, run):
    """As gpu_burnin runs a burn-in: NVML sampling, error counters before and after, Xid events during it."""
    from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_counters

    return _burn_counters.watched_run(plan, run)


# ---------------------------------------------------------------------------------------------------------------------
# Steps (each runs in a child: `gpu_check.py --step NAME --spec JSON --result FILE`)


def _burn_params(profile, **overrides):
    params = {"backend": "torch", "inject_fault": False, "device": profile["device"]}
    params.update(profile["burn"])
    params.update(overrides)
    return params


def _gpu_figures(result):
    return {
        "device": result.get("device"),
        "name": result.get("name"),
        "matrix_size": result.get("matrix_size"),
        "tflops": (result.get("tflops") or {}).get("median"),
        "peak_tflops": result.get("peak_tflops"),
        "fraction_of_peak": result.get("fraction_of_peak"),
        "errors": result.get("errors"),
        "nans": result.get("nans"),
        "spot_checks": result.get("spot_checks"),
        "checksum_failures": result.get("checksum_failures"),
        "hardware_problems": result.get("hardware_problems"),
        "max_temperature_c": result.get("max_temperature_c"),
        "verdict": result.get("verdict"),
        "reasons": result.get("reasons"),
    }


def _facts_for(spec, nvml):
    return nvml.collect_gpu_facts() if spec["device"] == "cuda" else {}


def _torch_burn(burn, plan, torch_python, work):
    return _watched_run(plan, lambda sampler: burn.run_torch_burn(plan, torch_python, work, sampler))


def step_gpu_facts(spec, work):
    burn, cuda, _gpu_burn, nvml, _run = _import_collection()
    facts = nvml.collect_gpu_facts()
    toolkits = cuda.discover_cuda()["toolkits"]
    figures = {
        "source": facts["source"],
        "count": facts["count"],
        "driver_version": facts.get("driver_version"),
        "cuda_driver_version": facts.get("cuda_driver_version"),
        "gpus": ["%s %s (%s)" % (d["index"], d.get("name"), d.get("uuid")) for d in facts["devices"]],
        "health": {str(d["index"]): d.get("health") for d in facts["devices"]},
        "peaks_known": {str(d["index"]): burn.peak_tflops(d.get("name"), "bf16") is not None for d in facts["devices"]},
        "cuda_toolkits": ["%s (nvcc %s)" % (tk["path"], tk.get("nvcc")) for tk in toolkits],
    }
    if spec["device"] == "cpu":
        return "skip", "device=cpu: no NVML needed; gpu_facts said: %s" % (facts.get("error") or "GPU present"), figures
    if not facts["present"]:
        return "fail", "no GPU: %s" % facts.get("error"), figures
    unhealthy = {k: v for k, v in figures["health"].items() if v != "ok"}
    if unhealthy:
        return "fail", "unhealthy GPU(s): %s" % unhealthy, figures
    detail = "%d GPU(s) via %s, driver %s" % (facts["count"], facts["source"], facts.get("driver_version"))
    return "pass", detail, figures


def step_burn(spec, work):
    burn, _cuda, _gpu_burn, nvml, _run = _import_collection()
    dtype = spec["dtype"]
    plan = burn.plan_burn(_burn_params(spec, dtype=dtype), _facts_for(spec, nvml), cpu_name="cpu")
    results = _torch_burn(burn, plan, spec["torch_python"], work)
    thresholds = {"max_errors": 0}
    if spec["device"] == "cuda":
        thresholds["min_fraction_of_peak"] = MIN_FRACTION_OF_PEAK.get(dtype)
    failing = burn.judge(results, thresholds)
    figures = {"plan": burn.describe_plan(plan), "gpus": [_gpu_figures(r) for r in results]}
    if failing:
        return "fail", burn.failure_message(failing), figures
    return "pass", "%d device(s) clean" % len(results), figures


def step_fault(spec, work):
    burn, _cuda, _gpu_burn, nvml, _run = _import_collection()
    kind = spec["kind"]
    params = _burn_params(spec, inject_fault=kind)
    params.update(spec["fault"])
    plan = burn.plan_burn(params, _facts_for(spec, nvml), cpu_name="cpu")
    results = _torch_burn(burn, plan, spec["torch_python"], work)
    burn.judge(results, {"max_errors": 0})
    first = results[0]
    figures = {"plan": burn.describe_plan(plan), "gpus": [_gpu_figures(r) for r in results]}
    if first["verdict"] == "fail":
        return "pass", "caught: " + "; ".join(first["reasons"]), figures
    return "fail", "the %s fault was NOT caught: %s reported %s" % (kind, first["device"], first["verdict"]), figures


def _gpu_burn_tarball():
    places = [os.environ.get("GPUFLEET_GPU_BURN_SRC")]
    places += [os.path.join(REPO, "..", "shared", "third_party", "gpu-burn")]
    places += [os.path.join(REPO, "shared", "third_party", "gpu-burn")]
    looked = []
    for place in places:
        if not place:
            continue
        if os.path.isfile(place):
            return place, looked
        found = sorted(glob.glob(os.path.join(place, "gpu-burn-%s.tar.gz" % GPU_BURN_RELEASE)))
        found = found or sorted(glob.glob(os.path.join(place, "gpu-burn-*.tar.gz")))
        if found:
            return found[0], looked
        looked.append(os.path.abspath(place))
    return None, looked


def step_gpu_burn(spec, work):
    burn, cuda, gpu_burn, nvml, run_command = _import_collection()
    if spec["device"] != "cuda":
        return "skip", "device=cpu: the gpu_burn backend needs a GPU", {}
    source, looked = _gpu_burn_tarball()
    if source is None:
        return "skip", "no gpu-burn release found (looked in %s; set GPUFLEET_GPU_BURN_SRC)" % ", ".join(looked), {}
    # The toolkit gpu_burnin builds with.
    nvcc, cuda_path = cuda.find_nvcc()
    if nvcc is None:
        return "skip", "no CUDA toolkit with nvcc found (cuda.find_nvcc), so gpu-burn cannot be built", {}
    facts = nvml.collect_gpu_facts()
    params = {
        "backend": "gpu_burn",
        "duration": spec["gpu_burn_duration"],
        "gpus": ["all"],
        "dtype": "fp32",
        "memory_fraction": 0.9,
        "matrix_size": "auto",
        "device": "cuda",
        "inject_fault": False,
        "gpu_burn_src": source,
    }
    plan = burn.plan_burn(params, facts, nvcc=nvcc)
    src = gpu_burn.fetch_gpu_burn_src(source, os.path.join(work, "build"), run_command)
    started = time.monotonic()
    build = gpu_burn.build_gpu_burn(
        src, nvcc, cuda_path, [t.get("compute_capability") for t in plan["targets"]], run_command
    )
    build_seconds = round(time.monotonic() - started, 1)
    results = _watched_run(plan, lambda sampler: gpu_burn.run_gpu_burn(plan, build, sampler))
    failing = burn.judge(results, {"max_errors": 0})
    figures = {
        "source": source,
        "nvcc": nvcc,
        "build_seconds": build_seconds,
        "gpus": [_gpu_figures(r) for r in results],
    }
    if failing:
        return "fail", burn.failure_message(failing), figures
    detail = "gpu-burn %s built in %.0f s, %d GPU(s) OK" % (os.path.basename(source), build_seconds, len(results))
    return "pass", detail, figures


def step_bench(spec, work):
    argv = [sys.executable, os.path.join(REPO, "bench", "burnin", "bench.py"), "--torch-python", spec["torch_python"]]
    argv += ["--seconds", str(spec["bench_seconds"])]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    ratios = {}
    for line in lines:
        words = line.split()
        if words and words[0] in DTYPES and "ratio" in words:
            ratios[words[0]] = float(words[words.index("ratio") + 1])
    figures = {"output": lines, "ratios": ratios}
    if proc.returncode != 0 or not ratios:
        detail = "bench/burnin/bench.py failed (rc %d): %s" % (proc.returncode, proc.stderr.strip()[-500:])
        return "fail", detail, figures
    # The bench reports the ratio against bare torch.matmul (goal >= 0.97); it is a measurement, not a pass/fail.
    return "pass", "worker / bare matmul: " + ", ".join("%s %.3f" % kv for kv in ratios.items()), figures


STEPS = {
    "gpu_facts": step_gpu_facts,
    "burn": step_burn,
    "fault": step_fault,
    "gpu_burn": step_gpu_burn,
    "bench": step_bench,
}


def run_step_here(name, spec, result_path):
    work = tempfile.mkdtemp(prefix="gpufleet-check-")
    try:
        status, detail, figures = STEPS[name](spec, work)
    except Exception as exc:  # pylint: disable=broad-except  # one broken step is reported
        status, detail, figures = "fail", "%s: %s" % (type(exc).__name__, exc), {}
    with open(result_path, "w") as handle:
        json.dump({"status": status, "detail": detail, "figures": figures}, handle, default=str)


# ---------------------------------------------------------------------------------------------------------------------
# The orchestrator


def _stop_group(proc, grace=15.0):
    """SIGTERM the step's process group (the burn runner then stops its workers), SIGKILL after grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_step(name, label, spec, timeout, env):
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(prefix="gpufleet-step-", suffix=".json", delete=False) as handle:
        result_path = handle.name
    argv = [sys.executable, os.path.abspath(__file__), "--step", name, "--spec", json.dumps(spec)]
    argv += ["--result", result_path]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True, text=True
    )
    try:
        output = proc.communicate(timeout=timeout)[0]
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        output, timed_out = proc.stdout.read() if proc.stdout else "", True
    try:
        with open(result_path) as handle:
            result = json.load(handle)
    except (OSError, ValueError):
        tail = " | ".join((output or "").strip().splitlines()[-3:])
        why = "timed out after %.0f s" % timeout if timed_out else "ended with rc %s" % proc.returncode
        result = {"status": "fail", "detail": "step %s %s: %s" % (label, why, tail), "figures": {}}
    finally:
        os.unlink(result_path)
    result.update(check=label, seconds=round(time.monotonic() - started, 1), timeout=round(timeout))
    return result


def plan_steps(device, profile):
    """(step, label, extra spec, expected seconds, timeout) in the order they run."""
    burn_seconds = profile["burn"]["duration"]
    fault_seconds = profile["fault"]["duration"]
    steps = [("gpu_facts", "gpu facts", {}, 5, 60)]
    for dtype in DTYPES:
        steps.append(("burn", "burn-in %s" % dtype, {"dtype": dtype}, burn_seconds + 10, burn_seconds * 1.1 + 100))
    for kind in ("transient", "persistent"):
        steps.append(("fault", "fault %s" % kind, {"kind": kind}, fault_seconds + 10, fault_seconds * 1.1 + 90))
    gpu_burn_seconds = profile["gpu_burn_duration"]
    steps.append(("gpu_burn", "gpu_burn backend", {}, gpu_burn_seconds + 70, gpu_burn_seconds + 200))
    bench_seconds = profile["bench_seconds"] * 2 * (len(DTYPES) if device == "cuda" else 1) + 30
    steps.append(("bench", "bench/burnin", {}, bench_seconds, bench_seconds * 2 + 60))
    return steps


def _figures_text(result):
    figures = result.get("figures") or {}
    gpus = figures.get("gpus") or []
    parts = []
    for gpu in gpus:
        if gpu.get("tflops") is not None:
            text = "%s %.4g TFLOPS" % (gpu.get("device"), gpu["tflops"])
            if gpu.get("fraction_of_peak") is not None:
                text += " (%.2f of %g peak)" % (gpu["fraction_of_peak"], gpu["peak_tflops"])
            if gpu.get("matrix_size"):
                text += " n=%s" % gpu["matrix_size"]
            parts.append(text)
    if figures.get("ratios"):
        parts.append("ratio " + ", ".join("%s %.3f" % kv for kv in figures["ratios"].items()))
    return "; ".join(parts) or result.get("detail", "")


def print_table(summary):
    rows = [("check", "result", "figures", "time")]
    for check in summary["checks"]:
        figures = _figures_text(check)
        if check["status"] != "pass" or check["check"].startswith("fault"):
            figures = check.get("detail", "")
        rows.append((check["check"], check["status"].upper(), figures[:110], "%.1f s" % check["seconds"]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("%-*s  %-*s  %-*s  %s" % (widths[0], row[0], widths[1], row[1], widths[2], row[2], row[3]))
    print(
        "gpu-check on %s: %s in %.1f s (%s)"
        % (summary["device"], "PASSED" if summary["passed"] else "FAILED", summary["seconds"], summary["json"])
    )


def write_summary(summary):
    out_dir = os.environ.get("OUT") or os.path.join(REPO, ".build")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "gpu-check.json")
    summary["json"] = path
    with open(path, "w") as handle:
        json.dump(summary, handle, indent=2, default=str)
        handle.write("\n")
    return path


def orchestrate(device):
    started = time.monotonic()
    root = collection_root()
    sys.path.insert(0, root)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    from ansible_collections.gpufleet.nvidia.tests.gpu import gpu_host

    summary = {"device": device, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "checks": []}
    missing = []
    if device == "cuda":
        from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml

        missing = gpu_host.gpu_problems(nvml.collect_gpu_facts())
    # The interpreter for the workers: a CUDA torch that sees a GPU on cuda, any torch on cpu.
    torch_python, torch_lines = gpu_host.find_torch_python(require_cuda=device == "cuda")
    if torch_python is None:
        kind = "a CUDA build of torch that sees a GPU" if device == "cuda" else "torch"
        missing.append("no Python with %s; looked at:\n    %s" % (kind, "\n    ".join(torch_lines)))
    summary.update(torch_python=torch_python, torch_interpreters=torch_lines)
    if missing:
        summary.update(passed=False, seconds=round(time.monotonic() - started, 1), missing=missing)
        path = write_summary(summary)
        print("gpu-check cannot run on this machine (device=%s):\n  - %s" % (device, "\n  - ".join(missing)))
        if device == "cuda":
            print("No GPU here? GPUFLEET_GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (small and short).")
        print("summary: %s" % path)
        return 2

    profile = dict(PROFILES[device], device=device, torch_python=torch_python)
    budget = float(os.environ.get("GPUFLEET_GPU_CHECK_BUDGET") or profile["budget"])
    deadline = started + budget
    summary["budget_seconds"] = budget
    for name, label, extra, expected, timeout in plan_steps(device, profile):
        left = deadline - time.monotonic()
        if left < expected:
            result = {"check": label, "status": "fail", "seconds": 0.0, "figures": {}}
            result["detail"] = "not run: %.0f s of the budget left, the step needs about %.0f s" % (left, expected)
        else:
            result = run_step(name, label, dict(profile, **extra), min(timeout, left), env)
        summary["checks"].append(result)
        print("[%6.1f s] %-18s %s" % (time.monotonic() - started, label, result["status"]), flush=True)
    summary["passed"] = not any(c["status"] == "fail" for c in summary["checks"])
    summary["seconds"] = round(time.monotonic() - started, 1)
    write_summary(summary)
    print_table(summary)
    return 0 if summary["passed"] else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default=os.environ.get("GPUFLEET_GPU_CHECK_DEVICE"))
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        run_step_here(args.step, json.loads(args.spec), args.result)
        return 0
    return orchestrate(args.device or "cuda")


if __name__ == "__main__":
    sys.exit(main())
