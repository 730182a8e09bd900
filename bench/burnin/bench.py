"""Burn-in worker vs a bare torch.matmul loop: same device, dtype, matrix size and duration, run one after the other.

Both report per-second GEMM throughput windows; the median after the first two windows (warm-up) is compared. Then
the checker's share of the worker's wall time (its check_seconds over its run, timed apart from the GEMMs: CUDA
events on a GPU, perf_counter on the CPU), per dtype, on the CPU as on a GPU.

The matrix size is the worker's own choice unless --matrix-size is given (the bare loop takes the size the worker
reports), so what is measured is the worker as a burn-in runs it. --worker measures another worker file (an older
version, for a before/after) under the same harness.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.gpufleet.nvidia.plugins.module_utils.burn_worker import WORKER_SOURCE  # noqa: E402

DTYPES = ("bf16", "fp16", "tf32", "fp32", "fp64")
BARE_LOOP = r"""
import json, sys, time, torch
device, dtype_name, size, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32,
          "fp64": torch.float64}
if device.startswith("cuda"):
    torch.backends.cuda.matmul.allow_tf32 = dtype_name == "tf32"
a = torch.randn(size, size, device=device, dtype=dtypes[dtype_name])
b = torch.randn(size, size, device=device, dtype=dtypes[dtype_name])
c = torch.empty_like(a)
sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
flop = 2.0 * size ** 3
start = window = time.monotonic()
count = 0
while True:
    torch.matmul(a, b, out=c)
    count += 1
    now = time.monotonic()
    if now - window >= 1.0:
        sync()
        now = time.monotonic()
        print(json.dumps({"event": "progress", "tflops": flop * count / (now - window) / 1e12}), flush=True)
        count, window = 0, now
    if now - start >= seconds:
        break
"""


def steady_median(lines):
    windows = [json.loads(line)["tflops"] for line in lines if '"progress"' in line]
    steady = windows[2:] or windows
    if not steady:
        raise SystemExit("no progress windows in output:\n" + "\n".join(lines[-5:]))
    return statistics.median(steady)


def summary_of(lines):
    for line in reversed(lines):
        if '"summary"' in line:
            return json.loads(line)
    raise SystemExit("no summary in output:\n" + "\n".join(lines[-5:]))


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc %d): %s" % (argv[:3], proc.returncode, proc.stderr[-2000:]))
    return proc.stdout.splitlines()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torch-python", required=True)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--matrix-size", type=int, default=None, help="default: the worker's own choice (auto)")
    parser.add_argument("--worker", default=None, help="a worker file to measure instead of the collection's")
    parser.add_argument(
        "--dtypes",
        default=None,
        help="comma-separated dtypes compared with bare torch.matmul (default: all five on a GPU, fp32 on the CPU); "
        "the checker's share is printed for all five unless this is given",
    )
    args = parser.parse_args()
    has_cuda = (
        subprocess.run(
            [args.torch_python, "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    device = "cuda:0" if has_cuda else "cpu"
    if args.dtypes:
        dtypes = [dtype for dtype in args.dtypes.split(",") if dtype]
        unknown = sorted(set(dtypes) - set(DTYPES))
        if unknown:
            parser.error("unknown dtype(s): " + ", ".join(unknown))
        share_dtypes = dtypes
    else:
        dtypes = list(DTYPES) if has_cuda else ["fp32"]
        # the checker's share in every dtype, on the CPU too (worker runs only where no ratio is wanted)
        share_dtypes = list(DTYPES)
    size = str(args.matrix_size) if args.matrix_size else "auto"
    seconds = args.seconds or (20.0 if has_cuda else 8.0)
    print(
        "device %s, matrix %s, %.0f s per run, worker %s%s"
        % (device, size, seconds, args.worker or "(collection)", "" if has_cuda else " (no GPU: CPU only)")
    )
    with tempfile.TemporaryDirectory() as tmp:
        worker = os.path.join(tmp, "gpufleet_burn_worker.py")
        with open(worker, "w") as handle:
            if args.worker:
                with open(args.worker) as source:
                    handle.write(source.read())
            else:
                handle.write(WORKER_SOURCE)
        shares = []
        for dtype in [d for d in DTYPES if d in share_dtypes or d in dtypes]:
            worker_lines = run(
                [
                    args.torch_python,
                    worker,
                    "--device",
                    device,
                    "--dtype",
                    dtype,
                    "--seconds",
                    str(seconds),
                    "--matrix-size",
                    size,
                    "--memory-fraction",
                    "0.5",
                ]
            )
            summary = summary_of(worker_lines)
            shares.append((dtype, summary))
            if dtype not in dtypes:
                continue
            ours = steady_median(worker_lines)
            worker_size = str(summary["matrix_size"])
            bare = steady_median(run([args.torch_python, "-c", BARE_LOOP, device, dtype, worker_size, str(seconds)]))
            ratio = ours / bare if bare else float("nan")
            print(
                "%-5s matrix %5s burn-in worker %10.4f TFLOPS | bare torch.matmul %10.4f TFLOPS | ratio %.3f "
                "(goal >= 0.97: %s)" % (dtype, worker_size, ours, bare, ratio, "met" if ratio >= 0.97 else "NOT met")
            )
        for dtype, summary in shares:
            share = summary["check_seconds"] / summary["seconds"] if summary["seconds"] else float("nan")
            print(
                "%-5s matrix %5d checker %5.1f%% of the worker's wall time (GEMMs %.2f s, checks %.2f s of %.2f s; "
                "%d results, %d checksums) (design: <= 3%%: %s)"
                % (
                    dtype,
                    summary["matrix_size"],
                    100.0 * share,
                    summary["gemm_seconds"],
                    summary["check_seconds"],
                    summary["seconds"],
                    summary["iterations"],
                    summary["checksum_checks"],
                    "met" if share <= 0.03 else "NOT met",
                )
            )


if __name__ == "__main__":
    main()
