"""A REAL signed apt repository of SIMULATED NVIDIA Container Toolkit packages, laid out like NVIDIA's.

NVIDIA's servers cannot be reached here, so the container_toolkit role's tests point apt at this instead:

    python tests/container_toolkit/apt_repo.py OUTDIR

empties OUTDIR (keeping the directory itself: it may be bind-mounted) and writes

    OUTDIR/gpgkey                              armored public key of the signing key made for this run
    OUTDIR/stable/deb/<arch>/                  flat repository (like nvidia.github.io/libnvidia-container/stable/
                                               deb/amd64): 1.17.8-1 and 1.18.0-1 of the four toolkit packages,
                                               Packages, Packages.gz, Release, InRelease, Release.gpg
    OUTDIR/experimental/deb/<arch>/            the same packages at 1.19.0~rc.1-1 only, same key
    OUTDIR/rogue/stable/deb/<arch>/            the 1.18.0-1 packages signed by another key (must be refused)
    OUTDIR/rogue/gpgkey                        that other key's public key
    OUTDIR/fingerprints.json                   {"trusted": fpr, "rogue": fpr}

Every package is a stand-in (README.simulated in its doc directory says so); nvidia-container-toolkit-base ships the
SIMULATED nvidia-ctk of tests/simulators/bin with its VERSION set to the package's. Needs gpg (with gpg-agent and
gpgconf) and dpkg-deb; Python 3.8+, standard library otherwise. The .deb files are reproducible (fixed mtimes,
SOURCE_DATE_EPOCH); the keys, signatures and Release dates are new every run.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

from nvidia_ctk_version import nvidia_ctk_source

SIMULATORS_BIN = Path(__file__).resolve().parents[1] / "simulators" / "bin"
MAINTAINER = "gpufleet tests <tests@gpufleet.invalid>"
HOMEPAGE = "https://github.com/NVIDIA/nvidia-container-toolkit"
# The packages' file mtimes (and dpkg-deb's SOURCE_DATE_EPOCH) unless the environment sets one: 2025-01-01 UTC.
DEFAULT_SOURCE_DATE_EPOCH = 1735689600

CHANNELS = {
    "stable": ("1.17.8-1", "1.18.0-1"),
    "experimental": ("1.19.0~rc.1-1",),
}
ROGUE_CHANNEL, ROGUE_VERSIONS = "stable", ("1.18.0-1",)
# In dependency order, as NVIDIA names them.
PACKAGE_NAMES = (
    "libnvidia-container1",
    "libnvidia-container-tools",
    "nvidia-container-toolkit-base",
    "nvidia-container-toolkit",
)

README_SIMULATED = """\
{package} {version} -- SIMULATED

This is a SIMULATED stand-in for NVIDIA's {package} package, built by the gpufleet.nvidia collection's tests
(tests/container_toolkit/apt_repo.py) so that they can install the NVIDIA Container Toolkit from a real signed apt
repository without reaching NVIDIA's servers. It is not NVIDIA's package and contains none of NVIDIA's software;
its programs only answer the calls the tests make.
"""

NVIDIA_CONTAINER_CLI = """\
#!/bin/sh
# SIMULATED nvidia-container-cli (tests/container_toolkit/apt_repo.py) -- not NVIDIA's tool; answers --version only.
case "$1" in
--version | -V)
    printf 'cli-version: %s\\nlib-version: %s\\nbuild date: simulated\\n' '{version}' '{version}'
    exit 0
    ;;
esac
echo "nvidia-container-cli: SIMULATED stand-in: only --version is supported" >&2
exit 1
"""

NVIDIA_CDI_HOOK = """\
#!/bin/sh
# SIMULATED nvidia-cdi-hook (tests/container_toolkit/apt_repo.py) -- not NVIDIA's tool; every hook does nothing.
case "$1" in
--version | -v)
    echo "NVIDIA CDI Hook version {version}"
    echo "commit: simulated"
    ;;
