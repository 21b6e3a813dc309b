"""The verify stage's view of the other stages: build artifacts, load weights, run golden.

One small adapter so `run.py` stays about ordering and gating. Everything heavy is imported
inside the functions (pull, convert, quantize, the numpy engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo._io import sha256_file
from zoo.errors import InputError, UsageError
from zoo.formats.lewm_config import LeWMConfig
from zoo.registry.records import VariantRecord
from zoo.registry.workspace import Workspace

GOLDEN_FILE = "golden.safetensors"
WEIGHTS_FILE = "lejepa_weights.safetensors"
CONFIG_FILE = "config.json"
LQ40_FILE = "model.lq40"
TERNARY_FILE = "ternary.safetensors"

# Files a variant's numbers are computed from, per format kind; kinds with none (hdl) compute
# the numbers of their parent.
NUMERIC_FILES: dict[str, tuple[str, ...]] = {
    "safetensors-f32": (WEIGHTS_FILE, CONFIG_FILE),
    "lq40": (LQ40_FILE,),
    "ternary": (TERNARY_FILE,),
    "hdl": (),
}

Weights = dict[str, np.ndarray]


def engine_version() -> str:
    from zoo.model import ENGINE_VERSION

    return str(ENGINE_VERSION)


def read_golden(path: str | Path) -> dict[str, np.ndarray]:
    """Tensors of a golden file (inputs.* and outputs.*), read by the engine's golden reader."""
    from zoo.model.golden import read_golden as _read

    return _read(path)[0]


def run_golden(config: LeWMConfig, weights: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A fresh run of the engine's golden code on `weights`; the golden inputs must equal the reference's."""
    from zoo.model.engine import LeWM
    from zoo.model.golden import make_golden

    out = make_golden(LeWM.from_weights(config, dict(weights)), config)
    for key in ("inputs.image", "inputs.actions"):
        ref = reference.get(key)
        if ref is None or ref.shape != out[key].shape or not np.array_equal(ref, out[key]):
            raise InputError(
                f"reference golden: tensor {key} differs from this engine's golden input recipe",
                hint="rebuild the f32 root's golden.safetensors (delete it and run `zoo verify ROOT`)",
            )
    return dict(out)


def write_golden(
    workspace: Workspace,
    rec: VariantRecord,
    config: LeWMConfig,
    weights: Mapping[str, np.ndarray],
    path: Path,
    used: Mapping[str, str],
) -> None:
    """Write a derived variant's golden file with the engine's golden code and record it."""
    from zoo.model.golden import golden_from_weights
    from zoo.store.manifest import update_manifest

    weights_sha = next(iter(used.values()), "")
    golden_from_weights(config, dict(weights), path, {"variant": rec.name, "weights_sha256": weights_sha})
    with update_manifest(workspace.variant_dir(rec.name)) as manifest:
        manifest.record_artifact(
            GOLDEN_FILE, kind="golden", produced_by=f"zoo verify (engine {engine_version()})", inputs=dict(used)
        )


def variant_weights(workspace: Workspace, registry: Any, rec: VariantRecord) -> tuple[LeWMConfig, Weights, dict[str, str]]:
    """(config, f32 weights, {file it came from: sha256}) of a variant with its own numeric files."""
    vdir = workspace.variant_dir(rec.name)
    kind = rec.format.kind
    if kind not in ("safetensors-f32", "lq40", "ternary"):
        raise UsageError(f"{rec.name}: format kind {kind!r} has no weights of its own to verify")
    path = vdir / NUMERIC_FILES[kind][0]
    config_path = vdir / CONFIG_FILE
    if kind == "ternary":  # a ternary file carries only weights: the architecture is the f32 root's
        config_path = workspace.variant_dir(registry.f32_root(rec).name) / CONFIG_FILE
    config, weights = read_weights_file(kind, path, config_path)
    return config, weights, {f"{rec.name}/{path.name}": sha256_file(path)}


def read_weights_file(kind: str, path: Path, config_path: Path | None = None) -> tuple[LeWMConfig, Weights]:
    """(config, dequantized f32 weights) of one numeric file, as verify measures it.

    kind: "safetensors-f32" (`lejepa_weights.safetensors`, config from `config_path`), "lq40"
    (`model.lq40`, config from its header) or "ternary" (`ternary.safetensors`, config from its
    `config` metadata when present, else `config_path`). `zoo.load` runs models through this too.
    """
    if kind == "safetensors-f32":
        from zoo.model.engine import read_safetensors

        if config_path is None:
            raise InputError(f"{path}: no config.json given for these f32 weights")
        return LeWMConfig.from_file(config_path), read_safetensors(path)
    if kind == "lq40":
        from zoo.formats.lq40 import lq40_to_weights, read_lq40

        config, weights = lq40_to_weights(read_lq40(path))
        return config, dict(weights)
    if kind == "ternary":
        from zoo.quant.ternary import ternary_config, ternary_to_weights

        tensors, meta = _read_with_metadata(path)
        embedded = ternary_config(meta, source=str(path))
        if embedded is None:
            if config_path is None or not config_path.is_file():
                raise InputError(f"{path}: no architecture: the file has no 'config' metadata and no config.json "
                                 "sits next to it", hint="re-create it with `zoo quantize` (recent files embed it)")
            embedded = LeWMConfig.from_file(config_path)
        return embedded, ternary_to_weights(tensors, meta, source=str(path))
    raise UsageError(f"{path}: format kind {kind!r} has no weights of its own")


def _read_with_metadata(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if not path.is_file():
        raise InputError(f"{path}: file not found", hint="run `zoo quantize` first")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as exc:
        raise InputError(f"{path}: not a readable safetensors file ({exc})", hint="rebuild it") from None
    return tensors, meta


def build_artifacts(workspace: Workspace, registry: Any, rec: VariantRecord, *, golden: bool = True) -> None:
    """Pull / convert / quantize / golden whatever this variant's verification needs, ancestors first
    (`golden=False`: only the numeric files, as `zoo bench` and `zoo build` need)."""
    chain: list[VariantRecord] = []
    cur: VariantRecord | None = rec
    while cur is not None:
        chain.append(cur)
        cur = registry.parent_of(cur)
    for item in reversed(chain):
        _build_one(workspace, registry, item, golden=golden)


def _build_one(workspace: Workspace, registry: Any, rec: VariantRecord, *, golden: bool = True) -> None:
    vdir = workspace.variant_dir(rec.name)
    kind = rec.format.kind
    if kind == "safetensors-f32":
        if not all((vdir / f).is_file() for f in NUMERIC_FILES[kind]):
            # pull (cache hit when the checkpoint is already there, digests checked) then convert
            from zoo.store.pull import pull_variants

            pull_variants(workspace, registry, [rec], convert=True)
        if golden and not (vdir / GOLDEN_FILE).is_file():
            from zoo.model.golden import golden_for_variant

            golden_for_variant(workspace, registry, rec)
    elif kind in ("lq40", "ternary") and not all((vdir / f).is_file() for f in NUMERIC_FILES[kind]):
        from zoo.quant.pipeline import quantize_variant

        quantize_variant(workspace, registry, rec)
