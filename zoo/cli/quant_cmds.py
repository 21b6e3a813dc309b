"""`zoo quantize`: LQ40 / ternary artifacts from converted f32 weights (thin; logic in zoo.quant.pipeline)."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli._app import ZooChoice, app, complete_variants_or_paths, emit_json, json_option, main, results
from zoo.text import safe


def _modes() -> tuple[str, ...]:
    from zoo.registry.records import LQ40_MODES

    return (*LQ40_MODES, "ternary")


@main.command()
@click.argument("targets", nargs=-1, shell_complete=complete_variants_or_paths)
@click.option("--all", "all_", is_flag=True, help="Quantize every lq40/ternary variant in the registry.")
@click.option("--mode", type=ZooChoice(loader=_modes), default=None,
              help="With a PATH: the LQ40 mode (q4-full is a zoo extension) or ternary.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="With a PATH: output file.")
@click.option("--wanda", "wanda", type=ZooChoice(["magnitude", "calibrated"]), default=None,
              help="With a PATH and a wanda mode: WANDA importance, magnitude (default, as the original files) "
                   "or calibrated (runs the engine).")
@json_option
@click.pass_context
def quantize(
    ctx: click.Context, targets: tuple[str, ...], all_: bool, mode: str | None, output: Path | None, wanda: str | None,
    as_json: bool
) -> None:
    """Quantize NAME... (mode from the registry record) or a converted PATH with --mode and -o.

    Writes variants/<name>/model.lq40 (ternary: ternary.safetensors) and records it in the manifest.
    """
    from zoo.errors import UsageError
    from zoo.quant.pipeline import quantize_dir, quantize_variant

    done = []
    if len(targets) == 1 and Path(targets[0]).is_dir() and not all_:
        if mode is None or output is None:
            raise UsageError(f"{targets[0]}: quantizing a directory needs --mode and -o FILE")
        if wanda is not None and not mode.startswith("wanda"):
            raise UsageError(f"--wanda applies to the wanda20-q4/wanda40-q4 modes, not '{mode}'")
        done.append(quantize_dir(targets[0], output, mode, wanda=wanda or "magnitude"))
    else:
        if mode is not None or output is not None or wanda is not None:
            raise UsageError(
                "--mode/-o/--wanda apply to a converted PATH; registry variants take them from registry.yaml",
                hint="set format.mode (and format.options.wanda) in the variant's record",
            )
        a = app(ctx)
        registry = a.registry()
        if all_ and not targets:
            records = [r for r in registry.variants.values() if r.format.kind in ("lq40", "ternary")]
        else:
            records = registry.select(targets, all_=all_)
        for rec in records:
            done.append(quantize_variant(a.workspace(), registry, rec))
    if as_json:
        emit_json({"results": [r.to_dict() for r in done]})
        return
    for r in done:
        what = r.mode or r.kind
        extra = f" wanda={r.wanda}" if r.wanda else ""
        results().print(f"[green]quantized[/] {safe(r.variant or r.path)}: {safe(what)}{safe(extra)} -> {safe(r.path)} "
                        f"({r.size:,} B)")
