"""End-to-end: open the static site from file:// in headless Chromium, sort and filter the
comparison table, follow links between variants and save screenshots under test-artifacts/.

Driven by Playwright's Python API with the system Chromium (`executable_path`; Playwright's own
browser download is never used), so the test runs wherever scripts/setup-system.sh ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cards_support import sample_workspace

from zoo.cards import render_site, write_cards

pytestmark = pytest.mark.chromium

# Debian's `chromium` first (scripts/setup-system.sh installs it); Ubuntu CI images ship Google Chrome.
# ZOO_CHROMIUM overrides.
CHROMIUM = (
    os.environ.get("ZOO_CHROMIUM")
    or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) if p),
        "/usr/bin/chromium",
    )
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


class Browser:
    """A Playwright page on the system Chromium, with the few helpers the site tests use."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def navigate(self, url: str) -> None:
        self.page.goto(url)

    def js(self, expression: str) -> Any:
        # Playwright evaluates a function body or an expression; statements need a function
        if ";" in expression:
            return self.page.evaluate(f"() => {{ {expression} }}")
        return self.page.evaluate(expression)

    def click_and_wait(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)


def chromium_or_skip() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):  # the done-when needs this test to *pass* in CI, not skip
            pytest.fail(f"no Chromium at {CHROMIUM} in CI; run scripts/setup-system.sh or set ZOO_CHROMIUM")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.fixture
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = chromium_or_skip()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = b.new_page(viewport={"width": 1280, "height": 900})
            yield Browser(page)
        finally:
            b.close()


VISIBLE = "Array.from(document.querySelectorAll('#variants tbody tr:not(.hidden)')).map(r => r.dataset.name)"


def test_site_in_headless_chromium(tmp_path: Path, browser: Browser) -> None:
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
    assert browser.requests and all(u.startswith("file://") for u in browser.requests), browser.requests
    assert not browser.errors
    assert (ARTIFACTS / "site-variant.png").stat().st_size > 1000
