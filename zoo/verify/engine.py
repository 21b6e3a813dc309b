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
    try:
        from zoo.model import golden

        return str(getattr(golden, "ENGINE_VERSION"))  # noqa: B009
    except (ImportError, AttributeError):
        from zoo import __version__

        return __version__


def read_golden(path: str | Path) -> dict[str, np.ndarray]:
    """Tensors of a golden file (inputs.* and outputs.*) as float32 arrays."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found", hint="run `zoo verify` without --no-build to create it")
    try:
        from safetensors.numpy import load_file

        tensors = load_file(str(p))
    except Exception as exc:  # safetensors raises several types for a damaged header
        raise InputError(f"{p}: not a readable golden safetensors file ({exc})", hint="delete it and rebuild") from None
    return {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}


def run_golden(config: LeWMConfig, weights: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the engine on the golden inputs stored in `reference`; same computation as the golden writer."""
    from zoo.model.engine import LeWM

    image = np.asarray(reference["inputs.image"], dtype=np.float32)
    actions = np.asarray(reference["inputs.actions"], dtype=np.float32)
    model = LeWM.from_weights(config, dict(weights))
    # Golden semantics (docs/CONVENTIONS.md): latent of the image, then a 20-step rollout from
    # the image whose row 0 is the 1-step prediction.
    latent = model.encode(image[None])[0]
    rollout = model.rollout(image[None], actions[None])[0]
    return {"inputs.image": image, "inputs.actions": actions, "outputs.latent": latent, "outputs.rollout": rollout}


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
        manifest.record_artifact(GOLDEN_FILE, kind="golden", produced_by="zoo verify", inputs=dict(used))


def variant_weights(workspace: Workspace, registry: Any, rec: VariantRecord) -> tuple[LeWMConfig, Weights, dict[str, str]]:
    """(config, f32 weights, {file it came from: sha256}) of a variant with its own numeric files."""
    vdir = workspace.variant_dir(rec.name)
    kind = rec.format.kind
    if kind == "safetensors-f32":
        from zoo.model.engine import read_safetensors

        config = LeWMConfig.from_file(vdir / CONFIG_FILE)
        return config, read_safetensors(vdir / WEIGHTS_FILE), {f"{rec.name}/{WEIGHTS_FILE}": sha256_file(vdir / WEIGHTS_FILE)}
    if kind == "lq40":
        from zoo.formats.lq40 import lq40_to_weights, read_lq40

        path = vdir / LQ40_FILE
        config, weights = lq40_to_weights(read_lq40(path))
        return config, dict(weights), {f"{rec.name}/{LQ40_FILE}": sha256_file(path)}
    if kind == "ternary":
        from zoo.quant.ternary import ternary_to_weights

        path = vdir / TERNARY_FILE
        tensors, meta = _read_with_metadata(path)
        root = registry.f32_root(rec)
        config = LeWMConfig.from_file(workspace.variant_dir(root.name) / CONFIG_FILE)
        return config, ternary_to_weights(tensors, meta), {f"{rec.name}/{TERNARY_FILE}": sha256_file(path)}
    raise UsageError(f"{rec.name}: format kind {kind!r} has no weights of its own to verify")


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


def build_artifacts(workspace: Workspace, registry: Any, rec: VariantRecord) -> None:
    """Pull / convert / quantize / golden whatever this variant's verification needs, ancestors first."""
    chain: list[VariantRecord] = []
    cur: VariantRecord | None = rec
    while cur is not None:
        chain.append(cur)
        cur = registry.parent_of(cur)
    for item in reversed(chain):
        _build_one(workspace, registry, item)


def _build_one(workspace: Workspace, registry: Any, rec: VariantRecord) -> None:
    vdir = workspace.variant_dir(rec.name)
    kind = rec.format.kind
    if kind == "safetensors-f32":
        if not all((vdir / f).is_file() for f in NUMERIC_FILES[kind]):
            # pull (cache hit when the checkpoint is already there, digests checked) then convert
            from zoo.store.pull import pull_variants

            pull_variants(workspace, registry, [rec], convert=True)
        if not (vdir / GOLDEN_FILE).is_file():
            from zoo.model.golden import golden_for_variant

            golden_for_variant(workspace, registry, rec)
    elif kind in ("lq40", "ternary") and not all((vdir / f).is_file() for f in NUMERIC_FILES[kind]):
        from zoo.quant.pipeline import quantize_variant

        quantize_variant(workspace, registry, rec)
