"""`zoo site`: a static HTML browser of the collection under `cards/site/` (jinja2 templates).

`index.html` holds a sortable, filterable comparison table, the size-versus-cosine plot and the
rendered collection card; `variants/<name>.html` holds each variant's card, its rollout-cosine
and benchmark plots, links to its parent and derived variants and, for a variant with a wasm
build, a panel that runs the model in the page. Plain relative links, one CSS and one JS file,
no CDN: tables and plots work from file://; the in-page run loads lewm.wasm and the model file
with fetch(), which browsers allow over http only (`zoo site --serve`).
Markdown cards are rendered with markdown-it-py (raw HTML disabled, only http(s), anchor and
relative links kept).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._io import atomic_write_text, contained_path
from zoo.cards.data import VariantFacts, collection_facts
from zoo.cards.plots import SIZE_COSINE_SVG, bench_svg, html_env, rollout_svg, size_cosine_svg
from zoo.cards.render import (
    BENCH_CLAIMS,
    BENCH_OPS,
    KIND_SHORT,
    fmt_cos,
    fmt_size,
    render_card,
    render_collection_card,
)

if TYPE_CHECKING:
    from zoo.registry import Registry, Workspace

SITE_DIR = "site"
ASSETS = ("site.css", "site.js")
_CARD_LINK = re.compile(r"^(?:\.\./)?([A-Za-z0-9_.-]+)/README\.md$")
LinkRewriter = Callable[[str], str]


# ----------------------------------------------------------------------------- Markdown


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def safe_url(url: str) -> bool:
    """http(s), #anchors and scheme-less (relative) URLs only: never javascript:, data:, file:."""
    url = url.strip()
    if url.startswith(("http://", "https://", "#")):
        return True
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return bool(url) and ":" not in head


