# -*- coding: utf-8 -*-
# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GPU command queue protocol: files in a shared directory, one implementation for every party.

The command service daemon, its client CLI, the gpu_command module and any Python backend speak the protocol through
this file only. It is standard library only and imports nothing else of the collection, because the command service
role copies it alone onto hosts. The README section "Command queue protocol" describes the same rules for writers in
other languages.

Layout under a queue root::

    gpu_commands/<command_id>.json            commands, written by clients (temp name + rename)
    gpu_status/<command_id>_response.json     responses, written by workers (temp name + fsync + rename)
    processing/<worker_id>/                   commands claimed by one worker (atomic rename), plus its .lease
    done/  failed/ (+ <name>.reason)  quarantine/
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import errno
import hashlib
import hmac
import json
import os
import re
import stat
import time
import uuid

COMMANDS_DIR = "gpu_commands"
RESPONSES_DIR = "gpu_status"
PROCESSING_DIR = "processing"
DONE_DIR = "done"
FAILED_DIR = "failed"
QUARANTINE_DIR = "quarantine"
QUEUE_DIRS = (COMMANDS_DIR, RESPONSES_DIR, PROCESSING_DIR, DONE_DIR, FAILED_DIR, QUARANTINE_DIR)

COMMAND_SUFFIX = ".json"
RESPONSE_SUFFIX = "_response.json"
REASON_SUFFIX = ".reason"
LEASE_NAME = ".lease"

KNOWN_COMMANDS = (
    "list_models",
    "pull_model",
    "delete_model",
    "show_model",
    "running_models",
    "version",
    "gpu_status",
)
# Commands that change the Ollama host; the gpu_command module reports changed for them and skips them in check mode.
MUTATING_COMMANDS = ("pull_model", "delete_model")
MODEL_COMMANDS = ("pull_model", "delete_model", "show_model")

MAX_COMMAND_BYTES = 64 * 1024
COMMAND_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Ollama model references: [registry/][namespace/]name[:tag], e.g. llama3.2:1b or hf.co/user/repo:Q4_K_M.
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,254}$")
SIGNATURE_KEY = "signature"


class CommandQueueError(Exception):
    """A queue operation that cannot be done (bad input from the caller, unwritable root, bad signature)."""


