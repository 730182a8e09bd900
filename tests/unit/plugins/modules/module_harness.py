"""Run a module's main() in-process, the way ansible-core's own module unit tests do.

tests/unit/plugins/modules/conftest.py makes exit_json/fail_json raise these exceptions for every test here;
run_module_main() feeds the arguments and returns what the module would have printed.
"""

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(Exception):
    """exit_json was called; args[0] holds its keyword arguments."""


class AnsibleFailJson(Exception):
    """fail_json was called; args[0] holds its keyword arguments."""


def _exit_json(self, **kwargs):
    raise AnsibleExitJson(kwargs)


def _fail_json(self, **kwargs):
    raise AnsibleFailJson(kwargs)


def patch_module_exits(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)


def run_module_main(main, args, expect_failure=False):
    """Run main() with args; return the exit_json (or, with expect_failure, fail_json) keyword arguments."""
    expected = AnsibleFailJson if expect_failure else AnsibleExitJson
    with patch_module_args(args), pytest.raises(expected) as caught:
        main()
    return caught.value.args[0]
