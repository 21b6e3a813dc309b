"""`zoo pull` orchestration: cache lookup, source fallback, digest checks, install, manifest, convert.

For each requested variant the f32 root is pulled (derived variants are built from it later):

1. with the variant locked, a checkpoint whose sha256 is known (registry, or the manifest of an earlier
   pull) and present in the cache is installed without any network call;
2. otherwise the sources are tried in order (primary, then mirrors); offline mode skips network sources;
3. the downloaded bytes are checked against every digest known (size, W&B md5, registry/mirror/Hub sha256)
   before they enter the cache, so a bad download leaves the cache and the workspace untouched;
4. the blob is linked into `variants/<name>/source/<file>` and recorded in `manifest.json`;
5. `zoo.convert.convert_variant` turns it into safetensors + config.json.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from filelock import FileLock, Timeout

from zoo._io import contained_path
from zoo.errors import InputError, RemoteError, UsageError, VerificationError, ZooError
from zoo.registry.records import SourceSpec, VariantRecord
from zoo.store.cache import Store, download_key
from zoo.store.manifest import VariantManifest, update_manifest

log = logging.getLogger("zoo.pull")  # `zoo -v` shows these lines

# (variant, phase, done, total): phase is "fetch" | "check" | "convert"
ProgressFn = Callable[[str, str, int, int | None], None]


@dataclasses.dataclass
class FetchResult:
    variant: str
    file: str  # relative to the variant dir, e.g. "source/x.ckpt"
    sha256: str
    size: int
    cached: bool  # True: served from the cache, no network call
    served_by: str | None  # the URI that served the bytes (None on a cache hit of an older pull)
    version: str | None = None
    run_id: str | None = None
    downloaded_bytes: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)  # "uri: why" for sources that did not serve


@dataclasses.dataclass
class PullOutcome:
    variant: str  # the variant asked for
    root: str  # the f32 variant that was fetched
    fetch: FetchResult
    converted: str  # "done" | "up-to-date" | "unavailable" | "skipped"
    # conversion warnings worth a line each (an uncertain architecture field measured differently)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self.fetch)
        return {"variant": self.variant, "root": self.root, "converted": self.converted,
                "warnings": list(self.warnings), **d}


def offline_from_env() -> bool:
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def md5_b64(path: Path) -> str:
    return base64.b64encode(_digest(path, "md5")).decode()


def _digest(path: Path, algo: str) -> bytes:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _hashes(path: Path) -> tuple[str, str]:
    """(sha256 hex, md5 base64) in one read."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), base64.b64encode(md5.digest()).decode()


# --------------------------------------------------------------------------- fetch


def fetch_checkpoint(
    variant_dir: Path,
    rec: VariantRecord,
    *,
    store: Store | None = None,
    offline: bool = False,
    refresh: bool = False,
    progress: ProgressFn | None = None,
    base: Path | None = None,
) -> FetchResult:
    """Make `variant_dir/source/<file>` hold the verified checkpoint of f32 record `rec` (`base`: the
    workspace root, which relative `file:mirror/x` sources are resolved against)."""
    store = store or Store()
    with variant_lock(variant_dir):
        return _fetch_locked(variant_dir, rec, store, offline=offline, refresh=refresh, progress=progress, base=base)


@contextlib.contextmanager
def variant_lock(variant_dir: Path) -> Iterator[None]:
    """Serialise pulls (fetch + convert) of one variant across processes."""
    variant_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(variant_dir / ".pull.lock"))
    try:
        lock.acquire(timeout=1800)
    except Timeout:
        raise UsageError(f"{variant_dir}: another zoo pull holds .pull.lock", hint="wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def _fetch_locked(variant_dir: Path, rec: VariantRecord, store: Store, *, offline: bool, refresh: bool,
                  progress: ProgressFn | None, base: Path | None = None) -> FetchResult:
    if rec.provenance is None or not rec.provenance.sources:
        raise InputError(f"registry: variants.{rec.name}.provenance.sources is empty",
                         hint="an f32 variant needs at least one source URI")
    if not refresh:
        hit = _cache_hit(variant_dir, rec, store)
        if hit is not None:
            return hit
    return _fetch_from_sources(variant_dir, rec, store, offline=offline, progress=progress, base=base)


