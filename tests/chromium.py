"""Headless Chromium driven over the DevTools protocol (websockets, already installed with
Prefect): open a page, collect console errors, exceptions and any network request, take a
screenshot. Skips the test with a clear message when Debian's ``chromium`` is absent."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip


def chromium_binary() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium not installed (apt-get install -y chromium): cannot render the report")


@dataclass(slots=True)
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    screenshot: bytes = b""
    text_length: int = 0
    svg_shapes: int = 0
    title: str = ""


def _open_devtools(user_dir: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    port_file = user_dir / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            lines = port_file.read_text().split("\n")
            if len(lines) >= 2 and lines[1]:
                return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")


def render_page(url: str, screenshot: Path, width: int = 1200, height: int = 2000) -> PageResult:
    """Load ``url`` in a fresh headless Chromium and report what happened."""
    from websockets.sync.client import connect

    binary = chromium_binary()
    result = PageResult()
    # Chromium's helper processes may still write to the profile for a moment after the kill.
    with tempfile.TemporaryDirectory(prefix="newsetl-chromium-", ignore_cleanup_errors=True) as tmp:
        user_dir = Path(tmp)
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_dir}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            ws_url = _open_devtools(user_dir, proc)
            with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30) as ws:
                ids = itertools.count(1)

                def call(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
                    n = next(ids)
                    msg: dict[str, Any] = {"id": n, "method": method, "params": params}
                    if session:
                        msg["sessionId"] = session
                    ws.send(json.dumps(msg))
                    while True:
                        reply = json.loads(ws.recv(timeout=60))
                        if reply.get("id") == n:
                            if "error" in reply:
                                raise RuntimeError(f"{method}: {reply['error']}")
                            return dict(reply.get("result", {}))
                        _event(reply, result)

                target = call("Target.createTarget", url="about:blank")["targetId"]
                session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
                for domain in ("Page", "Runtime", "Log", "Network"):
                    call(f"{domain}.enable", session)
                call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                     deviceScaleFactor=1, mobile=False)  # fmt: skip
                call("Page.navigate", session, url=url)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # until the load event
                    msg = json.loads(ws.recv(timeout=30))
                    _event(msg, result)
                    if msg.get("method") == "Page.loadEventFired":
                        break
                probe = call(
                    "Runtime.evaluate", session, returnByValue=True,
                    expression="JSON.stringify({text: document.body ? document.body.innerText.length : 0,"
                    " shapes: document.querySelectorAll('svg rect, svg polyline').length,"
                    " title: document.title})",
                )  # fmt: skip
                values = json.loads(probe["result"]["value"])
                result.text_length, result.svg_shapes, result.title = (
                    values["text"],
                    values["shapes"],
                    values["title"],
                )
                shot = call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
                result.screenshot = base64.b64decode(shot["data"])
                screenshot.write_bytes(result.screenshot)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the browser and its helper processes
            proc.wait(timeout=30)
    return result


def _event(msg: dict[str, Any], result: PageResult) -> None:
    method, params = msg.get("method"), msg.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        result.console_errors.append(
            " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        )
    elif method == "Runtime.exceptionThrown":
        result.console_errors.append(str(params["exceptionDetails"].get("text")))
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        result.console_errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
    elif method == "Network.requestWillBeSent":
        result.requests.append(str(params["request"]["url"]))


def distinct_colours(png: bytes, limit: int = 64) -> int:
    """How many distinct RGB(A) pixel values an 8-bit, non-interlaced PNG has (up to
    ``limit``): a blank page has one. Enough PNG decoding for Chromium's screenshots."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, channels = 8, b"", 0, 0
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, depth, colour = int.from_bytes(body[:4], "big"), body[8], body[9]
            assert depth == 8 and body[12] == 0, "only 8-bit non-interlaced PNGs"
            channels = {2: 3, 6: 4, 0: 1, 4: 2}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    seen: set[bytes] = set()
    prev = bytearray(stride)
    for row in range(len(raw) // (stride + 1)):
        filt, line = (
            raw[row * (stride + 1)],
            bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + a) & 255
            elif filt == 2:
                line[i] = (line[i] + b) & 255
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for i in range(0, stride, channels * 7):  # a sample of the pixels is plenty
            seen.add(bytes(line[i : i + channels]))
        if len(seen) >= limit:
            break
        prev = line
    return len(seen)
