"""The GPU's own error counters around a burn-in (_burn_counters): table-driven decisions, an Xid watch driven by a
stand-in for the pynvml bindings, and counters read through the real pynvml from the SIMULATED NVML, whose profile
is rewritten between the reads before and after (the simulated library reads its profile again at each nvmlInit).
"""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_counters as counters
from ansible_collections.gpufleet.nvidia.plugins.module_utils import burn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")

HOPPER = {
    "ecc_errors": {"volatile": {"corrected": 3, "uncorrected": 0}, "aggregate": {"corrected": 9, "uncorrected": 0}},
    "row_remap": {"corrected": 1, "uncorrected": 0, "pending": False, "failure": False},
    "retired_pages": None,
}
VOLTA = {
    "ecc_errors": {"volatile": {"corrected": None, "uncorrected": 0}, "aggregate": None},
    "row_remap": None,
    "retired_pages": {"single_bit_ecc": 2, "double_bit_ecc": 0, "pending": False},
}


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (
            HOPPER,
            {
                "ecc_corrected_volatile": 3,
                "ecc_uncorrected_volatile": 0,
                "row_remap_corrected": 1,
                "row_remap_uncorrected": 0,
                "row_remap_pending": 0,
                "row_remap_failure": 0,
            },
        ),
        (
            VOLTA,
            {
                "ecc_uncorrected_volatile": 0,
                "retired_pages_single_bit": 2,
                "retired_pages_double_bit": 0,
                "retired_pages_pending": 0,
            },
        ),
        ({"ecc_errors": None, "row_remap": None, "retired_pages": None}, {}),
    ],
    ids=["row-remap", "page-retirement", "nothing-reported"],
)
def test_error_counters_from_a_device(device, expected):
    assert counters.error_counters(device) == expected


@pytest.mark.parametrize(
    ("changes", "xids", "problems"),
    [
        ({}, [], []),
        ({"ecc_corrected_volatile": (3, 40), "row_remap_corrected": (1, 2)}, [], []),
        (
            {"ecc_uncorrected_volatile": (0, 2)},
            None,
            ["NVML counter ecc_uncorrected_volatile went from 0 to 2 during the burn-in"],
        ),
        (
            {"row_remap_pending": (0, 1), "row_remap_uncorrected": (0, 1)},
            [],
            [
                "NVML counter row_remap_pending went from 0 to 1 during the burn-in",
                "NVML counter row_remap_uncorrected went from 0 to 1 during the burn-in",
            ],
        ),
        ({"retired_pages_pending": (1, 0)}, [], []),  # a pending retirement that completed (after a reset)
        ({}, [79, 48], ["critical Xid event(s) during the burn-in: 79, 48"]),
    ],
    ids=["clean", "corrected-only", "uncorrected-ecc", "remaps", "pending-cleared", "xid"],
)
def test_counter_problems(changes, xids, problems):
    assert counters.counter_problems(changes, xids) == problems


def test_counter_changes_only_for_counters_read_both_times():
    before = {"ecc_uncorrected_volatile": 0, "row_remap_corrected": 1}
    after = {"ecc_uncorrected_volatile": 1, "row_remap_corrected": 1, "ecc_corrected_volatile": 7}
    assert counters.counter_changes(before, after) == {"ecc_uncorrected_volatile": (0, 1)}


class TimeoutError_(Exception):
    value = counters.NVML_ERROR_TIMEOUT


class FakeBindings:
    """A stand-in for pynvml's event-set calls (the simulated NVML has no events): delivers queued events."""

    nvmlEventTypeXidCriticalError = 8

    def __init__(self, queued):
        self.queued = list(queued)
        self.registered = []
        self.freed = False

    def nvmlEventSetCreate(self):
        return "set"

    def nvmlDeviceRegisterEvents(self, handle, mask, event_set):
        self.registered.append((handle, mask, event_set))

    def nvmlEventSetWait_v2(self, event_set, timeout_ms):
        assert timeout_ms == 0  # never blocks the sampling loop
        if not self.queued:
            raise TimeoutError_("Timeout")
        device, xid = self.queued.pop(0)
        return type("EventData", (), {"device": device, "eventData": xid})()

    def nvmlEventSetFree(self, event_set):
        self.freed = True


def test_xid_watch_collects_events_per_gpu_and_fails_that_gpu_only():
    bindings = FakeBindings([("handle-1", 79), ("handle-0", 48), ("handle-1", 94)])
    watch = counters.XidWatch(bindings, {0: "handle-0", 1: "handle-1"})
    assert watch.available and [r[1] for r in bindings.registered] == [8, 8]
    watch.poll()
    watch.close()
    assert bindings.freed and watch.events == {0: [48], 1: [79, 94]}
    results = [{"index": 0}, {"index": 1}]
    before = {0: {"ecc_uncorrected_volatile": 0}, 1: {"ecc_uncorrected_volatile": 0}}
    counters.attach_counters(results, before, before, watch)
    assert results[0]["hardware_problems"] == ["critical Xid event(s) during the burn-in: 48"]
    results[1].update(errors=0, nans=0, worker_problems=[])
    assert burn.evaluate(results[1], {}) == ("fail", ["critical Xid event(s) during the burn-in: 79, 94"])


