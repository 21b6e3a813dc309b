"""`zoo cache ls|verify|prune`: see and clean the content-addressed download cache (attached on import)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import click

from zoo.cli._app import SummaryGroup, app, console, emit_json, json_option, main, print_table, results
from zoo.cli.registry_cmds import fmt_size

if TYPE_CHECKING:
    from zoo.store.cache import CacheEntry

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """"30d", "12h", "90m", "45s", "2w" (a bare number means days) -> seconds."""
    from zoo.errors import UsageError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not m:
        raise UsageError(f"--older-than {text!r}: not a duration", hint="e.g. 30d, 12h, 90m, 2w (a bare number is days)")
    return float(m.group(1)) * _UNITS[m.group(2) or "d"]


def _referenced(ctx: click.Context) -> dict[str, list[str]]:
    """sha256 -> variants of the workspace that reference it (`zoo.store.cache.referenced_digests`)."""
    from zoo.store.cache import referenced_digests

    a = app(ctx)
    return referenced_digests(a.workspace(), a.registry())


def _age(seconds: float) -> str:
    for unit, size in (("w", _UNITS["w"]), ("d", _UNITS["d"]), ("h", _UNITS["h"]), ("m", _UNITS["m"])):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _row(e: CacheEntry, now: float, refs: dict[str, list[str]] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": e.kind, "path": str(e.path), "size": e.size, "sha256": e.sha256,
                           "age_s": round(now - e.mtime), "workspace_links": e.links}
    if refs is not None:
        row["referenced_by"] = refs.get(e.sha256 or "", [])
    return row


def _refs_or_none(ctx: click.Context) -> dict[str, list[str]] | None:
    """The workspace's references, or None outside a workspace (listing and verifying work anywhere)."""
    from zoo.errors import UsageError

    try:
        return _referenced(ctx)
    except UsageError:
        return None


@main.group("cache", cls=SummaryGroup)
def cache_group() -> None:
    """See and clean the download cache (ZOO_CACHE): one read-only blob per sha256, linked into workspaces."""


@cache_group.command("ls")
@json_option
@click.pass_context
def cache_ls(ctx: click.Context, as_json: bool) -> None:
    """List cached blobs and unfinished downloads: size, age, workspace links, which variants reference them."""
    from zoo.store.cache import default_cache_root, scan

    root = default_cache_root()
    entries = scan(root)
    refs = _refs_or_none(ctx)
    now = time.time()
    rows = [_row(e, now, refs) for e in entries]
    total = sum(e.size for e in entries)
    if as_json:
        emit_json({"schema_version": 1, "root": str(root), "total_bytes": total, "entries": rows})
        return
    from rich.table import Table

    table = Table(title=f"cache {root}", title_justify="left")
    for col in ("sha256", "kind", "size", "age", "links", "referenced by"):
        table.add_column(col, justify="right" if col in ("size", "age", "links") else "left", no_wrap=col == "sha256")
    for e, r in zip(entries, rows, strict=True):
        used = "-" if refs is None else (", ".join(r["referenced_by"]) or "-")
        table.add_row(e.sha256[:16] if e.sha256 else e.path.name, e.kind, fmt_size(e.size), _age(r["age_s"]),
                      str(e.links), used)
    print_table(table)
    results().print(f"{len(entries)} file(s), {fmt_size(total)} in {root}")


@cache_group.command("verify")
@json_option
def cache_verify(as_json: bool) -> None:
    """Re-hash every blob; exit 1 if any no longer matches its sha256 (delete it: the next pull re-downloads)."""
    from zoo.store.cache import default_cache_root, scan, verify_blob

    root = default_cache_root()
    blobs = [e for e in scan(root) if e.kind == "blob"]
    bad = [e for e in blobs if not verify_blob(e)]
    if as_json:
        emit_json({"schema_version": 1, "root": str(root), "checked": len(blobs), "ok": not bad,
                   "corrupt": [str(e.path) for e in bad]})
    else:
        for e in bad:
            results().print(f"[red]corrupt[/] {e.path}")
        results().print(f"{len(blobs) - len(bad)} of {len(blobs)} blob(s) match their sha256 ({root})")
        if bad:
            console().print("hint: delete the corrupt files (or `zoo cache prune --no-keep-referenced`); "
                            "the next `zoo pull` downloads them again")
    if bad:
        raise SystemExit(1)


@cache_group.command("prune")
@click.option("--older-than", "older_than", default=None, metavar="D",
              help="Only remove files older than D (30d, 12h, 90m, 2w; a bare number is days).")
@click.option("--keep-referenced/--no-keep-referenced", default=True, show_default=True,
              help="Keep blobs the workspace's registry.yaml or variant manifests reference.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option
@click.pass_context
def cache_prune(ctx: click.Context, older_than: str | None, keep_referenced: bool, dry_run: bool, as_json: bool) -> None:
    """Remove cached blobs and unfinished downloads (by default keeping what the workspace references).

    Workspaces keep their own hard links, so pruning never breaks a pulled variant; a removed blob is
    downloaded again by the next `zoo pull` that needs it.
    """
    from zoo.errors import UsageError
    from zoo.store.cache import default_cache_root, partial_in_use, remove, scan

    min_age = parse_duration(older_than) if older_than is not None else 0.0
    try:
        refs = _referenced(ctx) if keep_referenced else {}
    except UsageError as exc:  # outside a workspace nothing says what is referenced
        raise UsageError(f"zoo cache prune: {exc.message}",
                         hint="run it in a workspace (or -C DIR) to keep what it references, "
                              "or pass --no-keep-referenced") from None
    root = default_cache_root()
    now = time.time()
    removed: list[CacheEntry] = []
    kept = 0
    for e in scan(root):
        if (e.sha256 and e.sha256 in refs) or now - e.mtime < min_age or (e.kind == "partial" and partial_in_use(e)):
            kept += 1
            continue
        if not dry_run:
            remove(e)
        removed.append(e)
    freed = sum(e.size for e in removed)
    if as_json:
        emit_json({"schema_version": 1, "root": str(root), "dry_run": dry_run, "kept": kept, "freed_bytes": freed,
                   "removed": [_row(e, now, refs if keep_referenced else None) for e in removed]})
        return
    verb = "would remove" if dry_run else "removed"
    for e in removed:
        results().print(f"{verb} {e.kind} {e.sha256 or e.path.name} ({fmt_size(e.size)})")
    results().print(f"{verb} {len(removed)} file(s), {fmt_size(freed)}; kept {kept}")
