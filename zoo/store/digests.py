"""sha256 of workspace files, remembered across runs (as git's index remembers file stats).

`zoo list`, the cards and the publish gate check that the files `verify.json` was measured on are
unchanged, which meant hashing every artifact of every variant on each call (~270 MB for the demo,
2+ s). A digest is reused only while the file's (device, inode, size, mtime_ns, ctime_ns) are the ones
it was computed for; ctime cannot be set back by user code, so a rewritten file is always re-hashed.
Files changed less than `RACY_S` seconds before hashing are not remembered (a second write within the
filesystem's timestamp granularity could keep the same stamps). The table lives in the cache root
(`digests.json`), is merged on save and is only ever a cache: deleting it is harmless.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from zoo._io import atomic_write_json, read_json_file, sha256_file
from zoo.errors import InputError

FILE_NAME = "digests.json"
RACY_S = 2.0
MAX_ENTRIES = 20000


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _read_entries(path: Path) -> dict[str, list[Any]]:
    """The table's entries ({} when absent, unreadable, oversized, too deep or malformed: it is only a cache)."""
    try:
        data = read_json_file(path)
    except (OSError, InputError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


class DigestCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, list[Any]] | None = None
        self._new: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[Any]]:
        if self._entries is None:
            self._entries = _read_entries(self.path)
        return self._entries

    def sha256(self, path: str | os.PathLike[str]) -> str:
        """The file's sha256 (hashing it only when its stamps changed since it was last hashed)."""
        real = os.path.realpath(path)
        st = os.stat(real)
        stamp = _stamp(st)
        with self._lock:
            known = self._load().get(real)
        if isinstance(known, list) and len(known) == 6 and known[:5] == stamp and isinstance(known[5], str):
            return known[5]
        digest = sha256_file(real)
        if time.time() - max(st.st_mtime, st.st_ctime) > RACY_S and _stamp(os.stat(real)) == stamp:
            with self._lock:
                self._new[real] = [*stamp, digest]
                self._load()[real] = [*stamp, digest]
        return digest

    def save(self) -> None:
        """Merge what this process learned into the file (other processes may have written meanwhile)."""
        with self._lock:
            if not self._new:
                return
            new, self._new = self._new, {}
        merged = {k: v for k, v in _read_entries(self.path).items() if os.path.exists(k)}
        merged.update(new)
        if len(merged) > MAX_ENTRIES:
            merged = dict(list(merged.items())[-MAX_ENTRIES:])
        with contextlib.suppress(OSError):  # a read-only cache only costs speed
            atomic_write_json(self.path, {"schema_version": 1, "entries": merged})


_caches: dict[str, DigestCache] = {}
_caches_lock = threading.Lock()


def _save_all() -> None:
    for cache in list(_caches.values()):
        cache.save()


def cached_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file through the cache of the current cache root (ZOO_CACHE; saved at exit)."""
    from zoo.store.cache import default_cache_root

    root = str(default_cache_root())
    cache = _caches.get(root)
    if cache is None:
        with _caches_lock:
            if not _caches:
                atexit.register(_save_all)
            cache = _caches.setdefault(root, DigestCache(Path(root) / FILE_NAME))
    return cache.sha256(path)
