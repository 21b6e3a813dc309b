"""`zoo convert` and `zoo inspect` (attached to the main group on import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import app, complete_variants_or_paths, emit_json, json_option, main, print_table, results
from zoo.text import plain, safe


@main.command()
@click.argument("target", shell_complete=complete_variants_or_paths)
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory when TARGET is a checkpoint file.")
@json_option
@click.pass_context
def convert(ctx: click.Context, target: str, output: Path | None, as_json: bool) -> None:
    """Convert a checkpoint to lejepa_weights.safetensors + config.json, without torch.

    TARGET is a variant NAME (reads variants/NAME/source/, writes variants/NAME/, checks the registry's
    architecture) or a checkpoint PATH (needs -o DIR). Nothing in the checkpoint is ever executed.
    """
    from zoo.errors import UsageError

    path = Path(target)
    if not path.is_file() and ("/" in target or path.suffix in (".ckpt", ".pt", ".pth")):
        from zoo.errors import CheckpointError

        raise CheckpointError(f"{target}: file not found", hint="give an existing checkpoint path or a variant name")
    if path.is_file():
        if output is None:
            raise UsageError(f"{target}: converting a file needs an output directory", hint="pass -o DIR")
        # start hashing the checkpoint (for the provenance digest) while the converter is imported
        from zoo.convert.hashing import FileHasher

        hasher = FileHasher(path)
        from zoo.convert import convert_checkpoint

        result = convert_checkpoint(path, output, source_hasher=hasher)
    else:
        if output is not None:
            raise UsageError(f"{target}: -o applies to checkpoint files; a variant converts into its workspace",
                             hint="no such file; to convert a variant drop -o")
        from zoo.convert import convert_variant

        a = app(ctx)
        reg = a.registry()
        result = convert_variant(a.workspace(), reg, reg.get(target))
    if as_json:
        emit_json({"schema_version": 1, **result.to_dict()})
        return
    _render_result(result)


def _render_result(result: Any) -> None:
    # Plain click.echo on stdout, not rich: this summary has no tables, and importing rich costs more
    # than a third of the conversion itself. The weights digest is printed only when already known
    # (variant mode records it in the manifest); hashing 60 MB just to print it would double the I/O.
    def say(text: str = "") -> None:
        click.echo(text)

    ok = click.style("up to date" if result.up_to_date else "converted", fg="green", bold=True)
    if result.up_to_date:
        say(f"{ok} {plain(result.safetensors_path)} (same checkpoint, same converter)")
    else:
        say(f"{ok} {plain(result.source_kind)} checkpoint ({result.tensor_count} tensors) -> "
            f"{plain(result.safetensors_path)}")
    say(f"  config   {plain(result.config_path)}  sha256 {result.config_sha256[:16]}")
    known = result.known_safetensors_sha256
    weights = f"sha256 {known[:16]}" if known else "sha256 (see --json)"
    say(f"  weights  {weights}  (source {result.source_sha256[:16]})")
    c = result.config
    say(f"  {c.encoder_type} He={c.encoder_hidden} Le={c.encoder_layers} heads={c.encoder_heads} "
        f"D={c.latent_dim} Hp={c.predictor_hidden} Lp={c.predictor_layers} J={c.projector_hidden}"
        + (f" M={c.meta_tokens} pattern={c.block_pattern}" if c.encoder_type == "hybrid" else ""))
    if result.dropped:
        say(f"  dropped  {len(result.dropped)} tensor(s) (counters, sigreg, ...)")
    for w in result.warnings:
        say(f"  {click.style('warning', fg='yellow')} {plain(w)}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def inspect(path: Path, as_json: bool) -> None:
    """Show what a .ckpt/.pt, safetensors or LQ40 file holds (tensors, shapes, dtypes, stubbed classes)."""
    from zoo.convert.inspect import describe_file

    info = describe_file(path)
    if as_json:
        emit_json(info)
        return
    _render_info(info)


def _render_info(info: dict[str, Any]) -> None:
    if info.get("format") == "lq40":
        _render_lq40(info)
        return
    from rich.table import Table

    con = results()
    con.print(f"[bold]{safe(info['path'])}[/]  ({safe(info['format'])}, {safe(info.get('size', 0))} bytes)")
    for key in ("kind", "root_class", "metadata"):
        if info.get(key):
            con.print(f"  {key}: {safe(info[key])}")
    if info.get("stubbed_classes"):
        con.print(f"  stubbed classes ({len(info['stubbed_classes'])}, never imported): "
                  + ", ".join(safe(c) for c in info["stubbed_classes"]))
    if info.get("shared_storages"):
        con.print(f"  shared storages: {safe(info['shared_storages'])}")
    tensors = info.get("tensors") or []
    table = Table(show_edge=False)
    for col in ("name", "dtype", "shape"):
        table.add_column(col)
    for t in tensors:
        table.add_row(safe(t["name"]), safe(t["dtype"]), safe("x".join(str(s) for s in t["shape"]) or "scalar"))
    print_table(table)
    con.print(f"  {len(tensors)} tensors, {safe(info.get('parameters', 0))} elements")


def _render_lq40(info: dict[str, Any]) -> None:
    from rich.table import Table

    con = results()
    con.print(f"[bold]{safe(info['path'])}[/]  (LQ40 mode {safe(info.get('mode'))}, {safe(info.get('size', 0))} bytes"
              + (", zoo extension" if info.get("zoo_extension") else "") + ")")
    cfg = info.get("config") or {}
    if cfg:
        con.print("  " + " ".join(f"{k}={safe(cfg[k])}" for k in ("encoder_type", "encoder_hidden", "encoder_layers",
                                                              "latent_dim", "predictor_hidden", "predictor_layers")
                                  if k in cfg))
    table = Table(show_edge=False)
    for col in ("section", "kind", "offset", "bytes", "shape / count", "sparsity"):
        table.add_column(col)
    matrices = {m["name"]: m for m in info.get("matrices") or []}
    for sec in info.get("sections") or []:
        m = matrices.get(sec["name"])
        shape = "x".join(str(x) for x in m["shape"]) if m else str(sec.get("count", ""))
        sparsity = f"{m['sparsity']:.3f}" if m and m.get("sparsity") is not None else ""
        table.add_row(safe(sec["name"]), safe(sec["kind"]), safe(sec["offset"]),
                      safe(sec.get("length", m["bytes"] if m else "")), safe(shape), sparsity)
    print_table(table)
    if info.get("totals"):
        con.print(f"  totals: {safe(info['totals'])}")
