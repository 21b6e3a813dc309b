"""`zoo verify` and `zoo diff` (attached to the main group on import; heavy imports inside bodies)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.cli._app import app, complete_variants, console, emit_json, json_option, main, print_table, results
from zoo.errors import UsageError
from zoo.text import safe

if TYPE_CHECKING:
    from rich.table import Table

    from zoo.verify.run import VerifyReport

_STYLE = {"pass": "green", "fail": "red", "pending": "yellow", "error": "red", "queued": "dim"}


def _fmt(value: Any, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(reports: list[VerifyReport], live: dict[str, str] | None = None, names: list[str] | None = None) -> Table:
    from rich.table import Table

    table = Table(title="zoo verify", show_lines=False)
    for col in ("variant", "kind", "status", "gate", "measured", "threshold", "margin", "time"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("measured", "threshold", "margin", "time") else "left")
    table.add_column("reason", overflow="fold", ratio=1)
    done = {r.variant: r for r in reports}
    for name in names or [r.variant for r in reports]:
        r = done.get(name)
        if r is None:
            stage = (live or {}).get(name, "queued")
            table.add_row(safe(name), "", f"[dim]{safe(stage)}…[/]", "", "", "", "", "", "")
            continue
        g = r.gate or {}
        margin = g.get("margin")
        margin_txt = "-" if margin is None else f"[{'green' if margin >= 0 else 'red'}]{margin:+.6f}[/]"
        table.add_row(
            safe(r.variant),
            safe(r.kind),
            f"[{_STYLE.get(r.status, 'white')}]{safe(r.status)}[/]",
            safe(g.get("metric", "-")),
            safe(_fmt(g.get("measured"))),
            safe(_fmt(g.get("threshold"))),
            margin_txt,
            f"{r.timings.get('total_s', 0.0):.1f}s",
            safe(r.reason or ""),
        )
    return table


def _pin_blas_threads() -> None:
    """One BLAS thread unless the user set one: the engine's matmuls are small, and on a shared
    2-core machine threaded BLAS spins against other processes (measured 5x slower serial runs,
    see benchmarks/verify.py). Must run before numpy is imported; `--jobs N` scales instead."""
    from zoo.verify.threads import pin_blas_threads

    pin_blas_threads()


@main.command("verify")
@click.argument("names", nargs=-1, shell_complete=complete_variants)
@click.option("--all", "all_", is_flag=True, help="Verify every variant in the registry.")
@click.option("--no-build", is_flag=True, help="Fail instead of pulling/converting/quantizing missing artifacts.")
@click.option("--strict", is_flag=True, help="Let variants with a `pending` policy fail the run too.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Parallel worker processes.")
@click.option("--shard", default=None, metavar="I/N", help="Verify only slice I of N of the sorted selection.")
@click.option(
    "--merge",
    "merge",
    is_flag=True,
    help="Treat the arguments as `zoo verify --json` shard reports and combine them.",
)
@json_option
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    all_: bool,
    no_build: bool,
    strict: bool,
    jobs: int,
    shard: str | None,
    merge: bool,
    as_json: bool,
) -> None:
    """Verify variants against their f32 roots' golden outputs (the registry's policy gates pass/fail).

    \b
    zoo verify NAME... | --all [--no-build] [--strict] [--jobs N] [--shard I/N] [--json]
    zoo verify --merge REPORT.json...
    Exit 0 all pass, 1 any fail, 2 bad usage/input, 3 remote error.
    BLAS runs one thread per process unless OPENBLAS_NUM_THREADS/OMP_NUM_THREADS are set;
    use --jobs to use more cores.
    """
    _pin_blas_threads()
    if merge:
        if all_ or shard or no_build or jobs != 1:
            raise UsageError("--merge takes only report files (and --json/--strict)")
        if not names:
            raise UsageError("--merge needs at least one REPORT.json")
        from zoo.verify.batch import merge_reports

        doc, reports = merge_reports([Path(n) for n in names])
        if strict and not doc.get("strict"):
            console().print("[yellow]note: --strict does not re-gate merged reports; shards decide[/]")
        _finish(doc, reports, as_json)
        return
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: must be at least 1")
    from zoo.verify.batch import parse_shard, report_document, run_many, shard_names

    ctx_app = app(ctx)
    workspace, registry = ctx_app.workspace(), ctx_app.registry()
    records = registry.select(names, all_=all_)
    shard_spec = parse_shard(shard) if shard else None
    if shard_spec is not None:
        keep = set(shard_names([r.name for r in records], *shard_spec))
        records = [r for r in records if r.name in keep]
    selection = [r.name for r in records]

    t0 = time.perf_counter()
    if as_json or not console().is_terminal:
        reports = run_many(workspace, registry, records, build=not no_build, strict=strict, jobs=jobs)
    else:  # live progress table on stderr; the final table is the result, on stdout
        reports = _run_live(workspace, registry, records, build=not no_build, strict=strict, jobs=jobs)
    doc = report_document(reports, shard=shard_spec, strict=strict, selection=selection, wall_s=time.perf_counter() - t0)
    _finish(doc, reports, as_json)


def _run_live(workspace: Any, registry: Any, records: list[Any], *, build: bool, strict: bool, jobs: int) -> list[Any]:
    from rich.live import Live

    from zoo.verify.batch import run_many

    names = [r.name for r in records]
    stages: dict[str, str] = {}
    finished: list[VerifyReport] = []
    with Live(_table([], stages, names), console=console(), refresh_per_second=4, transient=True) as live:

        def progress(name: str, stage: str) -> None:
            stages[name] = stage
            live.update(_table(finished, stages, names))

        reports = run_many(workspace, registry, records, build=build, strict=strict, jobs=jobs, progress=progress)
        finished.extend(reports)
        live.update(_table(finished, stages, names))
    return reports


def _finish(doc: dict[str, Any], reports: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    else:
        print_table(_table(reports))
    s = doc["summary"]
    line = f"{s['pass']} pass, {s['fail']} fail, {s['pending']} pending, {s['error']} error"
    if doc.get("missing_shards"):
        line += f"; missing shards {safe(', '.join(doc['missing_shards']))}"
    if doc.get("unreported"):
        line += f"; not reported: {safe(', '.join(doc['unreported']))}"
    if not as_json:
        results().print(line)
    for r in reports:  # with --json these are logs (the document has them); otherwise part of the result
        if r.exit_code:
            (console() if as_json else results()).print(f"[red]{safe(r.variant)}[/]: {safe(r.reason)}")
    code = int(doc["exit_code"])
    if code:
        sys.exit(code)


@main.command("diff")
@click.argument("a", shell_complete=complete_variants)
@click.argument("b", shell_complete=complete_variants)
@json_option
@click.pass_context
def diff_cmd(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """Cosine matrix of two variants' golden outputs (latent, rollout steps 1/5/10/15/20).

    Only meaningful when the latent sizes match; run `zoo verify A B` first to build the golden files.
    """
    from zoo.verify.engine import GOLDEN_FILE, read_golden
    from zoo.verify.metrics import diff_outputs

    ctx_app = app(ctx)
    workspace, registry = ctx_app.workspace(), ctx_app.registry()
    rec_a, rec_b = registry.get(a), registry.get(b)
    if rec_a.architecture.latent_dim != rec_b.architecture.latent_dim:
        raise UsageError(
            f"{a} has latent dim {rec_a.architecture.latent_dim}, {b} has {rec_b.architecture.latent_dim}",
            hint="zoo diff compares variants with the same latent size (e.g. slim_192d vs baseline)",
        )
    paths = []
    for rec in (rec_a, rec_b):
        path = workspace.variant_dir(rec.name) / GOLDEN_FILE
        if not path.is_file():
            raise UsageError(f"{path}: no golden file for {rec.name}", hint=f"run `zoo verify {rec.name}` first")
        paths.append(path)
    ga, gb = read_golden(paths[0]), read_golden(paths[1])
    result = diff_outputs(ga, gb, source_a=str(paths[0]), source_b=str(paths[1]))
    same_inputs = all(
        k in ga and k in gb and ga[k].shape == gb[k].shape and bool((ga[k] == gb[k]).all())
        for k in ("inputs.image", "inputs.actions")
    )
    result.update({"a": a, "b": b, "same_inputs": same_inputs})
    if as_json:
        emit_json(result)
        return
    from rich.table import Table

    table = Table(title=f"cosine: rows {safe(a)}, columns {safe(b)}")
    table.add_column("")
    for lab in result["labels"]:
        table.add_column(lab, justify="right")
    for i, (lab, row) in enumerate(zip(result["labels"], result["matrix"], strict=True)):
        table.add_row(safe(lab), *(f"[bold]{v:.4f}[/]" if i == j else f"{v:.4f}" for j, v in enumerate(row)))
    print_table(table)
    results().print(
        f"drift |‖s20‖-‖z‖|/‖z‖: {safe(a)} {result['drift']['a']:.4f}, {safe(b)} {result['drift']['b']:.4f}"
        + ("" if same_inputs else "  [yellow](golden inputs differ)[/]")
    )
