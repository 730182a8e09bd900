# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GPU's own error counters around a burn-in: read before and after through NVML, Xid events watched during it.

A burn-in whose GEMMs all check out can still have made the GPU log an uncorrectable ECC error (corrected by a row
remap or a retired page, or not at all) or a critical Xid; those fail the GPU, naming the counter. Corrected errors
are reported, not judged: they are what ECC is for.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes

from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvml

# (name, path in NvmlSession.read_device's dict, fails the GPU when it grows). Booleans grow from false to true.
COUNTERS = (
    ("ecc_uncorrected_volatile", ("ecc_errors", "volatile", "uncorrected"), True),
    ("ecc_corrected_volatile", ("ecc_errors", "volatile", "corrected"), False),
    ("row_remap_uncorrected", ("row_remap", "uncorrected"), True),
    ("row_remap_corrected", ("row_remap", "corrected"), False),
    ("row_remap_pending", ("row_remap", "pending"), True),
    ("row_remap_failure", ("row_remap", "failure"), True),
    ("retired_pages_double_bit", ("retired_pages", "double_bit_ecc"), True),
    ("retired_pages_single_bit", ("retired_pages", "single_bit_ecc"), False),
    ("retired_pages_pending", ("retired_pages", "pending"), True),
)
FATAL = frozenset(name for name, _path, fatal in COUNTERS if fatal)
# nvmlEventTypeXidCriticalError (nvml.h); the bindings' own constant is used when they have it.
XID_CRITICAL_ERROR = 0x8
NVML_ERROR_TIMEOUT = 10


def error_counters(device):
    """{counter: int} from a read_device dict; counters the GPU does not report are left out."""
    counters = {}
    for name, path, _fatal in COUNTERS:
        value = device
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            counters[name] = int(value)
    return counters


def counter_changes(before, after):
    """{counter: (before, after)} for every counter read both times whose value changed."""
    return {name: (before[name], after[name]) for name in after if name in before and after[name] != before[name]}


def counter_problems(changes, xids):
    """Why a GPU fails: counters in FATAL that grew, and every critical Xid seen during the run."""
    problems = [
        f"NVML counter {name} went from {old} to {new} during the burn-in"
        for name, (old, new) in sorted(changes.items())
        if name in FATAL and new > old
    ]
    if xids:
        problems.append("critical Xid event(s) during the burn-in: " + ", ".join(str(xid) for xid in xids))
    return problems


def read_counters(session, indices):
    """{index: counters} of the given GPUs through an open NvmlSession."""
    return {index: error_counters(session.read_device(index)) for index in indices}


class XidWatch:
    """Critical Xid events of the given GPUs, through an NVML event set; ``available`` False when NVML cannot.

    ``nvml`` is the pynvml module (injectable for tests). Nothing here raises: a driver, GPU or binding without
    events (or the simulated NVML) leaves the watch unavailable and the result says so.
    """

    def __init__(self, nvml, handles):
        self._nvml = nvml
        self._set = None
        self._index_of = {}
        self.events = {index: [] for index in handles}
        self.error = None
        self.available = False  # whether events were being watched (stays true after close)
        mask = getattr(nvml, "nvmlEventTypeXidCriticalError", XID_CRITICAL_ERROR)
        try:
            self._set = nvml.nvmlEventSetCreate()
            for index, handle in handles.items():
                nvml.nvmlDeviceRegisterEvents(handle, mask, self._set)
                self._index_of[self._key(handle)] = index
            self.available = True
        except Exception as exc:  # NVMLError (not supported, function not found), AttributeError (old bindings)
            self.error = str(exc) or type(exc).__name__
            self.close()

    @staticmethod
    def _key(handle):
        """The address a ctypes device handle points at (two pointer objects to one device compare unequal)."""
        try:
            return ctypes.addressof(handle.contents)
        except (AttributeError, TypeError, ValueError):  # not a ctypes pointer (a test double), or a null one
            return handle

    def poll(self):
        """Collect the events waiting now (never blocks)."""
        while self._set is not None:
            try:
                data = self._nvml.nvmlEventSetWait_v2(self._set, 0)
            except Exception as exc:
                if getattr(exc, "value", None) != NVML_ERROR_TIMEOUT:
                    self.error = str(exc) or type(exc).__name__
                return
            index = self._index_of.get(self._key(getattr(data, "device", None)))
            if index is not None:
                self.events[index].append(int(getattr(data, "eventData", 0)))

    def close(self):
        if self._set is not None:
            with contextlib.suppress(Exception):  # freeing is best effort: the process ends soon
                self._nvml.nvmlEventSetFree(self._set)
            self._set = None


def attach_counters(results, before, after, watch):
    """Put each GPU's counters (before, after, changed), its Xid events and the problems they show on its result.

    before/after: {index: counters} (empty without NVML); watch: an XidWatch or None.
    """
    for result in results:
        index = result["index"]
        old, new = before.get(index), after.get(index)
        changes = counter_changes(old, new) if old is not None and new is not None else {}
        xids = watch.events.get(index, []) if watch is not None and watch.available else None
        result["error_counters"] = {
            "before": old,
            "after": new,
            "changed": {name: list(values) for name, values in sorted(changes.items())},
        }
        result["xid_events"] = xids
        result["hardware_problems"] = counter_problems(changes, xids)


def read_error_counters(plan):
    """{index: error counters} of the plan's GPUs in an NVML session of their own ({} on the CPU or without NVML)."""
    if plan["device"] != "cuda" or not nvml.HAS_PYNVML:
        return {}
    try:
        with nvml.NvmlSession() as session:
            return read_counters(session, [t["index"] for t in plan["targets"]])
    except nvml.NvmlUnavailableError:
        return {}


@contextlib.contextmanager
def nvml_sampler(plan):
    """(sampler, Xid watch) while the run lasts; (None, None) on the CPU, without pynvml or when NVML cannot start.

    The sampler is NvmlSession.sample, and also collects the critical Xid events waiting at each sample.
    """
    if plan["device"] != "cuda" or not nvml.HAS_PYNVML:
        yield None, None
        return
    try:
        session = nvml.NvmlSession().__enter__()
    except nvml.NvmlUnavailableError:
        yield None, None
        return
    handles = {t["index"]: session.handle(t["index"]) for t in plan["targets"]}
    watch = XidWatch(session.bindings, {i: h for i, h in handles.items() if h is not None})

    def sample(indices):
        watch.poll()
        return session.sample(indices)

    try:
        yield sample, watch
    finally:
        watch.poll()
        watch.close()
        session.__exit__(None, None, None)


def watched_run(plan, run):
    """run(sampler) -> per-GPU results, sampled through NVML, with the error counters read before and after and the
    Xid events watched during it put on each result (attach_counters). The one way a burn-in is run on GPUs."""
    before = read_error_counters(plan)
    with nvml_sampler(plan) as (sampler, watch):
        results = run(sampler)
    attach_counters(results, before, read_error_counters(plan), watch)
    return results
