"""openpgp_fingerprints against gpg's own fingerprints of keys gpg made (ed25519 and RSA), armored and binary."""

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.openpgp_fingerprints import openpgp_fingerprints

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg to make the keys (hack/host-deps.sh)")


def gpg(home, *args, **kwargs):
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", *args], capture_output=True, check=True, timeout=120, **kwargs
    )


def first_fingerprint(lines):
    """The fingerprint of the first "fpr:" line of gpg's --with-colons listing."""
    for line in lines:
        if line.startswith("fpr:"):
            return line.split(":")[9]
    raise AssertionError("gpg listed no fingerprint")


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):
    """Two keys made by gpg (ed25519 with a cv25519 subkey, RSA 2048), and gpg's fingerprints of their primaries."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    for algo, uid in (("ed25519", "ed <ed@gpufleet.invalid>"), ("rsa2048", "rsa <rsa@gpufleet.invalid>")):
        gpg(home, "--passphrase", "", "--quick-generate-key", uid, algo, "sign", "never")
        if algo == "ed25519":
            fpr = gpg(home, "--with-colons", "--list-keys", uid).stdout.decode()
            primary = first_fingerprint(fpr.splitlines())
            gpg(home, "--passphrase", "", "--quick-add-key", primary, "cv25519", "encr", "never")
    listing = gpg(home, "--with-colons", "--list-keys").stdout.decode().splitlines()
    primaries = []
    for index, line in enumerate(listing):
        if line.startswith("pub:"):
            primaries.append(first_fingerprint(listing[index:]))
    yield {
        "armored": gpg(home, "--armor", "--export").stdout.decode(),
        "binary": gpg(home, "--export").stdout,
        "primaries": primaries,
        "all_fprs": [line.split(":")[9] for line in listing if line.startswith("fpr:")],
    }
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, timeout=30)


def test_armored_block_gives_gpgs_primary_fingerprints(keyring):
    assert len(keyring["primaries"]) == 2
    assert openpgp_fingerprints(keyring["armored"]) == keyring["primaries"]
    # The subkey is not a key the repository may be signed with here: not listed.
    assert len(keyring["all_fprs"]) == 3


def test_binary_and_headers(keyring):
    assert openpgp_fingerprints(keyring["binary"]) == keyring["primaries"]
    with_headers = keyring["armored"].replace(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: mirror copy\n"
    )
    assert openpgp_fingerprints(with_headers) == keyring["primaries"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a key", "no '-----BEGIN PGP PUBLIC KEY BLOCK-----'"),
        ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n", "not valid base64"),
        (b"\x01\x02", "not an OpenPGP packet"),
        (42, "expects the key's text"),
    ],
)
def test_bad_keys_are_named(key, message):
    with pytest.raises(AnsibleFilterError, match=message):
        openpgp_fingerprints(key)


def test_truncated_key(keyring):
    with pytest.raises(AnsibleFilterError, match="truncated"):
        openpgp_fingerprints(keyring["binary"][:40])
