"""`zoo site --serve`: the static site over loopback HTTP (stdlib ``http.server``).

Browsers refuse ``fetch()`` of ``file://`` URLs, so the in-page model runs (lewm.js loading
lewm.wasm and model.bin) need a server; the tables and plots work from ``file://`` too.
Bound to 127.0.0.1 only, serves ``.wasm`` as ``application/wasm`` (needed by
``WebAssembly.instantiateStreaming``) and ``.js``/``.mjs`` as JavaScript.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".bin": "application/octet-stream",
}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}  # noqa: RUF012

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the CLI prints the URL once

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def make_server(
    root: Path, port: int = 0, handler: type[SiteHandler] = SiteHandler
) -> http.server.ThreadingHTTPServer:
    """A loopback server for `root` (port 0: any free port; read it from ``server.server_port``)."""
    return http.server.ThreadingHTTPServer((HOST, port), functools.partial(handler, directory=str(root)))


@contextmanager
def serving(root: Path, port: int = 0, handler: type[SiteHandler] = SiteHandler) -> Iterator[str]:
    """Serve `root` in a background thread; yields the base URL (``http://127.0.0.1:PORT/``)."""
    server = make_server(root, port, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
