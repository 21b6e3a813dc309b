"""`zoo registry check`, `zoo list`, `zoo show`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.cli._app import (
    SummaryGroup,
    ZooChoice,
    app,
    complete_variants,
    emit_json,
    installed_target_names,
    json_option,
    main,
    print_rows,
    results,
)
from zoo.text import plain, safe

if TYPE_CHECKING:
    from zoo.registry import Registry, VariantRecord, Workspace


@main.group("registry", cls=SummaryGroup)
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
    else:  # the problems are the result (on stdout, like a linter's)
        for line in problems:
            click.echo(plain(line))
        if not problems:
            results().print(f"[green]ok[/green] {safe(path)}: {n_variants} variants, no problems")
        else:
            click.echo(f"{len(problems)} problem(s) in {plain(path)}")
    if problems:
        sys.exit(2)


def variant_measurements(ws: Workspace, reg: Registry, rec: VariantRecord) -> dict[str, Any]:
    """What the zoo knows locally about one variant, next to the registry's claims: status (the one
    vocabulary), build stage, measured size of the variant's own artifact, gate cosine from verify.json."""
    from zoo.store.status import build_status, main_artifact, read_manifest, status_from_verify
    from zoo.verify.state import read_verify_json, state_of

    manifest = read_manifest(ws.variant_dir(rec.name))
    verify_read = read_verify_json(ws, rec.name)  # once: the state and the gate both come from it
    status = status_from_verify(state_of(ws, rec.name, verify_read))
    art = main_artifact(manifest, rec.format.kind)
    verify = verify_read or {}
    gate_raw = verify.get("gate")
    gate: dict[str, Any] = gate_raw if isinstance(gate_raw, dict) else {}
    cos = gate.get("measured") if status != "stale" else None
    return {
        "status": status,
        "stage": build_status(ws.variant_dir(rec.name), manifest),
        "size": art.get("size") if art and isinstance(art.get("size"), int) else None,
        "artifact": art.get("path") if art else None,
        "cosine": float(cos) if isinstance(cos, int | float) and not isinstance(cos, bool) else None,
        "metric": rec.verification.metric,
        "threshold": rec.verification.threshold,
        "policy": rec.verification.status,
        "manifest": manifest,
        "verify": verify,
    }


def fmt_size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(n)  # pragma: no cover


def _fmt_cos(value: float | None, text: str | None = None) -> str:
    if text:
        return text
    return "-" if value is None else f"{value:.4f}"


_PLAIN_CLAIM_KINDS = (None, "file", "measured", "approximate", "gates")  # the text itself says enough


def _claim(text: str, kind: str | None) -> str:
    """A claim as the table shows it: with its kind when the number is not what it seems (formula, MiB, ...)."""
    return text if kind in _PLAIN_CLAIM_KINDS or text == "-" else f"{text} ({kind})"


SORT_KEYS = ("registry", "name", "family", "format", "size", "cosine", "status")


def _format_label(rec: VariantRecord) -> str:
    return rec.format.kind + (f":{rec.format.mode}" if rec.format.mode else "")


# choices are computed when an option is used or shown, so `zoo --help` does not import the registry
def _families() -> tuple[str, ...]:
    from zoo.registry.records import FAMILIES

    return FAMILIES


def _format_choices() -> list[str]:
    from zoo.registry.records import FORMAT_KINDS, LQ40_MODES

    return [*FORMAT_KINDS, *(f"lq40:{m}" for m in LQ40_MODES)]


def _statuses() -> tuple[str, ...]:
    from zoo.store.status import STATUSES

    return STATUSES


@main.command("list")
@click.option("--family", type=ZooChoice(loader=_families), multiple=True, help="Only this family (repeatable).")
@click.option("--format", "formats", type=ZooChoice(loader=_format_choices), multiple=True,
              help="Only this format kind, or kind:mode (e.g. lq40, lq40:full); repeatable.")
@click.option("--status", "statuses", type=ZooChoice(loader=_statuses), multiple=True,
              help="Only variants with this verification status (repeatable).")
@click.option("--target", "targets", type=ZooChoice(loader=lambda: [*installed_target_names(), "none"]),
              multiple=True, help="Only variants the registry builds for this target ('none': no target); repeatable.")
@click.option("--sort", "sort_key", type=ZooChoice(SORT_KEYS), default="registry", show_default=True,
              help="Row order; size and cosine sort by the measured value (unmeasured last).")
