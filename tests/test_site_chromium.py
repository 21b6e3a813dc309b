"""End-to-end: open the static site from file:// in headless Chromium, sort and filter the
comparison table, follow links between variants and save screenshots under test-artifacts/.

Chromium is driven over the DevTools protocol on `--remote-debugging-pipe` (NUL-separated JSON
on fds 3/4), so no websocket or browser-automation package is needed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_cards_support import sample_workspace

from zoo.cards import render_site, write_cards

pytestmark = pytest.mark.chromium

# Debian's `chromium` first (scripts/setup-system.sh installs it); Ubuntu CI images ship Google Chrome,
# which speaks the same DevTools pipe. ZOO_CHROMIUM overrides.
CHROMIUM = (
    os.environ.get("ZOO_CHROMIUM")
    or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) if p),
        "/usr/bin/chromium",
    )
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


class PipeBrowser:
    """Minimal DevTools client over Chromium's debugging pipe (commands on fd 3, replies on fd 4)."""

    def __init__(self, profile: Path) -> None:
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()

        def wire_fds() -> None:  # runs in the child before exec
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
                "--remote-debugging-pipe", "--window-size=1280,900", "about:blank",
            ],
            preexec_fn=wire_fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(cmd_r)
        os.close(res_w)
        self._w, self._r = cmd_w, res_r
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise EOFError("chromium closed the debugging pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False,
             timeout: float = 20) -> dict[str, Any]:  # fmt: skip
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click_and_wait(self, selector: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.js(f"document.querySelector({json.dumps(selector)}).click()")
        self.wait_event("Page.loadEventFired")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, EOFError, OSError):
            self.send("Browser.close", browser=True, timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):  # the done-when needs this test to *pass* in CI, not skip
            pytest.fail(f"no Chromium at {CHROMIUM} in CI; run scripts/setup-system.sh or set ZOO_CHROMIUM")
        pytest.skip("chromium is not installed")
    b = PipeBrowser(tmp_path / "profile")
    try:
        b.open_page()
        yield b
    finally:
        b.close()


VISIBLE = "Array.from(document.querySelectorAll('#variants tbody tr:not(.hidden)')).map(r => r.dataset.name)"


def test_site_in_headless_chromium(tmp_path: Path, browser: PipeBrowser) -> None:
    ws, reg = sample_workspace(tmp_path / "ws")
    write_cards(ws, reg, None)
    index = render_site(ws, reg)
    browser.navigate(index.as_uri())
    assert browser.js("document.body.dataset.ready") == "1"
    assert browser.js("document.getElementById('count').textContent") == "5 of 5 variants"

    # sort by measured size: measured rows first, unmeasured always last
    browser.js("document.querySelector('th[data-key=size] button').click()")
    assert browser.js(VISIBLE)[:2] == ["slim_96d_4e_4p_full", "slim_96d_4e_4p"]
    assert browser.js("document.querySelector('th[data-key=size]').getAttribute('aria-sort')") == "ascending"
    browser.js("document.querySelector('th[data-key=size] button').click()")
    assert browser.js(VISIBLE)[:2] == ["slim_96d_4e_4p", "slim_96d_4e_4p_full"]
    browser.js("document.querySelector('th[data-key=name] button').click()")
    assert browser.js(VISIBLE) == sorted(reg.variants)

    # filter by family, then by free text, then by target
    browser.js("const s = document.getElementById('filter-family'); s.value = 'baseline';"
               "s.dispatchEvent(new Event('change'))")  # fmt: skip
    assert sorted(browser.js(VISIBLE)) == ["baseline_192d_6e_6p", "baseline_q4_pred", "baseline_wanda40_q4"]
    assert browser.js("document.getElementById('count').textContent") == "3 of 5 variants"
    browser.js("const t = document.getElementById('filter-text'); t.value = 'wanda';"
               "t.dispatchEvent(new Event('input'))")  # fmt: skip
    assert browser.js(VISIBLE) == ["baseline_wanda40_q4"]
    browser.js("document.getElementById('filter-text').value = ''; const f = document.getElementById('filter-family');"
               "f.value = ''; const g = document.getElementById('filter-targets'); g.value = 'esp32';"
               "g.dispatchEvent(new Event('change'))")  # fmt: skip
    assert browser.js(VISIBLE) == ["slim_96d_4e_4p_full"]
    browser.screenshot(ARTIFACTS / "site-index-filtered.png")
    # numeric filters on measured size and cosine
    browser.js("const g2 = document.getElementById('filter-targets'); g2.value = '';"
               "const m = document.getElementById('filter-max-size'); m.value = '20';"
               "m.dispatchEvent(new Event('input'))")  # fmt: skip
    assert browser.js(VISIBLE) == ["slim_96d_4e_4p_full"]
    browser.js("const m2 = document.getElementById('filter-max-size'); m2.value = '';"
               "const c = document.getElementById('filter-min-cosine'); c.value = '0.999';"
               "c.dispatchEvent(new Event('input'))")  # fmt: skip
    assert browser.js(VISIBLE) == ["slim_96d_4e_4p_full"]
    browser.js("const c2 = document.getElementById('filter-min-cosine'); c2.value = '0.9999';"
               "c2.dispatchEvent(new Event('input'))")  # fmt: skip
    assert browser.js(VISIBLE) == []
    browser.js("const c3 = document.getElementById('filter-min-cosine'); c3.value = '';"
               "c3.dispatchEvent(new Event('input'))")  # fmt: skip
    assert len(browser.js(VISIBLE)) == 5

    # follow the link to a derived variant, then to its parent through the lineage links
    browser.click_and_wait("tr[data-name=slim_96d_4e_4p_full] td a")
    assert browser.js("location.href").endswith("/variants/slim_96d_4e_4p_full.html")
    assert browser.js("document.querySelector('h1').textContent") == "slim_96d_4e_4p_full"
    assert "0.999100" in browser.js("document.querySelector('article.card').textContent")
    browser.screenshot(ARTIFACTS / "site-variant.png")
    browser.click_and_wait("nav a.parent")
    assert browser.js("location.href").endswith("/variants/slim_96d_4e_4p.html")
    assert browser.js("Array.from(document.querySelectorAll('nav a.child')).map(a => a.textContent)") == [
        "slim_96d_4e_4p_full"
    ]
    browser.click_and_wait("nav a[href='../index.html']")
    assert browser.js("document.querySelectorAll('#variants tbody tr').length") == 5

    # nothing but local files was requested and no script error happened
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith("file://") for u in urls), urls
    assert not [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    assert (ARTIFACTS / "site-variant.png").stat().st_size > 1000