def _known_sha(variant_dir: Path, rec: VariantRecord) -> tuple[str, str] | None:
    """(file name, sha256) we can trust without asking a server: registry first, then an earlier pull."""
    assert rec.provenance is not None
    for spec in rec.provenance.sources:
        if spec.sha256 and spec.file:
            return spec.file, spec.sha256.lower()
    try:
        src = VariantManifest.load(variant_dir).source
    except ZooError:
        return None
    if not src:
        return None
    uris = {s.uri for s in rec.provenance.sources}
    registry_sha = next((s.sha256.lower() for s in rec.provenance.sources if s.sha256), None)
    if src.get("served_by") in uris and isinstance(src.get("sha256"), str) and isinstance(src.get("file"), str):
        if registry_sha and registry_sha != src["sha256"]:
            return None
        return src["file"], src["sha256"]
    return None


def _cache_hit(variant_dir: Path, rec: VariantRecord, store: Store) -> FetchResult | None:
    known = _known_sha(variant_dir, rec)
    if known is None:
        return None
    name, sha = known
    if not store.has(sha):
        return None
    from zoo.store.lock import cache_allowed

    if not cache_allowed(rec.name, sha, lambda: md5_b64(store.blob_path(sha))):
        return None  # --locked and the cached bytes are not the pinned ones: ask the source
    rel = _install_checkpoint(store, sha, variant_dir, name)
    blob = store.blob_path(sha)
    size = blob.stat().st_size
    manifest = VariantManifest.load(variant_dir)
    art = manifest.artifacts.get(rel)
    src = manifest.source or {}
    if art is None or art.get("sha256") != sha:
        with update_manifest(variant_dir) as m:
            m.record_artifact(rel, kind="checkpoint", produced_by="zoo pull",
                              inputs={str(src.get("served_by") or rec.provenance.sources[0].uri): sha}  # type: ignore[union-attr]
                              )
    log.info("%s: %s from the cache (blob %s, no network call)", rec.name, name, sha[:12])
    return FetchResult(rec.name, rel, sha, size, cached=True, served_by=src.get("served_by"),
                       version=src.get("resolved_version"), run_id=src.get("run_id"))


def _install_checkpoint(store: Store, sha: str, variant_dir: Path, name: str) -> str:
    """Link blob `sha` as `variant_dir/source/<file>` (flat, as convert looks for it); returns that relative
    path. A symlinked source/ leading out of the variant is refused: writes must not leak."""
    rel = f"source/{PurePosixPath(name).name}"
    store.install(sha, contained_path(variant_dir, rel, what="pulled checkpoint"))
    return rel


def _pick_file(spec: SourceSpec, files: Iterable[str], uri: str) -> str:
    names = list(files)
    if spec.file:
        if spec.file not in names:
            raise InputError(f"{uri}: the artifact has no file {spec.file!r} (it has: {', '.join(names) or 'nothing'})",
                             hint="fix provenance.sources[].file in registry.yaml")
        return spec.file
    ckpts = [n for n in names if n.endswith((".ckpt", ".pt", ".pth", ".safetensors"))]
    if len(ckpts) == 1:
        return ckpts[0]
    raise InputError(f"{uri}: cannot tell which file is the checkpoint ({', '.join(names) or 'no files'})",
                     hint="set provenance.sources[].file in registry.yaml")


