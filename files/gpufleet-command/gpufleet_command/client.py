# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client for the command queue, as a CLI and a small Python API.

    gpufleet-command --root DIR submit COMMAND [--model NAME] [--timeout S] [--secret-file F]
    python3 -m gpufleet_command.client ...             (the same)

prints the response JSON; exit status 0 when the command succeeded, 1 when it failed, 2 on timeout or bad usage.

From Python (a web backend, for instance)::

    from gpufleet_command.client import CommandClient
    response = CommandClient("/mnt/shared").run("pull_model", "llama3.2:1b", timeout=600)
"""

import argparse
import json
import sys

from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

PROG = "gpufleet-command"
EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_TIMEOUT_OR_USAGE = 2


class CommandClient:
    """Submit commands to one queue root and wait for their responses."""

    def __init__(self, root, secret=None, secret_file=None, poll_interval=0.05):
        self.root = root
        self.secret = cq.read_secret_file(secret_file) if secret_file else secret
        self.poll_interval = poll_interval

    def submit(self, command, model_name=None, command_id=None):
        """Queue a command without waiting; returns its command_id."""
        return cq.submit(self.root, cq.new_command(command, model_name, command_id), secret=self.secret)

    def wait(self, command_id, timeout=30):
        """The response for command_id, or None after timeout seconds."""
        return cq.wait_for_response(
            self.root, command_id, timeout, poll_interval=self.poll_interval, secret=self.secret
        )

    def run(self, command, model_name=None, timeout=30, command_id=None):
        """Submit and wait; the response dict, or None when none came in time."""
        return self.wait(self.submit(command, model_name, command_id), timeout)


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description="GPU command queue client")
    parser.add_argument("--root", required=True, help="queue root directory")
    sub = parser.add_subparsers(dest="action", required=True)
    submit = sub.add_parser("submit", help="submit a command and print its response")
    submit.add_argument("command", choices=cq.KNOWN_COMMANDS)
    submit.add_argument("--model", dest="model_name")
    submit.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    submit.add_argument("--secret-file", dest="secret_file", help="shared HMAC secret file")
    submit.add_argument("--command-id", dest="command_id", help="use this id instead of a random one")
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already; keep --help at 0
        return exc.code if isinstance(exc.code, int) else EXIT_TIMEOUT_OR_USAGE
    try:
        client = CommandClient(args.root, secret_file=args.secret_file)
        command_id = client.submit(args.command, args.model_name, args.command_id)
        response = client.wait(command_id, args.timeout)
    except (cq.CommandQueueError, OSError) as exc:
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return EXIT_TIMEOUT_OR_USAGE
    if response is None:
        sys.stderr.write("%s: no response for %s within %ss\n" % (PROG, command_id, args.timeout))
        return EXIT_TIMEOUT_OR_USAGE
    sys.stdout.write(json.dumps(response, ensure_ascii=False, sort_keys=True) + "\n")
    return EXIT_SUCCESS if response.get("success") is True else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
