"""Headless Chromium driven over the DevTools protocol, for the tests that check what a
person sees in a browser (the MLflow UI).

A small client on `websockets` (already in the lock) rather than Playwright: four
protocol calls are all the tests need, and Debian's `chromium` is the browser.
`ensure_chromium()` installs that package when it is missing (CI machines are fresh)."""
from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from tests.debian import apt_install

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--remote-debugging-port=0",
                  "--window-size=1400,1000",
                  # keep the sandboxed artifact iframe in the page's process, so its text is readable
                  "--disable-features=IsolateSandboxedIframes", "--disable-site-isolation-trials"]


def ensure_chromium() -> str:
    """The path of Debian's chromium, installed with apt-get when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        apt_install("chromium")
        path = shutil.which("chromium")
    assert path, "Debian's chromium package did not install /usr/bin/chromium"
    return path


class Browser:
    """One headless Chromium with a fresh profile and one page."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        self.process = subprocess.Popen([executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = self._devtools_port()
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=2**28)
        self.ids = itertools.count(1)

    def _devtools_port(self, timeout: float = 30) -> int:
        """Chromium writes the port it chose into the profile once it listens."""
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            assert self.process.poll() is None, f"chromium exited with {self.process.returncode}"
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        call_id = next(self.ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60) -> None:
        """Poll a JavaScript expression until it is truthy (the UI renders asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean({expression})"):
                return
            time.sleep(0.25)
        raise AssertionError(f"the page never showed {what}; it shows:\n"
                             f"{(self.evaluate('document.body.innerText') or '')[:3000]}")

    def wait_for_text(self, *texts: str, timeout: float = 60) -> str:
        checks = " && ".join(f"document.body.innerText.includes({json.dumps(t)})" for t in texts)
        self.wait_for(f"document.body && {checks}", " and ".join(map(repr, texts)), timeout)
        return self.evaluate("document.body.innerText")

    def click(self, expression: str, what: str) -> None:
        """Click the element a JavaScript expression finds."""
        found = self.evaluate(f"(() => {{ const el = {expression}; if (el) {{ el.click(); return true; }}"
                              " return false; })()")
        assert found, f"no {what} on the page"

    def in_frames(self, expression: str) -> list:
        """Evaluate in each child frame (an artifact preview is a sandboxed iframe whose
        document the page's own scripts cannot read; DevTools can)."""
        values = []
        for child in self.call("Page.getFrameTree")["frameTree"].get("childFrames", []):
            context = self.call("Page.createIsolatedWorld", frameId=child["frame"]["id"])
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                               contextId=context["executionContextId"])
            values.append(result["result"].get("value"))
        return values

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)
            shutil.rmtree(self.profile, ignore_errors=True)