def _fetch_from_sources(
    variant_dir: Path, rec: VariantRecord, store: Store, *, offline: bool, progress: ProgressFn | None,
    base: Path | None = None,
) -> FetchResult:
    from zoo.sources import env_offline, open_source, source_kind
    from zoo.store.lock import pin

    assert rec.provenance is not None
    skipped: list[str] = []
    errors: list[ZooError] = []
    for spec in rec.provenance.sources:
        kind = source_kind(spec.uri)
        if kind != "file" and (offline or env_offline(kind)):
            skipped.append(f"{spec.uri}: skipped (offline)")
            log.info("%s: %s skipped (offline)", rec.name, spec.uri)
            continue
        log.info("%s: trying %s", rec.name, spec.uri)
        try:
            source = pin(open_source(spec.uri, file=spec.file, base=base), rec.name, spec)  # --locked: must match the lock
            return _fetch_one(variant_dir, rec, spec, store, source, progress, skipped)
        except ZooError as exc:
            errors.append(exc)
            # source errors usually start with the URI already; don't say it twice
            msg = exc.message if exc.message.startswith(spec.uri) else f"{spec.uri}: {exc.message}"
            skipped.append(msg)
            log.info("%s: %s did not serve: %s", rec.name, spec.uri, exc.message)
    if not errors:
        want = next((s.file for s in rec.provenance.sources if s.file), "its checkpoint")
        raise RemoteError(
            f"{rec.name}: {want} is not in the cache and every source needs the network "
            f"({'; '.join(skipped)})",
            hint="pull once without --offline (and without ZOO_OFFLINE / HF_HUB_OFFLINE / WANDB_MODE=offline), "
            "or add a file:// mirror",
        )
    first = errors[0]
    if len(errors) == 1 and len(rec.provenance.sources) == 1:
        raise first
    first.message = f"{rec.name}: no source served the checkpoint: " + "; ".join(skipped)
    raise first


def _fetch_one(
    variant_dir: Path,
    rec: VariantRecord,
    spec: SourceSpec,
    store: Store,
    source: Any,
    progress: ProgressFn | None,
    skipped: list[str],
) -> FetchResult:
    res = source.resolve()
    name = _pick_file(spec, res.files, spec.uri)
    remote = res.files[name]
    declared = _declared_size(spec, remote)
    if declared != remote.size:  # the sources stop writing at the size the file carries
        remote = dataclasses.replace(remote, size=declared)
        res = dataclasses.replace(res, files={**res.files, name: remote})
    key = download_key(getattr(source, "cache_uri", None) or spec.uri, res.version or "", name)

    def on_bytes(done: int, total: int | None) -> None:
        if progress is not None:
            progress(rec.name, "fetch", done, total if total is not None else remote.size)

    with store.lock(key):
        # Another process may have finished the same download while we waited.
        expect_sha = (spec.sha256 or remote.sha256 or "").lower() or None
        if expect_sha and store.has(expect_sha):
            sha, size, downloaded = expect_sha, store.blob_path(expect_sha).stat().st_size, 0
            md5 = md5_b64(store.blob_path(sha))
        else:
            part = store.partial_path(key)
            before = part.stat().st_size if part.exists() else 0
            source.download(res, name, part, on_bytes)
            if progress is not None:
                progress(rec.name, "check", 0, None)
            try:
                sha, size, md5 = _check(part, spec, remote, uri=spec.uri, name=name)
            except VerificationError:
                if before == 0:
                    raise
                # The kept partial of an interrupted pull did not continue into the right bytes (the
                # remote file changed, or the partial was damaged); _check deleted it: start over, once.
                before = 0
                source.download(res, name, part, on_bytes)
                sha, size, md5 = _check(part, spec, remote, uri=spec.uri, name=name)
            downloaded = max(0, size - before)
            store.ingest(part, sha)
    rel = _install_checkpoint(store, sha, variant_dir, name)
    with update_manifest(variant_dir) as m:
        m.set_source({
            "uri": rec.provenance.sources[0].uri,  # type: ignore[union-attr]
            "served_by": spec.uri,
            "kind": res.kind,
            "requested": spec.uri,
            "resolved_version": res.version,
            "aliases": list(res.aliases),
            "run_id": res.run_id,
            "file": name,
            "sha256": sha,
            "md5": md5,
            "size": size,
            "fetched_at": now_iso(),
            **({"details": dict(sorted(res.extra.items()))} if res.extra else {}),
        })
        for old in [k for k, v in m.artifacts.items() if v.get("kind") == "checkpoint" and k != rel]:
            m.forget_artifact(old)
        m.record_artifact(rel, kind="checkpoint", produced_by="zoo pull", inputs={spec.uri: sha})
    return FetchResult(rec.name, rel, sha, size, cached=False, served_by=spec.uri, version=res.version,
                       run_id=res.run_id, downloaded_bytes=downloaded, skipped=list(skipped))


