"""`zoo publish` (attached to the main group on import; heavy imports inside the body)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from zoo.cli._app import app, complete_variants, emit_json, json_option, main, print_table, results
from zoo.text import safe

if TYPE_CHECKING:
    from zoo.publish.push import PublishResult


def render_result(result: PublishResult) -> None:
    """Tables on stdout: the variants' gate, then each repository's adds/updates/deletes."""
    from rich.table import Table

    from zoo.cli.registry_cmds import fmt_size

    con = results()
    gate = Table(title="verification gate")
    for col in ("variant", "state", "gate", "reason"):
        gate.add_column(col, overflow="fold")
    style = {"pass": "green", "pending": "yellow", "fail": "red", "stale": "red", "missing": "red"}
    for c in result.checks.values():
        measured = f"{c.metric}={c.measured:.4f}" if c.metric and c.measured is not None else "-"
        gate.add_row(safe(c.name), f"[{style.get(c.state, 'white')}]{safe(c.state)}[/]", safe(measured),
                     safe("; ".join(c.reasons)))
    print_table(gate)
    for rr in result.repos:
        p = rr.plan
        title = f"{'plan' if result.dry_run else 'published'}: {safe(p.repo_id)}"
        if not rr.remote_consulted:
            title += " (offline: compared with an empty repository)"
        elif not rr.exists:
            title += " (not found or private: HF_TOKEN not set)" if rr.anonymous else " (new repository)"
        table = Table(title=title)
        for col in ("action", "path", "size"):
            table.add_column(col, overflow="fold")
        for f in p.adds:
            table.add_row("[green]add[/]", safe(f.path), fmt_size(f.size))
        for f in p.updates:
            table.add_row("[yellow]update[/]", safe(f.path), fmt_size(f.size))
        for path in p.deletes:
            table.add_row("[red]delete[/]", safe(path), "")
        for path in p.extra:
            table.add_row("[dim]keep (remote only; --prune deletes)[/]", safe(path), "")
        if table.row_count:
            print_table(table)
        line = (f"{len(p.adds)} add, {len(p.updates)} update, {len(p.deletes)} delete, "
                f"{len(p.unchanged)} unchanged, {fmt_size(p.bytes)} to upload")
        if not result.dry_run:
            line += f"; commit {safe(rr.commit[:12])}" if rr.commit else "; nothing changed, no commit"
            if rr.tag_created:
                line += f"; tagged {safe(result.tag)}"
        con.print(line)
        conflict = rr.tag_conflict(result.tag) if result.dry_run else None
        if conflict:
            con.print(f"[red]tag {safe(result.tag)} already exists at {safe(conflict[:12])}[/]: "
                      "publishing would refuse to move it")
    if result.collection is not None:
        render_collection(result)
    if result.dry_run and result.refused:
        names = ", ".join(safe(c.name) for c in result.refused)
        con.print(f"[red]would refuse[/] {names} (verification missing, failed or stale, or synthetic weights)"
                  + (f"; forced: {safe(result.force)}" if result.force else ""))
    if result.dry_run and result.error is not None:
        con.print(f"[red]the real run would stop here (exit {result.error.exit_code}) and upload nothing[/]")


def render_collection(result: PublishResult) -> None:
    """The Hub Collection's changes (items in their planned order)."""
    from rich.table import Table

    col = result.collection
    assert col is not None
    con = results()
    where = safe(col.slug or f"{col.namespace}: {col.title!r}")
    title = f"{'plan' if result.dry_run else 'collection'}: {where}"
    if not col.remote_consulted:
        title += " (offline: compared with no collection)"
    elif col.slug is None and result.dry_run:
        title += " (new collection)"
    table = Table(title=title)
    for name in ("position", "action", "repository", "note"):
        table.add_column(name, overflow="fold")
    style = {"add": "green", "move": "yellow", "note": "yellow", "unchanged": "dim"}
    for item in col.items:
        table.add_row(str(item.position), f"[{style[item.action]}]{item.action}[/]", safe(item.repo_id),
                      safe(item.note))
    print_table(table)
    n = len(col.changes)
    line = f"collection: description {col.description_action}, {n} item change(s), {len(col.items) - n} unchanged"
    if not result.dry_run:
        line += "; updated" if col.applied and col.changed else "; nothing changed"
    con.print(line)


@main.command("publish")
@click.argument("names", nargs=-1, shell_complete=complete_variants)
@click.option("--all", "all_", is_flag=True, help="Publish every variant in the registry.")
@click.option("--repo", default=None, metavar="ID", help="Hub repository (default: collection.hub_repo).")
@click.option("--tag", default=None, metavar="TAG", help="Create this release tag on the final commit.")
@click.option("--dry-run", is_flag=True, help="Print the plan (adds, updates, deletes, bytes); write nothing.")
@click.option("--prune", is_flag=True, help="Delete remote files of the published variants that are not local.")
@click.option("--force", default=None, metavar="REASON",
              help="Publish variants whose verification is missing/failed/stale; REASON goes into the commit.")
@click.option("--allow-synthetic", is_flag=True,
              help="Publish variants whose provenance says synthetic weights (zoo demo); refused otherwise.")
@click.option("--per-variant-repos/--single-repo", "per_variant_repos", default=True, show_default=True,
              help="Layout: one repository per variant, named <repo>-<name>, grouped in a Hub Collection "
                   "(the release default), or --single-repo: one aggregate repository with a folder per "
                   "variant and the collection card as root README (mirrors of the original collection).")
@click.option("--no-collection", is_flag=True,
              help="With per-variant repositories, do not create/update the Hub Collection grouping them.")
@json_option
@click.pass_context
def publish_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    all_: bool,
    repo: str | None,
    tag: str | None,
    dry_run: bool,
    prune: bool,
    force: str | None,
    allow_synthetic: bool,
    per_variant_repos: bool,
    no_collection: bool,
    as_json: bool,
) -> None:
    """Push verified variants and their cards to the Hugging Face Hub.

    Default layout: one repository per variant (<repo>-<name>, so each card is a Hub model page with
    base_model lineage) plus a Hub Collection grouping them; --single-repo pushes one repository with
    a folder per variant and the collection card. Default NAMEs: every variant that has a verify.json.
    Needs HF_TOKEN (except --dry-run). Idempotent: only files whose digest differs from the Hub's are
    committed, one commit per repository; only collection items that differ are changed.
    --dry-run prints the plan and exits with the code (and error) the real run would stop with.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from zoo.publish.push import publish_workspace

    a = app(ctx)
    from zoo.publish.progress import UploadProgress

    with UploadProgress(enabled=not as_json and not dry_run) as progress:
        result = publish_workspace(a.workspace(), a.registry(), names, all_=all_, repo=repo, tag=tag,
                                   dry_run=dry_run, prune=prune, force=force, per_variant_repos=per_variant_repos,
                                   collection=not no_collection, allow_synthetic=allow_synthetic,
                                   progress=progress if progress.enabled else None)
    if as_json:
        emit_json(result.to_json())
    else:
        render_result(result)
    if result.error is not None:  # dry run: the refusal the real run stops with (same line, same exit code)
        raise result.error
