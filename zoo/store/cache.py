"""The content-addressed cache: one read-only blob per sha256, hard-linked (or copied) into workspaces.

Layout under the cache root (`ZOO_CACHE`, else the platformdirs user cache dir `lewm-zoo`):

    CACHEDIR.TAG
    blobs/sha256/<aa>/<sha256>     complete, verified files (mode 0444)
    partial/<key>.part             downloads in progress (never look complete; resumed next time)
    locks/<key>.lock               one lock per download key
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._io import contained_path
from zoo.errors import InputError, UsageError

if TYPE_CHECKING:
    from zoo.registry import Registry, Workspace

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file marks lewm-zoo's cache; backup tools may skip it.\n"
LOCK_TIMEOUT = 1800.0  # seconds another pull of the same thing may hold the lock


def default_cache_root() -> Path:
    env = os.environ.get("ZOO_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lewm-zoo", appauthor=False))


def download_key(*parts: str) -> str:
    """A stable file-name-safe key for one (uri, version, file) download."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:32]


class Store:
    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    # ------------------------------------------------------------------ paths
    def _ensure(self) -> None:
        try:
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            (self.root / "partial").mkdir(exist_ok=True)
            (self.root / "locks").mkdir(exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cache {self.root}: cannot create ({exc.strerror})", hint="set ZOO_CACHE to a writable directory") from None
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            with contextlib.suppress(OSError):
                tag.write_text(_TAG, encoding="utf-8")

    def blob_path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise InputError(f"not a sha256 digest: {sha256!r}")
        # a symlinked blobs/ (or shard) leading out of the cache is refused: nothing is written or read elsewhere
        return contained_path(self.root, f"blobs/sha256/{sha256[:2]}/{sha256}", what="cache blob")

    def has(self, sha256: str) -> bool:
        return bool(_SHA256.match(sha256)) and self.blob_path(sha256).is_file()

    def partial_path(self, key: str) -> Path:
        self._ensure()
        return contained_path(self.root, f"partial/{key}.part", what="partial download")

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        from filelock import FileLock, Timeout  # here: `zoo list` reads the cache root without locking

        self._ensure()
        lock = FileLock(str(self.root / "locks" / f"{key}.lock"))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise UsageError(f"cache {self.root}: another zoo process holds {key}.lock",
                             hint="wait for it to finish") from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------------ put / install
    def ingest(self, part: Path, sha256: str) -> Path:
        """Move a verified partial file into the blob store (one copy per digest) and return the blob."""
        self._ensure()
        blob = self.blob_path(sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        if blob.is_file():
            part.unlink(missing_ok=True)
            return blob
        os.chmod(part, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(part, blob)
        return blob

    def install(self, sha256: str, dest: Path) -> None:
        """Make `dest` hold the blob's bytes (hard link when possible, else copy); atomic via rename."""
        blob = self.blob_path(sha256)
        if dest.exists() and _same_file(blob, dest):
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        os.unlink(tmp)
        try:
            try:
                os.link(blob, tmp)
            except OSError:  # other filesystem, or links unsupported: copy
                shutil.copyfile(blob, tmp)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One file of the cache: a blob (kind "blob", with its sha256) or an unfinished download ("partial")."""

    path: Path
    kind: str  # "blob" | "partial"
    size: int
    mtime: float  # when the blob entered the cache (a partial: when it was last written)
    links: int  # hard links besides the cache's own: workspaces using this blob
    sha256: str | None = None


def scan(root: Path) -> list[CacheEntry]:
    """Every blob and partial download under a cache root, sorted (an absent root is an empty cache)."""
    out: list[CacheEntry] = []
    blobs = root / "blobs" / "sha256"
    for path in sorted(blobs.glob("??/*")) if blobs.is_dir() else []:
        if not path.is_file() or not _SHA256.match(path.name):
            continue
        st = path.stat()
        out.append(CacheEntry(path, "blob", st.st_size, st.st_mtime, st.st_nlink - 1, path.name))
    partial = root / "partial"
    for path in sorted(partial.glob("*.part")) if partial.is_dir() else []:
        st = path.stat()
        out.append(CacheEntry(path, "partial", st.st_size, st.st_mtime, st.st_nlink - 1))
    return out


def verify_blob(entry: CacheEntry) -> bool:
    """Whether a blob's bytes still hash to its name."""
    from zoo._io import sha256_file

    return entry.sha256 is not None and sha256_file(entry.path) == entry.sha256


def remove(entry: CacheEntry) -> None:
    """Delete one cache file (blobs are read-only; workspaces keep their own hard links)."""
    with contextlib.suppress(FileNotFoundError):
        entry.path.unlink()
    if entry.kind == "blob":
        with contextlib.suppress(OSError):
            entry.path.parent.rmdir()  # only when empty


def partial_in_use(entry: CacheEntry) -> bool:
    """Whether another zoo process is downloading into this partial file (it holds the key's lock)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(entry.path.parent.parent / "locks" / f"{entry.path.stem}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def referenced_digests(workspace: Workspace, registry: Registry) -> dict[str, list[str]]:
    """sha256 -> variants that reference it: digests in registry.yaml's sources and in every
    variants/*/manifest.json of the workspace (the checkpoints pulls linked from the cache)."""
    from zoo.store.status import read_manifest

    refs: dict[str, list[str]] = {}

    def add(digest: Any, name: str) -> None:
        if isinstance(digest, str) and _SHA256.fullmatch(digest):
            names = refs.setdefault(digest, [])
            if name not in names:
                names.append(name)

    for rec in registry:
        for src in rec.provenance.sources if rec.provenance else ():
            add(src.sha256, rec.name)
    if workspace.variants_dir.is_dir():
        for vdir in sorted(p for p in workspace.variants_dir.iterdir() if p.is_dir()):
            manifest = read_manifest(vdir)
            for art in (manifest.get("artifacts") or {}).values():
                if isinstance(art, dict):
                    add(art.get("sha256"), vdir.name)
            source_raw = manifest.get("source")
            source: dict[str, Any] = source_raw if isinstance(source_raw, dict) else {}
            add(source.get("sha256"), vdir.name)
            for f in (source.get("files") or {}).values() if isinstance(source.get("files"), dict) else ():
                if isinstance(f, dict):
                    add(f.get("sha256"), vdir.name)
    return refs


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
