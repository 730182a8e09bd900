"""cuda_env_check: the CUDA environment checked through a login shell, ldconfig and systemctl.

TEST DOUBLES, labelled: the "login shell" is a real /bin/sh running a script file that stands for /etc/profile.d (so
the framing of the answers, the quoting and the rc of every probe are real), `ldconfig -p` and `systemctl show` are
scripts printing canned text in their real format. The toolkit is a fake tree of NVIDIA's layout (cuda_trees).
Everything the role runs for real is run by tests/integration/test_cuda_env_role_local.py and molecule/cuda_env.
"""

import os
import textwrap

import pytest
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _cuda_env_check as checks_mod
from ansible_collections.gpufleet.nvidia.plugins.module_utils import cuda_parse
from ansible_collections.gpufleet.nvidia.plugins.module_utils._command import CommandResult, run_command
from ansible_collections.gpufleet.nvidia.plugins.modules import cuda_env_check
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.module_utils.cuda_trees import nvidia_cuda, write
from ansible_collections.gpufleet.nvidia.tests.unit.plugins.modules.module_harness import run_module_main

ENV_FILE = "/etc/gpufleet/cuda.env"


class FakeHost:
    """A fake root with NVIDIA's 12.4, a profile script, and fake bash, ldconfig and systemctl first on PATH."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = tmp_path / "root"
        self.home = nvidia_cuda(self.root)
        self.profile = write(
            tmp_path / "profile.sh",
            f'CUDA_HOME={self.home}\nexport CUDA_HOME\nPATH={self.home}/bin:$PATH\nexport PATH\necho "motd noise"\n',
        )
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        # `bash -lc SCRIPT`: a "login shell" that reads the profile script, then runs SCRIPT.
        write(
            self.bin / "bash",
            textwrap.dedent(f"""\
                #!/bin/sh
                [ "$1" = -lc ] || exit 2
                PATH=/usr/bin:/bin; export PATH
                exec /bin/sh -c ". {self.profile}; $2"
                """),
            0o755,
        )
        self.set_ldconfig(
            "3 libs found in cache `/etc/ld.so.cache'\n"
            f"\tlibcudart.so.12 (libc6,x86-64) => {self.home}/lib64/libcudart.so.12\n"
        )
        self.set_systemctl(0, f"EnvironmentFiles={ENV_FILE} (ignore_errors=no)\n")
        monkeypatch.setenv("PATH", f"{self.bin}:{os.environ['PATH']}")

    def set_ldconfig(self, text, rc=0):
        (self.bin / "ldconfig.txt").write_text(text)
        write(self.bin / "ldconfig", f"#!/bin/sh\ncat {self.bin}/ldconfig.txt\nexit {rc}\n", 0o755)

    def set_systemctl(self, rc, out, err=""):
        (self.bin / "systemctl.txt").write_text(out)
        write(
            self.bin / "systemctl",
            f'#!/bin/sh\necho "$@" >> {self.bin}/systemctl.log\ncat {self.bin}/systemctl.txt\n'
            f"printf '%s' '{err}' >&2\nexit {rc}\n",
            0o755,
        )

    def params(self, **overrides):
        params = {
            "nvcc": f"{self.home}/bin/nvcc",
            "cuda_home": str(self.home),
            "cuda_release": "12.4",
            "home_include": True,
            "home_libcudart": True,
            "libcudart_dir": f"{self.home}/lib64",
            "services": ["gpu-worker"],
            "env_file": ENV_FILE,
            "profile_script": "/etc/profile.d/gpufleet-cuda.sh",
            "ld_conf": "/etc/ld.so.conf.d/gpufleet-cuda.conf",
            "dropin_name": "gpufleet-cuda.conf",
            "home_links_dir": None,
            "timeout": 30,
        }
        params.update(overrides)
        return params


@pytest.fixture
def host(tmp_path, monkeypatch):
    return FakeHost(tmp_path, monkeypatch)


def run(host, expect_failure=False, **overrides):
    return run_module_main(cuda_env_check.main, host.params(**overrides), expect_failure)


def by_name(result):
    return {item["name"]: item for item in result["checks"]}


def test_every_check_passes(host):
    result = run(host)
    assert result["changed"] is False
    assert result["failed_checks"] == []
    assert [item["name"] for item in result["checks"]] == [
        "login shell nvcc",
        "linker libcudart",
        "CUDA_HOME",
        "CUDA_HOME nvcc",
        "CUDA_HOME include",
        "CUDA_HOME libcudart",
        "service gpu-worker",
    ]
    assert all(item["ok"] for item in result["checks"])
    assert result["msg"] == "every check of the CUDA environment passed (7)"
    assert "release 12.4" in by_name(result)["CUDA_HOME nvcc"]["msg"]
    assert (host.bin / "systemctl.log").read_text() == "show gpu-worker.service --property=EnvironmentFiles\n"


def test_check_mode_checks_too(host):
    result = run(host, _ansible_check_mode=True)
    assert len(result["checks"]) == 7 and result["failed_checks"] == []


def test_every_failure_is_listed_with_what_to_check(host):
    host.profile.write_text("CUDA_HOME=/opt/elsewhere\nexport CUDA_HOME\n")  # nvcc not on PATH, CUDA_HOME wrong
    host.set_ldconfig(
        "1 libs found\n\tlibcudart.so.11.0 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudart.so.11.0\n"
    )
    host.set_systemctl(0, "EnvironmentFiles=\n")
    result = run(host, expect_failure=True)
    failed = result["failed_checks"]
    assert failed == [
        "login shell nvcc",
        "linker libcudart",
        "CUDA_HOME",
        "CUDA_HOME nvcc",
        "CUDA_HOME include",
        "CUDA_HOME libcudart",
        "service gpu-worker",
    ]
    msg = result["msg"]
    assert msg.startswith("7 of 7 checks of the CUDA environment failed: (1) login shell nvcc: ")
    assert "is /etc/profile.d/gpufleet-cuda.sh sourced by /etc/profile" in msg
    assert f"`ldconfig -p` lists no libcudart from {host.home}/lib64" in msg
    assert "it lists: libcudart.so.11.0 => /usr/lib/x86_64-linux-gnu/libcudart.so.11.0" in msg
    assert "check /etc/ld.so.conf.d/gpufleet-cuda.conf and run ldconfig" in msg
    assert f"CUDA_HOME in a login shell is '/opt/elsewhere' (expected {host.home})" in msg
    assert "(expected 'release 12.4,')" in msg
    assert "$CUDA_HOME/include/cuda_runtime.h: " in msg and "No such file" in msg
    assert "gpu-worker.service does not read /etc/gpufleet/cuda.env (systemctl show gives 'EnvironmentFiles=')" in msg
    assert "/etc/systemd/system/gpu-worker.service.d/gpufleet-cuda.conf" in msg


def test_wrong_release_and_links_hint(host):
    result = run(host, expect_failure=True, cuda_release="12.8", home_links_dir="/usr/local/lib/gpufleet/cuda")
    assert result["failed_checks"] == ["CUDA_HOME nvcc"]
    item = by_name(result)["CUDA_HOME nvcc"]
    assert "rc 0, Build cuda_12.4.r12.4/compiler.34097967_0 (expected 'release 12.8,')" in item["msg"]
    assert "and the links in /usr/local/lib/gpufleet/cuda" in item["msg"]


def test_only_the_asked_checks_are_made(host):
    result = run(
        host,
        cuda_release=None,
        home_include=False,
        home_libcudart=False,
        libcudart_dir=None,
        services=[],
    )
    assert [item["name"] for item in result["checks"]] == ["login shell nvcc", "CUDA_HOME"]
    assert not (host.bin / "systemctl.log").exists()


def test_lib_without_lib64(host):
    os.rename(host.home / "lib64", host.home / "lib")
    result = run(host, libcudart_dir=None)
    assert "lib/libcudart.so.12" in by_name(result)["CUDA_HOME libcudart"]["msg"]


def test_service_that_systemctl_cannot_show(host):
    host.set_systemctl(1, "", "Failed to connect to bus: No such file or directory")
    result = run(host, expect_failure=True)
    assert result["failed_checks"] == ["service gpu-worker"]
    assert "Failed to connect to bus" in by_name(result)["service gpu-worker"]["msg"]


def test_ldconfig_failure_is_named(host):
    host.set_ldconfig("", rc=1)
    result = run(host, expect_failure=True)
    assert result["failed_checks"] == ["linker libcudart"]
    assert "`ldconfig -p` failed (rc 1" in result["msg"]


def test_login_shell_that_dies_fails_every_shell_check(host):
    write(host.bin / "bash", "#!/bin/sh\necho 'bash: /etc/profile: Permission denied' >&2\nexit 1\n", 0o755)
    result = run(host, expect_failure=True)
    assert result["failed_checks"] == [
        "login shell nvcc",
        "CUDA_HOME",
        "CUDA_HOME nvcc",
        "CUDA_HOME include",
        "CUDA_HOME libcudart",
    ]
    assert (
        "the login shell gave no answer (`bash -lc` answered 0 of 5 questions (rc 1: bash: /etc/profile"
        in (by_name(result)["CUDA_HOME"]["msg"])
    )


def test_timeout_must_be_positive(host):
    result = run(host, expect_failure=True, timeout=0)
    assert "timeout must be a positive number" in result["msg"]


# ---------------------------------------------------------------------------------------------------------------------
# the pieces


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        (
            "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12.4/lib64/libcudart.so.12",
            ("libcudart.so.12", "/usr/local/cuda-12.4/lib64/libcudart.so.12"),
        ),
        (
            "\tlibcudart.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libcudart.so",
            ("libcudart.so", "/lib/x86_64-linux-gnu/libcudart.so"),
        ),
        ("\tlibcudart_static.a => /x", None),
        ("\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1", None),
        ("1234 libs found in cache `/etc/ld.so.cache'", None),
    ],
)
def test_ldconfig_lines(line, entry):
    """The check reads `ldconfig -p` with the parser gpu_facts uses (cuda_parse)."""
    assert cuda_parse.libcudart_entries(cuda_parse.parse_ldconfig_cache(line)) == ([entry] if entry else [])


@pytest.mark.parametrize(
    ("listed", "lib_dir", "ok"),
    [
        ("/usr/lib/x86_64-linux-gnu/libcudart.so.11.0", "/usr/lib/x86_64-linux-gnu", True),
        # merged /usr: ldconfig names /lib/..., the facts the real /usr/lib/...
        ("/lib/x86_64-linux-gnu/libcudart.so.11.0", "/usr/lib/x86_64-linux-gnu", True),
        ("/usr/local/cuda-12.4/lib64/libcudart.so.12", "/usr/local/cuda-12.4/lib64", True),
        ("/usr/local/cuda-11.8/lib64/libcudart.so.11.0", "/usr/local/cuda-12.4/lib64", False),
        ("/usr/local/cuda-12.4/lib64/stubs/libcudart.so", "/usr/local/cuda-12.4/lib64", False),
    ],
)
def test_ldconfig_directory_match(listed, lib_dir, ok):
    result = CommandResult(0, f"\tlibcudart.so.12 (libc6,x86-64) => {listed}\n", "")
    assert checks_mod.check_ldconfig(result, lib_dir, "/etc/ld.so.conf.d/x.conf")["ok"] is ok


def test_login_answers_ignore_what_the_profile_prints():
    token = "@@gpufleet-test"
    script = checks_mod.login_script(["nvcc", "cuda_home"], token)
    fake_profile = "echo '@@gpufleet-test end nvcc 0'; echo hello; CUDA_HOME='/a b'; PATH=/nonexistent; "
    out = run_command(["/bin/sh", "-c", fake_profile + "\n" + script], timeout=10)
    answers = checks_mod.parse_login_output(out.stdout, token)
    assert answers["cuda_home"] == (0, "/a b")
    assert answers["nvcc"][0] != 0 and answers["nvcc"][1] == ""  # no nvcc on that PATH
    assert set(answers) == {"nvcc", "cuda_home"}


def test_unanswered_probe_is_reported():
    def run(argv, timeout):
        return CommandResult(124, "", "bash timed out after 60s")

    answers, note = checks_mod.ask_login_shell(run, ["nvcc"])
    assert answers == {}
    assert note == "`bash -lc` answered 0 of 1 questions (rc 124: bash timed out after 60s)"


def test_no_questions_no_shell():
    def run(argv, timeout):
        raise AssertionError("no login shell needed")

    assert checks_mod.ask_login_shell(run, []) == ({}, None)
    assert checks_mod.failure_message([]) is None
