# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real command service and the simulated Ollama server as subprocesses (used by conftest and tests)."""

import json
import os
import shutil
import socket
import signal
import subprocess
import sys
import time
import urllib.request


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIM_SERVER = os.path.join(REPO, "tests", "ollama_sim", "server.py")
# The command service distribution: pyproject.toml, wheel_builder.py and the gpufleet_command package.
PROJECT = os.path.join(REPO, "files", "gpufleet-command")
ENV = dict(
    os.environ,
    # The package from its source tree, its module_utils from the checkout (the wheel carries the same files).
    PYTHONPATH=os.pathsep.join([os.path.join(REPO, ".build", "collections"), PROJECT]),
    PYTHONUNBUFFERED="1",
)


class OllamaSim:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, SIM_SERVER, "--port", "0", *args], stdout=subprocess.PIPE, env=ENV, text=True
        )
        self.url = "http://" + json.loads(self.proc.stdout.readline())["listening"]

    def _post(self, path, body):
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def stats(self):
        with urllib.request.urlopen(self.url + "/sim/stats", timeout=10) as response:
            return json.load(response)

    def mode(self, **settings):
        return self._post("/sim/mode", settings)

    def reset(self):
        self._post("/sim/reset", {})
        self.mode(slow=0, error_500=False, pull_delay=0)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


class Daemon:
    """One service process; its JSON log lines are kept in a file so they survive kill -9."""

    def __init__(self, root, ollama_url, worker_id, log_dir, *extra):
        self.root, self.worker_id = root, worker_id
        self.log_path = os.path.join(log_dir, "%s-%d.log" % (worker_id, time.monotonic_ns()))
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - open for the process lifetime
        argv = [sys.executable, "-m", "gpufleet_command.service", "--root", root, "--ollama-url", ollama_url]
        argv += ["--worker-id", worker_id, *extra]
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT, env=ENV)
        self.killed = False

    def wait_started(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["event"] == "started" for e in self.events()):
                return self
            assert self.proc.poll() is None, "daemon exited early: %s" % self.text()
            time.sleep(0.02)
        raise AssertionError("daemon did not start: %s" % self.text())

    def text(self):
        with open(self.log_path) as handle:
            return handle.read()

    def events(self):
        events = []
        for line in self.text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"event": "non_json", "line": line})
        return events

    def kill9(self):
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.log_file.close()
        return rc


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SshfsMount:
    """A directory (export) mounted through sshfs with cache=yes,dir_cache=yes over a private sshd on loopback,
    like an NFS mount with attribute caching. start() returns None, or why it cannot run here."""

    def __init__(self, base, cache_timeout=20):
        self.base = base
        self.export = os.path.join(base, "export")
        self.mountpoint = os.path.join(base, "mnt")
        self.cache_timeout = cache_timeout
        self.sshd = None
        self.unmount = "fusermount3" if shutil.which("fusermount3") else "fusermount"

    def missing(self):
        for tool in ("sshfs", self.unmount, "ssh-keygen"):
            if not shutil.which(tool):
                return "%s is not installed (hack/host-deps.sh installs sshfs and openssh-server)" % tool
        if not os.path.exists("/usr/sbin/sshd"):
            return "/usr/sbin/sshd is not installed (hack/host-deps.sh installs openssh-server)"
        if not os.path.exists("/dev/fuse"):
            return "/dev/fuse does not exist: FUSE is not available here"
        return None

    def start(self):
        reason = self.missing()
        if reason:
            return reason
        base = self.base
        os.makedirs(self.export, exist_ok=True)
        os.makedirs(self.mountpoint, exist_ok=True)
        for name in ("host_key", "user_key"):
            key = os.path.join(base, name)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        authorized = os.path.join(base, "authorized_keys")
        shutil.copyfile(os.path.join(base, "user_key.pub"), authorized)
        os.chmod(authorized, 0o600)
        port = _free_port()
        config = os.path.join(base, "sshd_config")
        with open(config, "w") as handle:
            handle.write(
                "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\n"
                "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
                % (port, os.path.join(base, "host_key"), authorized, os.path.join(base, "sshd.pid"))
            )
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.sshd.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    return "sshd did not start on 127.0.0.1:%d" % port
                time.sleep(0.05)
        options = [
            "cache=yes",
            "dir_cache=yes",
            "cache_timeout=%d" % self.cache_timeout,
            "IdentityFile=%s" % os.path.join(base, "user_key"),
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
        ]
        user = os.environ.get("USER") or "root"
        mounted = subprocess.run(
            [
                "sshfs",
                "-p",
                str(port),
                "-o",
                ",".join(options),
                "%s@127.0.0.1:%s" % (user, self.export),
                self.mountpoint,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if mounted.returncode != 0:
            self.stop()
            return "sshfs mount failed (FUSE unusable here?): %s" % mounted.stderr.strip()[-500:]
        return None

    def stop(self):
        subprocess.run([self.unmount, "-u", "-z", self.mountpoint], check=False, capture_output=True)
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            self.sshd.wait(10)
