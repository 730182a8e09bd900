"""package_versions: installed versions and holds from dpkg-query, rpm and dnf versionlock answers."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.package_versions import package_versions

# dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' as a real bookworm host answers: held and installed,
# installed, removed with its configuration left, and known but never installed (empty version).
DPKG = "\n".join(
    [
        "nvidia-container-toolkit 1.17.8-1 hi ",
        "nvidia-container-toolkit-base 1.17.8-1 ii ",
        "libnvidia-container-tools 1.17.7-1 rc ",
        "libnvidia-container1  un ",
        "nvidia-cdi-hook 1.0-1 iU ",
        "half 1.0-1 hiR",
    ]
)


def test_dpkg_versions_count_only_installed_packages():
    assert package_versions({"stdout": DPKG, "rc": 0}, "apt") == {
        "nvidia-container-toolkit": "1.17.8-1",
        "nvidia-container-toolkit-base": "1.17.8-1",
        "half": "1.0-1",
    }


def test_dpkg_holds():
    assert package_versions({"stdout": DPKG}, "apt", held=True) == ["nvidia-container-toolkit", "half"]


@pytest.mark.parametrize("result", [{"skipped": True, "changed": False}, {"stdout": "", "rc": 1}])
def test_nothing_installed(result):
    assert package_versions(result, "apt") == {}
    assert package_versions(result, "dnf") == {}
    assert package_versions(result, "dnfl") == []


def test_rpm_versions_skip_not_installed_lines():
    stdout = "nvidia-container-toolkit 1.17.8-1\npackage libnvidia-container1 is not installed\n"
    assert package_versions({"stdout": stdout, "rc": 1}, "dnf") == {"nvidia-container-toolkit": "1.17.8-1"}


def test_dnf_versionlock_names():
    stdout = (
        "Last metadata expiration check: 0:01:02 ago.\n"
        "nvidia-container-toolkit-0:1.17.8-1.*\n"
        "libnvidia-container-tools-0:1.17.8-1.el9.*\n"
    )
    assert package_versions({"stdout": stdout}, "dnfl") == ["nvidia-container-toolkit", "libnvidia-container-tools"]


@pytest.mark.parametrize(("result", "manager"), [("text", "apt"), ({"stdout": ""}, "zypper")])
def test_bad_input_is_named(result, manager):
    with pytest.raises(AnsibleFilterError, match="package_versions"):
        package_versions(result, manager)
