"""The SIMULATED nvidia-ctk at a chosen version: its source with the ``VERSION = "..."`` line replaced.

One implementation, used by the apt repository generator (apt_repo.py packages it per version) and by the
simulator's own tests (tests/simulators/test_sim_nvidia_ctk.py, which load this file by its path).
"""

import re
from pathlib import Path

NVIDIA_CTK_SIMULATOR = Path(__file__).resolve().parents[1] / "simulators" / "bin" / "nvidia-ctk"

_VERSION_LINE = re.compile(r'^VERSION = "[^"\n]*"$', re.MULTILINE)
_TOOLKIT_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+([-~+.][0-9A-Za-z.~+-]*)?\Z")


def set_nvidia_ctk_version(source: str, version: str) -> str:
    """source (the simulator's text) with its single VERSION line set to version; ValueError if not exactly one."""
    if not _TOOLKIT_VERSION.match(version):
        raise ValueError("not a toolkit version: %r" % version)
    replaced, count = _VERSION_LINE.subn(lambda _match: 'VERSION = "%s"' % version, source)
    if count != 1:
        raise ValueError("expected exactly one VERSION line in the nvidia-ctk simulator, found %d" % count)
    return replaced


def nvidia_ctk_source(version: str) -> str:
    """The simulator tests/simulators/bin/nvidia-ctk as it reads at the given version."""
    return set_nvidia_ctk_version(NVIDIA_CTK_SIMULATOR.read_text(encoding="utf-8"), version)
