# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command service daemon: claim queued commands, run them against Ollama, write responses.

    gpufleet-command-service --root DIR [--ollama-url URL] [--config FILE] [--worker-id ID] [--check-config]
    python3 -m gpufleet_command.service ...            (the same)

Several workers (on one or many hosts) may share a root. New files are noticed through inotify (watchdog) when it
is available and by a full rescan every ``rescan_interval`` seconds in any case, because inotify sees nothing that
other NFS/sshfs clients write. Logs are JSON lines on stdout. SIGTERM lets the command in hand finish, then exits 0.
"""

import argparse
import json
import os
import random
import signal
import stat
import sys
import threading
import time

from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

from .config import DEFAULTS, ConfigError, check_report, load_config
from .ollama_backend import OllamaBackend

try:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    HAS_WATCHDOG = True
    try:
        from watchdog.observers.inotify_buffer import InotifyBuffer

        # watchdog holds an unpaired IN_MOVED_FROM for 0.5 s to pair it with its IN_MOVED_TO, and its queue is FIFO,
        # so every event behind it waits too. Each claim moves a file out of gpu_commands (an unpaired move), which
        # would delay noticing the next command by 0.5 s. Pairing moves is of no use here: any event is a wake-up.
        InotifyBuffer.delay = 0.0
    except (ImportError, AttributeError):  # other platforms' observers have no such buffer
        pass
except ImportError:  # periodic rescans alone still work, just slower to notice
    FileSystemEventHandler = object
    Observer = None
    HAS_WATCHDOG = False

RETENTION_EVERY = 3600.0
# A command file that is not valid JSON yet is given this long (by its mtime) before it is rejected: a writer that
# ignores the protocol and writes in place, instead of renaming a finished temp file, may still be writing it.
PARTIAL_WRITE_GRACE = 2.0


class Logger:
    """One JSON object per line on stdout (journald keeps each line as one entry)."""

    def __init__(self, worker_id, log_format="json", stream=None):
        self.worker_id = worker_id
        self.log_format = log_format
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def __call__(self, event, level="info", **fields):
        record = {"ts": cq.now_iso(), "level": level, "event": event, "worker": self.worker_id}
        record.update(fields)
        if self.log_format == "json":
            line = json.dumps(record, default=str, sort_keys=False)
        else:
            line = " ".join("%s=%s" % (k, v) for k, v in record.items())
        with self.lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


class _WakeOnChange(FileSystemEventHandler):
    """Wake the main loop when a command file appears; writers' temporary files and the directory itself do not."""

    def __init__(self, wake, directory):
        self.wake = wake
        self.directory = os.path.normpath(directory)

    def on_any_event(self, event):
        path = getattr(event, "dest_path", "") or event.src_path
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if os.path.normpath(path) == self.directory or cq.is_temporary_name(os.path.basename(path)):
            return
        self.wake.set()


