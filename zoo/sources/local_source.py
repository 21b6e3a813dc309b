"""`file:///path/to/artifact-dir` or `file:mirror/artifact-dir`: a local mirror laid out like a W&B artifact.

The relative form is resolved against the workspace root, so a workspace that carries its mirror
(as `zoo demo` writes it) can be copied or moved. `file://mirror/x` names a *host* "mirror" and is refused.

The directory holds the files plus `manifest.json`:

    {"version": 1, "storagePolicy": "wandb-storage-policy-v1", "artifact": "<name>", "artifact_version": "v0",
     "run_id": "<optional>", "contents": {"<file>": {"digest": "<base64 md5>", "size": N, "sha256": "<hex>"}}}

`write_mirror_manifest(dir)` produces it for a directory of files (used by `zoo demo`).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from zoo._io import atomic_write_json, read_json_file
from zoo.errors import InputError
from zoo.registry.uris import file_uri_problem, is_relative_file_uri
from zoo.sources.base import (
    OversizeDownload,
    Progress,
    RemoteFile,
    Resolution,
    copy_capped,
    validate_remote_name,
)

MIRROR_MANIFEST = "manifest.json"


def file_uri_to_path(uri: str, base: str | os.PathLike[str] | None = None) -> Path:
    """The directory a file URI names; a relative `file:mirror/x` is resolved against `base` (the workspace)."""
    problem = file_uri_problem(uri)
    if problem is not None:
        raise InputError(problem[0], hint=problem[1])
    path = unquote(urlsplit(uri).path)
    if is_relative_file_uri(uri):
        if base is None:
            raise InputError(f"{uri}: a relative file: URI needs a workspace to resolve against",
                             hint="use it in a workspace's registry.yaml, or write file:///absolute/path")
        return Path(base) / path
    return Path(path)


def path_to_file_uri(path: str | os.PathLike[str]) -> str:
    return Path(path).resolve().as_uri()


def md5_b64_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode()


def write_mirror_manifest(directory: str | os.PathLike[str], *, artifact: str, version: str = "v0",
                          run_id: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe every regular file in `directory` (except the manifest) with md5, sha256 and size."""
    from zoo._io import sha256_file

    root = Path(directory)
    contents: dict[str, Any] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MIRROR_MANIFEST):
        rel = file.relative_to(root).as_posix()
        contents[rel] = {"digest": md5_b64_file(file), "sha256": sha256_file(file), "size": file.stat().st_size}
    doc: dict[str, Any] = {"version": 1, "storagePolicy": "wandb-storage-policy-v1", "artifact": artifact,
                           "artifact_version": version, "contents": contents}
    if run_id:
        doc["run_id"] = run_id
    if metadata:
        doc["metadata"] = metadata
    atomic_write_json(root / MIRROR_MANIFEST, doc)
    return doc


class LocalMirrorSource:
    kind = "file"

    def __init__(self, uri: str, base: str | os.PathLike[str] | None = None) -> None:
        self.uri = uri
        self.root = file_uri_to_path(uri, base)
        # key of downloads in the shared cache: where the bytes really are (two workspaces' file:mirror/x differ)
        self.cache_uri = self.root.resolve().as_uri() if is_relative_file_uri(uri) else uri

    def resolve(self) -> Resolution:
        mpath = self.root / MIRROR_MANIFEST
        if not self.root.is_dir():
            raise InputError(f"{self.uri}: mirror directory {self.root} does not exist",
                             hint="create it (e.g. `zoo demo`) or fix the registry source")
        try:
            doc = read_json_file(mpath, hint="regenerate the mirror manifest")  # bounded size and depth
        except FileNotFoundError:
            raise InputError(f"{mpath}: missing mirror manifest",
                             hint="a mirror directory needs manifest.json with contents{name: digest, size, sha256}") from None
        except OSError as exc:
            raise InputError(f"{mpath}: unreadable mirror manifest ({exc.strerror})") from None
        contents = doc.get("contents") if isinstance(doc, dict) else None
        if not isinstance(contents, dict):
            raise InputError(f"{mpath}: field 'contents' must be an object of files")
        files: dict[str, RemoteFile] = {}
        for name, entry in sorted(contents.items()):
            validate_remote_name(name, origin=str(mpath))
            if not isinstance(entry, dict):
                raise InputError(f"{mpath}: contents.{name!r} must be an object")
            size = entry.get("size")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise InputError(f"{mpath}: contents.{name!r}: size must be a non-negative integer, not {size!r:.40}")
            files[name] = RemoteFile(
                name=name,
                size=int(size) if isinstance(size, int) else None,
                md5_b64=entry.get("digest") if isinstance(entry.get("digest"), str) else None,
                sha256=entry.get("sha256") if isinstance(entry.get("sha256"), str) else None,
                url=(self.root / name).as_uri(),
            )
        return Resolution(uri=self.uri, kind=self.kind, version=_str_or_none(doc.get("artifact_version")),
                          files=files, run_id=_str_or_none(doc.get("run_id")),
                          extra={"artifact": str(doc.get("artifact", ""))})

    def download(self, resolution: Resolution, name: str, part: Path, progress: Progress | None = None) -> None:
        src = self.root / name
        real_root = self.root.resolve()
        real = src.resolve()
        if real_root not in real.parents:
            raise InputError(f"{self.uri}: {name} links outside the mirror ({real})",
                             hint="mirror files must live inside the mirror directory")
        if not real.is_file():
            raise InputError(f"{self.uri}: {name} is listed in the manifest but missing from {self.root}")
        total = real.stat().st_size
        rf = resolution.files.get(name)
        limit = rf.size if rf is not None else None
        origin = f"{self.uri} {name}"
        if limit is not None and total > limit:  # refused before a byte is copied
            part.unlink(missing_ok=True)
            raise OversizeDownload(origin, limit, by="declared by the mirror manifest")
        with open(real, "rb") as fin:  # the file may still grow while we copy: copy_capped stops at the limit
            copy_capped(fin, part, origin=origin, limit=limit, by="declared by the mirror manifest",
                        progress=progress, total=total)


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) and v else None
