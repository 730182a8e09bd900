"""Which GPU fact subsets a play holds, which a role still needs, and how a gather merges into what is held."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gpufleet.nvidia.plugins.filter.gpu_facts_missing import gpu_facts_missing
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_facts

NVML = {"present": True, "count": 1, "devices": [{"index": 0}], "driver_version": "550.54.15", "error": None}


def gathered(*subsets, at=100.0, **params):
    return _gpu_facts.gathered_info(subsets, params, at)


def facts(subsets, at=100.0, **params):
    out = {}
    if "nvml" in subsets:
        out.update(NVML)
    for name in ("cuda", "container", "torch"):
        if name in subsets:
            out[name] = {"from": name, "at": at}
    out["gathered"] = gathered(*subsets, at=at, **params)
    out["gather_subset"] = sorted(subsets)
    return out


def test_merge_keeps_what_the_gather_did_not_touch():
    held = facts(["nvml", "torch"], at=1.0)
    fresh = facts(["container"], at=2.0)
    merged = _gpu_facts.merge_gpu_facts(held, fresh)
    assert merged["torch"] == {"from": "torch", "at": 1.0}
    assert merged["container"] == {"from": "container", "at": 2.0}
    assert merged["devices"] == NVML["devices"]
    assert merged["gather_subset"] == ["container", "nvml", "torch"]
    assert merged["gathered"]["torch"]["at"] == 1.0 and merged["gathered"]["container"]["at"] == 2.0


def test_merge_replaces_a_regathered_subset_whole():
    held = dict(facts(["nvml"], at=1.0), stale_key="from an older driver")
    fresh = dict(facts(["nvml"], at=2.0), present=False, count=0, devices=[])
    merged = _gpu_facts.merge_gpu_facts(held, fresh)
    assert "stale_key" not in merged  # nvml owns every top-level key: the old answer goes as a whole
    assert merged["present"] is False and merged["gathered"]["nvml"]["at"] == 2.0


def test_merge_into_nothing():
    fresh = facts(["cuda"])
    assert _gpu_facts.merge_gpu_facts(None, fresh) == fresh


@pytest.mark.parametrize(
    "held, wanted, params, expected",
    [
        (None, ["nvml", "container"], {}, ["nvml", "container"]),
        (facts(["nvml"]), ["nvml", "container"], {}, ["container"]),
        (facts(["nvml", "container"]), ["nvml", "container"], {}, []),
        # cuda gathered with the default paths satisfies a role that sets none ...
        (facts(["cuda"], cuda_search_paths=None), ["cuda"], {"cuda_search_paths": None}, []),
        # ... but not one that asks for its own
        (facts(["cuda"], cuda_search_paths=None), ["cuda"], {"cuda_search_paths": ["/opt/cuda-*"]}, ["cuda"]),
        (facts(["cuda"], cuda_search_paths=["/opt/cuda-*"]), ["cuda"], {"cuda_search_paths": ["/opt/cuda-*"]}, []),
        (facts(["torch"], torch_python=["/a/python"]), ["torch"], {"torch_python": ["/b/python"]}, ["torch"]),
        # a changed discovery setting gathers torch again; an ad-hoc "true" is the recorded True
        (facts(["torch"], torch_discover=False), ["torch"], {"torch_discover": True}, ["torch"]),
        (facts(["torch"], torch_discover=True), ["torch"], {"torch_discover": "true"}, []),
        (facts(["torch"], torch_discover=True), ["torch"], {"torch_discover": None}, []),
        (
            facts(["torch"], torch_discover=True, torch_search_roots=["/opt"]),
            ["torch"],
            {"torch_search_roots": ["/opt", "/home/*"]},
            ["torch"],
        ),
        (facts(["torch"], torch_max_envs=64), ["torch"], {"torch_max_envs": "8"}, ["torch"]),
        (facts(["torch"], torch_max_envs=64), ["torch"], {"torch_max_envs": "64"}, []),
        # a list option given as a comma-separated string on the command line
        (
            facts(["torch"], torch_python=["/a/python", "/b/python"]),
            ["torch"],
            {"torch_python": "/a/python,/b/python"},
            [],
        ),
        # facts from before `gathered` existed: gather_subset says what they hold
        ({"gather_subset": ["nvml"], "present": False}, ["nvml"], {}, []),
    ],
)
def test_missing_subsets(held, wanted, params, expected):
    assert _gpu_facts.missing_subsets(held, set(wanted), params) == expected


def test_merge_moves_torch_discovery_with_torch():
    held = dict(facts(["nvml", "torch"], at=1.0), torch_discovery={"probed": 1})
    fresh = dict(facts(["torch"], at=2.0), torch_discovery={"probed": 7})
    merged = _gpu_facts.merge_gpu_facts(held, fresh)
    assert merged["torch_discovery"] == {"probed": 7}
    kept = _gpu_facts.merge_gpu_facts(held, dict(facts(["nvml"], at=3.0)))
    assert kept["torch_discovery"] == {"probed": 1}  # not an nvml key: a fresh nvml gather keeps it


def test_filter_resolves_gather_subset_syntax():
    assert gpu_facts_missing({}, ["all", "!torch"]) == ["nvml", "cuda", "container"]
    assert gpu_facts_missing(facts(["nvml", "cuda", "container", "torch"]), ["all"]) == []
    assert gpu_facts_missing(None, ["cuda"], cuda_search_paths=["/x"]) == ["cuda"]


@pytest.mark.parametrize(
    "gpu, subsets, message",
    [
        ("not a dict", ["nvml"], r"expects ansible_facts\[.gpu.\] \(a dict\), got str"),
        ({}, "nvml", "subsets must be a list"),
        ({}, ["gpus"], "unknown subset 'gpus'"),
    ],
)
def test_filter_errors_name_the_problem(gpu, subsets, message):
    with pytest.raises(AnsibleFilterError, match=message):
        gpu_facts_missing(gpu, subsets)
