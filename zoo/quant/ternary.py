"""Ternary predictor weights (spec §3.7), a host-only research format stored as safetensors.

Per output row: threshold ``0.5 * mean|w|``; code +1 above it, -1 below ``-threshold``, else 0;
row scale = mean |w| over the non-zero codes (mean |w| if the row has none). As in the original
experiment, adaLN matrices stay INT8 and QKV / out / MLP matrices become ternary. Everything
else is kept as f32. Each quantized matrix ``X.weight`` is stored as ``X.weight.codes`` (int8)
and ``X.weight.scales`` (f32, one per row); the safetensors metadata names the quant type of each.
(The original packs 2-bit codes with the scale replicated per 16 weights; no serializer for that
exists, so the zoo stores the equivalent unpacked codes.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from zoo.formats.lewm_config import LeWMConfig
from zoo.quant.base import F32, I8, BlockQuant, QuantizedMatrix, quant_type
from zoo.quant.wanda import predictor_matrix_names

TERNARY_FORMAT = "lewm-zoo-ternary/1"


class Ternary(BlockQuant, name="ternary", block_size=None):
    @classmethod
    def quantize_blocks(cls, blocks: F32) -> tuple[I8, F32]:
        a = np.abs(blocks)
        mean_abs = a.mean(axis=1, dtype=np.float64)
        thr = (0.5 * mean_abs).astype(np.float32)
        codes = np.where(blocks > thr[:, None], 1, np.where(blocks < -thr[:, None], -1, 0)).astype(np.int8)
        nz = codes != 0
        count = nz.sum(axis=1)
        nz_mean = np.where(nz, a, 0).sum(axis=1, dtype=np.float64) / np.maximum(count, 1)
        scales = np.where(count > 0, nz_mean, mean_abs).astype(np.float32)
        return codes, scales


def ternary_plan(config: LeWMConfig) -> dict[str, str]:
    """canonical matrix name -> quant type ("int8" for adaLN, "ternary" for the rest)."""
    return {
        name: ("int8" if "adaLN_modulation" in name else "ternary") for name in predictor_matrix_names(config)
    }


def quantize_ternary(weights: Mapping[str, np.ndarray], config: LeWMConfig) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """-> (tensors to store, safetensors metadata)."""
    plan = ternary_plan(config)
    tensors: dict[str, np.ndarray] = {}
    for name, arr in weights.items():
        if name in plan:
            qm = quant_type(plan[name]).quantize(arr)
            tensors[f"{name}.codes"] = np.ascontiguousarray(qm.codes)
            tensors[f"{name}.scales"] = np.ascontiguousarray(qm.scales.reshape(-1))
        else:
            tensors[name] = np.ascontiguousarray(arr, dtype=np.float32)
    meta = {"format": TERNARY_FORMAT, "quant": json.dumps(plan, sort_keys=True, separators=(",", ":"))}
    return tensors, meta


def write_ternary(path: str | Path, weights: Mapping[str, np.ndarray], config: LeWMConfig) -> None:
    from safetensors.numpy import save

    from zoo._io import atomic_write_bytes

    tensors, meta = quantize_ternary(weights, config)
    ordered = {k: tensors[k] for k in sorted(tensors)}
    atomic_write_bytes(path, save(ordered, metadata=meta))


def ternary_to_weights(tensors: Mapping[str, np.ndarray], meta: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Dequantize a ternary safetensors mapping back to canonical f32 names."""
    plan: dict[str, str] = json.loads(meta.get("quant", "{}"))
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        if name.endswith((".codes", ".scales")):
            continue
        out[name] = arr
    for name, qtype in plan.items():
        codes = tensors[f"{name}.codes"]
        scales = tensors[f"{name}.scales"]
        qm = QuantizedMatrix(qtype, codes.shape[0], codes.shape[1], codes, scales.reshape(-1, 1))
        out[name] = quant_type(qtype).dequantize(qm)
    return out