class CommandService:
    def __init__(self, config, backend=None, log=None):
        self.config = config
        self.root = config["root"]
        self.worker_id = config["worker_id"]
        self.log = log or Logger(self.worker_id, config["log_format"])
        self.backend = backend or OllamaBackend(config["ollama_url"], config["command_timeout"])
        self.secret = cq.read_secret_file(config["secret_file"]) if config.get("secret_file") else None
        self.commands_dir = os.path.join(self.root, cq.COMMANDS_DIR)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.observer = None
        self.handled = 0
        self.deferred = {}  # name -> monotonic time before which it is not claimed again

    # lifecycle -------------------------------------------------------------------------------------------------
    def request_stop(self, signum=None, _frame=None):
        self.log("stopping", signal=signum)
        self.stop.set()
        self.wake.set()

    def run(self):
        cq.ensure_layout(self.root, self.worker_id)
        requeued = cq.requeue_claims(self.root, self.worker_id)  # left by this worker id's previous life
        if requeued:
            self.log("requeued_own_claims", count=len(requeued), names=requeued[:20])
        cq.renew_lease(self.root, self.worker_id)
        self._start_watcher()
        heartbeat = threading.Thread(target=self._heartbeat, name="lease", daemon=True)
        heartbeat.start()
        self.log(
            "started",
            root=self.root,
            ollama_url=self.config["ollama_url"],
            inotify=self.observer is not None,
            rescan_interval=self.config["rescan_interval"],
            lease_timeout=self.config["lease_timeout"],
            authenticated=self.secret is not None,
        )
        next_rescan = 0.0
        next_retention = time.monotonic()
        while not self.stop.is_set():
            # Cleared before draining, so a file that appears while we drain wakes the wait below at once.
            self.wake.clear()
            now = time.monotonic()
            if now >= next_rescan:
                # A full rescan must not trust a cached listing: touch the directory, then list it afresh.
                cq.bust_directory_cache(self.commands_dir, self.worker_id)
                next_rescan = now + self.config["rescan_interval"]
            self.drain()
            if self.config["retention_days"] > 0 and time.monotonic() >= next_retention:
                removed = cq.remove_older_than(self.root, self.config["retention_days"] * 86400)
                if removed:
                    self.log("retention", removed=removed)
                next_retention = time.monotonic() + RETENTION_EVERY
            if self.stop.is_set():
                break
            self.wake.wait(max(0.0, next_rescan - time.monotonic()))
        if self.observer is not None:
            self.observer.stop()
        self.log("stopped", handled=self.handled)
        return 0

    def _start_watcher(self):
        if not HAS_WATCHDOG:
            return
        try:
            observer = Observer()
            observer.schedule(_WakeOnChange(self.wake, self.commands_dir), self.commands_dir, recursive=False)
            observer.daemon = True
            observer.start()
            self.observer = observer
        except Exception as exc:  # e.g. inotify watch limit reached: rescans still work
            self.log("inotify_unavailable", level="warning", error=str(exc))

    def _heartbeat(self):
        interval = max(0.05, self.config["lease_timeout"] / 4.0)
        while not self.stop.wait(interval):
            try:
                server_now = cq.renew_lease(self.root, self.worker_id)
                stale = cq.requeue_stale_claims(
                    self.root, self.config["lease_timeout"], now=server_now, own_worker_id=self.worker_id
                )
            except OSError as exc:
                self.log("lease_error", level="warning", error=str(exc))
                continue
            for worker_id, names in stale.items():
                self.log("requeued_stale_claims", dead_worker=worker_id, count=len(names), names=names[:20])
                self.wake.set()

    # queue work -----------------------------------------------------------------------------------------------
    def drain(self):
        """Claim and handle waiting commands until none is left (or a stop is asked for)."""
        while not self.stop.is_set():
            try:
                names = cq.list_command_names(self.root)
            except OSError as exc:
                self.log("list_error", level="error", error=str(exc))
                return
            if not names:
                return
            now = time.monotonic()
            self.deferred = {n: t for n, t in self.deferred.items() if t > now}
            names = [n for n in names if n not in self.deferred]
            # Workers sharing a root start at different places, so they rarely race for the same file.
            random.shuffle(names)
            claimed_any = False
            for name in names:
                if self.stop.is_set():
                    return
                try:
                    path = cq.claim(self.root, name, self.worker_id)
                except OSError as exc:
                    self.log("claim_error", level="error", name=name, error=str(exc))
                    continue
                if path is None:
                    continue
                claimed_any = True
                self.handle(path)
            if not claimed_any:
                return

    def handle(self, path):
        """Handle one claimed file. Never raises: a failure here must not stop the daemon."""
        name = os.path.basename(path)
        try:
            self._handle(path, name)
        except Exception as exc:
            self.log("handler_error", level="error", name=name, error="%s: %s" % (type(exc).__name__, exc))
            cq.move_to(self.root, path, cq.QUARANTINE_DIR, reason="internal error: %s" % exc)
        self.handled += 1

    def _handle(self, path, name):
        started = time.monotonic()
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            return self.reject(path, name, cq.usable_command_id(None, name), "command file is %s" % kind)
        try:
            data = cq.read_json_file(path)
        except cq.CommandQueueError as exc:
            if "not valid JSON" in str(exc) and time.time() - info.st_mtime < PARTIAL_WRITE_GRACE:
                return self.defer(path, name)
            return self.reject(path, name, cq.usable_command_id(None, name), "command file %s" % exc)
        command_id = cq.usable_command_id(data, name)
        command, error = cq.validate_command(data)
        if error:
            return self.reject(path, name, command_id, error)
        if name != command_id + cq.COMMAND_SUFFIX:
            return self.reject(path, name, command_id, "file name %s does not match command_id %s" % (name, command_id))
        if self.secret is not None and not cq.verify(data, self.secret):
            return self.reject(path, name, command_id, "command is unsigned or its signature is wrong")
        if self._has_response(command_id):
            # Durable idempotency: the response on disk is the answer; the command is not run again.
            self.log("duplicate", command_id=command_id)
            cq.move_to(self.root, path, cq.DONE_DIR)
            return None
        self.log("executing", command_id=command_id, command=command["command"], model=command.get("model_name"))
        payload = self.backend.execute(command)
        success = payload.pop("success", False)
        duration_ms = (time.monotonic() - started) * 1000
        self.write_response(cq.new_response(command_id, success, duration_ms, **payload))
        cq.move_to(self.root, path, cq.DONE_DIR)
        self.log(
            "done",
            command_id=command_id,
            command=command["command"],
            success=success,
            duration_ms=int(duration_ms),
            error=payload.get("error"),
        )
        return None

    def _has_response(self, command_id):
        try:
            os.lstat(cq.response_path(self.root, command_id))
            return True
        except OSError:
            return False

    def write_response(self, response):
        if self.secret is not None:
            response = cq.sign(response, self.secret)
        cq.atomic_write_json(cq.response_path(self.root, response["command_id"]), response)

    def defer(self, path, name):
        """Put a possibly half-written file back into the queue and look at it again a little later."""
        try:
            os.rename(path, os.path.join(self.commands_dir, name))
        except OSError as exc:
            self.log("defer_error", level="warning", name=name, error=str(exc))
            return
        self.deferred[name] = time.monotonic() + 0.25
        self.log("deferred", name=name, reason="not valid JSON yet; may still be being written")

    def reject(self, path, name, command_id, reason):
        """An input that cannot run: an error response when it has a usable id (and no response yet), failed/;
        quarantine/ otherwise."""
        self.log("rejected", level="warning", name=name, command_id=command_id, reason=reason)
        if command_id is None:
            cq.move_to(self.root, path, cq.QUARANTINE_DIR, reason=reason)
            return
        if not self._has_response(command_id):
            self.write_response(cq.error_response(command_id, reason))
        cq.move_to(self.root, path, cq.FAILED_DIR, reason=reason)


