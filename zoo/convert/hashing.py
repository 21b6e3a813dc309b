"""sha256 of a whole file in a helper thread.

A light module (hashlib, threading, zoo.errors only): `zoo convert PATH` starts hashing the
checkpoint before it imports the converter, so the digest is ready by the time the output header
needs it. The converter uses the same class when the caller starts nothing.
"""

from __future__ import annotations

import hashlib
import os
import threading

from zoo.errors import CheckpointError

HASH_CHUNK = 4 << 20  # 1-16 MiB measured alike; small keeps the resident set low


class FileHasher:
    """Hashes `path` in a daemon thread from construction on (hashlib and reads release the GIL)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.h = hashlib.sha256()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            buf = bytearray(HASH_CHUNK)
            view = memoryview(buf)
            with open(self.path, "rb", buffering=0) as fh:
                while n := fh.readinto(buf):
                    self.h.update(view[:n])
        except BaseException as exc:  # reported by hexdigest()
            self.error = exc

    def hexdigest(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise CheckpointError(f"{self.path}: cannot hash: {self.error}") from None
        return self.h.hexdigest()
