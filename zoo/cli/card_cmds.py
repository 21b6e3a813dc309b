"""`zoo` commands of the card stage (attached to the main group on import)."""

from __future__ import annotations

import click

from zoo.cli._app import app, complete_variants, console, emit_json, json_option, main, results
from zoo.text import safe


@main.command()
@click.argument("names", nargs=-1, shell_complete=complete_variants)
@click.option("--all", "all_", is_flag=True, help="Render the card of every registry variant.")
@click.option("--check", is_flag=True, help="Render in memory and exit 1 if committed cards are out of date.")
@json_option
@click.pass_context
def card(ctx: click.Context, names: tuple[str, ...], all_: bool, check: bool, as_json: bool) -> None:
    """Render model cards: cards/NAME/README.md and the collection card cards/README.md.

    When cards/site/ already exists (`zoo site` was run), the static site is re-rendered too, so
    `zoo card --check` stays green; with --check nothing is written. Local `file://` mirror paths
    are shown shortened (`file://.../<last segment>`), as in the published manifest.json.
    """
    from zoo.cards import check_cards, render_site, write_cards
    from zoo.errors import UsageError

    a = app(ctx)
    ws, reg = a.workspace(), a.registry()
    if check:
        if names:
            raise UsageError("--check compares every card; do not name variants", hint="run `zoo card --check`")
        stale = check_cards(ws, reg)
        if as_json:
            emit_json({"schema_version": 1, "up_to_date": not stale, "out_of_date": stale})
        elif stale:
            results().print(f"[red]{len(stale)} card file(s) out of date:[/red]")
            for path in stale:
                results().print(f"  {safe(path)}")
            console().print("hint: run `zoo card --all` (it re-renders an existing cards/site/ too) and commit cards/")
        else:
            results().print("cards are up to date")
        ctx.exit(1 if stale else 0)
    selected = [r.name for r in reg.select(names, all_=all_)]
    paths = write_cards(ws, reg, selected)
    rels = [str(p.relative_to(ws.root)) for p in paths]
    # a site left as it was would make the next `zoo card --check` fail until `zoo site` runs
    site = render_site(ws, reg) if (ws.cards_dir / "site").is_dir() else None
    site_rel = str(site.relative_to(ws.root)) if site is not None else None
    if as_json:
        emit_json({"schema_version": 1, "written": rels, "site": site_rel})
    else:
        for rel in rels:
            results().print(f"wrote {safe(rel)}")
        if site_rel:
            results().print(f"re-rendered the site ({safe(site_rel)})")


@main.command()
@click.option("--serve", is_flag=True, help="After rendering, serve the workspace on http://127.0.0.1 (Ctrl-C stops).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port for --serve (0: any free port).")  # fmt: skip
@json_option
@click.pass_context
def site(ctx: click.Context, serve: bool, port: int, as_json: bool) -> None:
    """Render the static HTML browser of the collection into cards/site/ (open index.html).

    With --serve the workspace is served over loopback HTTP (stdlib server, 127.0.0.1 only,
    `.wasm` as application/wasm), which the pages' "run it in this page" panels need: browsers
    refuse to load lewm.wasm and the model file from file://.
    """
    import sys

    from zoo.cards import render_site
    from zoo.errors import UsageError

    a = app(ctx)
    ws = a.workspace()
    index = render_site(ws, a.registry())
    if not serve:
        if as_json:
            emit_json({"schema_version": 1, "index": str(index)})
        else:
            results().print(f"site written; open {safe(index.as_uri())}")
        return
    from zoo.serve import make_server

    try:
        server = make_server(ws.root, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror})",
                         hint="pick another port, or --port 0 for any free one") from exc  # fmt: skip
    url = f"http://127.0.0.1:{server.server_port}/{index.relative_to(ws.root).as_posix()}"
    if as_json:
        emit_json({"schema_version": 1, "index": str(index), "url": url})
    else:
        results().print(f"serving {safe(ws.root)} on 127.0.0.1 only; open {safe(url)} (Ctrl-C stops)", soft_wrap=True)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
