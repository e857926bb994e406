"""report.html in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

The protocol runs over a pipe (`--remote-debugging-pipe`: Chromium reads commands on fd 3 and writes
replies on fd 4, each message JSON ending in a NUL byte), so the test needs no driver binary, no
WebSocket library and no download: only the `chromium` package, which scripts/setup.sh installs.

Set EDGEKIT_SCREENSHOT=/some/dir to get a PNG of each page there, for a person to look at; nothing
is written into the repository.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_report_html import example_out, vww_check_report, with_emulation

from edgekit.report.html import report_html

TIMEOUT = 30.0
VIEWPORT = (1280, 900)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Chromium is not installed (Debian package `chromium`; scripts/setup.sh installs it)")
    return exe


class Browser:
    """One headless Chromium and the few DevTools calls the tests need."""

    def __init__(self, exe: str, profile: Path, log: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash puts the pipe ends on the fd numbers Chromium expects, then becomes Chromium (dash
        # cannot: it only redirects descriptors 0-9, and ours are often higher).
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', exe, *flags],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"Chromium stopped answering (exit code {self.proc.poll()})")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise AssertionError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for n, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(n)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self.events.append(event)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call("Browser.close")
                self.proc.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            os.close(self._to_chrome)
            os.close(self._from_chrome)
            self._log.close()


class Page:
    """A tab with the report loaded, and everything the browser reported while loading it."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        width, height = VIEWPORT
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        browser.wait_for("Page.loadEventFired", self.session)
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # painted

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def eval(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, browser log errors (CSP violations land here)."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events
            if e.get("sessionId") == self.session and e.get("method") == "Network.requestWillBeSent"
        ]

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre, as a person would."""
        box = self.eval(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center', behavior: 'instant'}); const r = el.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("EDGEKIT_SCREENSHOT")
        if not folder:
            return
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(base64.b64decode(data))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    exe = _chromium()
    home = tmp_path_factory.mktemp("chromium")
    b = Browser(exe, home / "profile", home / "chromium.log")
    try:
        b.call("Browser.getVersion")
    except AssertionError as exc:
        b.close()
        raise AssertionError(f"{exc}\n{(home / 'chromium.log').read_text(errors='replace')[-2000:]}") from None
    yield b
    b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example's report.html (as convert writes it, or rendered from its report.json) and a misfit's."""
    _chromium()
    out = example_out(tmp_path_factory)
    folder = tmp_path_factory.mktemp("pages")
    example = out / "report.html"
    if not example.exists():
        example = folder / "example.html"
        example.write_text(report_html(json.loads((out / "report.json").read_text())), encoding="utf-8")
    misfit = folder / "vww-blackpill.html"
    misfit.write_text(report_html(vww_check_report()), encoding="utf-8")
    # The example as it will look once the firmware has run in emulation: extra columns and a plot.
    emulated = folder / "example-emulated.html"
    emulated.write_text(report_html(with_emulation(json.loads((out / "report.json").read_text()))), encoding="utf-8")
    return {"example": example, "misfit": misfit, "emulated": emulated}


VISIBLE = """
(selector => Array.from(document.querySelectorAll(selector)).map(el => {
  const r = el.getBoundingClientRect();
  return {w: r.width, h: r.height, visible: el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}),
          text: el.textContent.trim().slice(0, 80)};
}))
"""


def _visible(page: Page, selector: str) -> list[dict[str, Any]]:
    boxes = page.eval(f"{VISIBLE}({json.dumps(selector)})")
    assert boxes, f"nothing matches {selector}"
    for box in boxes:
        assert box["visible"] and box["w"] > 0 and box["h"] > 0, (selector, box)
    return boxes


@pytest.mark.parametrize("name", ["example", "misfit", "emulated"])
def test_page_loads_offline_without_errors(browser: Browser, pages: dict[str, Path], name: str) -> None:
    page = Page(browser, pages[name])
    page.screenshot(name)
    assert page.problems() == []
    assert [url for url in page.requests() if not url.startswith(("file:", "data:"))] == []
    assert page.eval("document.documentElement.classList.contains('js')")  # the sorting script ran


@pytest.mark.parametrize("name", ["example", "misfit", "emulated"])
def test_verdict_table_and_plots_are_drawn(browser: Browser, pages: dict[str, Path], name: str) -> None:
    page = Page(browser, pages[name])
    verdict = _visible(page, "#overall-verdict")[0]["text"]
    cards = _visible(page, "#verdict .card")
    _visible(page, "#verdict .gauge .fill")
    if name != "misfit":
        assert verdict == "Fits every target (2)" and len(cards) == 2
    else:
        assert verdict == "Does not fit: blackpill-f401" and len(cards) == 1
        colour = page.eval("getComputedStyle(document.querySelector('.gauge.over .fill')).backgroundColor")
        assert colour == "rgb(185, 28, 28)"  # red when over
    _visible(page, "#layer-table tbody tr")
    figures = ["#plot-budget svg", "#plot-macs svg", "#plot-memory svg"]
    if name != "misfit":
        figures.append("#plot-sizes svg")
    if name == "emulated":
        figures.append("#plot-time svg")
    for selector in figures:
        box = _visible(page, selector)[0]
        assert box["w"] > 600 and box["h"] > 100, (selector, box)
        # Something is drawn inside: the glyph and bar paths matplotlib wrote.
        assert page.eval(f"document.querySelectorAll({json.dumps(selector + ' path')}).length") > 20


COLUMN = """
(col => Array.from(document.querySelectorAll('#layer-table tbody tr'))
  .map(tr => tr.cells[col].getAttribute('data-v') ?? tr.cells[col].textContent))
"""


def test_clicking_a_header_sorts_the_layer_table(browser: Browser, pages: dict[str, Path]) -> None:
    page = Page(browser, pages["example"])
    headers = page.eval("Array.from(document.querySelectorAll('#layer-table thead th')).map(th => th.textContent)")
    macs, op = headers.index("MACs"), headers.index("op")
    original = [int(v) for v in page.eval(f"{COLUMN}(0)")]
    assert original == sorted(original)

    page.click(f"#layer-table thead th:nth-child({macs + 1}) button")
    values = [int(v) for v in page.eval(f"{COLUMN}({macs})")]
    assert values == sorted(values, reverse=True) and values != [int(v) for v in original]  # biggest first
    assert page.eval(f"document.querySelectorAll('#layer-table thead th')[{macs}].getAttribute('aria-sort')") == (
        "descending"
    )

    page.click(f"#layer-table thead th:nth-child({macs + 1}) button")
    assert [int(v) for v in page.eval(f"{COLUMN}({macs})")] == sorted(values)

    page.click(f"#layer-table thead th:nth-child({op + 1}) button")
    names = page.eval(f"{COLUMN}({op})")
    assert names == sorted(names, key=str.lower)
    # The totals row stays at the foot whatever the order.
    assert page.eval("document.querySelector('#layer-table tfoot td').textContent") == "total"
    assert page.problems() == []