esac
exit 0
"""

NVIDIA_CONTAINER_RUNTIME_HOOK = """\
#!/bin/sh
# SIMULATED nvidia-container-runtime-hook (tests/container_toolkit/apt_repo.py) -- not NVIDIA's hook; does nothing.
case "$1" in
--version | -version)
    echo "NVIDIA Container Runtime Hook version {version}"
    echo "commit: simulated"
    ;;
esac
exit 0
"""


def upstream_version(deb_version):
    """'1.18.0-1' → '1.18.0'; '1.19.0~rc.1-1' → '1.19.0~rc.1'."""
    return deb_version.rsplit("-", 1)[0]


def tool_version(deb_version):
    """What the tools print: Debian's '~rc.1' is the toolkit's '-rc.1' (1.19.0~rc.1-1 → 1.19.0-rc.1)."""
    return upstream_version(deb_version).replace("~", "-")


def package_contents(name, deb_version):
    """{path in the package: (bytes, mode)} for one package at one version."""
    version = tool_version(deb_version)
    files = {
        "usr/share/doc/%s/README.simulated" % name: (
            README_SIMULATED.format(package=name, version=deb_version).encode(),
            0o644,
        )
    }
    if name == "libnvidia-container-tools":
        files["usr/bin/nvidia-container-cli"] = (NVIDIA_CONTAINER_CLI.format(version=version).encode(), 0o755)
    elif name == "nvidia-container-toolkit-base":
        files["usr/bin/nvidia-ctk"] = (nvidia_ctk_source(version).encode(), 0o755)
        files["usr/bin/nvidia-container-runtime"] = ((SIMULATORS_BIN / "nvidia-container-runtime").read_bytes(), 0o755)
        files["usr/bin/nvidia-cdi-hook"] = (NVIDIA_CDI_HOOK.format(version=version).encode(), 0o755)
    elif name == "nvidia-container-toolkit":
        files["usr/bin/nvidia-container-runtime-hook"] = (
            NVIDIA_CONTAINER_RUNTIME_HOOK.format(version=version).encode(),
            0o755,
        )
    return files


def package_depends(name, deb_version):
    """The Depends field NVIDIA's package of that name carries (None for none)."""
    if name == "libnvidia-container-tools":
        return "libnvidia-container1 (>= %s)" % deb_version
    if name == "nvidia-container-toolkit":
        return (
            "nvidia-container-toolkit-base (= {v}), libnvidia-container-tools (>= {v}), "
            "libnvidia-container-tools (<< 2.0.0)".format(v=deb_version)
        )
    return None


def control_text(name, deb_version, arch, files):
    installed_kib = sum((len(content) + 1023) // 1024 for content, _mode in files.values())
    fields = [
        ("Package", name),
        ("Version", deb_version),
        ("Architecture", arch),
        ("Maintainer", MAINTAINER),
        ("Installed-Size", str(installed_kib)),
        ("Depends", package_depends(name, deb_version)),
        ("Section", "utils"),
        ("Priority", "optional"),
        ("Homepage", HOMEPAGE),
        (
            "Description",
            "SIMULATED stand-in for NVIDIA's %s (gpufleet tests)\n"
            " Not NVIDIA's package: built by the gpufleet.nvidia collection's tests to exercise\n"
            " installing the NVIDIA Container Toolkit from a signed apt repository." % name,
        ),
    ]
    return "".join("%s: %s\n" % (key, value) for key, value in fields if value is not None)


def _write(path, content, mode=0o644):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.chmod(path, mode)  # explicit: a umask of 077 must not hide the repository from apt's _apt user


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)


