# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The text of a program kept as a module_utils module and run on the host by another interpreter.

Only modules and module_utils travel to a managed host, and some programs must run under the user's Python (torch
is never imported into Ansible's process): the burn-in worker (_burn_worker_main) and the torch probe
(_torch_probe_main). Each is a real module, linted and tested like the rest; the module_utils that ships it imports
it (which is what makes Ansible pack it into the module's AnsiballZ payload) and reads its text through the
package's loader, which works from that zip as from a checkout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def module_source(module):
    """The source text of an imported module, through its loader; ImportError when the loader cannot give it."""
    loader = getattr(module, "__loader__", None)
    source = loader.get_source(module.__name__) if hasattr(loader, "get_source") else None
    if source is None:
        raise ImportError(f"cannot read the source of {module.__name__} (loader {loader!r})")
    return source
