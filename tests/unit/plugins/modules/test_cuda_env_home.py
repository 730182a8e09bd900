"""cuda_env_home: the CUDA home of links of a distribution's toolkit, on temporary directories.

The links are the plan of a real discovery (cuda_environment on Debian's layout from cuda_trees, a test double of
the package's paths); the filesystem work is real.
"""

import os
import stat

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils._cuda_env_home import HomeError, home_owner, plan_home
from ansible_collections.gpufleet.nvidia.plugins.module_utils.cuda_environment import plan_cuda_environment
from ansible_collections.gpufleet.nvidia.plugins.modules import cuda_env_home
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.cuda_trees import (
    MULTIARCH,
    debian_cuda,
    default_path,
    discover_under,
    link,
    write,
)
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main

MARK = ".gpufleet-cuda-home"


@pytest.fixture
def debian(tmp_path):
    """(home path, links planned for Debian's 11.8 under tmp_path, the usr directory)."""
    usr = debian_cuda(tmp_path)
    toolkit = discover_under(tmp_path)["toolkits"][0]
    home = tmp_path / "usr/local/lib/gpufleet/cuda"
    plan = plan_cuda_environment(toolkit, default_path(tmp_path), str(home))
    return home, plan["home_links"], usr


def run(args, expect_failure=False):
    return run_module_main(cuda_env_home.main, args, expect_failure)


def links_of(home):
    return {str(path.relative_to(home)): os.readlink(path) for path in sorted(home.rglob("*")) if path.is_symlink()}


def test_build_then_nothing_to_do(debian, tmp_path):
    home, links, usr = debian
    result = run({"path": str(home), "links": links, "mark_content": "mine\n", "_ansible_diff": True})
    assert result["changed"] is True and result["removed"] is False
    assert links_of(home) == {os.path.relpath(link["dest"], home): link["src"] for link in links}
    assert links_of(home)["bin/nvcc"] == str(usr / "bin/nvcc")
    assert links_of(home)["lib64"] == str(tmp_path / MULTIARCH)
    assert (home / MARK).read_text() == "mine\n"
    assert stat.S_IMODE((home / MARK).stat().st_mode) == 0o644
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o755 for d in (home, home / "bin", home / "nvvm"))
    assert f"bin/nvcc -> {usr}/bin/nvcc" in result["diff"]["after"]
    assert result["diff"]["before"] == ""
    # what a build tool does with it
    assert (home / "include/cuda_runtime.h").is_file() and (home / "lib64/libcudart.so").exists()

    again = run({"path": str(home), "links": links, "mark_content": "mine\n"})
    assert again["changed"] is False
    assert again["links_created"] == [] and again["links_removed"] == []


def test_check_mode_changes_nothing(debian):
    home, links, _usr = debian
    result = run({"path": str(home), "links": links, "_ansible_check_mode": True})
    assert result["changed"] is True
    assert len(result["links_created"]) == len(links)
    assert not home.exists()


def test_links_follow_the_toolkit(debian):
    home, links, _usr = debian
    run({"path": str(home), "links": links})
    link(home / "bin/nvprof", "/nonexistent/nvprof")  # a tool the toolkit no longer has
    (home / "include").unlink()
    link(home / "include", "/elsewhere/include")  # pointing elsewhere
    (home / "nvvm").chmod(0o700)
    (home / MARK).write_text("old text\n")
    result = run({"path": str(home), "links": links})
    assert result["changed"] is True
    assert result["links_removed"] == [str(home / "bin/nvprof")]
    assert result["links_created"] == [str(home / "include")]
    assert "bin/nvprof" not in links_of(home)
    assert links_of(home)["include"] == next(item["src"] for item in links if item["dest"].endswith("/include"))
    assert stat.S_IMODE((home / "nvvm").stat().st_mode) == 0o755
    assert (home / MARK).read_text() == "Made by the gpufleet.nvidia cuda_env role."


def test_absent_removes_only_a_marked_home(debian):
    home, links, _usr = debian
    run({"path": str(home), "links": links})
    result = run({"path": str(home), "state": "absent", "_ansible_diff": True})
    assert result["changed"] is True and result["removed"] is True
    assert result["diff"]["after"] == "" and "bin/nvcc" in result["diff"]["before"]
    assert not home.exists()
    assert run({"path": str(home), "state": "absent"})["changed"] is False

    home.mkdir(parents=True)
    (home / "README").write_text("someone else's\n")
    result = run({"path": str(home), "state": "absent"})
    assert result["changed"] is False
    assert (home / "README").read_text() == "someone else's\n"


@pytest.mark.parametrize("kind", ["file", "non-empty directory", "symlink"])
def test_someone_elses_path_is_refused_and_left_alone(debian, tmp_path, kind):
    home, links, _usr = debian
    home.parent.mkdir(parents=True, exist_ok=True)
    if kind == "file":
        home.write_text("x")
    elif kind == "symlink":
        (tmp_path / "target").mkdir()
        home.symlink_to(tmp_path / "target")
    else:
        write(home / "README", "mine\n")
    result = run({"path": str(home), "links": links}, expect_failure=True)
    assert f"the CUDA home {home} exists and was not made by the cuda_env role (no {MARK} in it" in result["msg"]
    assert "point cuda_env_home_dir at a new or empty directory" in result["msg"]
    assert ("it is not a directory" in result["msg"]) is (kind != "non-empty directory")
    if kind == "non-empty directory":
        assert sorted(p.name for p in home.iterdir()) == ["README"]


def test_an_empty_directory_is_taken(debian):
    home, links, _usr = debian
    home.mkdir(parents=True)
    assert home_owner(str(home), MARK) == "empty"
    assert run({"path": str(home), "links": links})["changed"] is True
    assert home_owner(str(home), MARK) == "ours"


def test_a_directory_where_a_link_must_be_is_replaced(debian):
    home, links, _usr = debian
    run({"path": str(home), "links": links})
    (home / "lib64").unlink()
    write(home / "lib64" / "stale.so")
    (home / "bin").rename(home / "bin.old")
    link(home / "bin", "/somewhere")  # a link where the bin directory must be
    result = run({"path": str(home), "links": links})
    assert result["changed"] is True
    assert (home / "lib64").is_symlink() and (home / "bin").is_dir() and not (home / "bin").is_symlink()
    assert run({"path": str(home), "links": links})["changed"] is False


def test_links_outside_the_home_are_refused(tmp_path):
    with pytest.raises(HomeError, match="is not inside the CUDA home"):
        plan_home(
            str(tmp_path / "home"), [{"dest": str(tmp_path / "elsewhere/nvcc"), "src": "/usr/bin/nvcc"}], MARK, ""
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": "relative", "links": []}, "path must be absolute"),
        ({"path": "/x/y", "links": [], "mark": "a/b"}, "mark must be a file name"),
        ({"path": "/x/y"}, "state is present but all of the following are missing: links"),
    ],
)
def test_bad_arguments(args, message):
    assert message in run(args, expect_failure=True)["msg"]
