"""`registry.lock`: what every source of the registry resolved to, pinned for reproducible releases.

registry.yaml says what we *mean* (`wandb://.../name:latest`, `hf://org/repo@main/file`): it is written
by hand and reviewed for intent. The lock says what that meant when `zoo lock` ran: the W&B version
(`v3`) and the file's size and md5 from the artifact manifest, the Hub commit sha and the file's LFS
sha256, a mirror file's sha256. It is a separate machine-written file (as package managers do), so
`zoo lock` never rewrites registry.yaml's comments and layout, and a lock update is its own small,
reviewable diff. Deterministic: sorted keys, indent 2, no timestamps.

`zoo pull --locked` (or `ZOO_LOCKED=1`, what the release workflow sets) resolves each source as usual
and refuses drift (another version or other digests) with one line naming the variant, the pinned and
the found version. `zoo lock --check` exits 1 when the lock no longer matches the registry or the sources.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo import __version__
from zoo._io import atomic_write_text, dumps_json
from zoo.errors import InputError, UsageError, VerificationError

LOCK_FILE = "registry.lock"
SCHEMA_VERSION = 1
_PINNED_FIELDS = ("version", "size", "md5", "sha256")

# the lock a pull in progress must match (set by `use_lock`; None: pulls are not locked)
_ACTIVE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("zoo_lock", default=None)


def lock_path(workspace: Any) -> Path:
    return Path(workspace.root) / LOCK_FILE


def locked_from_env() -> bool:
    return os.environ.get("ZOO_LOCKED", "").strip().lower() in ("1", "true", "yes", "on")


def _roots(registry: Any) -> list[Any]:
    return [r for r in registry.variants.values()
            if r.parent is None and r.provenance is not None and r.provenance.sources]


def optional(registry: Any, root: Any) -> bool:
    """A root whose own and every descendant's verification is pending: its source may be unreachable."""
    family = [root, *[r for r in registry.variants.values() if r.parent and registry.f32_root(r).name == root.name]]
    return all(r.verification.status == "pending" for r in family)


def resolve_entry(spec: Any, pulled: dict[str, Any] | None = None, base: Path | None = None) -> dict[str, Any]:
    """Resolve one registry source now: {uri, file, kind, version, size, md5, sha256}.

    W&B serves no sha256; when `pulled` (the variant's manifest source) holds these very bytes
    (same URI, version and md5), its sha256 is pinned too, so locked pulls can use the store.
    """
    from zoo.sources import open_source
    from zoo.store.pull import _pick_file

    res = open_source(spec.uri, file=spec.file, base=base).resolve()  # base: workspace-relative file: URIs
    name = _pick_file(spec, res.files, spec.uri)
    rf = res.files[name]
    sha = rf.sha256 or spec.sha256
    if sha is None and pulled and pulled.get("served_by") == spec.uri and pulled.get("file") == name and (
            pulled.get("resolved_version") == res.version and rf.md5_b64 and pulled.get("md5") == rf.md5_b64):
        sha = pulled.get("sha256")
    return {"uri": spec.uri, "file": name, "kind": res.kind, "version": res.version, "size": rf.size,
            "md5": rf.md5_b64, "sha256": sha.lower() if isinstance(sha, str) else None}


def _pulled_source(workspace: Any, name: str) -> dict[str, Any] | None:
    if workspace is None:
        return None
    from zoo.errors import ZooError
    from zoo.store.status import read_manifest

    try:
        src = read_manifest(Path(workspace.variant_dir(name))).get("source")
    except ZooError:  # a variant directory leading out of the workspace
        return None
    return src if isinstance(src, dict) else None


def build_lock(registry: Any, workspace: Any = None) -> dict[str, Any]:
    """Resolve every source of every f32 root (network for wandb:// and hf://)."""
    from zoo.errors import RemoteError

    variants: dict[str, Any] = {}
    base = Path(workspace.root) if workspace is not None else Path(registry.path).parent
    for rec in _roots(registry):
        entries = []
        pulled = _pulled_source(workspace, rec.name)
        for spec in rec.provenance.sources:
            try:
                entries.append(resolve_entry(spec, pulled, base))
            except RemoteError:
                if not optional(registry, rec):
                    raise
                # a pending-only root whose source is unreachable is pinned as such, not fatal (issue 17)
                entries.append({"uri": spec.uri, "file": spec.file, "unreachable": True})
        variants[rec.name] = {"sources": entries}
    return {"schema_version": SCHEMA_VERSION, "generated_by": f"lewm-zoo {__version__}",
            "variants": dict(sorted(variants.items()))}


def read_lock(path: Path) -> dict[str, Any]:
    from zoo._io import read_json_file

    try:
        data = read_json_file(path, hint="regenerate it with `zoo lock`")  # bounded size and depth
    except FileNotFoundError:
        raise UsageError(f"{path}: no lock file", hint="create it with `zoo lock`") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})", hint="regenerate it with `zoo lock`") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or not isinstance(
            data.get("variants"), dict):
        raise InputError(f"{path}: field 'schema_version' or 'variants' is wrong", hint="regenerate it with `zoo lock`")
    return data


