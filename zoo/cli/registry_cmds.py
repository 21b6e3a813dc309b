"""`zoo registry check`, `zoo list`, `zoo show`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.cli._app import app, console, emit_json, json_option, main
from zoo.text import plain, safe

if TYPE_CHECKING:
    from zoo.registry import Workspace


@main.group("registry")
def registry_group() -> None:
    """Inspect and validate registry.yaml."""


@registry_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def registry_check(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Validate FILE (default: the workspace's registry.yaml); report every problem as FILE:LINE:COL."""
    from zoo.registry import check_registry

    path = file if file is not None else app(ctx).workspace().registry_path
    problems, data = check_registry(path)
    n_variants = len(data.get("variants", {}) or {}) if isinstance(data, dict) else 0
    if as_json:
        emit_json({"schema_version": 1, "file": str(path), "ok": not problems, "problems": problems,
                   "variants": n_variants})
    else:
        for line in problems:
            click.echo(plain(line), err=True)
        if not problems:
            console().print(f"[green]ok[/green] {safe(path)}: {n_variants} variants, no problems")
        else:
            click.echo(f"{len(problems)} problem(s) in {plain(path)}", err=True)
    if problems:
        sys.exit(2)


_VERIFY_TO_STATUS = {"pass": "verified", "fail": "failed", "stale": "stale", "pending": "measured"}


def _local_status(ws: Workspace, name: str) -> str:
    """Verification state when verify ran, else how far the variant was built."""
    from zoo.store.status import build_status
    from zoo.verify import verification_state

    state = verification_state(ws, name)
    return _VERIFY_TO_STATUS.get(state) or build_status(ws.variant_dir(name))


def _fmt_cos(value: float | None, text: str | None) -> str:
    if text:
        return text
    return "-" if value is None else f"{value:.4f}"


@main.command("list")
@json_option
@click.pass_context
def list_variants(ctx: click.Context, as_json: bool) -> None:
    """Table of variants: name, family, format, parent, claimed size and cosine, local status."""
    ws = app(ctx).workspace()
    reg = app(ctx).registry()
    rows: list[dict[str, Any]] = []
    for rec in reg:
        fmt = rec.format.kind + (f":{rec.format.mode}" if rec.format.mode else "")
        rows.append(
            {
                "name": rec.name,
                "family": rec.family,
                "format": fmt,
                "parent": rec.parent,
                "claimed_size": rec.claims.size_text,
                "claimed_size_bytes": rec.claims.size_bytes,
                "claimed_cosine": rec.claims.cosine,
                "claimed_cosine_text": rec.claims.cosine_text,
                "claimed_size_kind": rec.claims.size_kind,
                "claimed_cosine_kind": rec.claims.cosine_kind,
                "verification_status": rec.verification.status,
                "targets": list(rec.targets),
                "status": _local_status(ws, rec.name),
            }
        )
    if as_json:
        emit_json({"schema_version": 1, "workspace": str(ws.root), "variants": rows})
        return
    from rich.table import Table

    table = Table(title=f"{safe(reg.collection.name)} ({len(rows)} variants)")
    for col in ("name", "family", "format", "parent", "claimed size", "claimed cos", "local status"):
        table.add_column(col, no_wrap=col == "name")
    colors = {"verified": "green", "failed": "red", "stale": "yellow", "absent": "dim"}
    for r in rows:
        st = r["status"]
        table.add_row(
            safe(r["name"]), safe(r["family"]), safe(r["format"]), safe(r["parent"] or "-"),
            safe(r["claimed_size"] or "-"), safe(_fmt_cos(r["claimed_cosine"], r["claimed_cosine_text"])),
            f"[{colors.get(st, 'cyan')}]{safe(st)}[/]",
        )
    console().print(table)


@main.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show_variant(ctx: click.Context, name: str, as_json: bool) -> None:
    """One registry record in full (plus local status and the f32 root it is measured against)."""
    ws = app(ctx).workspace()
    reg = app(ctx).registry()
    rec = reg.get(name)
    data = dataclasses.asdict(rec)
    data.pop("architecture_lines", None)  # message plumbing, not part of the record
    data["f32_root"] = reg.f32_root(rec).name
    data["children"] = [c.name for c in reg.children(rec.name)]
    data["status"] = _local_status(ws, rec.name)
    measured = measured_architecture(ws, reg, rec)
    data["architecture_measured"] = measured
    if as_json:
        emit_json(data)
        return
    from rich.panel import Panel
    from rich.pretty import Pretty

    title = f"{safe(rec.name)} ({safe(reg.path.name)}:{rec.line})"
    console().print(Panel(Pretty(data, expand_all=True), title=title))
    for line in architecture_differences(rec, measured, reg.path.name):
        console().print(safe(line), highlight=False, soft_wrap=True)


def measured_architecture(ws: Any, reg: Any, rec: Any) -> dict[str, Any]:
    """Uncertain architecture fields as the f32 root's conversion recorded them ({} before conversion)."""
    from zoo.store.manifest import VariantManifest

    root = reg.f32_root(rec)
    entry = VariantManifest.load(ws.variant_dir(root.name)).artifacts.get("config.json")
    got = entry.get("uncertain_fields") if isinstance(entry, dict) else None
    return {str(k): v for k, v in got.items() if isinstance(v, dict)} if isinstance(got, dict) else {}


def architecture_differences(rec: Any, measured: dict[str, Any], registry_name: str) -> list[str]:
    """`encoder_layers: declared 6, checkpoint 12 ...` for each uncertain field; unmeasured ones say so."""
    lines = []
    for field in rec.architecture.uncertain:
        declared = getattr(rec.architecture, field)
        where = f"{registry_name}:{rec.architecture_line(field)}"
        entry = measured.get(field)
        if isinstance(entry, dict) and "measured" in entry:
            got = entry["measured"]
            state = f"declared {declared}, checkpoint {got}" if got != declared else f"{declared} (checkpoint agrees)"
            lines.append(f"{field}: {state} (uncertain in the registry, {where}; later stages use the checkpoint's)")
        else:
            lines.append(f"{field}: declared {declared}, uncertain ({where}); measured when the checkpoint is converted")
    return lines
