# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpufleet GPU command service: executes Ollama commands dropped into a shared-filesystem queue.

``python3 -m gpufleet_command.service`` is the daemon, ``python3 -m gpufleet_command.client`` the client CLI. The
queue protocol itself lives in the collection's module_utils ``command_queue`` (installed next to this package).
"""

__version__ = "0.1.0"
