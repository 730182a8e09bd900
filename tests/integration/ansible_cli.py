"""How the integration tests run the real `ansible` / `ansible-playbook` CLI from the checkout."""

import os

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
TORCH_PYTHON = os.path.join(REPO, ".build", "torch-venv", "bin", "python")


def ansible_env(json_output=False, path_env=None):
    """The environment for the CLI: the checkout's ansible.cfg and ANSIBLE_HOME, the venv first on PATH.

    json_output: results as one JSON document (ansible.posix.json callback). path_env: the PATH the managed side
    sees after the venv (default: this process's PATH).
    """
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_HOME=os.path.join(REPO, ".build", "ansible-home"),
        PATH=VENV_BIN + os.pathsep + (path_env if path_env is not None else env.get("PATH", "")),
    )
    if json_output:
        env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    return env
