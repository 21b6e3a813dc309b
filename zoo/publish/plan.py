"""The publish plan: which files go where on the Hub, and what changed since the last publish.

Layout (DESIGN decision 7, the original collection's): one folder per variant in the collection
repository, and the collection card as the root README:

    README.md                               <- cards/README.md
    <name>/README.md                        <- cards/<name>/README.md (the variant card)
    <name>/config.json                      <- variants/<name>/config.json
    <name>/lejepa_weights.safetensors       (f32 variants)
    <name>/model.lq40                       (LQ40 variants)
    <name>/ternary.safetensors              (ternary variant)
    <name>/targets/<T>/...                  (build artifacts recorded in the manifest)
    <name>/verify.json, <name>/manifest.json

The uploaded manifest.json is the redacted form of the local one when it names local paths
(`file://` mirror URIs -> `file://.../<last segment>`, see `zoo.cards.redact`): those bytes are
what is digested, compared with the Hub and uploaded, so a re-publish still uploads nothing.

With per-variant repositories (`--per-variant-repos`) the variant folder becomes the root of the
repository `<hub_repo>-<name>` (e.g. `org/lewm` + `slim_96d` -> `org/lewm-slim_96d`) and there is no
collection README.

`plan()` is pure: it compares the local files with the remote listing it is given (the Hub's
`lfs.sha256` for LFS files, the git blob sha1 for regular files) and never talks to the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from zoo.errors import InputError
from zoo.registry.loader import Registry
from zoo.registry.workspace import Workspace

CARD_FILE = "README.md"
VERIFY_FILE = "verify.json"
MANIFEST_FILE = "manifest.json"
PROTECTED = frozenset({".gitattributes"})  # never deleted, even with --prune
Layout = Literal["collection", "per-variant"]
Action = Literal["add", "update", "unchanged"]
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class LocalDigest:
    size: int
    sha256: str
    git_sha1: str  # git blob id of the bytes: sha1(b"blob <len>\0" + data)


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """What the Hub reports for one path (`RepoFile`): size, git blob id, sha256 for LFS files."""

    path: str
    size: int
    blob_id: str | None
    lfs_sha256: str | None = None

    def matches(self, local: LocalDigest) -> bool:
        if self.lfs_sha256:
            return self.lfs_sha256 == local.sha256
        return self.blob_id == local.git_sha1


@dataclasses.dataclass(frozen=True)
class PlannedFile:
    path: str  # path inside the repository (posix)
    local: Path
    size: int
    sha256: str
    action: Action
    variant: str | None  # None for collection-level files (the root README)
    content: bytes | None = None  # the bytes to upload instead of `local`'s (a redacted manifest.json)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "action": self.action,
                "variant": self.variant}


@dataclasses.dataclass(frozen=True)
class Plan:
    """One repository's diff between the local workspace and the Hub."""

    repo_id: str
    variants: tuple[str, ...]
    files: tuple[PlannedFile, ...]  # every local file, sorted by path
    deletes: tuple[str, ...]  # remote paths to delete (only with prune)
    extra: tuple[str, ...]  # remote paths inside the published scope that are not local (kept without prune)
    head: str | None = None  # the remote head commit the plan was computed against (None: no repo yet)
    prune: bool = False

    @property
    def adds(self) -> list[PlannedFile]:
        return [f for f in self.files if f.action == "add"]

    @property
    def updates(self) -> list[PlannedFile]:
        return [f for f in self.files if f.action == "update"]

    @property
    def unchanged(self) -> list[PlannedFile]:
        return [f for f in self.files if f.action == "unchanged"]

    @property
    def uploads(self) -> list[PlannedFile]:
        return [f for f in self.files if f.action != "unchanged"]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.uploads)

    @property
    def changed(self) -> bool:
        return bool(self.uploads or self.deletes)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "head": self.head,
            "variants": list(self.variants),
            "adds": [f.to_json() for f in self.adds],
            "updates": [f.to_json() for f in self.updates],
            "deletes": list(self.deletes),
            "kept_remote_only": list(self.extra),
            "unchanged": len(self.unchanged),
            "bytes": self.bytes,
            "prune": self.prune,
        }


def file_digest(path: Path) -> LocalDigest:
    """sha256 and git blob sha1 in one streaming pass."""
    size = path.stat().st_size
    sha = hashlib.sha256()
    git = hashlib.sha1(b"blob %d\x00" % size)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            git.update(chunk)
    return LocalDigest(size, sha.hexdigest(), git.hexdigest())


def cached_file_digest(path: Path, cache: dict[Path, LocalDigest] | None) -> LocalDigest:
    """`file_digest` through `cache`: one command reads each file once (the publish gate's re-hash, then the plan)."""
    if cache is None:
        return file_digest(path)
    got = cache.get(path)
    if got is None:
        got = cache[path] = file_digest(path)
    return got


def bytes_digest(data: bytes) -> LocalDigest:
    return LocalDigest(len(data), hashlib.sha256(data).hexdigest(), git_blob_sha1(data))


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def remote_files_from_hub(entries: Iterable[Any]) -> dict[str, RemoteFile]:
    """`RepoFile` entries of `list_repo_tree` / `get_paths_info` -> {path: RemoteFile} (folders dropped)."""
    out: dict[str, RemoteFile] = {}
    for e in entries:
        if not hasattr(e, "blob_id"):  # RepoFolder
            continue
        lfs = getattr(e, "lfs", None)
        sha = getattr(lfs, "sha256", None) if lfs is not None else None
        out[e.path] = RemoteFile(e.path, int(getattr(e, "size", 0) or 0), e.blob_id, sha)
    return out