def now_iso():
    """The current UTC time as ISO-8601 with milliseconds, the only datetime form on the wire."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def canonical_json(obj):
    """The bytes an HMAC signature covers: obj without its signature, sorted keys, no spaces, UTF-8."""
    unsigned = {k: v for k, v in obj.items() if k != SIGNATURE_KEY}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _secret_bytes(secret):
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def signature_of(obj, secret):
    """HMAC-SHA256 (hex) of canonical_json(obj) under secret (str or bytes)."""
    return hmac.new(_secret_bytes(secret), canonical_json(obj), hashlib.sha256).hexdigest()


def sign(obj, secret):
    """A copy of obj carrying its signature; obj itself is unchanged."""
    signed = dict(obj)
    signed[SIGNATURE_KEY] = signature_of(obj, secret)
    return signed


def verify(obj, secret):
    """True when obj carries a valid signature under secret."""
    given = obj.get(SIGNATURE_KEY) if isinstance(obj, dict) else None
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.lower(), signature_of(obj, secret))


def read_secret_file(path):
    """The shared secret from a file, surrounding whitespace removed; empty secrets are refused."""
    with open(path, "rb") as handle:
        secret = handle.read().strip()
    if not secret:
        raise CommandQueueError("secret file %s is empty" % path)
    return secret


def command_id_error(command_id):
    """Why command_id is unusable, or None. Ids become file names, so they can never be a path or hidden."""
    if not isinstance(command_id, str):
        return "command_id must be a string"
    if not COMMAND_ID_PATTERN.match(command_id):
        return "command_id must match %s" % COMMAND_ID_PATTERN.pattern
    if command_id.startswith("."):
        return "command_id must not start with a dot (temporary file names do)"
    return None


def model_name_error(model_name):
    """Why model_name is not an Ollama model reference, or None."""
    if not isinstance(model_name, str):
        return "model_name must be a string"
    if not MODEL_NAME_PATTERN.match(model_name) or ".." in model_name or "//" in model_name:
        return "model_name %r is not a valid model name" % model_name[:300]
    return None


def new_command(command, model_name=None, command_id=None):
    """A command dict ready for submit(); command_id defaults to a fresh random id."""
    return {
        "command": command,
        "model_name": model_name,
        "timestamp": now_iso(),
        "command_id": command_id if command_id is not None else uuid.uuid4().hex,
    }


def usable_command_id(data, file_name=None):
    """The id an error response for a rejected input can go to: the document's own id, else the file name's."""
    if isinstance(data, dict) and command_id_error(data.get("command_id")) is None:
        return data["command_id"]
    if file_name and file_name.endswith(COMMAND_SUFFIX):
        stem = file_name[: -len(COMMAND_SUFFIX)]
        if command_id_error(stem) is None:
            return stem
    return None


def validate_command(data):
    """Check a command (a dict, or its JSON text/bytes) against the protocol.

    Returns (command, None) with the normalized command dict, or (None, reason). A signature is kept but not checked
    here (see verify()).
    """
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_COMMAND_BYTES:
            return None, "command is larger than %d bytes" % MAX_COMMAND_BYTES
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "command is not UTF-8"
    if isinstance(data, str):
        if len(data.encode("utf-8")) > MAX_COMMAND_BYTES:
            return None, "command is larger than %d bytes" % MAX_COMMAND_BYTES
        try:
            data = json.loads(data)
        except ValueError as exc:
            return None, "command is not valid JSON: %s" % exc
    if not isinstance(data, dict):
        return None, "command must be a JSON object"
    error = command_id_error(data.get("command_id"))
    if error:
        return None, error
    name = data.get("command")
    if not isinstance(name, str) or name not in KNOWN_COMMANDS:
        return None, "unknown command %r; known: %s" % (
            name if isinstance(name, str) else type(name).__name__,
            ", ".join(KNOWN_COMMANDS),
        )
    model_name = data.get("model_name")
    if name in MODEL_COMMANDS:
        if model_name is None or model_name == "":
            return None, "%s needs model_name" % name
        error = model_name_error(model_name)
        if error:
            return None, error
    elif model_name is not None and model_name != "":
        error = model_name_error(model_name)
        if error:
            return None, error
    timestamp = data.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        return None, "timestamp must be an ISO-8601 string"
    command = dict(data)
    command["model_name"] = model_name or None
    return command, None


def new_response(command_id, success, duration_ms=0, **payload):
    """A response dict: command_id, success, timestamp, duration_ms and the payload keys given."""
    response = {"command_id": command_id, "success": bool(success)}
    response.update(payload)
    response["timestamp"] = now_iso()
    response["duration_ms"] = int(duration_ms)
    return response


def error_response(command_id, error, duration_ms=0):
    return new_response(command_id, False, duration_ms, error=error)


def queue_path(root, *parts):
    return os.path.join(root, *parts)


def command_path(root, command_id):
    return os.path.join(root, COMMANDS_DIR, command_id + COMMAND_SUFFIX)


def response_path(root, command_id):
    return os.path.join(root, RESPONSES_DIR, command_id + RESPONSE_SUFFIX)


def is_temporary_name(name):
    """Writers' in-progress files, which readers must ignore."""
    return name.startswith(".") or name.endswith(".tmp")


def ensure_layout(root, worker_id=None, mode=0o2775):
    """Create the queue directories (and the worker's processing directory) when missing."""
    dirs = [os.path.join(root, name) for name in QUEUE_DIRS]
    if worker_id is not None:
        if command_id_error(worker_id):
            raise CommandQueueError("worker id %r: %s" % (worker_id, command_id_error(worker_id)))
        dirs.append(os.path.join(root, PROCESSING_DIR, worker_id))
    for path in dirs:
        try:
            os.makedirs(path, mode)
        except OSError as exc:
            if exc.errno != errno.EEXIST or not os.path.isdir(path):
                raise
    return root