def build_deb(name, deb_version, arch, staging, outdir, epoch):
    """Builds one package from a fresh staging tree with dpkg-deb; returns the .deb's path."""
    root = staging / ("%s_%s" % (name, deb_version))
    files = package_contents(name, deb_version)
    _mkdir(root / "DEBIAN")
    _write(root / "DEBIAN" / "control", control_text(name, deb_version, arch, files))
    for relative, (content, mode) in files.items():
        target = root / relative
        for parent in reversed(target.relative_to(root).parents[:-1]):
            _mkdir(root / parent)
        _write(target, content, mode)
    for directory, subdirs, names in os.walk(root):
        for entry in [*subdirs, *names]:
            os.utime(os.path.join(directory, entry), (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))
    deb = outdir / ("%s_%s_%s.deb" % (name, deb_version, arch))
    subprocess.run(
        # xz, not the zstd some dpkg builds default to: every dpkg in a supported distribution reads xz
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
        env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
        check=True,
        capture_output=True,
        text=True,
    )
    os.chmod(deb, 0o644)
    return deb


def _deb_control(deb):
    return subprocess.run(["dpkg-deb", "--field", str(deb)], check=True, capture_output=True, text=True).stdout.rstrip(
        "\n"
    )


def packages_index(debs):
    """The Packages file of a flat repository holding debs (Filename relative to the repository directory)."""
    stanzas = []
    for deb in sorted(debs, key=lambda path: path.name):
        data = deb.read_bytes()
        control = _deb_control(deb)
        # the file's fields go before Description, as dpkg-scanpackages puts them
        head, separator, description = control.partition("\nDescription:")
        stanzas.append(
            "%s\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s%s%s\n"
            % (
                head,
                deb.name,
                len(data),
                hashlib.md5(data).hexdigest(),
                hashlib.sha256(data).hexdigest(),
                separator,
                description,
            )
        )
    return "\n".join(stanzas)


def release_text(repo_dir, arch, label, now):
    """The Release file of a flat repository: its index files with sizes, MD5 and SHA256."""
    indexes = [repo_dir / "Packages", repo_dir / "Packages.gz"]
    lines = [
        "Origin: gpufleet tests",
        "Label: %s" % label,
        "Date: %s" % formatdate(now, usegmt=True).replace("GMT", "UTC"),
        "Architectures: %s" % arch,
        "Description: SIMULATED NVIDIA Container Toolkit packages for the gpufleet.nvidia tests (not NVIDIA's)",
    ]
    for field, algorithm in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append("%s:" % field)
        for index in indexes:
            data = index.read_bytes()
            lines.append(" %s %8d %s" % (algorithm(data).hexdigest(), len(data), index.name))
    return "\n".join(lines) + "\n"


