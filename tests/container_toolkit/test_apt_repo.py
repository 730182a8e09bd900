"""The signed apt repository of SIMULATED toolkit packages (apt_repo.py), checked with the real apt, gpgv and dpkg-deb.

No root needed: apt runs against a private state, cache and sources directory (Debug::NoLocking) and only updates,
reads its cache and downloads; nothing is installed.
"""

import email.utils
import gzip
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GENERATOR = Path(__file__).resolve().parent / "apt_repo.py"
# program: the Debian package that has it
TOOLS = {
    "gpg": "gpg",
    "gpgconf": "gpgconf",
    "gpg-agent": "gpg-agent",
    "gpgv": "gpgv",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
}
PACKAGES = (
    "libnvidia-container1",
    "libnvidia-container-tools",
    "nvidia-container-toolkit-base",
    "nvidia-container-toolkit",
)


def run(command, **kwargs):
    check = kwargs.pop("check", False)  # callers assert on the return code themselves
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=60, check=check, **kwargs
    )


def generate(outdir):
    result = run([sys.executable, GENERATOR, outdir])
    assert result.returncode == 0, "apt_repo.py failed:\n%s%s" % (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        pytest.fail(
            "the apt repository tests need gpg, gpgv, dpkg-deb and apt-get: apt-get install %s (hack/host-deps.sh)"
            % " ".join(missing),
            pytrace=False,
        )
    outdir = tmp_path_factory.mktemp("apt-repo")
    result = generate(outdir)
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    fingerprints = json.loads((outdir / "fingerprints.json").read_text())
    return {"dir": outdir, "arch": arch, "fingerprints": fingerprints, "stdout": result.stdout}


def flat(repo, *channel):
    return repo["dir"].joinpath(*channel, "deb", repo["arch"])


def deb(repo, name, version, channel=("stable",)):
    return flat(repo, *channel) / ("%s_%s_%s.deb" % (name, version, repo["arch"]))


@pytest.fixture
def gnupg_home(tmp_path):
    """An empty GNUPGHOME for the checks that run gpg (none of them starts an agent)."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    return {**os.environ, "GNUPGHOME": str(home)}


def dearmor(armored, target, env):
    result = run(["gpg", "--batch", "--yes", "--output", target, "--dearmor", armored], env=env)
    assert result.returncode == 0, result.stderr
    return target


class Apt:
    """apt-get and apt-cache on a private root: one deb822 source, nothing of the host's sources or state."""

    def __init__(self, root):
        self.root = root
        for directory in ("state/lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
            (root / directory).mkdir(parents=True)
        (root / "status").write_text("")
        (root / "sources.list").write_text("")
        self.options = {
            "Dir::State": root / "state",
            "Dir::State::status": root / "status",
            "Dir::Cache": root / "cache",
            "Dir::Etc::SourceList": root / "sources.list",
            "Dir::Etc::SourceParts": root / "sources.list.d",
            "Dir::Etc::PreferencesParts": root / "preferences.d",
            "Debug::NoLocking": "1",
            # an unreadable or badly signed source is an error, not a warning
            "APT::Update::Error-Mode": "any",
            # as root, apt would hand downloads to _apt, which cannot enter pytest's private temporary directories
            "APT::Sandbox::User": pwd.getpwuid(os.getuid()).pw_name,
        }

    def add_source(self, uri_dir, key):
        (self.root / "sources.list.d" / "nvidia-container-toolkit.sources").write_text(
            "Types: deb\nURIs: %s\nSuites: /\nSigned-By: %s\n" % (uri_dir.as_uri(), key)
        )

    def __call__(self, tool, *args, cwd=None):
        options = [part for key, value in self.options.items() for part in ("-o", "%s=%s" % (key, value))]
        return run([tool, *options, *args], cwd=cwd, env={**os.environ, "LC_ALL": "C"})

    def madison(self, package):
        result = self("apt-cache", "madison", package)
        assert result.returncode == 0, result.stderr
        return sorted(line.split("|")[1].strip() for line in result.stdout.splitlines() if "|" in line)


@pytest.fixture
def apt(tmp_path):
    return Apt(tmp_path / "apt")


# ------------------------------------------------------------------------------------------------
# What the generator writes
# ------------------------------------------------------------------------------------------------


def test_layout_and_summary(repo):
    fingerprints = repo["fingerprints"]
    assert set(fingerprints) == {"trusted", "rogue"}
    assert all(re.fullmatch(r"[0-9A-F]{40}", fpr) for fpr in fingerprints.values())
    assert fingerprints["trusted"] != fingerprints["rogue"]
    assert len(repo["stdout"].splitlines()) == 1 and fingerprints["trusted"] in repo["stdout"]
    for key in (repo["dir"] / "gpgkey", repo["dir"] / "rogue" / "gpgkey"):
        assert key.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    expected = {
        ("stable",): ["1.17.8-1", "1.18.0-1"],
        ("experimental",): ["1.19.0~rc.1-1"],
        ("rogue", "stable"): ["1.18.0-1"],
    }
    for channel, versions in expected.items():
        names = {path.name for path in flat(repo, *channel).iterdir()}
        debs = {"%s_%s_%s.deb" % (name, version, repo["arch"]) for name in PACKAGES for version in versions}
        assert names == debs | {"Packages", "Packages.gz", "Release", "InRelease", "Release.gpg"}, channel


@pytest.mark.parametrize("channel", [("stable",), ("experimental",), ("rogue", "stable")])
def test_release_and_packages_describe_the_files(repo, channel):
    directory = flat(repo, *channel)
    packages = (directory / "Packages").read_bytes()
    assert gzip.decompress((directory / "Packages.gz").read_bytes()) == packages
    release = (directory / "Release").read_text()
    fields = dict(re.findall(r"^(\S+):[ \t]*(.*)$", release, re.MULTILINE))
    assert fields["Architectures"] == repo["arch"]
    assert fields["Date"].endswith(" UTC")
    assert email.utils.parsedate_to_datetime(fields["Date"]).utcoffset().total_seconds() == 0
    for field, algorithm in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        block = re.search(r"^%s:\n((?: .*\n)+)" % field, release, re.MULTILINE).group(1)
        entries = {name: (digest, int(size)) for digest, size, name in (line.split() for line in block.splitlines())}
        assert set(entries) == {"Packages", "Packages.gz"}
        for name, (digest, size) in entries.items():
            data = (directory / name).read_bytes()
            assert (algorithm(data).hexdigest(), len(data)) == (digest, size), (field, name)
    stanzas = [dict(re.findall(r"^(\S+): (.*)$", stanza, re.MULTILINE)) for stanza in packages.decode().split("\n\n")]
    assert len(stanzas) == len(list(directory.glob("*.deb")))
    for stanza in stanzas:
        assert stanza["Filename"].startswith("./")
        data = (directory / stanza["Filename"]).read_bytes()
        assert int(stanza["Size"]) == len(data)
        assert stanza["MD5sum"] == hashlib.md5(data).hexdigest()
        assert stanza["SHA256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("channel", [("stable",), ("experimental",), ("rogue", "stable")])
def test_signatures_verify_only_with_the_signing_key(repo, channel, gnupg_home, tmp_path):
    directory = flat(repo, *channel)
    trusted = dearmor(repo["dir"] / "gpgkey", tmp_path / "trusted.gpg", gnupg_home)
    rogue = dearmor(repo["dir"] / "rogue" / "gpgkey", tmp_path / "rogue.gpg", gnupg_home)
    signer, other = (rogue, trusted) if channel[0] == "rogue" else (trusted, rogue)
    for signature in (["InRelease"], ["Release.gpg", "Release"]):
        good = run(["gpgv", "--keyring", signer, *(directory / name for name in signature)])
        assert good.returncode == 0, good.stderr
        bad = run(["gpgv", "--keyring", other, *(directory / name for name in signature)])
        assert bad.returncode != 0 and "No public key" in bad.stderr, bad.stderr
    # InRelease carries exactly the Release that Release.gpg signs
    clear = run(["gpgv", "--keyring", signer, "--output", "-", directory / "InRelease"])
    assert clear.stdout == (directory / "Release").read_text()


def test_outdir_is_emptied_not_replaced_and_debs_are_reproducible(repo, tmp_path):
    outdir = tmp_path / "mounted"
    (outdir / "old" / "deb").mkdir(parents=True)
    (outdir / "stale-file").write_text("from an earlier run\n")
    inode = outdir.stat().st_ino
    generate(outdir)
    assert outdir.stat().st_ino == inode
    assert not (outdir / "old").exists() and not (outdir / "stale-file").exists()
    for path in flat(repo, "stable").glob("*.deb"):
        assert (outdir / path.relative_to(repo["dir"])).read_bytes() == path.read_bytes(), path.name
    # a new key every run
    assert json.loads((outdir / "fingerprints.json").read_text()) != repo["fingerprints"]


def test_generator_usage_error(tmp_path):
    result = run([sys.executable, GENERATOR])
    assert result.returncode == 2 and "usage:" in result.stderr


# ------------------------------------------------------------------------------------------------
# apt against the repositories
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel, versions",
    [("stable", ["1.17.8-1", "1.18.0-1"]), ("experimental", ["1.19.0~rc.1-1"])],
)
def test_apt_update_verifies_and_lists_every_version(repo, apt, channel, versions):
    apt.add_source(flat(repo, channel), repo["dir"] / "gpgkey")
    update = apt("apt-get", "update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "InRelease" in update.stdout and "W:" not in update.stderr, update.stderr
    for package in PACKAGES:
        assert apt.madison(package) == versions, package
    policy = apt("apt-cache", "policy", "nvidia-container-toolkit")
    assert "Candidate: %s" % versions[-1] in policy.stdout, policy.stdout


def test_apt_refuses_the_repository_signed_by_another_key(repo, apt):
    apt.add_source(flat(repo, "rogue", "stable"), repo["dir"] / "gpgkey")
    update = apt("apt-get", "update")
    output = update.stdout + update.stderr
    assert update.returncode != 0, output
    rogue_key_id = repo["fingerprints"]["rogue"][-16:]
    assert "NO_PUBKEY %s" % rogue_key_id in output, output
    assert re.search(r"E: The repository '\S+ {1,2}InRelease' is not signed\.", output), output
    assert apt.madison("nvidia-container-toolkit") == []


def test_apt_downloads_a_package_whose_hashes_match(repo, apt, tmp_path):
    apt.add_source(flat(repo, "stable"), repo["dir"] / "gpgkey")
    assert apt("apt-get", "update").returncode == 0
    download = tmp_path / "download"
    download.mkdir()
    result = apt("apt-get", "download", "nvidia-container-toolkit-base=1.18.0-1", cwd=download)
    assert result.returncode == 0, result.stdout + result.stderr
    name = deb(repo, "nvidia-container-toolkit-base", "1.18.0-1").name
    assert (download / name).read_bytes() == deb(repo, "nvidia-container-toolkit-base", "1.18.0-1").read_bytes()


# ------------------------------------------------------------------------------------------------
# The packages
# ------------------------------------------------------------------------------------------------


def deb_field(path, field):
    result = run(["dpkg-deb", "--field", path, field])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def deb_contents(path):
    """{path: (mode string, owner/group)} of a .deb's data."""
    result = run(["dpkg-deb", "--contents", path])
    assert result.returncode == 0, result.stderr
    return {line.split()[-1]: (line.split()[0], line.split()[1]) for line in result.stdout.splitlines()}


def extract(path, target):
    result = run(["dpkg-deb", "--extract", path, target])
    assert result.returncode == 0, result.stderr
    return target


DEPENDS = {
    "libnvidia-container1": "",
    "libnvidia-container-tools": "libnvidia-container1 (>= {v})",
    "nvidia-container-toolkit-base": "",
    "nvidia-container-toolkit": (
        "nvidia-container-toolkit-base (= {v}), libnvidia-container-tools (>= {v}), "
        "libnvidia-container-tools (<< 2.0.0)"
    ),
}
PROGRAMS = {
    "libnvidia-container1": [],
    "libnvidia-container-tools": ["nvidia-container-cli"],
    "nvidia-container-toolkit-base": ["nvidia-ctk", "nvidia-container-runtime", "nvidia-cdi-hook"],
    "nvidia-container-toolkit": ["nvidia-container-runtime-hook"],
}


@pytest.mark.parametrize("version", ["1.17.8-1", "1.18.0-1"])
@pytest.mark.parametrize("name", PACKAGES)
def test_package_control_and_contents(repo, name, version, tmp_path):
    path = deb(repo, name, version)
    assert deb_field(path, "Package") == name
    assert deb_field(path, "Version") == version
    assert deb_field(path, "Architecture") == repo["arch"]
    assert deb_field(path, "Maintainer") == "gpufleet tests <tests@gpufleet.invalid>"
    assert deb_field(path, "Depends") == DEPENDS[name].format(v=version)
    assert "SIMULATED" in deb_field(path, "Description")
    contents = deb_contents(path)
    assert all(owner == "root/root" for _mode, owner in contents.values())
    readme = "./usr/share/doc/%s/README.simulated" % name
    programs = ["./usr/bin/%s" % program for program in PROGRAMS[name]]
    assert {entry for entry in contents if not entry.endswith("/")} == {readme, *programs}
    assert all(contents[program][0] == "-rwxr-xr-x" for program in programs)
    root = extract(path, tmp_path / "root")
    assert "SIMULATED stand-in for NVIDIA's %s" % name in (root / readme).read_text()
    for program in programs:
        assert "SIMULATED" in (root / program).read_text().splitlines()[1], program


def test_toolkit_base_ships_the_nvidia_ctk_simulator_at_its_version(repo, gpu_sim, tmp_path):
    root = extract(deb(repo, "nvidia-container-toolkit-base", "1.18.0-1"), tmp_path / "root")
    ctk = root / "usr/bin/nvidia-ctk"
    version = run([sys.executable, ctk, "--version"])
    assert version.returncode == 0 and "NVIDIA Container Toolkit CLI version 1.18.0\n" in version.stdout
    # but for its VERSION line it is the simulator, so 1.18's spec shows the hook 1.17 does not write
    without_version = re.compile(r'^VERSION = "[^"]*"$', re.MULTILINE)
    packaged, simulator = (without_version.subn("", path.read_text()) for path in (ctk, gpu_sim.bin_dir / "nvidia-ctk"))
    assert packaged == simulator and packaged[1] == 1
    spec = run(
        [sys.executable, ctk, "cdi", "generate", "--format=json"], env=gpu_sim.env(gpu_sim.profile_path("a6000x8"))
    )
    assert spec.returncode == 0, spec.stderr
    hooks = [hook["args"][1] for hook in json.loads(spec.stdout)["containerEdits"]["hooks"]]
    assert hooks == ["enable-cuda-compat", "update-ldcache"]
    hook = run(["sh", root / "usr/bin/nvidia-cdi-hook", "--version"])
    assert hook.stdout.startswith("NVIDIA CDI Hook version 1.18.0\n")


@pytest.mark.parametrize(
    "channel, version, printed", [("stable", "1.17.8-1", "1.17.8"), ("experimental", "1.19.0~rc.1-1", "1.19.0-rc.1")]
)
def test_tools_print_the_package_version(repo, tmp_path, channel, version, printed):
    root = tmp_path / "root"
    for name in PACKAGES:
        extract(deb(repo, name, version, (channel,)), root)
    ctk = run([sys.executable, root / "usr/bin/nvidia-ctk", "--version"])
    assert "CLI version %s\n" % printed in ctk.stdout
    cli = run(["sh", root / "usr/bin/nvidia-container-cli", "--version"])
    assert cli.returncode == 0 and cli.stdout.startswith("cli-version: %s\nlib-version: %s\n" % (printed, printed))
    assert run(["sh", root / "usr/bin/nvidia-container-cli", "info"]).returncode == 1
    hook = run(["sh", root / "usr/bin/nvidia-container-runtime-hook", "--version"])
    assert hook.stdout.startswith("NVIDIA Container Runtime Hook version %s\n" % printed)
