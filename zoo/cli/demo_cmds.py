"""`zoo demo`: build a synthetic mirror + workspace and run the pipeline offline (attached on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import console, emit_json, json_option, main, print_table, results
from zoo.text import safe


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("demo"))
@json_option
def demo(directory: Path, as_json: bool) -> None:
    """Create DIR (default ./demo): a mirror of synthetic crucible checkpoints and a workspace using it,
    then run pull -> convert -> quantize -> verify -> cards offline and print a summary.

    Afterwards `zoo -C DIR verify --all` (and every other command) works in DIR. Needs no network
    and no credentials; weights are seeded, so every run produces the same files.
    """
    from zoo.demo import DemoFailed, run_demo

    with _StepProgress(enabled=not as_json) as prog:
        try:
            ctx, steps = run_demo(directory, on_step=prog.on_step, notify=prog.notify)
        except DemoFailed as failed:
            if not as_json:
                _render(failed.results, failed.ctx.reports)
            raise failed.error from None
    if as_json:
        emit_json({
            "schema_version": 1,
            "directory": str(ctx.directory),
            "steps": [r.__dict__ for r in steps],
            "verify": [r.to_json() for r in ctx.reports],
            "publish_dry_run": ctx.publish.to_json() if ctx.publish is not None else None,
            "site": ctx.site_index.as_uri() if ctx.site_index is not None else None,
        })
    else:
        _render(steps, ctx.reports)
        if ctx.publish is not None:
            _render_publish_plan(ctx.publish)
        results().print(f"demo workspace: {safe(ctx.directory)}  "
                        f"(try `{safe(_zoo_command())} -C {safe(directory)} verify --all`)")
        if ctx.site_index is not None:
            results().print(f"open {safe(ctx.site_index.as_uri())}", soft_wrap=True)
    if any(r.failed for r in ctx.reports):
        raise SystemExit(1)


def _render(steps: list[Any], reports: list[Any]) -> None:
    from rich.table import Table

    if reports:
        vt = Table(title="verify", title_justify="left")
        for col in ("variant", "kind", "gate", "measured", "threshold", "status"):
            vt.add_column(col)
        for r in reports:
            gate = r.gate or {}
            measured = gate.get("measured")
            thr = None
            if gate.get("expected_cosine") is not None:
                thr = float(gate["expected_cosine"]) - float(gate.get("tolerance") or 0.0)
            color = {"pass": "green", "fail": "red", "pending": "yellow"}.get(r.status, "red")
            vt.add_row(safe(r.variant), safe(r.kind), safe(gate.get("metric", "-")),
                       "-" if measured is None else f"{float(measured):.6f}",
                       "-" if thr is None else f"{thr:.6f}", f"[{color}]{safe(r.status)}[/]")
        print_table(vt)
    st = Table(title="zoo demo", title_justify="left")
    for col in ("step", "status", "seconds", "detail"):
        st.add_column(col)
    for r in steps:
        color = {"done": "green", "skipped": "yellow"}.get(r.status, "red")
        st.add_row(safe(r.step), f"[{color}]{safe(r.status)}[/]", f"{r.seconds:.1f}", safe(r.detail))
    print_table(st)


def publish_plan_rows(result: Any) -> list[tuple[str, str, int, int]]:
    """(variant, gate state, files to add/update, bytes) per variant of a dry-run plan; the
    collection-level files (root README) under "(collection)"."""
    files: dict[str, list[int]] = {}
    for rr in result.repos:
        for f in [*rr.plan.adds, *rr.plan.updates]:
            acc = files.setdefault(f.variant or "(collection)", [0, 0])
            acc[0] += 1
            acc[1] += int(f.size)
    order = [*result.checks, *sorted(set(files) - set(result.checks))]
    rows = []
    for name in order:
        check = result.checks.get(name)
        state = check.state + (" (refused)" if check.refused else "") if check is not None else "-"
        count, size = files.get(name, [0, 0])
        rows.append((name, state, count, size))
    return rows


def _render_publish_plan(result: Any) -> None:
    from rich.table import Table

    from zoo.demo.run import describe_repos

    repos = describe_repos([rr.plan.repo_id for rr in result.repos])
    table = Table(title=f"publish --dry-run plan: {safe(repos)}", title_justify="left")
    for col in ("variant", "gate", "files", "bytes"):
        table.add_column(col, justify="right" if col in ("files", "bytes") else "left")
    color = {"pass": "green", "pending": "yellow"}
    total_files = total_bytes = 0
    for name, state, count, size in publish_plan_rows(result):
        c = color.get(state, "red") if state != "-" else "white"
        table.add_row(safe(name), f"[{c}]{safe(state)}[/]", str(count), f"{size:,}")
        total_files += count
        total_bytes += size
    table.add_row("[bold]total[/]", "", f"[bold]{total_files}[/]", f"[bold]{total_bytes:,}[/]")
    print_table(table)
    results().print(f"offline plan for the placeholder {repos} (compared with an empty repository); nothing was "
                    "uploaded. These are synthetic weights: `zoo publish` refuses them without --allow-synthetic "
                    "and never publishes a demo workspace to the real collection (attocode/*).")


class _StepProgress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and console().is_terminal
        self._p: Any = None
        self._task: Any = None

    def __enter__(self) -> _StepProgress:
        if self.enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._p = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                               console=console(), transient=True)
            self._p.__enter__()
            self._task = self._p.add_task("zoo demo", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def on_step(self, name: str, state: str) -> None:
        if self._p is not None and state == "start":
            self._p.update(self._task, description=f"[bold]{name}[/]")
        elif not self.enabled and state != "start":
            pass

    def notify(self, text: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=text)


def _zoo_command() -> str:
    """How the user can call zoo again: `zoo` if that is on PATH, else the script's own path
    (after `scripts/demo.sh`, zoo lives in .venv/bin and is not on PATH)."""
    import os
    import shutil
    import sys

    argv0 = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    on_path = shutil.which("zoo")
    if not argv0.endswith("zoo") or (on_path and os.path.samefile(on_path, argv0)):
        return "zoo"
    rel = os.path.relpath(argv0)
    return rel if not rel.startswith("..") else argv0

