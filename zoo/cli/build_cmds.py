"""`zoo` commands of the build stage: `zoo build NAME --target T [--check]` and `zoo targets`."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli._app import (
    ZooChoice,
    app,
    complete_variants,
    console,
    emit_json,
    installed_target_names,
    json_option,
    main,
    print_table,
    results,
)
from zoo.text import safe


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    from zoo.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE")
        options[key] = value
    return options


@main.command()
@click.argument("names", nargs=-1, shell_complete=complete_variants)
@click.option("--all", "all_", is_flag=True, help="Build the declared targets of every variant in the registry.")
@click.option("--target", "-t", "target_name", default=None, type=ZooChoice(loader=installed_target_names),
              help="Target plugin (see `zoo targets`); default: the variant's declared targets (registry `targets`).")
@click.option("--check", "run_check", is_flag=True, help="Also run the target's check (e.g. emulation).")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE",
              help="Target-specific setting, repeatable (esp32: encoder=on|off; fpga: layer, matrix, rows, ...).")
@click.option("--option", "-o", "legacy_options", multiple=True, metavar="KEY=VALUE", hidden=True,
              help="Deprecated spelling of --set.")
@click.option("--no-build", is_flag=True, help="Fail instead of pulling/converting/quantizing missing inputs.")
@json_option
@click.pass_context
def build(
    ctx: click.Context, names: tuple[str, ...], all_: bool, target_name: str | None, run_check: bool,
    options: tuple[str, ...], legacy_options: tuple[str, ...], no_build: bool, as_json: bool,
) -> None:
    """Build variant NAME for a hardware target into variants/NAME/targets/TARGET/.

    `zoo build NAME --target T`: one build. `zoo build NAME...` / `zoo build --all`: every target the
    variants declare in the registry (what `zoo verify` gates on); the first failure does not stop the others.
    Missing inputs (the LQ40 file and what it is quantized from) are built first, as `zoo verify`
    does; --no-build refuses instead.
    """
    from zoo.errors import UsageError, VerificationError
    from zoo.targets import build_target

    if legacy_options:
        console().print("[yellow]warning[/]: `-o/--option KEY=VALUE` is deprecated (-o means --output "
                        "everywhere else); use `--set KEY=VALUE`")
    a = app(ctx)
    registry = a.registry()
    options = legacy_options + options
    if len(names) == 1 and target_name is not None and not all_:
        record = registry.get(names[0])
        from zoo.cli._prereq import ensure_numeric_files
        from zoo.targets import accepts
        from zoo.targets import registry as target_registry

        target = target_registry.get_target(target_name)
        # a wrong format is build_target's one-line error: build nothing for it
        if accepts(target, record) and getattr(target, "needs_numeric_files", False):
            ensure_numeric_files(a.workspace(), registry, record, build=not no_build, command="zoo build")
        with _BuildProgress(enabled=not as_json) as prog:
            result = build_target(a.workspace(), registry, record, target_name, _parse_options(options),
                                  check=run_check, progress=prog.phase, target=target)
        if as_json:
            emit_json(result.to_json())
        else:
            _render_build(result)
        if result.check is not None and not result.check.get("passed", False):
            raise VerificationError(
                f"{record.name}: target '{target_name}' check failed: {result.check.get('summary', 'no summary')}",
                hint=f"see targets.{target_name}.check in variants/{record.name}/manifest.json",
            )
        return
    if not names and not all_:
        raise UsageError("name a variant (or several), or pass --all", hint="e.g. zoo build --all --check")
    jobs = declared_builds(registry, names, all_, target_name)
    if no_build:
        from zoo.cli._prereq import ensure_numeric_files

        for rec in {rec.name: rec for rec, _ in jobs}.values():
            ensure_numeric_files(a.workspace(), registry, rec, build=False, command="zoo build")
    else:
        _build_inputs(a.workspace(), registry, [rec for rec, _ in jobs])
    from zoo.targets.batch import build_many

    with _BuildProgress(enabled=not as_json) as prog:
        outcomes = build_many(a.workspace(), registry, jobs, _parse_options(options), check=run_check,
                              progress=prog.phase)
    if as_json:
        emit_json({"schema_version": 1, "builds": [o.to_json() for o in outcomes]})
    else:
        _render_outcomes(outcomes)
    codes = [o.exit_code for o in outcomes if o.exit_code]
    if codes:
        failed = [o for o in outcomes if o.exit_code]
        raise _exit_error(max(codes) if 3 in codes or 2 in codes else 1,
                          f"{len(failed)} of {len(outcomes)} target build(s) failed: "
                          + "; ".join(f"{o.variant}/{o.target}" for o in failed))


def _exit_error(code: int, message: str) -> Exception:
    from zoo.errors import InputError, RemoteError, VerificationError

    cls = {1: VerificationError, 3: RemoteError}.get(code, InputError)
    return cls(message, hint="see the table above (or --json) for each build's error")


def _build_inputs(workspace: Any, registry: Any, records: list[Any]) -> None:
    """Pull / convert / quantize what the targets are built from (each variant once, ancestors first)."""
    from zoo.verify import engine

    seen: set[str] = set()
    for rec in records:
        if rec.name not in seen:
            seen.add(rec.name)
            engine.build_artifacts(workspace, registry, rec)


def declared_builds(registry: Any, names: tuple[str, ...], all_: bool, target_name: str | None) -> list[tuple[Any, str]]:
    """(record, target) pairs: the selected variants' declared targets (or `target_name` for each)."""
    records = registry.select(list(names), all_)
    if target_name is not None:
        return [(rec, target_name) for rec in records]
    return [(rec, t) for rec in records for t in (rec.targets or ())]