def variant_repo_id(hub_repo: str, name: str) -> str:
    """Per-variant repository naming: `<hub_repo>-<name>` (`org/lewm` + `tiny` -> `org/lewm-tiny`)."""
    return f"{hub_repo}-{name}"


def variant_files(workspace: Workspace, name: str) -> dict[str, Path]:
    """Files of one variant to publish: {path relative to the variant folder: local path}.

    Artifacts come from the variant's manifest (what the zoo built and recorded), the card from
    `cards/<name>/README.md`. Missing files are an InputError naming the file and the command that makes it.
    """
    from zoo._io import read_json_file
    from zoo.publish.gate import publishable_files, regular_file

    vdir = workspace.variant_dir(name)
    manifest_path = vdir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"{manifest_path}: missing", hint=f"build the variant first (`zoo verify {name}`)")
    manifest = read_json_file(manifest_path, hint="delete it and rebuild the variant")
    if not isinstance(manifest, dict):
        raise InputError(f"{manifest_path}: top level must be a JSON object", hint="delete it and rebuild the variant")
    # allow-listed kinds only, regular files only, inside the variant directory (zoo.publish.gate)
    files: dict[str, Path] = publishable_files(vdir, manifest_path, manifest)
    files[MANIFEST_FILE] = regular_file(vdir, MANIFEST_FILE, where=manifest_path)
    verify = vdir / VERIFY_FILE
    if os.path.lexists(verify):
        files[VERIFY_FILE] = regular_file(vdir, VERIFY_FILE, where=verify)
    card = workspace.cards_dir / name / CARD_FILE
    if not os.path.lexists(card):
        raise InputError(f"{card}: variant card missing", hint=f"render it with `zoo card {name}`")
    files[CARD_FILE] = regular_file(workspace.root, f"cards/{name}/{CARD_FILE}", where=card)
    return files


def local_layout(workspace: Workspace, names: Iterable[str], layout: Layout = "collection") -> dict[str, tuple[Path, str | None]]:
    """{path in repo: (local file, variant or None)} for the collection layout (or one variant's repo)."""
    names = list(names)
    out: dict[str, tuple[Path, str | None]] = {}
    if layout == "per-variant":
        if len(names) != 1:
            raise InputError("per-variant layout takes exactly one variant per repository")
        for rel, path in variant_files(workspace, names[0]).items():
            out[rel] = (path, names[0])
        return out
    for name in names:
        for rel, path in variant_files(workspace, name).items():
            out[f"{name}/{rel}"] = (path, name)
    root_card = workspace.cards_dir / CARD_FILE
    if not os.path.lexists(root_card):
        raise InputError(f"{root_card}: collection card missing", hint="render the cards with `zoo card --all`")
    from zoo.publish.gate import regular_file

    root_card = regular_file(workspace.root, f"cards/{CARD_FILE}", where=root_card)
    out[CARD_FILE] = (root_card, None)
    plot = workspace.cards_dir / "size-vs-cosine.svg"  # the collection card shows it (relative image link)
    if plot.is_file():
        out[plot.name] = (plot, None)
    return out


def plan(
    workspace: Workspace,
    registry: Registry | None,
    names: Iterable[str],
    remote_files: Mapping[str, RemoteFile],
    *,
    repo_id: str | None = None,
    head: str | None = None,
    prune: bool = False,
    layout: Layout = "collection",
    digests: dict[Path, LocalDigest] | None = None,
) -> Plan:
    """Compare the local layout of `names` with `remote_files`; deterministic (sorted by path).

    Deletions are limited to the published scope: files inside the published variants' folders and
    root files (collection layout), or the whole repository (per-variant layout), never `.gitattributes`.
    `digests` is an optional cache {local path: LocalDigest} shared between calls.
    """
    names = list(names)
    if repo_id is None:
        if registry is None:
            raise InputError("plan() needs a repo_id or a registry with collection.hub_repo")
        repo_id = registry.collection.hub_repo
    from zoo.cards.redact import redacted_json_bytes  # imports the cards package: only when planning

    cache = digests if digests is not None else {}
    planned: list[PlannedFile] = []
    for rpath, (local, variant) in sorted(local_layout(workspace, names, layout).items()):
        in_variant = rpath if layout == "per-variant" else rpath.partition("/")[2]
        content = redacted_json_bytes(local) if variant is not None and in_variant == MANIFEST_FILE else None
        digest = bytes_digest(content) if content is not None else cached_file_digest(local, cache)
        remote = remote_files.get(rpath)
        action: Action = "add" if remote is None else ("unchanged" if remote.matches(digest) else "update")
        planned.append(PlannedFile(rpath, local, digest.size, digest.sha256, action, variant, content))
    local_paths = {f.path for f in planned}
    scope = tuple(f"{n}/" for n in names)

    def in_scope(path: str) -> bool:
        if path in PROTECTED:
            return False
        if layout == "per-variant":
            return True
        return "/" not in path or path.startswith(scope)

    extra = tuple(sorted(p for p in remote_files if p not in local_paths and in_scope(p)))
    return Plan(repo_id, tuple(names), tuple(planned), extra if prune else (), () if prune else extra,
                head, prune)
