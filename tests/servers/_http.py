"""Shared plumbing for the loopback test servers: a bounded threaded HTTP server on 127.0.0.1.

Each server runs `http.server` in one daemon thread, listens on 127.0.0.1 with an OS-chosen port,
refuses bodies above `MAX_BODY`, logs every request, can fail chosen requests, and is stopped by
its fixture (`with Server() as srv:` or `srv.start()` / `srv.stop()`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 256 << 20  # bytes; the test artifacts are a few MB at most
SOCKET_TIMEOUT = 15.0  # seconds a client may stall before the handler gives up


@dataclasses.dataclass
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    operation: str | None = None  # GraphQL operation name (W&B) when known


@dataclasses.dataclass
class Fault:
    """Fail matching requests: `times` more times, with an HTTP status or a truncated body."""

    match: Callable[[str, str], bool]  # (method, path) -> bool
    times: int = 1
    status: int = 500
    truncate: bool = False  # send headers and half the body, then drop the connection
    message: str = "injected failure"


class Response(Exception):
    """Raised by route handlers to answer early (status + JSON or bytes)."""

    def __init__(self, status: int, body: Any = b"", headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class LoopbackServer:
    """Base class: subclasses implement `handle(req, handler) -> (status, body, headers)`."""

    def __init__(self) -> None:
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._count = 0
        self.echo_auth: int | None = None  # echo_authorization(): characters of the header to echo

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = SOCKET_TIMEOUT

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _serve

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ faults
    def fail(
        self,
        match: Callable[[str, str], bool] | str,
        *,
        times: int = 1,
        status: int = 500,
        truncate: bool = False,
        message: str = "injected failure",
    ) -> Fault:
        """Fail the next `times` requests whose path contains `match` (or for which it returns True)."""
        if isinstance(match, str):
            needle = match

            def match(method: str, path: str) -> bool:
                return needle in path

        fault = Fault(match, times, status, truncate, message)
        with self._lock:
            self.faults.append(fault)
        return fault

    def echo_authorization(self, limit: int = 1 << 12) -> None:
        """Like a careless server or proxy: every error answer (status >= 400) repeats the request's
        Authorization header (its first `limit` characters: an echo cut short) in its body and in
        `X-Error-Message`."""
        self.echo_auth = limit

    def _with_echo(self, req: LoggedRequest, status: int, payload: Any,
                   headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
        if self.echo_auth is None or status < 400:
            return payload, headers
        echo = f"you sent Authorization: {req.headers.get('authorization', '')}"[: 24 + self.echo_auth]
        if isinstance(payload, dict) and isinstance(payload.get("errors"), list) and payload["errors"]:
            first = dict(payload["errors"][0]) if isinstance(payload["errors"][0], dict) else {}
            first["message"] = f"{first.get('message', 'error')}; {echo}"
            payload = {**payload, "errors": [first, *payload["errors"][1:]]}
        elif isinstance(payload, dict):
            payload = {**payload, "error": f"{payload.get('error', 'error')}; {echo}"}
        elif isinstance(payload, bytes):
            payload = payload + f"\n{echo}".encode()
        headers = {**headers, "X-Error-Message": f"{headers.get('X-Error-Message', 'error')}; {echo}"}
        return payload, headers

    def fail_nth(self, n: int, *, status: int = 500) -> None:
        """Fail the n-th request from now (1-based) with `status`."""
        target = self._count + n

        def match(method: str, path: str) -> bool:
            return self._count == target

        self.fail(match, status=status)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match(method, path):
                    fault.times -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(h, 413, {"error": "body too large"}, {})
            return
        body = h.rfile.read(length) if length else b""
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(h)
        req = LoggedRequest(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self._count += 1
            self.requests.append(req)
        fault = self._take_fault(h.command, urlsplit(h.path).path)
        try:
            status, payload, headers = self.handle(req)
        except Response as resp:
            status, payload, headers = resp.status, resp.body, resp.headers
        if fault is not None and not fault.truncate:
            status, payload, headers = fault.status, {"error": fault.message}, {}
        payload, headers = self._with_echo(req, status, payload, headers)
        req.status = status
        if fault is not None and fault.truncate:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
            h.close_connection = True
            return
        self._send(h, status, payload, headers)

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, Iterator):  # a generator-backed body (e.g. "3 GB" that is never held in memory)
            _stream(h, status, payload, headers)
            return
        if isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if "Content-Length" not in headers:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def handle(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def paths(self, method: str | None = None) -> list[str]:
        """Logged request paths (optionally only one method), for assertions."""
        return [r.path for r in self.requests if method is None or r.method == method]


def _stream(h: BaseHTTPRequestHandler, status: int, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
    """Send `chunks` as they come (no Content-Length unless `headers` has one); stop when the client hangs up."""
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    if h.command == "HEAD":
        return
    with contextlib.suppress(OSError):
        for chunk in chunks:
            h.wfile.write(chunk)


def _read_chunked(h: BaseHTTPRequestHandler) -> bytes:
    out = bytearray()
    while True:
        size = int(h.rfile.readline().strip() or b"0", 16)
        if size == 0:
            h.rfile.readline()
            return bytes(out)
        if len(out) + size > MAX_BODY:
            raise Response(413, {"error": "body too large"})
        out += h.rfile.read(size)
        h.rfile.readline()


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`bytes=a-b` / `bytes=a-` -> (start, end_exclusive), or None when absent or unsatisfiable."""
    if not header or not header.startswith("bytes="):
        return None
    first = header[6:].split(",")[0]
    start_s, _, end_s = first.partition("-")
    try:
        start = int(start_s) if start_s else max(0, size - int(end_s))
        end = int(end_s) + 1 if end_s and start_s else size
    except ValueError:
        return None
    if start >= size or start < 0:
        return None
    return start, min(end, size)


def serve_bytes(req: LoggedRequest, data: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """200 with the whole body or 206 for a Range request (resume support)."""
    rng = parse_range(req.headers.get("range"), len(data))
    if rng is None:
        return 200, data, {"Accept-Ranges": "bytes", **headers}
    start, end = rng
    return 206, data[start:end], {
        "Accept-Ranges": "bytes",
        "Content-Range": f"bytes {start}-{end - 1}/{len(data)}",
        **headers,
    }
