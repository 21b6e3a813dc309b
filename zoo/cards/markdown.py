"""A small, safe Markdown-to-HTML renderer for the subset the card templates emit.

Supported: ATX headings, paragraphs, pipe tables, fenced code blocks, `-` lists, block quotes,
inline code, **bold**, [links](url). Every piece of text is HTML-escaped; links are kept only for
relative targets, `#anchors` and http(s) URLs (never `javascript:` or `data:`). Raw HTML in the
input is shown as text, not interpreted.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")

LinkRewriter = Callable[[str], str]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _safe_url(url: str) -> str | None:
    """The URL when it is http(s), an anchor or scheme-less (relative); None otherwise."""
    url = url.strip()
    if url.startswith(("http://", "https://", "#")):
        return url
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return None if ":" in head or not url else url


def inline(text: str, rewrite: LinkRewriter | None = None) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        code, bold, label, url = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{inline(bold, rewrite)}</strong>")
        else:
            target = _safe_url(rewrite(url) if rewrite else url)
            if target is None:
                out.append(html.escape(m.group(0)))
            else:
                out.append(f'<a href="{html.escape(target, quote=True)}">{inline(label, rewrite)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    parts = re.split(r"(?<!\\)\|", row)
    return [p.strip().replace("\\|", "|") for p in parts]


def to_html(markdown: str, rewrite: LinkRewriter | None = None) -> str:
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para), rewrite)}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            lang = stripped[3:].strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            cls = f' class="language-{html.escape(slug(lang))}"' if lang else ""
            out.append(f"<pre><code{cls}>{html.escape(chr(10).join(body))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
            i += 1
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level = len(heading.group(1))
            text = heading.group(2)
            out.append(f'<h{level} id="{slug(text)}">{inline(text, rewrite)}</h{level}>')
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1].strip()):
            flush()
            head = _cells(stripped)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            th = "".join(f"<th>{inline(c, rewrite)}</th>" for c in head)
            body_rows = "".join(
                "<tr>" + "".join(f"<td>{inline(c, rewrite)}</td>" for c in r) + "</tr>" for r in rows
            )
            out.append(f"<table><thead><tr>{th}</tr></thead><tbody>{body_rows}</tbody></table>")
            continue
        if stripped.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(f"<li>{inline(lines[i].strip()[2:], rewrite)}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        if stripped.startswith(">"):
            flush()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].strip())
                i += 1
            out.append(f"<blockquote><p>{inline(' '.join(quote), rewrite)}</p></blockquote>")
            continue
        para.append(stripped)
        i += 1
    flush()
    return "\n".join(out) + "\n"


def strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5 :]
    return text
