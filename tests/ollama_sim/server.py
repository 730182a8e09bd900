# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SIMULATED Ollama API server for tests: not Ollama, no models, no GPU.

Speaks the part of Ollama's HTTP API the command service uses (/api/tags, /api/pull streaming NDJSON, /api/delete,
/api/show, /api/ps, /api/version) with an in-memory model list, so the service and its role can be tested where the
real Ollama cannot be installed. Single file, standard library only: the command_service molecule scenario runs it as
``/usr/bin/python3 /opt/ollama-sim/server.py --port 11434``.

Error modes (flags, environment, or at run time with POST /sim/mode {"slow": s, "error_500": bool, ...}):
  --slow S / OLLAMA_SIM_SLOW        delay every /api response by S seconds
  --error-500 / OLLAMA_SIM_ERROR_500=1  answer every /api request with HTTP 500
  --pull-delay S / OLLAMA_SIM_PULL_DELAY  seconds between pull progress lines (default 0)
Unknown models answer 404 {"error": "model '<name>' not found"} as Ollama does. GET /sim/stats returns how often
each endpoint and each model's pull/delete ran (the chaos test counts executions with it); POST /sim/reset clears it.
"""

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "0.0.0-sim"


class SimState:
    def __init__(self, models, slow=0.0, error_500=False, pull_delay=0.0):
        self.lock = threading.Lock()
        self.models = {name: self._entry(name) for name in models}
        self.slow = slow
        self.error_500 = error_500
        self.pull_delay = pull_delay
        self.requests = {}
        self.executions = {}

    @staticmethod
    def _entry(name):
        if ":" not in name.rsplit("/", 1)[-1]:
            name += ":latest"
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-01-01T00:00:00.000000000Z",
            "size": 1000 + len(name),
            "digest": "%064x" % (abs(hash(name)) % (1 << 64)),
            "details": {"format": "gguf", "family": "sim", "parameter_size": "1B", "quantization_level": "Q4_0"},
        }

    @staticmethod
    def full_name(name):
        return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

    def count(self, endpoint, model=None):
        with self.lock:
            self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
            if model is not None:
                key = "%s %s" % (endpoint, model)
                self.executions[key] = self.executions.get(key, 0) + 1


class Handler(BaseHTTPRequestHandler):
    server_version = "ollama-sim/" + VERSION
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to every
    # keep-alive request (Go's net/http, which Ollama uses, sets TCP_NODELAY too).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read stats, not logs
        pass

    @property
    def state(self):
        return self.server.state

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            return json.loads(self.rfile.read(length).decode("utf-8"))
        except ValueError:
            return {}

    def _send(self, code, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _api_gate(self, endpoint, model=None):
        self.state.count(endpoint, model)
        if self.state.slow:
            time.sleep(self.state.slow)
        if self.state.error_500:
            self._send(500, {"error": "simulated internal server error"})
            return False
        return True

    def _not_found(self, name):
        self._send(404, {"error": "model '%s' not found" % name})

    def do_GET(self):
        if self.path == "/sim/stats":
            with self.state.lock:
                self._send(200, {"requests": self.state.requests, "executions": self.state.executions})
            return
        if self.path == "/api/version":
            if self._api_gate("version"):
                self._send(200, {"version": VERSION})
        elif self.path == "/api/tags":
            if self._api_gate("tags"):
                with self.state.lock:
                    self._send(200, {"models": list(self.state.models.values())})
        elif self.path == "/api/ps":
            if self._api_gate("ps"):
                with self.state.lock:
                    running = [
                        dict(m, expires_at="2026-01-01T00:05:00Z", size_vram=m["size"])
                        for m in list(self.state.models.values())[:1]
                    ]
                self._send(200, {"models": running})
        elif self.path == "/":
            self.send_response(200)
            self.send_header("Content-Length", "17")
            self.end_headers()
            self.wfile.write(b"Ollama is running")
        else:
            self._send(404, {"error": "not found"})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self._body()
        name = body.get("model") or body.get("name") or ""
        if self.path == "/sim/mode":
            for key in ("slow", "error_500", "pull_delay"):
                if key in body:
                    setattr(self.state, key, body[key])
            self._send(200, {"ok": True})
        elif self.path == "/sim/reset":
            with self.state.lock:
                self.state.requests, self.state.executions = {}, {}
            self._send(200, {"ok": True})
        elif self.path == "/api/show":
            if self._api_gate("show"):
                with self.state.lock:
                    entry = self.state.models.get(self.state.full_name(name))
                if entry is None:
                    self._not_found(name)
                else:
                    self._send(
                        200,
                        {
                            "modelfile": "FROM %s\n" % name,
                            "parameters": "",
                            "template": "{{ .Prompt }}",
                            "details": entry["details"],
                            "modified_at": entry["modified_at"],
                            "model_info": {"general.architecture": "sim"},
                        },
                    )
        elif self.path == "/api/pull":
            if self._api_gate("pull", name):
                self._pull(name, body.get("stream", True))
        else:
            self._send(404, {"error": "not found"})

    def do_DELETE(self):
        body = self._body()
        name = body.get("model") or body.get("name") or ""
        if self.path != "/api/delete":
            self._send(404, {"error": "not found"})
            return
        if not self._api_gate("delete", name):
            return
        with self.state.lock:
            entry = self.state.models.pop(self.state.full_name(name), None)
        if entry is None:
            self._not_found(name)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _pull(self, name, stream):
        if name.startswith("missing"):  # a model the "registry" does not have
            self._send(500, {"error": "pull model manifest: file does not exist"})
            return
        total = 4096
        lines = [{"status": "pulling manifest"}]
        for done in (0, total // 2, total):
            lines.append(
                {"status": "pulling %s" % ("0" * 12), "digest": "sha256:" + "0" * 64, "total": total, "completed": done}
            )
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
        if not stream:
            for _line in lines:
                time.sleep(self.state.pull_delay)
            with self.state.lock:
                self.state.models[self.state.full_name(name)] = self.state._entry(name)
            self._send(200, {"status": "success"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, line in enumerate(lines):
            if index == len(lines) - 1:
                with self.state.lock:
                    self.state.models[self.state.full_name(name)] = self.state._entry(name)
            data = (json.dumps(line) + "\n").encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            if self.state.pull_delay:
                time.sleep(self.state.pull_delay)
        self.wfile.write(b"0\r\n\r\n")


class SimServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients killed mid-stream (the chaos test kills workers with SIGKILL) are normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    parser = argparse.ArgumentParser(description="SIMULATED Ollama API server for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--models", default=os.environ.get("OLLAMA_SIM_MODELS", "llama3.2:1b,qwen2.5:0.5b"))
    parser.add_argument("--slow", type=float, default=float(os.environ.get("OLLAMA_SIM_SLOW", "0")))
    parser.add_argument("--error-500", action="store_true", default=os.environ.get("OLLAMA_SIM_ERROR_500") == "1")
    parser.add_argument("--pull-delay", type=float, default=float(os.environ.get("OLLAMA_SIM_PULL_DELAY", "0")))
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    server = SimServer((args.host, args.port), Handler)
    server.state = SimState(models, args.slow, args.error_500, args.pull_delay)
    print(json.dumps({"listening": "%s:%d" % server.server_address[:2], "simulated": True}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