def write_lock(workspace: Any, registry: Any) -> tuple[Path, bool]:
    """Write registry.lock; (path, changed). An unchanged lock is not rewritten."""
    path = lock_path(workspace)
    text = dumps_json(build_lock(registry, workspace))  # sorted keys, indent 2, trailing newline
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path, False
    atomic_write_text(path, text)
    return path, True


def check_lock(workspace: Any, registry: Any) -> list[str]:
    """Differences between registry.lock and what the sources resolve to now (empty: up to date)."""
    path = lock_path(workspace)
    old = read_lock(path)
    new = build_lock(registry, workspace)
    problems: list[str] = []
    old_v, new_v = old["variants"], new["variants"]
    for name in sorted(set(old_v) | set(new_v)):
        if name not in new_v:
            problems.append(f"{name}: locked but no longer a registry root with sources")
            continue
        if name not in old_v:
            problems.append(f"{name}: not in {LOCK_FILE}")
            continue
        olds = {str(s.get("uri")): s for s in old_v[name].get("sources", []) if isinstance(s, dict)}
        for s in new_v[name]["sources"]:
            pinned = olds.get(s["uri"])
            if pinned is None:
                problems.append(f"{name}: source {s['uri']} is not locked")
                continue
            diff = drift(pinned, s)
            if diff:
                problems.append(f"{name}: {s['uri']} moved: {diff}")
        for uri in sorted(set(olds) - {s["uri"] for s in new_v[name]["sources"]}):
            problems.append(f"{name}: locked source {uri} is no longer in the registry")
    return problems


def drift(pinned: dict[str, Any], found: dict[str, Any]) -> str | None:
    """'pinned version v2, found v3 (md5 ...)' when a resolution differs from its lock entry."""
    # a field counts when both sides know it (W&B serves no sha256; a fresh workspace cannot add it)
    changed = [k for k in ("file", *_PINNED_FIELDS)
               if pinned.get(k) is not None and found.get(k) is not None and pinned.get(k) != found.get(k)]
    if not changed:
        return None
    detail = ", ".join(f"{k} {pinned.get(k)} -> {found.get(k)}" for k in changed if k != "version")
    text = f"pinned version {pinned.get('version')}, found {found.get('version')}"
    return text + (f" ({detail})" if detail else "")


# ------------------------------------------------------------------------------------- pull --locked
@contextlib.contextmanager
def use_lock(workspace: Any) -> Iterator[None]:
    """Pulls inside this block must match registry.lock."""
    token = _ACTIVE.set(read_lock(lock_path(workspace)))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class LockedSource:
    """A source whose resolution must match the lock entry of (variant, uri)."""

    def __init__(self, inner: Any, variant: str, spec: Any, pinned: dict[str, Any]) -> None:
        self._inner, self._variant, self._spec, self._pinned = inner, variant, spec, pinned
        self.uri, self.kind = inner.uri, inner.kind
        self.cache_uri = getattr(inner, "cache_uri", None)  # the download key of a relative file: mirror

    def resolve(self) -> Any:
        from zoo.store.pull import _pick_file

        res = self._inner.resolve()
        name = _pick_file(self._spec, res.files, self._spec.uri)
        rf = res.files[name]
        found = {"file": name, "version": res.version, "size": rf.size, "md5": rf.md5_b64,
                 "sha256": rf.sha256.lower() if isinstance(rf.sha256, str) else None}
        diff = drift(self._pinned, found)
        if diff:
            raise VerificationError(
                f"{self._variant}: {self._spec.uri} drifted from {LOCK_FILE}: {diff}",
                hint="review the new version, then `zoo lock` to pin it (or pull without --locked)")
        pinned_sha = self._pinned.get("sha256")
        if rf.sha256 is None and isinstance(pinned_sha, str):
            # the lock knows the sha256 W&B does not serve: the store can serve the bytes, and they are checked
            res = dataclasses.replace(res, files={**res.files, name: dataclasses.replace(rf, sha256=pinned_sha)})
        return res

    def download(self, *args: Any, **kwargs: Any) -> None:
        self._inner.download(*args, **kwargs)


def cache_allowed(variant: str, sha256: str, md5: Any) -> bool:
    """Whether a cached checkpoint may serve `variant` (always, unless a lock is active and pins other
    bytes). `md5` is a callable computing the blob's base64 md5 (only called when needed)."""
    lock = _ACTIVE.get()
    if lock is None:
        return True
    entry = lock["variants"].get(variant) or {}
    sources = [s for s in entry.get("sources", []) if isinstance(s, dict)]
    if any(s.get("sha256") == sha256 for s in sources):
        return True
    md5s = {s.get("md5") for s in sources if s.get("md5")}
    return bool(md5s) and md5() in md5s


def pin(source: Any, variant: str, spec: Any) -> Any:
    """`source` as is when no lock is active, else wrapped so its resolution must match the lock."""
    lock = _ACTIVE.get()
    if lock is None:
        return source
    entry = lock["variants"].get(variant)
    pinned = next((s for s in (entry or {}).get("sources", []) if isinstance(s, dict) and s.get("uri") == spec.uri),
                  None)
    if pinned is None:
        raise UsageError(f"{variant}: {spec.uri} is not in {LOCK_FILE}",
                         hint="run `zoo lock` and commit registry.lock (or pull without --locked)")
    return LockedSource(source, variant, spec, pinned)
