"""Quantize stage: registry record -> `variants/<name>/model.lq40` (or `ternary.safetensors`).

Input is the f32 parent's converted `lejepa_weights.safetensors` + `config.json`; the output is
recorded in the variant's manifest with the parent safetensors' sha256 as input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import InputError, UsageError
from zoo.formats.lewm_config import LeWMConfig

LQ40_FILE = "model.lq40"
TERNARY_FILE = "ternary.safetensors"
WEIGHTS_FILE = "lejepa_weights.safetensors"
CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class QuantizeResult:
    variant: str | None
    path: Path
    kind: str  # "lq40" | "ternary"
    mode: str | None
    size: int
    sha256: str
    wanda: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d


def load_converted_dir(directory: str | Path) -> tuple[LeWMConfig, dict[str, np.ndarray], Path]:
    """(config, f32 weights, weights path) of a converted directory."""
    d = Path(directory)
    wpath = d / WEIGHTS_FILE
    if not wpath.is_file():
        raise InputError(f"{wpath}: file not found", hint="run `zoo convert` on the parent variant first")
    cfg = LeWMConfig.from_file(d / CONFIG_FILE)
    try:
        from safetensors.numpy import load_file

        weights = load_file(str(wpath))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise InputError(f"{wpath}: not a readable safetensors file ({exc})", hint="re-run `zoo convert`") from None
    return cfg, {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}, wpath


def wanda_norms_for(flavour: str, cfg: LeWMConfig, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    from zoo.quant.wanda import FLAVOURS

    if flavour not in FLAVOURS:
        raise UsageError(f"unknown WANDA flavour '{flavour}'", hint=f"one of: {', '.join(FLAVOURS)}")
    if flavour == "magnitude":
        return None
    from zoo.quant.calibrate import calibration_norms

    return calibration_norms(cfg, weights)


def quantize_dir(source_dir: str | Path, out: str | Path, mode: str, *, wanda: str = "magnitude") -> QuantizeResult:
    """`zoo quantize PATH --mode M -o FILE`: mode is an LQ40 mode or "ternary"."""
    from zoo._io import sha256_file
    from zoo.formats.lq40 import MODES, write_lq40
    from zoo.quant.ternary import write_ternary

    cfg, weights, _ = load_converted_dir(source_dir)
    out_path = Path(out)
    if mode == "ternary":
        write_ternary(out_path, weights, cfg)
        return QuantizeResult(None, out_path, "ternary", None, out_path.stat().st_size, sha256_file(out_path))
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}'", hint=f"one of: {', '.join((*MODES, 'ternary'))}")
    norms = wanda_norms_for(wanda, cfg, weights) if mode.startswith("wanda") else None
    size = write_lq40(out_path, cfg, weights, mode, wanda=norms)
    flav = wanda if mode.startswith("wanda") else None
    return QuantizeResult(None, out_path, "lq40", mode, size, sha256_file(out_path), flav)


def quantize_variant(workspace: Any, registry: Any, record: Any) -> QuantizeResult:
    """Quantize one registry record (format kind lq40 or ternary) from its f32 parent."""
    from zoo.store.manifest import update_manifest

    kind = record.format.kind
    if kind not in ("lq40", "ternary"):
        raise UsageError(f"{record.name}: format kind '{kind}' is not produced by `zoo quantize`",
                         hint="quantize lq40 or ternary variants; f32 variants come from `zoo convert`")
    parent = registry.parent_of(record)
    if parent is None or parent.format.kind != "safetensors-f32":
        parent = registry.f32_root(record)
    src_dir = workspace.variant_dir(parent.name)
    vdir = workspace.variant_dir(record.name)
    rel = LQ40_FILE if kind == "lq40" else TERNARY_FILE
    mode = record.format.mode if kind == "lq40" else "ternary"
    flavour = str(record.format.options.get("wanda", "magnitude"))
    result = quantize_dir(src_dir, vdir / rel, mode, wanda=flavour)
    from zoo._io import sha256_file

    inputs = {f"{parent.name}/{WEIGHTS_FILE}": sha256_file(src_dir / WEIGHTS_FILE)}
    extra: dict[str, Any] = {"mode": mode}
    if result.wanda:
        extra["wanda"] = result.wanda
    with update_manifest(vdir) as manifest:
        manifest.record_artifact(rel, kind=kind, inputs=inputs, **extra)
    return dataclasses.replace(result, variant=record.name)
