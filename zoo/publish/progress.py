"""Upload progress for `zoo publish` (issue 17 item 7): bytes read by the Hub client while it uploads.

Each file to upload is handed to huggingface_hub as a file object that reports the bytes read through it
once counting is switched on (after the client has hashed it), so the bar follows the upload itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any


class CountingReader(io.BufferedIOBase):
    """A seekable read-only file that calls `on_bytes(n)` for every byte read while `counting` is on."""

    def __init__(self, source: Path | bytes, on_bytes: Callable[[int], None]) -> None:
        super().__init__()
        self._fh: Any = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
        self._on_bytes = on_bytes
        self.counting = False
        self.name = str(source) if not isinstance(source, bytes) else "<bytes>"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._fh.read(size)
        if self.counting and data:
            self._on_bytes(len(data))
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._fh.seek(offset, whence))

    def tell(self) -> int:
        return int(self._fh.tell())

    def close(self) -> None:
        self._fh.close()
        super().close()


class UploadProgress:
    """A rich bytes bar on stderr (quiet when disabled: --json or stderr not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        from zoo.cli._app import console

        self.enabled = enabled and console().is_terminal
        self._p: Any = None
        self._task: Any = None
        self._total = 0
        self._done = 0

    def __enter__(self) -> UploadProgress:
        if self.enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            from zoo.cli._app import console

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                               console=console(), transient=True)
            self._p.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def start(self, repo_id: str, total: int) -> None:
        self._total, self._done = total, 0
        if self._p is not None:
            self._task = self._p.add_task(f"upload {repo_id}", total=total)

    def advance(self, n: int) -> None:
        self._done = min(self._total, self._done + n)  # a retried part is read twice: never past the total
        if self._p is not None and self._task is not None:
            self._p.update(self._task, completed=self._done)