def _fsync_dir(path):
    # Makes the rename itself durable; some filesystems (and sshfs) refuse to open/fsync directories.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path, obj):
    """Write obj as JSON to path so readers see either nothing or the whole file: temp + fsync + rename."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, ".%s.%s.tmp" % (name, uuid.uuid4().hex[:12]))
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def read_json_file(path, max_bytes=MAX_COMMAND_BYTES):
    """Read a regular file (never through a symlink, never a FIFO) of at most max_bytes and parse it as JSON.

    Raises CommandQueueError with the reason for anything else; FileNotFoundError when it is not there.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise
        if exc.errno == errno.ELOOP:
            raise CommandQueueError("is a symbolic link") from None
        raise CommandQueueError("cannot open: %s" % exc.strerror) from None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CommandQueueError("is not a regular file")
    if info.st_size > max_bytes:
        os.close(fd)
        raise CommandQueueError("is larger than %d bytes" % max_bytes)
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise CommandQueueError("is larger than %d bytes" % max_bytes)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CommandQueueError("is not valid JSON: %s" % exc) from None


def submit(root, command_dict, secret=None):
    """Validate command_dict, sign it when a secret is given, and write it into the queue. Returns its command_id."""
    command, error = validate_command(command_dict)
    if error:
        raise CommandQueueError(error)
    command.pop(SIGNATURE_KEY, None)
    if secret is not None:
        command = sign(command, secret)
    if not os.path.isdir(os.path.join(root, COMMANDS_DIR)):
        raise CommandQueueError("%s is not a command queue (no %s directory)" % (root, COMMANDS_DIR))
    atomic_write_json(command_path(root, command["command_id"]), command)
    return command["command_id"]


def read_response(root, command_id, secret=None):
    """The response for command_id, or None while there is none. With a secret, an unsigned or forged response
    raises CommandQueueError."""
    error = command_id_error(command_id)
    if error:
        raise CommandQueueError(error)
    try:
        response = read_json_file(response_path(root, command_id))
    except FileNotFoundError:
        return None
    except CommandQueueError as exc:
        raise CommandQueueError("response for %s %s" % (command_id, exc)) from None
    if not isinstance(response, dict):
        raise CommandQueueError("response for %s is not a JSON object" % command_id)
    if secret is not None and not verify(response, secret):
        raise CommandQueueError("response for %s is unsigned or its signature is wrong" % command_id)
    return response


