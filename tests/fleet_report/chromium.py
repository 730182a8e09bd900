"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol on a pipe, by the standard library.

``--remote-debugging-pipe`` makes the browser read protocol commands from file descriptor 3 and write answers and
events to descriptor 4, each message a JSON document ended by a NUL byte: no websocket and no port. A ``Browser`` opens
a page, records what its console and the browser's log report as errors (an exception, a console.error, a resource that
failed to load), times it with the page's own Navigation and Paint Timing entries, takes screenshots and evaluates
JavaScript in it.
"""

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# What the page reports about its own loading, in milliseconds since navigation started.
TIMING_SCRIPT = """JSON.stringify((() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  return {
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    first_paint_ms: paint['first-paint'] ?? null,
    first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
    transfer_bytes: nav.decodedBodySize || null,
    elements: document.getElementsByTagName('*').length,
    page_height_px: document.documentElement.scrollHeight,
  };
})())"""


class ChromiumError(Exception):
    pass


def find_chromium():
    """The browser to drive: $GPUFLEET_CHROMIUM, else the first of CANDIDATES on PATH, else None."""
    named = os.environ.get("GPUFLEET_CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.access(named, os.X_OK) else None)
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


def version(binary):
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "unknown"


class Browser:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary=None, width=1400, height=1000, timeout=120):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise ChromiumError(f"no Chromium found (tried {', '.join(CANDIDATES)}; set GPUFLEET_CHROMIUM)")
        self.width, self.height, self.timeout = width, height, timeout
        self.errors = []  # what the page and the browser reported as errors, one line each
        self._events = []
        self._next_id = 0
        self._buffer = b""
        self._session = None

    def __enter__(self):
        self._profile = tempfile.mkdtemp(prefix="gpufleet-chromium-")
        self._log = open(os.path.join(self._profile, "chromium.log"), "wb")  # closed by close()
        command_read, self._command_write = os.pipe()
        self._answer_read, answer_write = os.pipe()

        def on_fds_3_and_4():
            # os.dup gives non-inheritable copies above any fd dup2 is about to replace; dup2 makes 3 and 4
            # inheritable, so the browser (and only it) keeps them across exec.
            command, answer = os.dup(command_read), os.dup(answer_write)
            os.dup2(command, 3)
            os.dup2(answer, 4)

        argv = [
            self.binary,
            "--headless",
            "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces it may not have
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            "--mute-audio",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=on_fds_3_and_4,  # the test process runs no threads
            close_fds=False,
        )
        os.close(command_read)
        os.close(answer_write)
        self._poll = select.poll()  # not select(): it cannot watch a descriptor above 1023
        self._poll.register(self._answer_read, select.POLLIN)
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(target for target in targets if target["type"] == "page")
            self._session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if getattr(self, "_process", None) is None:
            return
        try:
            if self._process.poll() is None:
                self._send({"id": self._new_id(), "method": "Browser.close"})
                self._process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        for fd in (self._command_write, self._answer_read):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)
        self._process = None

    # -- the protocol ---------------------------------------------------------------------------------------------

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def _send(self, message):
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._command_write, data) :]

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer from Chromium within {self.timeout}s")
            if not self._poll.poll(left * 1000):
                continue
            chunk = os.read(self._answer_read, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium exited (rc {self._process.poll()}); log: {self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _record(self, event):
        method, params = event.get("method"), event.get("params") or {}
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            text = (details.get("exception") or {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            words = [str(arg.get("value", arg.get("description", ""))) for arg in params.get("args") or []]
            self.errors.append(f"console.{params['type']}: {' '.join(words)}")
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url') or ''}".rstrip())
        elif method == "Inspector.targetCrashed":
            self.errors.append("the page crashed")
        self._events.append(event)

    def call(self, method, **params):
        """Send a command (to the page once attached) and return its result; events that arrive meanwhile are kept."""
        message = {"id": self._new_id(), "method": method, "params": params}
        if self._session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result") or {}
            self._record(answer)

    def wait_for(self, method):
        """Wait for an event (one that already arrived counts); returns its params."""
        deadline = time.monotonic() + self.timeout
        while True:
            for position, event in enumerate(self._events):
                if event.get("method") == method:
                    del self._events[position]
                    return event.get("params") or {}
            self._record(self._receive(deadline))

    # -- what a test asks of a page -------------------------------------------------------------------------------

    def open(self, url):
        """Load url and wait for its load event; returns the seconds that took, seen from here."""
        self._events = [event for event in self._events if event.get("method") != "Page.loadEventFired"]
        started = time.monotonic()
        navigated = self.call("Page.navigate", url=url)
        if navigated.get("errorText"):
            raise ChromiumError(f"{url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired")
        return time.monotonic() - started

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def timing(self):
        """The page's own Navigation and Paint Timing figures (milliseconds), its element count and height."""
        return json.loads(self.evaluate(TIMING_SCRIPT))

    def rect(self, selector):
        """The page coordinates {x, y, width, height} of the first element matching a CSS selector."""
        script = (
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
        )
        found = self.evaluate(script)
        if found is None:
            raise ChromiumError(f"no element matches {selector}")
        return found

    def screenshot(self, path, clip=None):
        """A PNG of the first screen (the viewport), or of clip {x, y, width, height} in page coordinates."""
        params = {"format": "png"}
        if clip:
            params.update(clip=dict(clip, scale=1), captureBeyondViewport=True)
        data = self.call("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
        return path

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self._profile, "chromium.log"), "rb") as handle:
                return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""
