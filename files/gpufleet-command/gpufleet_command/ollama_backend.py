# Copyright (c) 2026 gpufleet contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute one validated queue command and return the response payload.

Ollama is reached through the official ``ollama`` Python client; GPU state through the collection's nvml
module_utils. Every outcome, including Ollama being down, is a payload dict, never an exception.
"""

import time

try:
    import ollama

    HAS_OLLAMA = True
    OLLAMA_IMPORT_ERROR = None
except ImportError as _exc:  # the service still answers version/gpu_status requests with a clear error
    ollama = None
    HAS_OLLAMA = False
    OLLAMA_IMPORT_ERROR = str(_exc)


class CommandTimeoutError(Exception):
    pass


def to_json_value(value):
    """Plain JSON values from the client's pydantic models (datetimes become ISO-8601 strings)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class OllamaBackend:
    """Runs commands against one Ollama server, each bounded by command_timeout seconds."""

    def __init__(self, url, command_timeout=600.0, client=None, gpu_facts=None):
        self.url = url
        self.command_timeout = command_timeout
        self._client = client
        self._gpu_facts = gpu_facts

    @property
    def client(self):
        if self._client is None:
            # httpx's timeout bounds each connect/read; pull additionally checks the overall deadline per line.
            self._client = ollama.Client(host=self.url, timeout=self.command_timeout)
        return self._client

    def execute(self, command):
        """Payload dict for the response: {"success": bool, ...models|model|message|error}."""
        name = command["command"]
        if name == "gpu_status":
            return self._gpu_status()
        if not HAS_OLLAMA:
            return {"success": False, "error": "the ollama Python client is not installed: %s" % OLLAMA_IMPORT_ERROR}
        try:
            return getattr(self, "_" + name)(command.get("model_name"))
        except CommandTimeoutError as exc:
            return {"success": False, "error": str(exc)}
        except ollama.ResponseError as exc:
            return {"success": False, "error": "ollama: %s" % exc.error, "status_code": exc.status_code}
        except ConnectionError as exc:
            return {"success": False, "error": "ollama unreachable at %s: %s" % (self.url, exc)}
        except Exception as exc:  # httpx timeouts, protocol errors: report, never crash the worker
            return {"success": False, "error": "ollama request failed: %s: %s" % (type(exc).__name__, exc)}

    def _list_models(self, _model):
        return {"success": True, "models": to_json_value(self.client.list().models)}

    def _running_models(self, _model):
        return {"success": True, "models": to_json_value(self.client.ps().models)}

    def _show_model(self, model):
        return {"success": True, "model": dict(to_json_value(self.client.show(model)), name=model)}

    def _delete_model(self, model):
        status = self.client.delete(model)
        return {"success": True, "message": "deleted %s" % model, "status": getattr(status, "status", None)}

    def _pull_model(self, model):
        deadline = time.monotonic() + self.command_timeout
        final = None
        for progress in self.client.pull(model, stream=True):
            final = getattr(progress, "status", None) or final
            if time.monotonic() > deadline:
                raise CommandTimeoutError(
                    "pull of %s ran past %ss (last status: %s)" % (model, self.command_timeout, final)
                )
        if final != "success":
            return {"success": False, "error": "pull of %s ended with status %r" % (model, final)}
        return {"success": True, "message": "pulled %s" % model, "status": final}

    def _version(self, _model):
        # The client has no version call; its request helper keeps its error translation (ResponseError,
        # ConnectionError) the same as for the other commands.
        version = self.client._request_raw("GET", "/api/version").json().get("version")
        return {"success": True, "message": version, "version": version}

    def _gpu_status(self):
        try:
            if self._gpu_facts is None:
                from ansible_collections.gpufleet.nvidia.plugins.module_utils.nvml import collect_gpu_facts

                self._gpu_facts = collect_gpu_facts
            facts = self._gpu_facts()
        except Exception as exc:
            return {"success": False, "error": "reading GPUs failed: %s: %s" % (type(exc).__name__, exc)}
        return {"success": True, "gpu": to_json_value(facts)}
