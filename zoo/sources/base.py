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
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from zoo.errors import InputError, RemoteError

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
        or "\x00" in name
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
                done = have if mode == "ab" else 0
                total = expected_size
                with open(part, mode) as fh:
                    for chunk in resp.iter_content(chunk_size=1 << 16):
                        fh.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                    fh.flush()
                    os.fsync(fh.fileno())
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
    except ValueError:
        pass
    return _short(text) or getattr(resp, "reason", "") or "no message"


def _short(obj: object, limit: int = 200) -> str:
    text = " ".join(str(obj).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
