"""Untrusted text -> text that is safe to show on a terminal.

Nothing read from a file, a server or the command line is trusted (docs/threat-model.md). Before
such a string reaches a terminal it is
- scrubbed of credentials (`zoo.secrets.scrub`),
- made visible: control characters (newline, ESC, CR, BEL, DEL, C1 controls, bidi overrides, line
  and paragraph separators, ...) become escapes like `\\n`, `\\x1b`, `\\u202e`, so a message stays one
  line and no escape sequence reaches the terminal,
- escaped for rich markup when it is put into a markup string (`[/x]` must not raise, `[link=...]`
  must not turn into a link).

`safe(value)` does all three (for f-strings given to rich); `plain(value)` the first two (click.echo,
JSON stays JSON). `zoo.cli._app.console()` applies the first two again to everything it renders,
and never lets a markup error escape, as a backstop for a call site that forgot `safe`.
Import-light: only `re` at module level (rich is imported only when markup is escaped).
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except TAB, DEL, C1 controls, and the format/separator characters that reorder or
# break lines on a terminal (bidi embeddings/overrides/isolates, LS/PS, zero-width no-break BOM)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROL_KEEP_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b", "\x00": "\\x00"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """Control characters as visible escapes (`\\n`, `\\x1b`, ...); TAB is kept."""
    pattern = _CONTROL_KEEP_NEWLINE if keep_newlines else _CONTROL
    return pattern.sub(_escape_char, text) if pattern.search(text) else text


def plain(value: Any) -> str:
    """str(value), scrubbed of credentials, control characters visible: one line for click.echo."""
    from zoo.secrets import scrub

    return visible(scrub(str(value)))


def escape_markup(text: str) -> str:
    """Escape rich markup (`[` that would start a tag, a trailing backslash that would escape ours)."""
    if "[" not in text and not text.endswith("\\"):
        return text
    from rich.markup import escape

    return escape(text)


def safe(value: Any) -> str:
    """`plain(value)` escaped for rich markup: interpolate untrusted values into rich f-strings with it."""
    return escape_markup(plain(value))
