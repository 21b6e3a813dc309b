"""`zoo golden` and `zoo bench`: commands of the numpy engine (attached to the main group on import)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.cli._app import app, emit_json, json_option, main, print_table, results
from zoo.errors import UsageError
from zoo.text import safe

if TYPE_CHECKING:
    import numpy as np

    from zoo.formats.lewm_config import LeWMConfig


def _is_converted_dir(target: str) -> bool:
    p = Path(target)
    return p.is_dir() and (p / "config.json").is_file()


def _variant_weights(ctx: click.Context, name: str, *, build: bool | None = None) -> tuple[str, LeWMConfig, dict[str, np.ndarray]]:
    """(label, config, canonical f32 weights) of a registry variant or a converted directory; with `build`
    missing files of a registry variant are built first (pull, convert, quantize), as `zoo verify` does;
    `build=False` refuses with the missing files named; None leaves them to the reader's own error)."""
    if _is_converted_dir(name):
        from zoo.formats.lewm_config import LeWMConfig
        from zoo.model.engine import CONFIG_FILE, WEIGHTS_FILE, read_safetensors

        d = Path(name)
        return d.name, LeWMConfig.from_file(d / CONFIG_FILE), read_safetensors(d / WEIGHTS_FILE)
    obj = app(ctx)
    registry = obj.registry()
    rec = registry.get(name)
    from zoo.verify.engine import variant_weights

    kind_rec = registry.parent_of(rec) if rec.format.kind == "hdl" else rec
    if kind_rec is None:
        raise UsageError(f"{rec.name}: has no weights to benchmark")
    if build is not None:
        from zoo.cli._prereq import ensure_numeric_files

        ensure_numeric_files(obj.workspace(), registry, kind_rec, build=build, command="zoo bench")
    config, weights, _ = variant_weights(obj.workspace(), registry, kind_rec)
    return rec.name, config, weights


@main.command("golden")
@click.argument("target")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the golden file here (required for a converted DIR; for NAME it skips the manifest).",
)
@json_option
@click.pass_context
def golden_cmd(ctx: click.Context, target: str, output: Path | None, as_json: bool) -> None:
    """Write golden inputs/outputs (safetensors) for variant NAME, or for a converted DIR with -o FILE.

    NAME writes variants/NAME/golden.safetensors and records it in the manifest. The tensors are
    inputs.image, inputs.actions, outputs.latent, outputs.rollout (20-step, history 3).
    """
    import numpy as np

    from zoo._io import sha256_file
    from zoo.model.golden import golden_for_directory, golden_for_variant, golden_from_weights, read_golden

    if Path(target).is_dir() or target.endswith(("/", ".")):
        if not _is_converted_dir(target):
            raise UsageError(f"{target}: not a converted directory (no config.json)", hint="run `zoo convert` first")
        if output is None:
            raise UsageError(f"zoo golden {target}: a directory needs -o FILE")
        path = golden_for_directory(target, output)
        label = Path(target).name
    else:
        obj = app(ctx)
        registry = obj.registry()
        rec = registry.get(target)
        label = rec.name
        if output is None and rec.format.kind == "safetensors-f32":
            path = golden_for_variant(obj.workspace(), registry, rec)
        else:
            from zoo.verify.engine import GOLDEN_FILE, variant_weights

            config, weights, used = variant_weights(obj.workspace(), registry, rec)
            path = output or obj.workspace().variant_dir(rec.name) / GOLDEN_FILE
            meta = {"variant": rec.name, "weights_sha256": next(iter(used.values()), "")}
            golden_from_weights(config, weights, path, meta)
            if output is None:
                from zoo.store.manifest import update_manifest

                with update_manifest(obj.workspace().variant_dir(rec.name)) as manifest:
                    manifest.record_artifact(GOLDEN_FILE, kind="golden", produced_by="zoo golden", inputs=used)
    tensors, meta = read_golden(path)
    latent = tensors["outputs.latent"].astype(np.float64)
    last = tensors["outputs.rollout"][-1].astype(np.float64)
    result: dict[str, Any] = {
        "variant": label,
        "path": str(path),
        "sha256": sha256_file(path),
        "semantics": meta.get("semantics"),
        "engine_version": meta.get("engine_version"),
        "latent_norm": float(np.linalg.norm(latent)),
        "rollout20_norm": float(np.linalg.norm(last)),
    }
    if as_json:
        emit_json(result)
    else:
        results().print(
            f"[green]golden[/] {safe(label)}: {safe(path)} (|z| {result['latent_norm']:.4f}, "
            f"|z20| {result['rollout20_norm']:.4f}, sha256 {result['sha256'][:12]})"
        )


@main.command("bench")
@click.argument("target")
@click.option("--repeats", type=click.IntRange(1, 1000), default=10, show_default=True, help="Timed runs per op.")
@click.option("--warmup", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Untimed runs per op before timing (page in weights, warm caches).")
@click.option("--batch", type=click.IntRange(1, 256), default=1, show_default=True, help="Batch size of every op.")
@click.option("--save", is_flag=True,
              help="Write variants/NAME/bench.json (shown on the card by `zoo card`); registry variants only.")
@click.option("--no-build", is_flag=True,
              help="Fail instead of pulling/converting/quantizing a registry variant's missing weights.")
@json_option
@click.pass_context
def bench_cmd(ctx: click.Context, target: str, repeats: int, warmup: int, batch: int, save: bool,
              no_build: bool, as_json: bool) -> None:
    """Time the numpy engine on variant NAME (or a converted DIR): encode, predict, 20-step rollout (median ms).

    Missing weights of a registry variant are built first, as `zoo verify` does (--no-build refuses).
    With --save the result goes to variants/NAME/bench.json; `zoo card NAME` then shows it in the
    card's "Benchmarks (this machine)" table next to the original collection's claimed timings.
    """
    from zoo.model.bench import BENCH_FILE, bench_document, bench_model
    from zoo.model.engine import LeWM

    if save and _is_converted_dir(target):
        raise UsageError(f"zoo bench {target} --save: --save needs a registry variant NAME, not a directory",
                         hint="drop --save, or run it in a workspace: zoo bench NAME --save")
    label, config, weights = _variant_weights(ctx, target, build=not no_build)
    model = LeWM.from_weights(config, weights, source=label)
    result = {"variant": label, **bench_model(model, repeats=repeats, warmup=warmup, batch=batch)}
    saved = None
    if save:
        from zoo._io import atomic_write_json

        saved = app(ctx).workspace().variant_dir(label) / BENCH_FILE
        atomic_write_json(saved, bench_document(label, result))
        result["saved"] = str(saved)
    if as_json:
        emit_json(result)
        return
    from rich.table import Table

    table = Table(title=f"zoo bench {safe(label)} (numpy engine, batch {batch}, median of {repeats})")
    for col in ("op", "median ms", "min ms"):
        table.add_column(col, justify="right" if col != "op" else "left")
    for op in ("encode", "predict", "rollout20"):
        table.add_row(op, f"{result[op]['median_ms']:.2f}", f"{result[op]['min_ms']:.2f}")
    print_table(table)
    if saved is not None:
        results().print(f"saved {safe(saved)} (run `zoo card {safe(label)}` to show it on the card)")
