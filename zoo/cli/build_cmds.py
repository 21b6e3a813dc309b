"""`zoo` commands of the build stage: `zoo build NAME --target T [--check]` and `zoo targets`."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli._app import app, console, emit_json, json_option, main
from zoo.text import safe


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    from zoo.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {pair!r}: expected KEY=VALUE")
        options[key] = value
    return options


@main.command()
@click.argument("name")
@click.option("--target", "-t", "target_name", required=True, help="Target name (see `zoo targets`).")
@click.option("--check", "run_check", is_flag=True, help="Also run the target's check (e.g. emulation).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Target-specific option.")
@json_option
@click.pass_context
def build(
    ctx: click.Context, name: str, target_name: str, run_check: bool, options: tuple[str, ...], as_json: bool
) -> None:
    """Build variant NAME for a hardware target into variants/NAME/targets/TARGET/."""
    from zoo.errors import VerificationError
    from zoo.targets import build_target

    a = app(ctx)
    registry = a.registry()
    record = registry.get(name)
    result = build_target(
        a.workspace(), registry, record, target_name, _parse_options(options), check=run_check
    )
    if as_json:
        emit_json(result.to_json())
    else:
        _render_build(result)
    if result.check is not None and not result.check.get("passed", False):
        raise VerificationError(
            f"{name}: target '{target_name}' check failed: {result.check.get('summary', 'no summary')}",
            hint=f"see targets.{target_name}.check in variants/{name}/manifest.json",
        )


def _render_build(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{safe(result.variant)} -> {safe(result.target)}", title_justify="left")
    table.add_column("artifact")
    table.add_column("kind")
    table.add_column("bytes", justify="right")
    table.add_column("sha256")
    for row in result.artifacts:
        table.add_row(safe(row["path"]), safe(row["kind"]), safe(f"{row['size']:,}"), safe(row["sha256"][:12]))
    con = console()
    con.print(table)
    if result.check is not None:
        for spec in check_tables(result.check):
            con.print(_rich_table(spec))
        status = "[green]PASS[/green]" if result.check.get("passed") else "[red]FAIL[/red]"
        con.print(f"check: {status} {safe(result.check.get('summary', ''))}")


def check_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The tables a target's check report carries: ``table`` and/or ``tables``, each
    ``{title, columns, rows}``; malformed entries are skipped (the summary line still shows)."""
    found = [report.get("table"), *(report.get("tables") or [])]
    return [
        t for t in found
        if isinstance(t, dict) and isinstance(t.get("columns"), list) and isinstance(t.get("rows"), list)
    ]


def _rich_table(spec: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=safe(spec.get("title", "")), title_justify="left")
    for i, col in enumerate(spec["columns"]):
        table.add_column(safe(col), no_wrap=i == 0)
    width = len(spec["columns"])
    for row in spec["rows"]:
        cells = [safe(c) for c in (row if isinstance(row, list) else [row])][:width]
        table.add_row(*cells, *[""] * (width - len(cells)))
    return table


@main.command()
@json_option
def targets(as_json: bool) -> None:
    """List installed build targets (entry-point group zoo.targets)."""
    from zoo.targets import discover_targets

    rows = [info.describe() for info in discover_targets().values()]
    if as_json:
        emit_json({"targets": rows})
        return
    from rich.table import Table

    table = Table(title="installed targets", title_justify="left")
    for col in ("name", "package", "version", "formats", "description"):
        table.add_column(col)
    for row in rows:
        desc = safe(row["description"]) if row["loaded"] else f"[red]not loadable: {safe(row['error'])}[/red]"
        table.add_row(safe(row["name"]), safe(row["package"]), safe(row["version"]), safe(", ".join(row["formats"])),
                      desc)
    console().print(table)