PROG = "gpufleet-command-service"
EXIT_CONFIG = 2


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.strip().splitlines()[0])
    parser.add_argument("--root", help="queue root directory (config: root)")
    parser.add_argument(
        "--ollama-url", dest="ollama_url", help="Ollama API base URL (default %s)" % DEFAULTS["ollama_url"]
    )
    parser.add_argument("--config", help="YAML config file")
    parser.add_argument("--worker-id", dest="worker_id", help="this worker's id (default: hostname-pid)")
    parser.add_argument("--secret-file", dest="secret_file", help="shared HMAC secret: commands must be signed")
    parser.add_argument("--rescan-interval", dest="rescan_interval", type=float)
    parser.add_argument("--lease-timeout", dest="lease_timeout", type=float)
    parser.add_argument("--command-timeout", dest="command_timeout", type=float)
    parser.add_argument("--log-format", dest="log_format", choices=("json", "text"))
    parser.add_argument(
        "--check-config",
        dest="check_config",
        action="store_true",
        help="validate the configuration (file and options) without starting: print the settings and the queue "
        "directories as JSON and exit 0, or name the file and the problem on stderr and exit %d" % EXIT_CONFIG,
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    overrides = {key: getattr(args, key, None) for key in DEFAULTS}
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        if args.check_config:
            sys.stderr.write("%s: invalid configuration: %s\n" % (PROG, exc))
        else:
            Logger("-")("config_error", level="error", config=args.config, error=str(exc))
        return EXIT_CONFIG
    if args.check_config:
        sys.stdout.write(json.dumps(check_report(config, args.config), sort_keys=True) + "\n")
        return 0
    try:
        service = CommandService(config)
    except (cq.CommandQueueError, OSError) as exc:
        Logger("-")("config_error", level="error", config=args.config, error=str(exc))
        return EXIT_CONFIG
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    try:
        return service.run()
    except OSError as exc:
        service.log("fatal", level="error", error=str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
