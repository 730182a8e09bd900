# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpufleet torch probe: what PyTorch (and bitsandbytes) this interpreter has and whether it can use the GPU.

This file is a program, not a library for the Ansible process: torch_probe.py passes its text to each probed
interpreter (``python -c``), so torch is never imported into Ansible's process. It is a module here so that it is
linted, compiled and unit-tested like the rest. It runs under any Python a user's venv may have, even 2.7, so it
uses no f-strings and imports only the standard library at its top level.

It prints one JSON line per stage, so that a crash inside ``import torch`` or a CUDA call still leaves the last
completed stage to report; the caller reads the last JSON line of stdout, because torch and bitsandbytes may print
banners there too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import platform
import sys

SMOKE_DEVICE = "cuda:0"
SMOKE_LENGTH = 1024


def new_report():
    """The report before anything is known; every key the caller reads is present."""
    return {
        "python_version": platform.python_version(),
        "torch_installed": False,
        "torch_version": None,
        "cuda_available": None,
        "cuda_version": None,
        "cudnn_version": None,
        "device_count": None,
        "devices": [],
        "arch_list": [],
        "hip_version": None,
        "uid": os.getuid(),
        "bitsandbytes": new_bitsandbytes_report(),
        "smoke": {"ok": None, "device": None, "error": None},
        "error": None,
        "stage": "start",
    }


def new_bitsandbytes_report():
    return {
        "installed": False,
        "version": None,
        "error": None,
        "library": {"expected": None, "path": None, "found": None, "loads": None, "error": None},
        "libraries": [],
        "cpu_fallback": None,
    }


def describe(exc):
    return ("%s: %s" % (type(exc).__name__, exc)).strip()


def installed(name):
    """True when name can be imported, found without importing it (a broken package still counts)."""
    try:
        import importlib.util
    except ImportError:  # Python 2
        import imp

        try:
            imp.find_module(name)
            return True
        except ImportError:
            return False
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return True


def package_dir(name):
    """The directory of an installed package, found without importing it; None when not found."""
    try:
        import importlib.util
    except ImportError:  # Python 2
        import imp

        try:
            return imp.find_module(name)[1]
        except ImportError:
            return None
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return None
    locations = list(getattr(spec, "submodule_search_locations", None) or []) if spec else []
    return locations[0] if locations else None


def bitsandbytes_library_name(cuda_version, hip_version, override=None):
    """The native library bitsandbytes loads at import for this torch build (its own naming, not its code).

    ``libbitsandbytes_cuda<major><minor>.so`` from torch.version.cuda, the version overridden by BNB_CUDA_VERSION;
    ``libbitsandbytes_rocm<major><minor>.so`` from torch.version.hip; ``libbitsandbytes_cpu.so`` for a CPU build.
    """
    if hip_version:
        parts = str(hip_version).split(".")
        return "libbitsandbytes_rocm%s.so" % "".join(parts[:2])
    if cuda_version:
        version = override or "".join(str(cuda_version).split(".")[:2])
        return "libbitsandbytes_cuda%s.so" % version
    return "libbitsandbytes_cpu.so"


def check_bitsandbytes_library(bnb, cuda_version, hip_version, environ=None):
    """Whether the library bitsandbytes will look for is in its package directory and loads (ctypes)."""
    environ = os.environ if environ is None else environ
    directory = package_dir("bitsandbytes")
    library = bnb["library"]
    library["expected"] = bitsandbytes_library_name(cuda_version, hip_version, environ.get("BNB_CUDA_VERSION"))
    if not directory:
        library["error"] = "bitsandbytes package directory not found"
        return
    try:
        bnb["libraries"] = sorted(n for n in os.listdir(directory) if n.startswith("libbitsandbytes_"))
    except OSError as exc:
        library["error"] = describe(exc)
        return
    path = os.path.join(directory, library["expected"])
    library["found"] = os.path.isfile(path)
    bnb["cpu_fallback"] = not library["found"] and "libbitsandbytes_cpu.so" in bnb["libraries"]
    if not library["found"]:
        library["error"] = "%s is not in %s" % (library["expected"], directory)
        return
    library["path"] = path
    try:
        import ctypes

        ctypes.CDLL(path)
        library["loads"] = True
    except Exception as exc:
        library["loads"] = False
        library["error"] = describe(exc)


def query_cuda(torch, report):
    """cuDNN, the compiled architectures and the devices torch sees; errors go to report["error"]."""
    # No contextlib.suppress: it does not exist in Python 2.
    try:  # noqa: SIM105
        report["cudnn_version"] = torch.backends.cudnn.version()
    except Exception:
        pass
    try:  # noqa: SIM105
        report["arch_list"] = list(torch.cuda.get_arch_list())
    except Exception:
        pass
    try:
        report["cuda_available"] = bool(torch.cuda.is_available())
        report["device_count"] = int(torch.cuda.device_count()) if report["cuda_available"] else 0
        for index in range(report["device_count"]):
            props = torch.cuda.get_device_properties(index)
            report["devices"].append(
                {
                    "index": index,
                    "name": props.name,
                    "capability": "%d.%d" % (props.major, props.minor),
                    "memory_total_mib": int(props.total_memory // (1024 * 1024)),
                }
            )
    except Exception as exc:
        report["error"] = "torch.cuda query failed: " + describe(exc)


def smoke_test(torch, smoke):
    """A small sum on the GPU compared with the same sum on the CPU."""
    smoke["device"] = SMOKE_DEVICE
    try:
        a = torch.arange(SMOKE_LENGTH, dtype=torch.float32)
        b = torch.full((SMOKE_LENGTH,), 0.5, dtype=torch.float32)
        got = (a.to(SMOKE_DEVICE) + b.to(SMOKE_DEVICE)).cpu()
        torch.cuda.synchronize()
        smoke["ok"] = bool(torch.equal(got, a + b))
        if not smoke["ok"]:
            smoke["error"] = "GPU result differs from CPU result"
    except Exception as exc:
        smoke["ok"] = False
        smoke["error"] = describe(exc)


def main(out=None):
    out = out or sys.stdout
    report = new_report()

    def emit(stage):
        report["stage"] = stage
        out.write("\n" + json.dumps(report) + "\n")
        out.flush()

    emit("start")
    torch = None
    if installed("torch"):
        report["torch_installed"] = True
        emit("import torch")
        try:
            import torch

            report["torch_version"] = str(torch.__version__)
            report["cuda_version"] = getattr(torch.version, "cuda", None)
            report["hip_version"] = getattr(torch.version, "hip", None)
        except Exception as exc:
            torch = None
            report["error"] = "import torch failed: " + describe(exc)
    if torch is not None:
        emit("torch.cuda")
        query_cuda(torch, report)
        if report["cuda_available"]:
            emit("smoke")
            smoke_test(torch, report["smoke"])
    if installed("bitsandbytes"):
        bnb = report["bitsandbytes"]
        bnb["installed"] = True
        emit("bitsandbytes library")
        # Before the import, which may crash in the library's loader: what it will look for, and whether that loads.
        check_bitsandbytes_library(bnb, report["cuda_version"], report["hip_version"])
        emit("import bitsandbytes")
        try:
            import bitsandbytes

            bnb["version"] = str(getattr(bitsandbytes, "__version__", "unknown"))
        except Exception as exc:
            bnb["error"] = describe(exc)
    emit("done")
    return report


if __name__ == "__main__":
    # Never pick up a stray torch.py from the working directory (``python -c`` puts it first on sys.path).
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    main()
