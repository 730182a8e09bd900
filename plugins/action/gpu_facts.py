# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of gpufleet.nvidia.gpu_facts: gather what the play does not hold yet and merge it into what it holds.

The module on the host answers only the subsets it is asked for; a module's ansible_facts replace a fact whole, so
without this plugin a role gathering ``container`` would drop the ``torch`` probe an earlier play paid for. Here the
answer is merged into the host's ansible_facts.gpu (module_utils/_gpu_facts.py), and with ``refresh: false`` the
module is not run at all when the play already holds every subset asked for.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.gpufleet.nvidia.plugins.module_utils._gpu_facts import (
    merge_gpu_facts,
    missing_subsets,
    resolve_gather_subset,
)

MODULE = "gpufleet.nvidia.gpu_facts"


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        held = (task_vars.get("ansible_facts") or {}).get("gpu")
        wanted, errors = resolve_gather_subset(args.get("gather_subset", ["all"]))
        if not errors and not boolean(args.get("refresh", True), strict=False):
            todo = missing_subsets(held, wanted, args)
            fail_on_missing = boolean(args.get("fail_on_missing_gpu", False), strict=False)
            if fail_on_missing and "nvml" in wanted and "nvml" not in todo and not held.get("present"):
                result.update(
                    failed=True,
                    msg="No NVIDIA GPU found (fail_on_missing_gpu is set): "
                    + (held.get("error") or "no device reported"),
                )
                return result
            if not todo:
                result.update(changed=False, gathered=[], msg="every subset asked for is already known")
                return result
            args["gather_subset"] = todo
            if "nvml" not in todo:
                args.pop("fail_on_missing_gpu", None)  # judged above from the nvml facts the play holds
        answer = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        fresh = (answer.get("ansible_facts") or {}).get("gpu")
        if isinstance(fresh, dict):
            answer["ansible_facts"]["gpu"] = merge_gpu_facts(held, fresh)
            answer["gathered"] = sorted((fresh.get("gathered") or {}).keys())
        result.update(answer)
        return result
