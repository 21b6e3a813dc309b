"""`zoo pull`: fetch, check and convert variants (attached to the main group on import)."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli._app import app, complete_variants, console, emit_json, json_option, main, print_table
from zoo.text import safe


@main.command()
@click.argument("names", nargs=-1, shell_complete=complete_variants)
@click.option("--all", "all_", is_flag=True, help="Pull every variant in the registry.")
@click.option("--offline", is_flag=True, help="Use the cache only (also HF_HUB_OFFLINE=1 / WANDB_MODE=offline).")
@click.option("--refresh", is_flag=True, help="Ask the sources again even if the cache has the checkpoint.")
@click.option("--no-convert", is_flag=True, help="Only fetch and check the checkpoint.")
@click.option("--locked", is_flag=True,
              help="Refuse sources that drifted from registry.lock (`zoo lock`); also ZOO_LOCKED=1.")
@json_option
@click.pass_context
def pull(ctx: click.Context, names: tuple[str, ...], all_: bool, offline: bool, refresh: bool,
         no_convert: bool, locked: bool, as_json: bool) -> None:
    """Fetch NAME... (or --all) from their sources, check every digest, convert to safetensors.

    Derived variants pull their f32 root. A cached checkpoint is installed without any network call.
    Sources are tried in order (primary, then mirrors); the table says which one served.
    """
    from zoo.store.pull import pull_variants

    a = app(ctx)
    ws, reg = a.workspace(), a.registry()
    records = reg.select(names, all_=all_)
    with _Progress(enabled=not as_json) as prog:
        outcomes = pull_variants(ws, reg, records, offline=offline, refresh=refresh, convert=not no_convert,
                                 progress=prog.update, locked=locked)
    if as_json:
        emit_json({"schema_version": 1, "pulled": [o.to_json() for o in outcomes]})
        return
    render_pull_table(outcomes)


@main.command("lock")
@click.option("--check", "check_only", is_flag=True, help="Exit 1 when registry.lock is stale; write nothing.")
@json_option
@click.pass_context
def lock_cmd(ctx: click.Context, check_only: bool, as_json: bool) -> None:
    """Resolve every source (W&B alias -> version + file digests, hf:// revision -> commit sha,
    file:// mirror -> sha256) into registry.lock (sorted JSON, no timestamps; commit it)."""
    from zoo.errors import VerificationError
    from zoo.store.lock import LOCK_FILE, check_lock, write_lock

    a = app(ctx)
    ws, reg = a.workspace(), a.registry()
    if check_only:
        problems = check_lock(ws, reg)
        if as_json:
            emit_json({"schema_version": 1, "lock": str(ws.root / LOCK_FILE), "stale": bool(problems),
                       "problems": problems})
        else:
            for line in problems:
                console().print(f"[red]stale[/]: {line}")
        if problems:
            raise VerificationError(f"{ws.root / LOCK_FILE} is stale: {problems[0]}"
                                    + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                                    hint="review the sources, then run `zoo lock` and commit registry.lock")
        if not as_json:
            console().print(f"{ws.root / LOCK_FILE} is up to date")
        return
    path, changed = write_lock(ws, reg)
    if as_json:
        emit_json({"schema_version": 1, "lock": str(path), "changed": changed})
    else:
        console().print(f"{'wrote' if changed else 'unchanged'}: {path}")


def render_pull_table(outcomes: list[Any]) -> None:
    from rich.table import Table

    from zoo.cli.registry_cmds import fmt_size

    table = Table(title="zoo pull", title_justify="left")
    for col in ("variant", "checkpoint", "served by", "version", "size", "sha256", "convert"):
        table.add_column(col)
    for o in outcomes:
        f = o.fetch
        served = "cache" if f.cached else (f.served_by or "?")
        table.add_row(safe(o.variant if o.variant == o.root else f"{o.variant} (via {o.root})"), safe(f.file),
                      safe(served), safe(f.version or "-"), fmt_size(f.size), safe(f.sha256[:12]), safe(o.converted))
    print_table(table)
    for o in outcomes:
        for note in o.fetch.skipped:
            console().print(f"[yellow]note[/]: {safe(o.root)}: {safe(note)}")
    shown: set[str] = set()
    for o in outcomes:  # an uncertain architecture field the checkpoint measured differently: one line each
        for warning in getattr(o, "warnings", ()):
            if warning not in shown:
                shown.add(warning)
                console().print(f"[yellow]warning[/]: {safe(warning)}", highlight=False, soft_wrap=True)


class _Progress:
    """One rich progress display for fetch/check/convert phases (quiet with --json or no TTY)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and console().is_terminal
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                      TransferSpeedColumn(), console=console(), transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def update(self, variant: str, phase: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(variant)
        label = safe(f"{phase:8s} {variant}")
        if task is None:
            task = self._tasks[variant] = self._progress.add_task(label, total=total)
        self._progress.update(task, description=label, completed=done, total=total)
