"""The rich console every command prints through, hardened against untrusted text.

Call sites put untrusted values into markup with `zoo.text.safe(...)`. This console is the backstop
for anything that slipped through, whatever stream it writes to:
- every string it renders (print arguments, table cells, titles) is scrubbed of credentials and has
  its control characters made visible (newlines are kept: call sites decide about line breaks);
- a string whose markup does not parse (`[/x]`) is shown as plain text instead of raising MarkupError;
- every text segment it emits (also from `Text` objects built directly) has ESC and the other
  control characters made visible, so no escape sequence from data reaches the terminal;
- emoji codes (`:smile:`) are not expanded.
Imported only when a command prints with rich (rich costs start-up time).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.errors import MarkupError
from rich.segment import Segment
from rich.text import Text

from zoo.secrets import scrub
from zoo.text import visible


class SafeConsole(Console):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        text = visible(scrub(text), keep_newlines=True)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            kwargs["markup"] = False
            return super().render_str(text, **kwargs)

    _rendering = False

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        # rich renders nested renderables through this same method; every segment leaves through the
        # outermost call, so only that one looks at the text (a table of 10,000 rows: ~60,000 nested calls)
        if self._rendering:
            yield from super().render(renderable, options)
            return
        self._rendering = True
        try:
            for segment in super().render(renderable, options):
                if segment.control is None and segment.text:
                    clean = scrub(visible(segment.text, keep_newlines=True))
                    if clean != segment.text:
                        segment = Segment(clean, segment.style, None)
                yield segment
        finally:
            self._rendering = False
