"""The module, filter and role tables of README.md and roles/README.md are what hack/gen_docs.py makes of the
modules' DOCUMENTATION, the roles' meta/argument_specs.yml and the playbooks. When one of them changes, `make docs`
rewrites the tables; until then this test fails with the diff."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GEN_DOCS = REPO / "hack" / "gen_docs.py"
# What the generator reads and writes; copied for the drift tests.
INPUTS = ("README.md", "roles", "plugins/modules", "plugins/filter", "plugins/doc_fragments", "playbooks")


def gen_docs(*args):
    return subprocess.run(
        [sys.executable, str(GEN_DOCS), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_readmes_match_the_documentation():
    result = gen_docs("--check")
    assert result.returncode == 0, "%s%s" % (result.stdout, result.stderr)


@pytest.fixture
def repo_copy(tmp_path):
    for name in INPUTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_a_changed_role_description_is_drift(repo_copy):
    specs = repo_copy / "roles" / "cdi" / "meta" / "argument_specs.yml"
    text = specs.read_text(encoding="utf-8")
    assert "short_description: Keep the NVIDIA CDI specification current" in text
    specs.write_text(text.replace("short_description: Keep", "short_description: Make"), encoding="utf-8")
    result = gen_docs("--check", "--repo", str(repo_copy))
    assert result.returncode == 1
    assert "+| `cdi` | Make the NVIDIA CDI specification current" in result.stdout
    assert "-| role `cdi` | Keep the NVIDIA CDI specification current" in result.stdout
    assert "run `make docs`" in result.stderr
    # and writing makes it current again
    assert gen_docs("--repo", str(repo_copy)).returncode == 0
    assert gen_docs("--check", "--repo", str(repo_copy)).returncode == 0


def test_a_new_module_option_is_drift(repo_copy):
    module = repo_copy / "plugins" / "modules" / "local_facts.py"
    text = module.read_text(encoding="utf-8")
    module.write_text(text.replace("\noptions:\n", "\noptions:\n  brand_new:\n    description: x\n", 1), "utf-8")
    result = gen_docs("--check", "--repo", str(repo_copy))
    assert result.returncode == 1
    assert "`brand_new`" in result.stdout


def test_a_role_moved_in_site_yml_is_drift(repo_copy):
    site = repo_copy / "playbooks" / "site.yml"
    text = site.read_text(encoding="utf-8")
    assert "gpufleet.nvidia.cuda_env" in text and "gpufleet.nvidia.cdi\n" in text
    cuda_env, cdi = "gpufleet.nvidia.cuda_env", "gpufleet.nvidia.cdi\n"
    swapped = text.replace(cuda_env, "@@").replace(cdi, cuda_env + "\n").replace("@@", cdi.strip())
    site.write_text(swapped, encoding="utf-8")
    result = gen_docs("--check", "--repo", str(repo_copy))
    assert result.returncode == 1
    assert "roles/README.md" in result.stdout


def test_a_missing_region_is_an_error_naming_the_file(repo_copy):
    readme = repo_copy / "roles" / "README.md"
    readme.write_text("# Roles\n", encoding="utf-8")
    result = gen_docs("--check", "--repo", str(repo_copy))
    assert result.returncode == 2
    assert "roles/README.md: no region 'roles'" in result.stderr
