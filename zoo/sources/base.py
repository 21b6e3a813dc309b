"""What every source shares: URI parsing, remote file records, name validation, offline flags, HTTP GET.

A source turns a URI into a `Resolution` (the concrete version it points at plus the files with the
digests the service claims) and copies one file's bytes into a local partial file. It never decides
whether bytes are good: the store checks every digest it knows (the W&B client does not).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from zoo.errors import InputError, RemoteError, VerificationError

Progress = Callable[[int, int | None], None]  # (bytes done, total or None)

SCHEMES = ("wandb", "hf", "file")


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file as the service describes it (digests the service claims; any may be missing)."""

    name: str
    size: int | None = None
    md5_b64: str | None = None  # W&B manifests carry base64 md5
    sha256: str | None = None  # HF LFS files and local mirrors carry sha256
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class Resolution:
    """The concrete thing a (possibly moving) URI pointed at when we asked."""

    uri: str
    kind: str  # "wandb" | "hf" | "file"
    version: str | None  # W&B "v3", HF commit sha, mirror manifest version
    files: dict[str, RemoteFile]
    run_id: str | None = None
    aliases: tuple[str, ...] = ()
    extra: dict[str, str] = dataclasses.field(default_factory=dict)


class Source(Protocol):
    uri: str
    kind: str

    def resolve(self) -> Resolution: ...

    def download(self, resolution: Resolution, name: str, part: Path, progress: Progress | None = None) -> None:
        """Write the bytes of `name` to `part` (resuming if `part` already holds a prefix)."""
        ...


def validate_remote_name(name: str, *, origin: str) -> str:
    """Reject names from a remote manifest that could escape the directory we write into."""
    bad = (
        not name
        or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name)  # NUL, newlines, escape sequences
        or "\\" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(part in ("..", "") for part in name.split("/"))
    )
    if bad or posixpath.normpath(name) != name:
        raise InputError(
            f"{origin}: unsafe file name {name!r} in the remote manifest",
            hint="names must be relative, without '..', backslashes or empty parts; refusing to write it",
        )
    return name


class OversizeDownload(VerificationError):
    """More bytes arrived than the size declared for them (manifest, registry or Content-Length).

    A digest failure like any other (exit 1): the copy stops at once and the partial file is deleted, so a
    hostile or broken server can never fill the disk.
    """

    def __init__(self, origin: str, declared: int, *, by: str) -> None:
        super().__init__(
            f"{origin}: digest mismatch, download rejected (size expected {declared} ({by}), got more)",
            hint="the source serves more bytes than it declares; nothing was kept (cache and workspace untouched)",
        )


def copy_capped(fin: Any, part: Path, *, origin: str, limit: int | None, by: str, mode: str = "wb",
                start: int = 0, progress: Progress | None = None, total: int | None = None,
                chunks: Iterable[bytes] | None = None) -> int:
    """Write `chunks` (or `fin.read` blocks) to `part`, never past `limit` bytes in total.

    Returns the final length. Past the limit: stops before writing the chunk that crosses it, deletes
    `part` and raises `OversizeDownload`.
    """
    done = start
    source: Iterable[bytes] = chunks if chunks is not None else iter(lambda: fin.read(1 << 22), b"")
    try:
        with open(part, mode) as fh:
            for chunk in source:
                if limit is not None and done + len(chunk) > limit:
                    raise OversizeDownload(origin, limit, by=by)
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            fh.flush()
            os.fsync(fh.fileno())
    except OversizeDownload:
        part.unlink(missing_ok=True)
        raise
    return done