def wait_for_response(root, command_id, timeout, poll_interval=0.05, secret=None):
    """Poll for the response to command_id for up to timeout seconds; None when none came.

    Every poll opens the response path afresh (an open() revalidates NFS's close-to-open cache); nothing is kept
    between polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        response = read_response(root, command_id, secret=secret)
        if response is not None:
            return response
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(poll_interval, remaining))


def list_command_names(root):
    """Names of the files waiting in gpu_commands, oldest name order, temporary names skipped.

    Opens the directory afresh every call; on network filesystems callers should bust_directory_cache() first.
    """
    directory = os.path.join(root, COMMANDS_DIR)
    with os.scandir(directory) as entries:
        names = [entry.name for entry in entries if not is_temporary_name(entry.name)]
    names.sort()
    return names


def bust_directory_cache(directory, worker_id):
    """Create and remove a file in directory so a caching client (NFS attribute cache, sshfs dir_cache) sees the
    directory as changed by itself and re-reads its listing instead of serving a stale one."""
    probe = os.path.join(directory, ".rescan-%s" % worker_id)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o664)
        os.close(fd)
        os.unlink(probe)
    except OSError:
        pass


def claim(root, name, worker_id):
    """Move gpu_commands/<name> into this worker's processing dir by rename; exactly one claimant wins.

    Returns the claimed path, or None when another worker was faster (or the file is gone).
    """
    source = os.path.join(root, COMMANDS_DIR, name)
    target = os.path.join(root, PROCESSING_DIR, worker_id, name)
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ESTALE):
            return None
        raise
    return target


def renew_lease(root, worker_id):
    """Touch processing/<worker_id>/.lease; its mtime says the worker is alive. Returns that mtime (server time)."""
    path = os.path.join(root, PROCESSING_DIR, worker_id, LEASE_NAME)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o664)
    except FileNotFoundError:
        # Another worker took this one for dead and removed its directory (a stall longer than the lease).
        ensure_layout(root, worker_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o664)
    os.close(fd)
    os.utime(path, None)
    return os.stat(path).st_mtime


def requeue_claims(root, worker_id):
    """Move every command claimed by worker_id back into gpu_commands. Returns the names moved."""
    directory = os.path.join(root, PROCESSING_DIR, worker_id)
    moved = []
    try:
        names = os.listdir(directory)
    except OSError:
        return moved
    for name in sorted(names):
        if is_temporary_name(name):
            continue
        try:
            os.rename(os.path.join(directory, name), os.path.join(root, COMMANDS_DIR, name))
            moved.append(name)
        except OSError:
            continue  # another worker requeued it first
    return moved


def requeue_stale_claims(root, lease_timeout, now=None, own_worker_id=None):
    """Requeue the claims of workers whose lease is older than lease_timeout seconds.

    ``now`` should be the server's clock (renew_lease() returns it), so hosts with skewed clocks agree. Returns a
    dict worker_id -> names requeued.
    """
    now = time.time() if now is None else now
    base = os.path.join(root, PROCESSING_DIR)
    result = {}
    try:
        workers = os.listdir(base)
    except OSError:
        return result
    for worker_id in workers:
        if worker_id == own_worker_id or is_temporary_name(worker_id):
            continue
        directory = os.path.join(base, worker_id)
        try:
            lease_mtime = os.stat(os.path.join(directory, LEASE_NAME)).st_mtime
        except OSError:
            try:
                lease_mtime = os.stat(directory).st_mtime  # a worker that died before its first lease
            except OSError:
                continue
        if now - lease_mtime < lease_timeout:
            continue
        moved = requeue_claims(root, worker_id)
        if moved:
            result[worker_id] = moved
        _remove_worker_dir(directory)
    return result


def _remove_worker_dir(directory):
    """Remove a dead worker's empty processing directory, so worker ids like host-pid do not pile up."""
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(directory, LEASE_NAME))
    with contextlib.suppress(OSError):
        os.rmdir(directory)  # fails, harmlessly, if a claim arrived meanwhile


def move_to(root, path, dir_name, reason=None):
    """Move a claimed file into done/, failed/ or quarantine/ (with a .reason file when given). Never raises."""
    name = os.path.basename(path)
    target = os.path.join(root, dir_name, name)
    if os.path.lexists(target):
        target = os.path.join(root, dir_name, "%s.%s" % (name, uuid.uuid4().hex[:8]))
    try:
        os.rename(path, target)
    except OSError:
        return None
    if reason is not None:
        try:
            with open(target + REASON_SUFFIX, "w", encoding="utf-8") as handle:
                handle.write(reason.rstrip("\n") + "\n")
        except OSError:
            pass
    return target


def remove_older_than(root, max_age_seconds, now=None):
    """Retention: delete files in done/, failed/, quarantine/ and gpu_status/ older than max_age_seconds."""
    now = time.time() if now is None else now
    removed = 0
    for dir_name in (DONE_DIR, FAILED_DIR, QUARANTINE_DIR, RESPONSES_DIR):
        directory = os.path.join(root, dir_name)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
                if now - info.st_mtime < max_age_seconds:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    continue
                os.unlink(entry.path)
                removed += 1
            except OSError:
                continue
    return removed


def submit_and_wait(root, command, model_name=None, timeout=30, secret=None, poll_interval=0.05, command_id=None):
    """Submit a command and wait for its response: the whole client side in one call.

    Returns (command_id, response), response None when none came within timeout seconds.
    """
    command_id = submit(root, new_command(command, model_name, command_id), secret=secret)
    return command_id, wait_for_response(root, command_id, timeout, poll_interval=poll_interval, secret=secret)
