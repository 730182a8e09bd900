# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpufleet GPU command service: executes Ollama commands dropped into a shared-filesystem queue.

``gpufleet-command-service`` (``python3 -m gpufleet_command.service``) is the daemon, ``gpufleet-command``
(``python3 -m gpufleet_command.client``) the client CLI. The queue protocol is the collection's module_utils
``command_queue``, imported under its collection name; the wheel built by ``wheel_builder.py`` next to this package
carries it and every other module_utils the package imports (see ../pyproject.toml).
"""

# The release; a built wheel's version adds a local label from its content (0.1.0+g<hash>), see wheel_builder.py.
__version__ = "0.1.0"