def env_offline(kind: str) -> bool:
    """Whether the environment forbids network access for this kind of source.

    `ZOO_OFFLINE` covers every network source; `HF_HUB_OFFLINE` and `WANDB_MODE=offline` their own.
    """
    if kind in ("hf", "wandb") and os.environ.get("ZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    if kind == "hf":
        return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if kind == "wandb":
        return os.environ.get("WANDB_MODE", "").strip().lower() in ("offline", "dryrun", "disabled")
    return False


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def http_download(
    url: str,
    part: Path,
    *,
    origin: str,
    expected_size: int | None = None,
    progress: Progress | None = None,
    headers: dict[str, str] | None = None,
    retries: int | None = None,
) -> None:
    """GET `url` into `part`, resuming from its current length with a Range request.

    Retries a few times with a short backoff (`ZOO_HTTP_RETRIES`, default 2); a server that ignores
    Range restarts the file. Anything still failing becomes a `RemoteError` (exit 3) that keeps the
    partial bytes for the next pull.
    """
    import requests

    timeout = env_float("ZOO_HTTP_TIMEOUT", 30.0)
    attempts = 1 + (int(env_float("ZOO_HTTP_RETRIES", 2)) if retries is None else retries)
    last: str = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.25 * 2**attempt, 4.0))
        have = part.stat().st_size if part.exists() else 0
        if expected_size is not None and have > expected_size:
            part.unlink()
            have = 0
        if expected_size is not None and have == expected_size and have > 0:
            return
        req_headers = dict(headers or {})
        if have:
            req_headers["Range"] = f"bytes={have}-"
        try:
            with requests.get(url, headers=req_headers, stream=True, timeout=timeout) as resp:
                if resp.status_code == 416 and have:  # nothing left or stale partial: restart
                    part.unlink()
                    last = "416 range not satisfiable"
                    continue
                if resp.status_code >= 400:
                    last = f"HTTP {resp.status_code}: {_service_message(resp)}"
                    if resp.status_code < 500 and resp.status_code not in (408, 429):
                        break
                    continue
                mode = "ab" if (have and resp.status_code == 206) else "wb"
                start = have if mode == "ab" else 0
                announced = _content_length(resp, start)
                if expected_size is not None and announced is not None and announced > expected_size:
                    part.unlink(missing_ok=True)
                    raise OversizeDownload(origin, expected_size, by="declared by the manifest")
                # the manifest's size caps the body (a short answer is retried below); without one, the
                # Content-Length does (http.client also stops reading there)
                limit, by = ((expected_size, "declared by the manifest") if expected_size is not None
                             else (announced, "Content-Length"))
                done = copy_capped(None, part, origin=origin, limit=limit, by=by, mode=mode, start=start,
                                   progress=progress, total=expected_size,
                                   chunks=resp.iter_content(chunk_size=1 << 16))
                if expected_size is not None and done != expected_size:
                    last = f"transfer ended after {done} of {expected_size} bytes"
                    continue
                return
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {_short(exc)}"
    raise RemoteError(
        f"{origin}: download failed ({last})",
        hint="the partial download is kept; run the same pull again to resume",
    )


def _content_length(resp: Any, start: int) -> int | None:
    """The total file length the response's Content-Length implies (None when absent or encoded)."""
    headers = getattr(resp, "headers", {}) or {}
    if headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None  # requests decodes gzip: the length on the wire is not the length written
    try:
        n = int(headers.get("Content-Length", ""))
    except ValueError:
        return None
    return start + n if n >= 0 else None


def _service_message(resp: object) -> str:
    text = getattr(resp, "text", "") or ""
    try:
        import json

        data = json.loads(text)
        if isinstance(data, dict):
            for key in ("error", "message", "detail"):
                if isinstance(data.get(key), str):
                    return str(data[key])
            errs = data.get("errors")
            if isinstance(errs, list) and errs and isinstance(errs[0], dict):
                return str(errs[0].get("message", errs[0]))
    except (ValueError, RecursionError):  # not JSON, or a hostile deeply nested body
        pass
    return _short(text) or getattr(resp, "reason", "") or "no message"


def _short(obj: object, limit: int = 200) -> str:
    text = " ".join(str(obj).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
