# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The daemon's settings: defaults, then the YAML config file, then the command line, judged once.

The daemon calls load_config() before it starts and ``gpufleet-command-service --check-config`` calls the same
function without starting, so a config the check accepts is one the daemon runs with (the command_service role
validates every rendered config this way before it replaces the old one).
"""

import os
import socket
from urllib.parse import urlsplit

from ansible_collections.gpufleet.nvidia.plugins.module_utils import command_queue as cq

try:
    import yaml

    HAS_YAML = True
except ImportError:
    yaml = None
    HAS_YAML = False

DEFAULTS = {
    "root": None,
    "ollama_url": "http://127.0.0.1:11434",
    "worker_id": None,
    "rescan_interval": 1.0,
    "lease_timeout": 300.0,
    "command_timeout": 600.0,
    "secret_file": None,
    "retention_days": 7,
    "log_format": "json",
}
POSITIVE_NUMBERS = ("rescan_interval", "lease_timeout", "command_timeout")
LOG_FORMATS = ("json", "text")


class ConfigError(Exception):
    """A setting the daemon cannot run with; str() names where it came from (the file or the command line)."""

    def __init__(self, problem, key=None, source=None):
        super().__init__(problem)
        self.problem = problem
        self.key = key
        self.source = source

    def __str__(self):
        return "%s: %s" % (self.source, self.problem) if self.source else self.problem


def default_worker_id():
    host = "".join(c if c.isalnum() or c in "_.-" else "_" for c in socket.gethostname()) or "host"
    return "%s-%d" % (host.lstrip("."), os.getpid())


def read_config_file(path):
    """The settings in a YAML config file (a mapping of known keys). Raises ConfigError naming the file."""
    source = "config %s" % path
    if not HAS_YAML:
        raise ConfigError("reading it needs PyYAML, which is not installed", source=source)
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError("cannot read it: %s" % (exc.strerror or exc), source=source) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError("not valid YAML: %s" % " ".join(str(exc).split()), source=source) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("must be a mapping of settings, not %s" % type(loaded).__name__, source=source)
    unknown = sorted(str(key) for key in set(loaded) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            "unknown keys: %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))), source=source
        )
    return {key: value for key, value in loaded.items() if value is not None}


def _number(config, key):
    value = config[key]
    # YAML's true/false are ints to Python; a setting written as a boolean is a mistake, not 1 or 0.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError("%s must be a number, not %r" % (key, value), key)
    try:
        return float(value)
    except ValueError:
        raise ConfigError("%s must be a number, not %r" % (key, value), key) from None


def _text(config, key):
    value = config[key]
    if not isinstance(value, str) or not value:
        raise ConfigError("%s must be a non-empty string, not %r" % (key, value), key)
    return value


def validate(config):
    """A complete, normalised copy of config (DEFAULTS' keys), or ConfigError naming the key and the problem."""
    config = dict(config)
    if config["root"] is None:
        raise ConfigError("no queue root: give --root or root in the config file", "root")
    root = _text(config, "root")
    if not os.path.isabs(root):
        raise ConfigError("root must be an absolute path, not %r" % root, "root")
    config["root"] = os.path.normpath(root)

    url = _text(config, "ollama_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("ollama_url must be an http:// or https:// URL with a host, not %r" % url, "ollama_url")

    for key in POSITIVE_NUMBERS:
        config[key] = _number(config, key)
        if config[key] <= 0:
            raise ConfigError("%s must be positive, not %r" % (key, config[key]), key)
    config["retention_days"] = _number(config, "retention_days")
    if config["retention_days"] < 0:
        raise ConfigError(
            "retention_days must be 0 (keep everything) or more, not %r" % config["retention_days"], "retention_days"
        )

    if config["worker_id"] is None:
        config["worker_id"] = default_worker_id()
    error = cq.command_id_error(config["worker_id"])
    if error:
        # The worker id names its processing directory, so it follows the protocol's rule for command ids.
        raise ConfigError("worker_id %r: %s" % (config["worker_id"], error.replace("command_id", "it")), "worker_id")

    if config["secret_file"] is not None:
        path = _text(config, "secret_file")
        try:
            cq.read_secret_file(path)
        except OSError as exc:
            raise ConfigError(
                "secret_file %s cannot be read: %s" % (path, exc.strerror or exc), "secret_file"
            ) from None
        except cq.CommandQueueError as exc:
            raise ConfigError("secret_file: %s" % exc, "secret_file") from None

    if config["log_format"] not in LOG_FORMATS:
        raise ConfigError("log_format must be json or text, not %r" % (config["log_format"],), "log_format")
    return config


def load_config(config_file=None, overrides=None):
    """Merge DEFAULTS, the config file and overrides (the command line, which wins), then validate().

    Raises ConfigError whose str() names the config file, or the command line for a setting given there.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError("unknown settings: %s" % ", ".join(unknown))
    config = dict(DEFAULTS)
    if config_file:
        config.update(read_config_file(config_file))
    if overrides.get("root") is not None and isinstance(overrides["root"], str):
        overrides["root"] = os.path.abspath(overrides["root"])  # a relative --root is relative to where it was run
    config.update(overrides)
    try:
        return validate(config)
    except ConfigError as exc:
        if exc.key in overrides:
            exc.source = "--%s on the command line" % exc.key.replace("_", "-")
        elif config_file:
            exc.source = "config %s" % config_file
        raise


def queue_directories(config):
    """The directories under the root the daemon works in: the protocol's queue layout (command_queue.QUEUE_DIRS)."""
    return [os.path.join(config["root"], name) for name in cq.QUEUE_DIRS]


def check_report(config, config_file=None):
    """What --check-config prints for a valid config: the settings the daemon would run with and its directories."""
    return {
        "config": config_file,
        "valid": True,
        "settings": config,
        "queue_dirs": queue_directories(config),
    }
