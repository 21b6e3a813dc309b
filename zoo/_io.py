"""Small file helpers every stage uses: atomic writes and digests.

Writes go to a temporary file in the destination directory, are fsynced, then renamed,
so a crash never leaves a file that looks complete. The temporary file is created private (0600)
and gets the mode a plain `open()` would have given (0666 minus the umask, 0777 minus it for
executables) just before the rename, so a site served by nginx or a shared workspace stays readable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_CHUNK = 1 << 20


_UMASK: int | None = None
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read once. Linux reports it in /proc/self/status; elsewhere it can only be read
    by setting it, which is done once, under a lock, restoring it immediately."""
    global _UMASK
    if _UMASK is None:
        with _UMASK_LOCK:
            if _UMASK is None:
                _UMASK = _read_umask()
    return _UMASK


def _read_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(executable: bool = False) -> int:
    """The mode `open()` (or a compiler, for executables) would give a new file under the current umask."""
    return (0o777 if executable else 0o666) & ~current_umask()


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb", *, executable: bool = False) -> Iterator[IO[Any]]:
    """Open a temp file next to `path`; on success fsync, give it the umask's mode and rename it over `path`."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(dest.parent, f".{dest.name}.", ".part")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), file_mode(executable))
            else:  # pragma: no cover - Windows: no permission bits to speak of
                os.chmod(tmp, file_mode(executable))
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL
for _flag in ("O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):
    _TEMP_FLAGS |= getattr(os, _flag, 0)
del _flag


def _create_temp(directory: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """Like tempfile.mkstemp (new file, mode 0600, exclusive, random name) without importing tempfile
    (~3 ms of start-up that every CLI command writing a file paid)."""
    for _ in range(100):
        name = os.path.abspath(os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}"))
        try:
            return os.open(name, _TEMP_FLAGS, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no free temporary file name")  # pragma: no cover


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def contained_path(base: str | os.PathLike[str], rel: str | os.PathLike[str], *, what: str = "") -> Path:
    """`base / rel`, refusing anything that leaves `base` (issue 15: hostile workspaces).

    `rel` must be relative without `..`; every existing component is resolved (symlinks followed), and
    the result must still lie inside the resolved `base`: a symlink is written through only when it
    points back inside. Raises `InputError` naming the path and where it leads.
    """
    from zoo.errors import InputError

    root = Path(base)
    relp = Path(rel)
    if relp.is_absolute() or ".." in relp.parts:
        raise InputError(f"{root / relp}: path {str(rel)!r} is not relative to {root}{' (' + what + ')' if what else ''}",
                         hint="refusing to write outside the directory it belongs to")
    target = root / relp
    real_root = os.path.realpath(root)
    real = os.path.realpath(target)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InputError(
            f"{target}: resolves to {real}, outside {real_root}{' (' + what + ')' if what else ''}",
            hint="a symlink points out of the workspace; remove it (the zoo never writes through such links)",
        )
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, executable: bool = False) -> None:
    with atomic_writer(path, "wb", executable=executable) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, executable: bool = False) -> None:
    """Text files (cards, reports, JSON) never carry a credential: see zoo.secrets."""
    from zoo.secrets import scrub

    atomic_write_bytes(path, scrub(text).encode("utf-8"), executable=executable)


def dumps_json(obj: Any) -> str:
    """Deterministic, human-readable JSON (sorted keys, 2-space indent, trailing newline), credentials scrubbed."""
    from zoo.secrets import scrub

    return scrub(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_bytes(path, dumps_json(obj).encode("utf-8"))  # dumps_json has scrubbed it


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MAX_JSON_BYTES = 64 << 20  # manifests, verify.json, mirror manifests are a few KB
MAX_JSON_DEPTH = 64  # real documents nest < 10 levels; deeper ones are hostile (RecursionError later)


def json_depth(obj: Any) -> int:
    """Nesting depth of a parsed JSON value, iteratively (a deep document cannot overflow the stack here)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        cur, d = stack.pop()
        if isinstance(cur, dict):
            cur = list(cur.values())
        if isinstance(cur, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in cur if isinstance(v, dict | list))
    return deepest


def parse_json_bytes(raw: bytes | str, *, where: str, hint: str | None = None) -> Any:
    """json.loads that only raises `InputError` (one line naming `where`): bad UTF-8, bad JSON, too deep."""
    from zoo.errors import InputError

    try:
        obj = json.loads(raw)
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)", hint=hint) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text (byte {exc.start})", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                         hint=hint) from None
    if json_depth(obj) > MAX_JSON_DEPTH:
        raise InputError(f"{where}: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)", hint=hint)
    return obj


def read_json_file(path: str | os.PathLike[str], *, hint: str | None = None, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read and parse a JSON file with bounded size and depth; FileNotFoundError passes through."""
    from zoo.errors import InputError

    p = Path(path)
    with open(p, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise InputError(f"{p}: larger than the {max_bytes} byte limit for a JSON document", hint=hint)
    return parse_json_bytes(raw, where=str(p), hint=hint)
