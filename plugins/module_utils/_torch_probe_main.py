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
        "bitsandbytes": {"version": None, "error": None},
        "smoke": {"ok": None, "device": None, "error": None},
        "error": None,
        "stage": "start",
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
        emit("import bitsandbytes")
        try:
            import bitsandbytes

            report["bitsandbytes"]["version"] = str(getattr(bitsandbytes, "__version__", "unknown"))
        except Exception as exc:
            report["bitsandbytes"]["error"] = describe(exc)
    emit("done")
    return report


if __name__ == "__main__":
    # Never pick up a stray torch.py from the working directory (``python -c`` puts it first on sys.path).
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    main()
