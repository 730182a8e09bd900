"""What a real-GPU run needs, found the way the collection finds it, and said plainly when something is missing.

Shared by tests/gpu/conftest.py (`make test-gpu`) and hack/gpu_check.py. The GPU comes from NVML through
module_utils/nvml.py (the gpu_facts path); the interpreter with a CUDA build of PyTorch is probed by
module_utils/torch_probe.py (the same probe gpu_facts runs), never imported here.
"""

import os
import shutil
import sys

from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml, torch_probe

TORCH_PYTHON_ENV = "GPUFLEET_TORCH_PYTHON"
# Where a GPU host usually keeps a Python with torch, after the interpreter running us and python3 on PATH.
COMMON_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/opt/conda/bin/python", "/opt/conda/bin/python3")


def torch_python_candidates(environ=None, executable=None, which=shutil.which):
    """(candidates, told): GPUFLEET_TORCH_PYTHON alone when set (told=True), else the usual places in order."""
    environ = os.environ if environ is None else environ
    told = environ.get(TORCH_PYTHON_ENV)
    if told:
        return [told], True
    candidates = [executable or sys.executable]
    for path in [which("python3"), which("python"), *COMMON_PYTHONS]:
        if path and os.path.exists(path) and os.path.realpath(path) not in {os.path.realpath(c) for c in candidates}:
            candidates.append(path)
    return candidates, False


def describe_torch_entry(entry):
    """One line on what an interpreter has: no torch, torch without CUDA, CUDA with no device, or usable."""
    python = entry["python"]
    if entry.get("error") and not entry.get("torch_installed"):
        return "%s: %s" % (python, entry["error"])
    if not entry.get("torch_installed"):
        return "%s: torch is not installed" % python
    if not entry.get("cuda_available"):
        build = "CPU-only build" if not entry.get("cuda_version") else "CUDA %s build" % entry["cuda_version"]
        return "%s: torch %s without CUDA (%s, torch.cuda.is_available() is False)" % (
            python,
            entry.get("torch_version"),
            build,
        )
    if not entry.get("device_count"):
        return "%s: torch %s with CUDA sees no device" % (python, entry.get("torch_version"))
    if entry.get("error"):
        return "%s: torch %s: %s" % (python, entry.get("torch_version"), entry["error"])
    return "%s: torch %s, CUDA %s, %d device(s)" % (
        python,
        entry.get("torch_version"),
        entry.get("cuda_version"),
        entry["device_count"],
    )


def usable(entry, require_cuda=True):
    if not require_cuda:
        return bool(entry.get("torch_installed"))
    return bool(entry.get("torch_installed") and entry.get("cuda_available") and entry.get("device_count"))


def find_torch_python(
    probe=torch_probe.probe_torch_interpreters, environ=None, executable=None, which=shutil.which, require_cuda=True
):
    """(python or None, lines): the first candidate with a CUDA torch that sees a GPU (with require_cuda=False: any
    torch, for gpu-check's CPU path), and what each one had."""
    candidates, told = torch_python_candidates(environ, executable, which)
    entries = probe(candidates, timeout=180)
    lines = [describe_torch_entry(entry) for entry in entries]
    if told:
        lines = ["%s=%s (set by you): %s" % (TORCH_PYTHON_ENV, candidates[0], lines[0].split(": ", 1)[1])]
    for entry in entries:
        if usable(entry, require_cuda):
            return entry["python"], lines
    return None, lines


def gpu_problems(facts):
    """Why the NVIDIA driver/NVML shows no usable GPU (empty when it does), from gpu_facts' own words."""
    if facts.get("present"):
        return []
    problems = []
    if not nvml.HAS_PYNVML:
        problems.append("nvidia-ml-py (pynvml) is not installed for %s" % sys.executable)
    error = facts.get("error") or "no device reported"
    if facts.get("source") in ("nvml", "nvidia-smi"):
        problems.append("no GPU: %s answered but lists no device" % facts["source"])
    else:
        problems.append("no NVIDIA driver/NVML: %s" % error)
    return problems


def check_gpu_host(collect=nvml.collect_gpu_facts, find=find_torch_python):
    """{'facts', 'torch_python', 'torch_lines', 'missing'}: missing is empty when GPU tests can run here."""
    facts = collect()
    missing = gpu_problems(facts)
    torch_python, lines = find()
    if torch_python is None:
        missing.append("no Python with a CUDA build of torch that sees a GPU; looked at:\n    " + "\n    ".join(lines))
    return {"facts": facts, "torch_python": torch_python, "torch_lines": lines, "missing": missing}


def missing_message(host):
    return (
        "GPU tests asked for, but this machine cannot run them:\n  - "
        + "\n  - ".join(host["missing"])
        + "\nRun them on a host with an NVIDIA GPU, its driver, nvidia-ml-py, and a CUDA build of PyTorch "
        "(point %s at that interpreter if it is not the one running pytest)." % TORCH_PYTHON_ENV
    )
