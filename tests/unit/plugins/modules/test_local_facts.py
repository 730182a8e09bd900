"""The local_facts module run in-process against a fact file in a temporary directory."""

import json
import os
import stat

import pytest
from ansible_collections.gpufleet.nvidia.plugins.modules import local_facts
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main


def run_module(args, expect_failure=False):
    return run_module_main(local_facts.main, args, expect_failure)


@pytest.fixture
def fact_file(tmp_path):
    return tmp_path / "ansible" / "facts.d" / "gpufleet.fact"


CUDA = {"version": "12.4.131", "path": "/usr/local/cuda-12.4", "lib_dirs": ["/usr/local/cuda-12.4/lib64"]}


def test_missing_file_and_directory_are_created(fact_file):
    result = run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    assert result["changed"] is True
    assert result["fact"] == {"cuda": CUDA}
    assert result["ansible_facts"] == {"gpufleet_local": {"cuda": CUDA}}  # what the fleet report reads in the play
    assert json.loads(fact_file.read_text()) == {"cuda": CUDA}
    assert stat.S_IMODE(os.stat(fact_file).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(fact_file.parent).st_mode) & 0o755 == 0o755


def test_second_run_is_unchanged_and_does_not_touch_the_file(fact_file):
    run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    before = os.stat(fact_file)
    result = run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    assert result["changed"] is False
    after = os.stat(fact_file)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_other_sections_are_kept(fact_file):
    run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    burnin = {"passed": True, "gpus": [{"index": 0, "tflops": {"median": 1.5}}]}
    result = run_module({"path": str(fact_file), "section": "burnin", "value": burnin})
    assert result["changed"] is True
    assert json.loads(fact_file.read_text()) == {"cuda": CUDA, "burnin": burnin}
    changed = run_module({"path": str(fact_file), "section": "cuda", "value": dict(CUDA, version="12.8.93")})
    assert changed["changed"] is True
    assert json.loads(fact_file.read_text())["burnin"] == burnin


def test_equal_content_in_other_formatting_is_not_rewritten(fact_file):
    fact_file.parent.mkdir(parents=True)
    text = json.dumps({"other": 1, "cuda": CUDA})  # one line, unsorted: not how the module writes it
    fact_file.write_text(text)
    result = run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    assert result["changed"] is False
    assert fact_file.read_text() == text


def test_absent_removes_only_that_section(fact_file):
    run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    run_module({"path": str(fact_file), "section": "burnin", "value": {"passed": False}})
    result = run_module({"path": str(fact_file), "section": "burnin", "state": "absent"})
    assert result["changed"] is True
    assert json.loads(fact_file.read_text()) == {"cuda": CUDA}
    again = run_module({"path": str(fact_file), "section": "burnin", "state": "absent"})
    assert again["changed"] is False


def test_absent_on_a_missing_file_creates_nothing(fact_file):
    result = run_module({"path": str(fact_file), "section": "burnin", "state": "absent"})
    assert result["changed"] is False
    assert not fact_file.exists()


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "the top level is a list, not a JSON object"),
        ("#!/bin/sh\necho '{}'\n", "not valid JSON"),
    ],
)
def test_a_file_that_is_not_an_object_fails_and_stays_byte_for_byte(fact_file, content, problem):
    fact_file.parent.mkdir(parents=True)
    fact_file.write_text(content)
    result = run_module({"path": str(fact_file), "section": "cuda", "value": CUDA}, expect_failure=True)
    assert str(fact_file) in result["msg"]
    assert problem in result["msg"]
    assert "the file was not changed" in result["msg"]
    assert fact_file.read_text() == content
    assert sorted(os.listdir(fact_file.parent)) == ["gpufleet.fact"]


def test_check_mode_reports_the_change_and_writes_nothing(fact_file):
    result = run_module({"path": str(fact_file), "section": "cuda", "value": CUDA, "_ansible_check_mode": True})
    assert result["changed"] is True
    assert not fact_file.exists()


def test_diff_shows_the_text_before_and_after(fact_file):
    run_module({"path": str(fact_file), "section": "cuda", "value": CUDA})
    result = run_module({"path": str(fact_file), "section": "burnin", "value": {"passed": True}, "_ansible_diff": True})
    assert json.loads(result["diff"]["before"]) == {"cuda": CUDA}
    assert json.loads(result["diff"]["after"]) == {"cuda": CUDA, "burnin": {"passed": True}}


def test_present_needs_a_value(fact_file):
    result = run_module({"path": str(fact_file), "section": "cuda"}, expect_failure=True)
    assert "value" in result["msg"]