def _declared_size(spec: SourceSpec, remote: Any) -> int | None:
    """The smallest size declared for the file (registry `size`, service/mirror manifest): downloads stop there."""
    sizes = [n for n in (spec.size, remote.size) if isinstance(n, int) and not isinstance(n, bool) and n >= 0]
    return min(sizes) if sizes else None


def _check(part: Path, spec: SourceSpec, remote: Any, *, uri: str, name: str) -> tuple[str, int, str]:
    """Compare the downloaded bytes with every digest we know; a mismatch deletes the partial file.

    Returns (sha256, size, md5 base64), both digests from the one read."""
    size = part.stat().st_size
    sha, md5 = _hashes(part)
    problems = []
    for label, want, got in (
        ("size", spec.size, size),
        ("size (service)", remote.size, size),
        ("sha256 (registry)", spec.sha256, sha),
        ("sha256 (service)", remote.sha256, sha),
        ("md5 (registry)", spec.md5, md5),
        ("md5 (service manifest)", remote.md5_b64, md5),
    ):
        if want is not None and str(want).lower() != str(got).lower():
            problems.append(f"{label} expected {want}, got {got}")
    if problems:
        part.unlink(missing_ok=True)
        raise VerificationError(
            f"{uri} {name}: digest mismatch, download rejected ({'; '.join(problems)})",
            hint="the cache and workspace were left untouched; the source may be corrupt or the registry digest stale",
        )
    return sha, size, md5


# --------------------------------------------------------------------------- pull


def pull_variants(
    workspace: Any,
    registry: Any,
    records: list[VariantRecord],
    *,
    offline: bool = False,
    refresh: bool = False,
    convert: bool = True,
    store: Store | None = None,
    progress: ProgressFn | None = None,
    locked: bool = False,
) -> list[PullOutcome]:
    """Fetch (and convert) the f32 root of every record, each root once, in registry order.

    `locked` (or ZOO_LOCKED=1): every source must resolve to what registry.lock pins (`zoo lock`).
    """
    from zoo.store.lock import locked_from_env, use_lock

    if locked or locked_from_env():
        with use_lock(workspace):
            return _pull_variants(workspace, registry, records, offline=offline, refresh=refresh, convert=convert,
                                  store=store, progress=progress)
    return _pull_variants(workspace, registry, records, offline=offline, refresh=refresh, convert=convert,
                          store=store, progress=progress)


def _pull_variants(
    workspace: Any,
    registry: Any,
    records: list[VariantRecord],
    *,
    offline: bool,
    refresh: bool,
    convert: bool,
    store: Store | None,
    progress: ProgressFn | None,
) -> list[PullOutcome]:
    store = store or Store()
    offline = offline or offline_from_env()
    done: dict[str, tuple[FetchResult, str, tuple[str, ...]]] = {}
    outcomes: list[PullOutcome] = []
    for rec in records:
        root = registry.f32_root(rec)
        if root.name not in done:
            vdir = Path(workspace.variant_dir(root.name))
            with variant_lock(vdir):
                fetched = _fetch_locked(vdir, root, store, offline=offline, refresh=refresh, progress=progress,
                                        base=Path(workspace.root))
                status, warned = _convert(workspace, registry, root, progress) if convert else ("skipped", ())
            done[root.name] = (fetched, status, warned)
        fetched, status, warned = done[root.name]
        outcomes.append(PullOutcome(rec.name, root.name, fetched, status, warned))
    return outcomes


def _convert(workspace: Any, registry: Any, rec: VariantRecord, progress: ProgressFn | None
             ) -> tuple[str, tuple[str, ...]]:
    try:
        from zoo.convert import convert_variant
    except ImportError:
        return "unavailable", ()
    if progress is not None:
        progress(rec.name, "convert", 0, None)
    result = convert_variant(workspace, registry, rec)
    if isinstance(result, str):
        return result, ()
    # measured-vs-declared lines (not the routine "shapes cannot tell heads" notes)
    warned = tuple(w for w in getattr(result, "warnings", ()) if "(uncertain" in w)
    return ("up-to-date" if getattr(result, "up_to_date", False) else "done"), warned