def test_xid_watch_without_event_support_is_unavailable_not_an_error():
    class Old:
        pass

    watch = counters.XidWatch(Old(), {0: "handle-0"})
    watch.poll()
    assert not watch.available and "nvmlEventSetCreate" in watch.error
    results = [{"index": 0}]
    counters.attach_counters(results, {}, {}, watch)
    assert results[0]["xid_events"] is None and results[0]["hardware_problems"] == []
    assert results[0]["error_counters"] == {"before": None, "after": None, "changed": {}}


READ_THROUGH_SIMULATED_NVML = r"""
import json, sys
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _burn_counters as counters
from ansible_collections.gpufleet.nvidia.plugins.module_utils.nvml import NvmlSession

profile, during = sys.argv[1], sys.argv[2]
with NvmlSession() as session:
    before = counters.read_counters(session, [0])
with open(during) as source, open(profile, "w") as target:  # the GPU logs errors while it burns
    target.write(source.read())
with NvmlSession() as session:  # the run's session, as gpu_burnin's sampler holds it
    watch = counters.XidWatch(session.bindings, {0: session.handle(0)})
    watch.poll()
    watch.close()
with NvmlSession() as session:
    after = counters.read_counters(session, [0])
results = [{"index": 0}]
counters.attach_counters(results, before, after, watch)
print(json.dumps({"result": results[0], "xid_error": watch.error}))
"""


def read_through_simulated_nvml(gpu_sim, fake_nvml_dir, tmp_path, clean, during):
    profile, changed = tmp_path / "gpus.json", tmp_path / "during.json"
    profile.write_text(json.dumps(clean))
    changed.write_text(json.dumps(during))
    env = gpu_sim.env(profile, fake_nvml_dir)
    env["PYTHONPATH"] = COLLECTIONS
    proc = subprocess.run(
        [sys.executable, "-c", READ_THROUGH_SIMULATED_NVML, str(profile), str(changed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_counters_read_through_the_simulated_nvml_fail_the_gpu_naming_the_counter(gpu_sim, fake_nvml_dir, tmp_path):
    pytest.importorskip("pynvml")
    clean = gpu_sim.load_profile("h100")
    faulty = json.loads(json.dumps(clean))
    gpu = faulty["gpus"][0]
    gpu["ecc_errors"]["volatile"].update(corrected=12, uncorrected=2)
    gpu["row_remap"].update(uncorrected=1, pending=True)
    report = read_through_simulated_nvml(gpu_sim, fake_nvml_dir, tmp_path, clean, faulty)
    result = report["result"]
    assert result["error_counters"]["before"]["ecc_uncorrected_volatile"] == 0
    assert result["error_counters"]["changed"] == {
        "ecc_corrected_volatile": [0, 12],
        "ecc_uncorrected_volatile": [0, 2],
        "row_remap_pending": [0, 1],
        "row_remap_uncorrected": [0, 1],
    }
    assert result["hardware_problems"] == [
        "NVML counter ecc_uncorrected_volatile went from 0 to 2 during the burn-in",
        "NVML counter row_remap_pending went from 0 to 1 during the burn-in",
        "NVML counter row_remap_uncorrected went from 0 to 1 during the burn-in",
    ]
    # a profile without xid_events is a GPU that cannot deliver events: the watch says so rather than reporting none
    assert result["xid_events"] is None and report["xid_error"]


@pytest.mark.parametrize(
    ("xids", "problems"), [([], []), ([79, 48], ["critical Xid event(s) during the burn-in: 79, 48"])]
)
def test_xid_events_through_the_simulated_nvml(gpu_sim, fake_nvml_dir, tmp_path, xids, problems):
    pytest.importorskip("pynvml")
    clean = gpu_sim.load_profile("h100")
    during = json.loads(json.dumps(clean))
    during["gpus"][0]["xid_events"] = xids
    report = read_through_simulated_nvml(gpu_sim, fake_nvml_dir, tmp_path, clean, during)
    assert report["xid_error"] is None
    assert report["result"]["xid_events"] == xids
    assert report["result"]["hardware_problems"] == problems


@pytest.mark.parametrize(
    ("xids", "reason"),
    [("79", "gpus[0].xid_events: expected a list"), ([79, -1], "gpus[0].xid_events[1]: expected an Xid number")],
)
def test_simulated_nvml_rejects_bad_xid_events_naming_the_field(gpu_sim, fake_nvml_dir, tmp_path, xids, reason):
    profile = gpu_sim.load_profile("h100")
    profile["gpus"][0]["xid_events"] = xids
    path = tmp_path / "gpus.json"
    path.write_text(json.dumps(profile))
    proc = gpu_sim.run_python(
        "import ctypes; print(ctypes.CDLL('libnvidia-ml.so.1').nvmlInit_v2())", path, fake_nvml_dir
    )
    assert proc.stdout.strip() == "999"  # NVML_ERROR_UNKNOWN, as for any unusable profile
    assert reason in proc.stderr