@click.option("--reverse", is_flag=True, help="Reverse the row order.")
@json_option
@click.pass_context
def list_variants(ctx: click.Context, family: tuple[str, ...], formats: tuple[str, ...], statuses: tuple[str, ...],
                  targets: tuple[str, ...], sort_key: str, reverse: bool, as_json: bool) -> None:
    """Table of variants: family, format, measured size and cosine next to the claims, status, targets.

    Status is one of verified, measured (policy `pending`: reported, not gated), failed, stale, not verified;
    the local column says how far the variant is built (absent, pulled, converted, quantized, built).
    """
    ws = app(ctx).workspace()
    reg = app(ctx).registry()
    rows: list[dict[str, Any]] = []
    for rec in reg:
        fmt = _format_label(rec)
        if family and rec.family not in family:
            continue
        if formats and rec.format.kind not in formats and fmt not in formats:
            continue
        if targets and not (set(rec.targets) & set(targets) or ("none" in targets and not rec.targets)):
            continue
        m = variant_measurements(ws, reg, rec)
        if statuses and m["status"] not in statuses:
            continue
        rows.append(
            {
                "name": rec.name,
                "family": rec.family,
                "format": fmt,
                "parent": rec.parent,
                "size_bytes": m["size"],
                "claimed_size": rec.claims.size_text,
                "claimed_size_bytes": rec.claims.size_bytes,
                "cosine": m["cosine"],
                "cosine_metric": m["metric"],
                "claimed_cosine": rec.claims.cosine,
                "claimed_cosine_text": rec.claims.cosine_text,
                "claimed_size_kind": rec.claims.size_kind,
                "claimed_cosine_kind": rec.claims.cosine_kind,
                "verification_status": rec.verification.status,
                "targets": list(rec.targets),
                "status": m["status"],
                "stage": m["stage"],
            }
        )
    rows = _sorted(rows, sort_key, reverse)
    if as_json:
        emit_json({"schema_version": 2, "workspace": str(ws.root), "variants": rows})
        return
    colors = {"verified": "green", "failed": "red", "stale": "yellow", "measured": "cyan", "not verified": "dim"}
    print_rows(
        ["name", "family", "format", "size", "claim", "cosine", "claim", "status", "local", "targets"],
        [[r["name"], r["family"], r["format"], fmt_size(r["size_bytes"]),
          _claim(r["claimed_size"] or "-", r["claimed_size_kind"]), _fmt_cos(r["cosine"]),
          _claim(_fmt_cos(r["claimed_cosine"], r["claimed_cosine_text"]), r["claimed_cosine_kind"]), r["status"],
          r["stage"], ",".join(r["targets"]) or "-"] for r in rows],
        title=f"{reg.collection.name} ({len(rows)} of {len(reg)} variants)",
        right=("size", "cosine"),
        styles={"status": colors},
    )


def _sorted(rows: list[dict[str, Any]], key: str, reverse: bool) -> list[dict[str, Any]]:
    if key == "registry":
        return rows[::-1] if reverse else rows
    if key in ("size", "cosine"):
        field = "size_bytes" if key == "size" else "cosine"
        known = sorted((r for r in rows if r[field] is not None), key=lambda r: (r[field], r["name"]), reverse=reverse)
        return known + [r for r in rows if r[field] is None]
    if key == "status":
        order = {s: i for i, s in enumerate(_statuses())}
        return sorted(rows, key=lambda r: (order.get(r["status"], len(order)), r["name"]), reverse=reverse)
    return sorted(rows, key=lambda r: (str(r[key]), r["name"]), reverse=reverse)


@main.command("show")
@click.argument("name", shell_complete=complete_variants)
@json_option
@click.pass_context
def show_variant(ctx: click.Context, name: str, as_json: bool) -> None:
    """One variant: its registry record as YAML (inherited fields marked), then what the zoo measured.

    \b
    The output is a YAML stream of two documents:
    1. the record as written in registry.yaml, plus the fields it inherits (architecture and provenance
       from its ancestors, license from the collection) under `# inherited from ...` comments;
    2. status, measured size and cosine next to the claims, artifacts (size, sha256), targets.
    """
    from zoo.cli._show import record_yaml, status_yaml

    ws = app(ctx).workspace()
    reg = app(ctx).registry()
    rec = reg.get(name)
    m = variant_measurements(ws, reg, rec)
    measured = measured_architecture(ws, reg, rec)
    if as_json:
        from zoo.cli._show import inherited_fields

        data = dataclasses.asdict(rec)
        data.pop("architecture_lines", None)  # message plumbing, not part of the record
        data["architecture_measured"] = measured
        data["f32_root"] = reg.f32_root(rec).name
        data["children"] = [c.name for c in reg.children(rec.name)]
        data["status"] = m["status"]
        data["stage"] = m["stage"]
        data["inherited"] = inherited_fields(reg, rec)
        data["measured"] = {"size_bytes": m["size"], "cosine": m["cosine"], "metric": m["metric"],
                            "threshold": m["threshold"]}
        data["artifacts"] = (m["manifest"].get("artifacts") or {})
        data["built_targets"] = (m["manifest"].get("targets") or {})
        emit_json(data)
        return
    out = results()
    diffs = architecture_differences(rec, measured, reg.path.name)
    text = record_yaml(reg, rec) + "---\n" + status_yaml(ws, reg, rec, m, measured, diffs)
    if out.is_terminal:
        out.print(text, markup=False, highlight=False, end="")
    else:
        from zoo.secrets import scrub
        from zoo.text import visible

        click.echo(visible(scrub(text), keep_newlines=True), nl=False)


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
