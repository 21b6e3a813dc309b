"""`zoo site`: a static, dependency-free HTML browser of the collection under `cards/site/`.

`index.html` holds a sortable, filterable comparison table and the rendered collection card;
`variants/<name>.html` holds each variant's card with links to its parent and derived variants.
Plain relative links, one CSS and one JS file, no CDN and no fetch(): it works from file://.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from zoo._io import atomic_write_text, contained_path
from zoo.cards.data import VariantFacts, collection_facts
from zoo.cards.markdown import strip_front_matter, to_html
from zoo.cards.render import KIND_SHORT, fmt_cos, fmt_size, render_card, render_collection_card

if TYPE_CHECKING:
    from zoo.registry import Registry, Workspace

SITE_DIR = "site"
ASSETS = ("site.css", "site.js")
_CARD_LINK = re.compile(r"^(?:\.\./)?([A-Za-z0-9_.-]+)/README\.md$")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, *, depth: int) -> str:
    up = "../" * depth
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{up}assets/site.css">\n'
        f'<script src="{up}assets/site.js" defer></script>\n'
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


def _variant_rewriter(names: set[str], prefix: str) -> Callable[[str], str]:
    """Card links `../X/README.md` / `X/README.md` -> the site page of variant X."""

    def rewrite(url: str) -> str:
        m = _CARD_LINK.match(url)
        if m and m.group(1) in names:
            return f"{prefix}{m.group(1)}.html"
        return url

    return rewrite


def _row(f: VariantFacts) -> str:
    rec = f.record
    size = f.measured_size
    cos = None if f.status == "stale" else f.gate_cosine
    targets = " ".join(rec.targets) or "none"
    def claim(text: str | None, kind: str | None = None) -> str:
        shown = text if text and text.strip().lower() not in ("pending", "—") else None
        label = f" ({KIND_SHORT.get(kind, kind)})" if kind else ""  # what kind of number: file size, formula, ...
        return f'<span class="claim">claim {_esc(shown)}{_esc(label)}</span>' if shown else "—"

    cells = [
        (f'<a href="variants/{_esc(rec.name)}.html">{_esc(rec.name)}</a>', rec.name),
        (_esc(rec.family), rec.family),
        (_esc(f.format_label), f.format_label),
        (_esc(", ".join(rec.targets) or "—"), targets),
        (_esc(fmt_size(size)) if size is not None else claim(rec.claims.size_text, rec.claims.size_kind), str(size) if size is not None else ""),
        (_esc(fmt_cos(cos)) if cos is not None else claim(rec.claims.cosine_text, rec.claims.cosine_kind), f"{cos:.6f}" if cos is not None else ""),
        (_esc(f.status), f.status),
        (f'<a href="variants/{_esc(rec.parent)}.html">{_esc(rec.parent)}</a>' if rec.parent else "—", rec.parent or ""),
    ]
    tds = "".join(f'<td data-value="{_esc(v)}">{h}</td>' for h, v in cells)
    return (
        f'<tr data-name="{_esc(rec.name)}" data-family="{_esc(rec.family)}" data-format="{_esc(rec.format.kind)}" '
        f'data-targets="{_esc(targets)}" data-status="{_esc(f.status)}" '
        f'data-size="{size if size is not None else ""}" data-cosine="{f"{cos:.6f}" if cos is not None else ""}">'
        f"{tds}</tr>\n"
    )


def _select(name: str, label: str, values: list[str]) -> str:
    opts = "".join(f'<option value="{_esc(v)}">{_esc(v)}</option>' for v in values)
    return (
        f'<label>{_esc(label)} <select id="filter-{name}" data-filter="{name}">'
        f'<option value="">all</option>{opts}</select></label>\n'
    )


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


def _index(registry: Registry, facts: list[VariantFacts], collection_md: str) -> str:
    col = registry.collection
    families = sorted({f.record.family for f in facts})
    formats = sorted({f.record.format.kind for f in facts})
    targets = sorted({t for f in facts for t in f.record.targets} | ({"none"} if any(not f.record.targets for f in facts) else set()))
    statuses = sorted({f.status for f in facts})
    heads = "".join(
        f'<th data-key="{k}" data-type="{t}" aria-sort="none"><button type="button">{_esc(label)}</button></th>'
        for k, label, t in COLUMNS
    )
    rows = "".join(_row(f) for f in facts)
    card_html = to_html(strip_front_matter(collection_md), _variant_rewriter(set(registry.variants), "variants/"))
    body = (
        f'<header><h1>{_esc(col.name)}</h1><p class="sub">Hub repository <code>{_esc(col.hub_repo)}</code> · '
        f"{len(facts)} variants · generated by lewm-zoo</p></header>\n<main>\n"
        '<section id="compare"><h2>Compare variants</h2>\n<div class="filters">\n'
        '<label>Search <input id="filter-text" type="search" placeholder="name, format, …"></label>\n'
        + _select("family", "Family", families)
        + _select("format", "Format", formats)
        + _select("targets", "Target", targets)
        + _select("status", "Status", statuses)
        + '<label>Max size (MB) <input id="filter-max-size" type="number" min="0" step="0.1" data-max="size"></label>\n'
        + '<label>Min cosine <input id="filter-min-cosine" type="number" min="0" max="1" step="0.001" data-min="cosine">'
        + "</label>\n"
        + '<span id="count" aria-live="polite"></span>\n</div>\n'
        f'<table id="variants"><thead><tr>{heads}</tr></thead>\n<tbody>\n{rows}</tbody></table>\n'
        '<p class="note">Sizes and cosines are measured by the zoo; "claim" marks numbers from the original '
        "collection that the zoo has not measured. Click a column header to sort.</p>\n</section>\n"
        f'<article class="card">\n{card_html}</article>\n</main>\n'
    )
    return _page(col.name, body, depth=0)


def _variant_page(registry: Registry, f: VariantFacts, card_md: str) -> str:
    rec = f.record
    links = ['<a href="../index.html">← all variants</a>']
    if rec.parent:
        links.append(f'parent: <a class="parent" href="{_esc(rec.parent)}.html">{_esc(rec.parent)}</a>')
    links.extend(f'derived: <a class="child" href="{_esc(c)}.html">{_esc(c)}</a>' for c in f.children)
    nav = "<nav>" + " · ".join(links) + "</nav>\n"
    card_html = to_html(strip_front_matter(card_md), _variant_rewriter(set(registry.variants), ""))
    body = (
        f"<header><h1>{_esc(rec.name)}</h1>{nav}</header>\n<main>\n"
        f'<p class="badges"><span class="badge status-{_esc(f.status.replace(" ", "-"))}">{_esc(f.status)}</span> '
        f'<span class="badge">{_esc(rec.family)}</span> <span class="badge">{_esc(f.format_label)}</span></p>\n'
        f'<article class="card">\n{card_html}</article>\n</main>\n'
    )
    return _page(f"{rec.name} · {registry.collection.name}", body, depth=1)


def site_files(workspace: Workspace, registry: Registry) -> dict[str, str]:
    """Relative path under cards/site/ -> file text, for every file of the site."""
    facts = collection_facts(workspace, registry)
    files: dict[str, str] = {}
    for asset in ASSETS:
        files[f"assets/{asset}"] = resources.files("zoo.cards").joinpath("assets", asset).read_text(encoding="utf-8")
    files["index.html"] = _index(registry, facts, render_collection_card(workspace, registry))
    for f in facts:
        files[f"variants/{f.name}.html"] = _variant_page(registry, f, render_card(workspace, registry, f.name))
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
