"""`zoo demo`: build a synthetic mirror + workspace and run the pipeline offline (attached on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import console, emit_json, json_option, main


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
            ctx, results = run_demo(directory, on_step=prog.on_step, notify=prog.notify)
        except DemoFailed as failed:
            if not as_json:
                _render(failed.results, failed.ctx.reports)
            raise failed.error from None
    if as_json:
        emit_json({
            "schema_version": 1,
            "directory": str(ctx.directory),
            "steps": [r.__dict__ for r in results],
            "verify": [r.to_json() for r in ctx.reports],
        })
    else:
        _render(results, ctx.reports)
        console().print(f"demo workspace: {ctx.directory}  (try `zoo -C {directory} verify --all`)")
    if any(r.failed for r in ctx.reports):
        raise SystemExit(1)


def _render(results: list[Any], reports: list[Any]) -> None:
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
            vt.add_row(r.variant, r.kind, str(gate.get("metric", "-")),
                       "-" if measured is None else f"{float(measured):.6f}",
                       "-" if thr is None else f"{thr:.6f}", f"[{color}]{r.status}[/]")
        console().print(vt)
    st = Table(title="zoo demo", title_justify="left")
    for col in ("step", "status", "seconds", "detail"):
        st.add_column(col)
    for r in results:
        color = {"done": "green", "skipped": "yellow"}.get(r.status, "red")
        st.add_row(r.step, f"[{color}]{r.status}[/]", f"{r.seconds:.1f}", r.detail)
    console().print(st)


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
