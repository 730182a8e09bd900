"""Stand-in for the pip bootstrap script that `ansible-test --venv` downloads from ci-files.testing.ansible.com.

That host is unreachable here (only PyPI is), so hack/sanity.sh puts this file where ansible-test caches the script.
ansible-test runs it inside a fresh `venv --without-pip` with pip-install style arguments (e.g. `pip==24.2`
`--no-setuptools --no-wheel`): seed pip with the interpreter's own ensurepip, then let that pip install the exact
versions asked for from PyPI.
"""

import subprocess
import sys

# get-pip.py's own flags, which `pip install` does not know.
GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main(argv):
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main(sys.argv[1:])