def to_html(
    markdown: str, rewrite: LinkRewriter | None = None, image_prefix: str = "", drop_images: frozenset[str] = frozenset()
) -> str:
    """Markdown -> HTML with markdown-it-py (CommonMark + tables; raw HTML shown as text).
    Headings get slug ids; link targets go through `rewrite`; relative image sources get
    `image_prefix`; images whose source is in `drop_images` (plots the page inlines) are left out."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.validateLink = safe_url  # type: ignore[method-assign]

    def heading_ids(state: Any) -> None:
        toks = state.tokens
        for i, tok in enumerate(toks):
            if tok.type == "heading_open" and i + 1 < len(toks):
                tok.attrSet("id", slug(toks[i + 1].content))

    md.core.ruler.push("heading_ids", heading_ids)

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        href = str(tok.attrGet("href") or "")
        if rewrite is not None:
            href = rewrite(href)
        tok.attrSet("href", href if safe_url(href) else "#")
        return str(renderer.renderToken(tokens, idx, options, env))

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        src = str(tok.attrGet("src") or "")
        if src in drop_images:
            return ""
        if image_prefix and safe_url(src) and not src.startswith(("http://", "https://", "#", "/")):
            tok.attrSet("src", image_prefix + src)
        return str(renderer.image(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("image", image)
    return str(md.render(markdown))


def strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5 :]
    return text


def _variant_rewriter(names: set[str], prefix: str) -> LinkRewriter:
    """Card links `../X/README.md` / `X/README.md` -> the site page of variant X."""

    def rewrite(url: str) -> str:
        m = _CARD_LINK.match(url)
        if m and m.group(1) in names:
            return f"{prefix}{m.group(1)}.html"
        return url

    return rewrite


# ----------------------------------------------------------------------------- page data

COLUMNS = (
    ("name", "Model", "text"),
    ("family", "Family", "text"),
    ("format", "Format", "text"),
    ("target", "Target", "text"),
    ("size", "Size", "num"),
    ("cosine", "Cosine", "num"),
    ("status", "Status", "text"),
    ("parent", "Parent", "text"),
)


def _claim(text: str | None, kind: str | None = None) -> str | None:
    shown = text if text and text.strip().lower() not in ("pending", "—") else None
    label = f" ({KIND_SHORT.get(kind, kind)})" if kind else ""  # what kind of number: file size, formula, ...
    return f"{shown}{label}" if shown else None


def _row(f: VariantFacts) -> dict[str, Any]:
    rec = f.record
    size = f.measured_size
    cos = None if f.status == "stale" else f.gate_cosine
    return {
        "name": rec.name,
        "family": rec.family,
        "format": rec.format.kind,
        "format_label": f.format_label,
        "targets": " ".join(rec.targets) or "none",
        "targets_label": ", ".join(rec.targets) or "—",
        "size": size,
        "size_label": fmt_size(size) if size is not None else None,
        "size_claim": _claim(rec.claims.size_text, rec.claims.size_kind),
        "cosine": f"{cos:.6f}" if cos is not None else "",
        "cosine_label": fmt_cos(cos) if cos is not None else None,
        "cosine_claim": _claim(rec.claims.cosine_text, rec.claims.cosine_kind),
        "status": f.status,
        "parent": rec.parent,
    }


def _bench_bars(f: VariantFacts) -> list[tuple[str, float, str]]:
    bars: list[tuple[str, float, str]] = []
    claim = BENCH_CLAIMS.get(f.name)
    bench = f.bench or {}
    for i, (op, label) in enumerate(BENCH_OPS):
        med = bench.get(op, {}).get("median_ms") if isinstance(bench.get(op), dict) else None
        if isinstance(med, int | float):
            bars.append((f"{label}: numpy engine", float(med), "measured"))
        if claim is not None and isinstance(claim[i + 1], int | float):
            bars.append((f"{label}: claim (Apple Silicon)", float(claim[i + 1]), "claim"))
    rep = f.wasm_report or {}
    chrome = ((rep.get("platforms") or {}).get("chromium") or {}).get("ms") or {}
    claims = rep.get("claims") or {}
    for key in ("encode", "predict"):
        v = chrome.get(key)
        if isinstance(v, int | float):
            bars.append((f"{key}: wasm in Chromium", float(v), "measured"))
        c = claims.get(f"{key}_ms")
        if isinstance(c, int | float):
            bars.append((f"{key}: original browser claim", float(c), "claim"))
    return bars


def _wasm_panel(workspace: Workspace, f: VariantFacts, site_dir: Path) -> dict[str, Any] | None:
    if "wasm" not in f.targets:
        return None
    build = workspace.variant_dir(f.name) / "targets" / "wasm"
    rel = Path(os.path.relpath(build, site_dir / "variants")).as_posix()
    sizes = {Path(a.path).name: a.size for a in f.targets["wasm"]}
    rep = f.wasm_report or {}
    chrome = ((rep.get("platforms") or {}).get("chromium") or {}).get("ms") or {}
    return {
        "base": rel + "/",
        "wasm_size": fmt_size(sizes.get("lewm.wasm")),
        "model_size": fmt_size(sizes.get("model.bin")),
        "checked": {k: f"{chrome[k]:,.1f} ms" for k in ("encode", "predict", "rollout") if isinstance(chrome.get(k), int | float)},
    }


def _filters(facts: list[VariantFacts]) -> list[tuple[str, str, list[str]]]:
    targets = {t for f in facts for t in f.record.targets}
    if any(not f.record.targets for f in facts):
        targets.add("none")
    return [
        ("family", "Family", sorted({f.record.family for f in facts})),
        ("format", "Format", sorted({f.record.format.kind for f in facts})),
        ("targets", "Target", sorted(targets)),
        ("status", "Status", sorted({f.status for f in facts})),
    ]


def site_files(workspace: Workspace, registry: Registry) -> dict[str, str]:
    """Relative path under cards/site/ -> file text, for every file of the site."""
    facts = collection_facts(workspace, registry)
    env = html_env()
    names = set(registry.variants)
    site_dir = workspace.cards_dir / SITE_DIR
    files: dict[str, str] = {}
    for asset in ASSETS:
        files[f"assets/{asset}"] = resources.files("zoo.cards").joinpath("assets", asset).read_text(encoding="utf-8")
    col = registry.collection
    collection_md = strip_front_matter(render_collection_card(workspace, registry))
    files["index.html"] = env.get_template("site/index.html.j2").render(
        title=col.name,
        up="",
        collection=col,
        count=len(facts),
        columns=COLUMNS,
        rows=[_row(f) for f in facts],
        filters=_filters(facts),
        plot=size_cosine_svg(facts, link_prefix="variants/"),
        card_html=to_html(
            collection_md, _variant_rewriter(names, "variants/"), image_prefix="../", drop_images=frozenset({SIZE_COSINE_SVG})
        ),
    )
    for f in facts:
        rec = f.record
        card_md = strip_front_matter(render_card(workspace, registry, f.name))
        files[f"variants/{f.name}.html"] = env.get_template("site/variant.html.j2").render(
            title=f"{rec.name} · {col.name}",
            up="../",
            rec=rec,
            f=f,
            status_class=f.status.replace(" ", "-"),
            rollout_plot=rollout_svg(f),
            bench_plot=bench_svg(_bench_bars(f), "Timings: measured (blue) vs original claims (grey), log scale"),
            wasm=_wasm_panel(workspace, f, site_dir),
            card_html=to_html(card_md, _variant_rewriter(names, ""), image_prefix="../../"),
        )
    return dict(sorted(files.items()))


def render_site(workspace: Workspace, registry: Registry) -> Path:
    """Write cards/site/ (rendering everything first) and return the path of index.html."""
    site_dir = workspace.cards_dir / SITE_DIR
    files = site_files(workspace, registry)
    root = workspace.root
    checked = {contained_path(root, (site_dir / rel).relative_to(root), what="site page"): text
               for rel, text in files.items()}  # all checked before anything is written: no symlink escapes
    for path, text in checked.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
    # Pages of variants that left the registry would otherwise linger with dead links.
    pages = contained_path(root, (site_dir / "variants").relative_to(root), what="site pages")
    if pages.is_dir():
        for page in sorted(pages.glob("*.html")):
            if f"variants/{page.name}" not in files:
                page.unlink()
    return site_dir / "index.html"