def _render_outcomes(outcomes: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="zoo build", title_justify="left")
    for col in ("variant", "target", "artifacts", "check", "result"):
        table.add_column(col)
    for o in outcomes:
        result = f"[red]{safe(o.error)}[/red]" if o.error else "[green]built[/green]"
        check = "-" if o.check is None else ("[green]pass[/green]" if o.check.get("passed") else "[red]FAIL[/red]")
        table.add_row(safe(o.variant), safe(o.target), str(len(o.artifacts)), check, result)
    print_table(table)
    if not outcomes:
        results().print("no variant in the selection declares a target")


def _render_build(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{safe(result.variant)} -> {safe(result.target)}", title_justify="left")
    table.add_column("artifact")
    table.add_column("kind")
    table.add_column("bytes", justify="right")
    table.add_column("sha256")
    for row in result.artifacts:
        table.add_row(safe(row["path"]), safe(row["kind"]), safe(f"{row['size']:,}"), safe(row["sha256"][:12]))
    print_table(table)
    if result.check is not None:
        for spec in check_tables(result.check):
            print_table(_rich_table(spec))
        status = "[green]PASS[/green]" if result.check.get("passed") else "[red]FAIL[/red]"
        results().print(f"check: {status} {safe(result.check.get('summary', ''))}")


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
    """List installed build targets (entry-point group zoo.targets) and the programs each runs."""
    from zoo.targets import discover_targets

    rows = [info.describe() for info in discover_targets().values()]
    if as_json:
        emit_json({"targets": rows})
        return
    import shutil

    from rich.table import Table

    table = Table(title="installed targets", title_justify="left")
    for col in ("name", "package", "version", "formats", "tools", "description"):
        table.add_column(col)
    for row in rows:
        desc = safe(row["description"]) if row["loaded"] else f"[red]not loadable: {safe(row['error'])}[/red]"
        tools = ", ".join(safe(t) if shutil.which(t) else f"[red]{safe(t)} (missing)[/]" for t in row.get("tools") or []) or "-"
        table.add_row(safe(row["name"]), safe(row["package"]), safe(row["version"]), safe(", ".join(row["formats"])),
                      tools, desc)
    print_table(table)


class _BuildProgress:
    """A rich spinner on stderr naming the build's phase (generate, compile, simulate, synthesize);
    quiet with --json and when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and console().is_terminal
        self._p: Any = None
        self._task: Any = None

    def __enter__(self) -> _BuildProgress:
        if self.enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._p = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                               console=console(), transient=True)
            self._p.__enter__()
            self._task = self._p.add_task("zoo build", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def phase(self, text: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=text)