class Gpg:
    """gpg in a temporary GNUPGHOME; closing it stops the agent it started and removes the home."""

    def __init__(self):
        # short, under the temporary directory: the agent's socket path must stay short
        self.home = tempfile.mkdtemp(prefix="gpufleet-gpg-")
        self.env = {key: value for key, value in os.environ.items() if key != "GPG_AGENT_INFO"}
        self.env["GNUPGHOME"] = self.home

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    def _gpg(self, *args, stdin=None):
        result = subprocess.run(
            ["gpg", "--batch", "--no-tty", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError("gpg %s failed:\n%s" % (" ".join(args), result.stderr))
        return result.stdout

    def generate_key(self, comment):
        """A new unprotected ed25519 signing key; returns its fingerprint."""
        parameters = (
            "%no-protection\n"
            "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
            "Name-Real: gpufleet tests\nName-Comment: {comment}\nName-Email: tests@gpufleet.invalid\n"
            "Expire-Date: 0\n%commit\n"
        ).format(comment=comment)
        status = self._gpg("--status-fd", "1", "--gen-key", stdin=parameters)
        match = re.search(r"^\[GNUPG:\] KEY_CREATED \S+ ([0-9A-F]{40})$", status, re.MULTILINE)
        if not match:
            raise RuntimeError("gpg made no key (status: %s)" % status)
        return match.group(1)

    def export(self, fingerprint):
        return self._gpg("--armor", "--export", fingerprint)

    def sign_release(self, fingerprint, release):
        """InRelease (clearsigned) and Release.gpg (detached, armored) next to release."""
        signer = ("--local-user", fingerprint + "!", "--digest-algo", "SHA512", "--yes")
        self._gpg(*signer, "--clearsign", "--output", str(release.with_name("InRelease")), str(release))
        self._gpg(*signer, "--armor", "--detach-sign", "--output", str(release.with_name("Release.gpg")), str(release))
        for name in ("InRelease", "Release.gpg"):
            os.chmod(release.with_name(name), 0o644)


def write_repository(repo_dir, debs, arch, label, gpg, fingerprint, now):
    """A signed flat repository in repo_dir holding copies of debs."""
    _mkdir(repo_dir)
    copies = []
    for deb in debs:
        copy = repo_dir / deb.name
        shutil.copyfile(deb, copy)
        os.chmod(copy, 0o644)
        copies.append(copy)
    index = packages_index(copies).encode()
    _write(repo_dir / "Packages", index)
    with open(repo_dir / "Packages.gz", "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0
    ) as packed:
        packed.write(index)
    os.chmod(repo_dir / "Packages.gz", 0o644)
    _write(repo_dir / "Release", release_text(repo_dir, arch, label, now))
    gpg.sign_release(fingerprint, repo_dir / "Release")


def empty_directory(outdir):
    """Removes what outdir holds, never outdir itself (a bind mount's source must stay the same directory)."""
    outdir.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(outdir):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def dpkg_architecture():
    return subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True, text=True).stdout.strip()


def generate(outdir):
    """Writes the repositories into outdir (see the module's docstring); returns a summary dict."""
    outdir = Path(outdir).resolve()
    empty_directory(outdir)
    arch = dpkg_architecture()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH))
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="gpufleet-debs-") as work, Gpg() as gpg:
        staging, built = Path(work) / "staging", Path(work) / "debs"
        staging.mkdir()
        built.mkdir()
        versions = sorted({version for versions in CHANNELS.values() for version in versions})
        debs = {
            version: [build_deb(name, version, arch, staging, built, epoch) for name in PACKAGE_NAMES]
            for version in versions
        }
        trusted = gpg.generate_key("SIMULATED NVIDIA repository key")
        rogue = gpg.generate_key("SIMULATED rogue key, must be refused")
        _write(outdir / "gpgkey", gpg.export(trusted))
        for channel, channel_versions in CHANNELS.items():
            write_repository(
                outdir / channel / "deb" / arch,
                [deb for version in channel_versions for deb in debs[version]],
                arch,
                "SIMULATED libnvidia-container %s" % channel,
                gpg,
                trusted,
                now,
            )
        _mkdir(outdir / "rogue")
        _write(outdir / "rogue" / "gpgkey", gpg.export(rogue))
        write_repository(
            outdir / "rogue" / ROGUE_CHANNEL / "deb" / arch,
            [deb for version in ROGUE_VERSIONS for deb in debs[version]],
            arch,
            "SIMULATED libnvidia-container %s (rogue key)" % ROGUE_CHANNEL,
            gpg,
            rogue,
            now,
        )
    fingerprints = {"trusted": trusted, "rogue": rogue}
    _write(outdir / "fingerprints.json", json.dumps(fingerprints, indent=2) + "\n")
    return {"outdir": str(outdir), "arch": arch, "channels": CHANNELS, "fingerprints": fingerprints}


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: %s OUTDIR\n" % os.path.basename(sys.argv[0]))
        return 2
    started = time.monotonic()
    summary = generate(argv[0])
    channels = "; ".join("%s %s" % (channel, " ".join(versions)) for channel, versions in CHANNELS.items())
    sys.stdout.write(
        "apt_repo: %s: %s; rogue/%s %s (%s); key %s, rogue key %s; %.1f s\n"
        % (
            summary["outdir"],
            channels,
            ROGUE_CHANNEL,
            " ".join(ROGUE_VERSIONS),
            summary["arch"],
            summary["fingerprints"]["trusted"],
            summary["fingerprints"]["rogue"],
            time.monotonic() - started,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
