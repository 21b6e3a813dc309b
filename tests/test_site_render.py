"""The static site without a browser: files, links, escaping, determinism, --check coverage."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

from test_cards_support import sample_workspace

from zoo.cards import check_cards, render_site, write_cards
from zoo.cards.site import site_files, to_html


def test_site_files_and_links(tmp_path: Path) -> None:
    ws, reg = sample_workspace(tmp_path)
    index = render_site(ws, reg)
    site = ws.cards_dir / "site"
    assert index == site / "index.html"
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == sorted(
        ["index.html", "assets/site.css", "assets/site.js", *(f"variants/{n}.html" for n in reg.variants)]
    )
    html = index.read_text(encoding="utf-8")
    assert 'href="variants/slim_96d_4e_4p_full.html"' in html
    assert html.count("<tr data-name=") == len(reg.variants)
    full = (site / "variants" / "slim_96d_4e_4p_full.html").read_text(encoding="utf-8")
    assert '<a class="parent" href="slim_96d_4e_4p.html">' in full
    assert '<a href="slim_96d_4e_4p.html">slim_96d_4e_4p</a>' in full  # card links rewritten to pages
    assert "README.md" not in full
    root = (site / "variants" / "slim_96d_4e_4p.html").read_text(encoding="utf-8")
    assert '<a class="child" href="slim_96d_4e_4p_full.html">' in root
    # every relative link points at a file of the site
    for page in site.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#]+)"', page.read_text(encoding="utf-8")):
            if not href.startswith(("http://", "https://")):
                assert (page.parent / href).resolve().is_file(), (page, href)


def test_site_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    ws, reg = sample_workspace(tmp_path)
    first = site_files(ws, reg)
    assert first == site_files(ws, reg)
    for text in first.values():
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text)
        assert "fetch(" not in text and "XMLHttpRequest" not in text  # the wasm panel imports lewm.js instead


def test_check_covers_the_site_when_present(tmp_path: Path) -> None:
    ws, reg = sample_workspace(tmp_path)
    write_cards(ws, reg, None)
    render_site(ws, reg)
    assert check_cards(ws, reg) == []
    page = ws.cards_dir / "site" / "variants" / "baseline_q4_pred.html"
    page.write_text("edited", encoding="utf-8")
    (ws.cards_dir / "site" / "variants" / "old.html").write_text("x", encoding="utf-8")
    assert check_cards(ws, reg) == ["cards/site/variants/baseline_q4_pred.html", "cards/site/variants/old.html"]
    render_site(ws, reg)  # rewrites the page and drops pages of unknown variants
    assert check_cards(ws, reg) == []


def test_registry_text_is_escaped(tmp_path: Path) -> None:
    ws, reg = sample_workspace(tmp_path)
    rec = reg.variants["baseline_q4_pred"]
    reg.variants["baseline_q4_pred"] = dataclasses.replace(
        rec, description='<img src=x onerror="alert(1)"> [x](javascript:alert(1)) **bold**'
    )
    page = site_files(ws, reg)["variants/baseline_q4_pred.html"]
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert 'href="javascript' not in page
    assert "<strong>bold</strong>" in page


def test_markdown_rendering_with_markdown_it() -> None:
    md = (
        "# Title\n\nSome `code` and **bold** and [a link](other.html).\n\n"
        "| a | b |\n|---|---|\n| 1 \\| 2 | `x` |\n\n"
        "```python\nprint('<hi>')\n```\n\n- one\n- two\n\n> quoted\n\n<b>raw</b>\n"
    )
    html = to_html(md)
    assert '<h1 id="title">Title</h1>' in html
    assert '<code>code</code>' in html and '<a href="other.html">a link</a>' in html
    assert re.search(r"<td>1 \| 2</td>\s*<td><code>x</code></td>", html)
    assert "<pre><code class=\"language-python\">print('&lt;hi&gt;')" in html
    assert re.search(r"<ul>\s*<li>one</li>\s*<li>two</li>\s*</ul>", html)
    assert re.search(r"<blockquote>\s*<p>quoted</p>\s*</blockquote>", html)
    assert "&lt;b&gt;raw&lt;/b&gt;" in html  # raw HTML is text
    for bad in ("[x](data:text/html,hi)", "[x](javascript:alert(1))", "[x](file:///etc/passwd)", "![i](data:image/png,x)"):
        assert "<a" not in to_html(bad) and "<img" not in to_html(bad), bad
    assert '<a href="https://example.org/x">' in to_html("[x](https://example.org/x)")
    assert '<img src="../plot.svg" alt="p"' in to_html("![p](plot.svg)", image_prefix="../")
    assert "<img" not in to_html("![p](plot.svg)", drop_images=frozenset({"plot.svg"}))


def test_site_serve_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from zoo.cli import main

    shutil.copy(Path(__file__).resolve().parents[1] / "registry.yaml", tmp_path / "registry.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(main, ["-C", str(tmp_path), "site", "--serve", "--port", str(port)])
    assert r.exit_code == 2, r.output
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in r.output and "Traceback" not in r.output


def test_serve_types_and_loopback(tmp_path: Path) -> None:
    import urllib.request

    from zoo.serve import serving

    (tmp_path / "m.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "a.js").write_text("export {};\n")
    with serving(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "m.wasm") as resp:
            assert resp.headers["Content-Type"] == "application/wasm"
        with urllib.request.urlopen(base + "a.js") as resp:
            assert resp.headers["Content-Type"].startswith("text/javascript")
