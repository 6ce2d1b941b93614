"""A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``):
the standard library is enough, with no WebDriver binary and no network port.

Messages are JSON objects separated by NUL bytes: the browser reads them on its fd 3 and
answers on its fd 4.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--mute-audio", "--remote-debugging-pipe", "--hide-scrollbars")


class BrowserUnavailable(Exception):
    """Chromium is missing or would not start: a reason to skip, not a failure of the page."""


def find_chromium() -> str | None:
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BINARIES)), None)


class Chromium:
    """One browser and one page; ``with Chromium(profile) as browser: browser.open(url)``."""

    def __init__(self, profile: Path, timeout: float = 60.0) -> None:
        binary = find_chromium()
        if binary is None:
            raise BrowserUnavailable(f"no Chromium on PATH (tried {', '.join(BINARIES)}; or set CHROMIUM=path)")
        self.timeout, self.buffer, self.events, self.last_id = timeout, b"", [], 0
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def wire_fds() -> None:  # in the child: the pipe ends where Chromium expects them
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.log = profile / "chromium.log"
        profile.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log, "wb") as log:
                self.process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                pass_fds=(3, 4), preexec_fn=wire_fds)
        except OSError as err:
            os.close(self._read)
            os.close(self._write)
            raise BrowserUnavailable(f"cannot run {binary}: {err}") from None
        finally:
            os.close(to_browser)
            os.close(from_browser)
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.call("Page.enable", self.session)
        except (EOFError, TimeoutError, OSError) as err:
            self.close()
            raise BrowserUnavailable(f"{binary} did not start ({err}): {self.log.read_text()[-500:]}") from None

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, url: str, width: int = 1280) -> None:
        """Load ``url`` in a ``width``-pixel-wide window and wait for its load event."""
        self.call("Emulation.setDeviceMetricsOverride", self.session, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", self.session, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        reply = self.call("Runtime.evaluate", self.session, expression=expression, awaitPromise=True,
                          returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"JavaScript error: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The whole page, not only the window, as PNG."""
        size = self.call("Page.getLayoutMetrics", self.session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", self.session, format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str) -> dict[str, Any]:
        while True:
            for i, message in enumerate(self.events):
                if message.get("method") == event:
                    return self.events.pop(i)
            self.events.append(self._next())

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.write(self._write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for fd in (self._read, self._write):
            if fd >= 0:
                os.close(fd)
        self._read = self._write = -1

    def _next(self) -> dict[str, Any]:
        """The next message from the browser, within the timeout."""
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError(f"no answer from Chromium in {self.timeout:.0f} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)
