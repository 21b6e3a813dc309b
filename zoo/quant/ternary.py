"""Ternary predictor weights (spec §3.7), a host-only research format stored as safetensors.

Per output row: threshold ``0.5 * mean|w|``; code +1 above it, -1 below ``-threshold``, else 0;
row scale = mean |w| over the non-zero codes (mean |w| if the row has none). As in the original
experiment, adaLN matrices stay INT8 and QKV / out / MLP matrices become ternary. Everything
else is kept as f32. Each quantized matrix ``X.weight`` is stored as ``X.weight.codes`` (int8)
and ``X.weight.scales`` (f32, one per row); the safetensors metadata names the quant type of each.
(The original packs 2-bit codes with the scale replicated per 16 weights; no serializer for that
exists, so the zoo stores the equivalent unpacked codes.) The host experiment's unweighted RMSNorm
of the modulation vector ("TerDiT fix") belongs to its old single-token predictor, not to the
weights: it is not applied here, the engine runs the trained model's semantics on the dequantized
matrices.
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
TERNARY_FILE_NAME = "ternary.safetensors"


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
    from zoo.errors import InputError

    plan = ternary_plan(config)
    for name in plan:
        if name not in weights:
            raise InputError(f"weights: tensor '{name}' is missing", hint="config.json and the weights disagree")
        w = np.asarray(weights[name])
        if w.ndim != 2 or not np.isfinite(w).all():
            raise InputError(
                f"weights: tensor '{name}' must be a finite 2-D matrix (shape {list(w.shape)})",
                hint="the checkpoint is broken or config.json does not match it",
            )
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


def ternary_to_weights(
    tensors: Mapping[str, np.ndarray], meta: Mapping[str, str], *, source: str = TERNARY_FILE_NAME
) -> dict[str, np.ndarray]:
    """Dequantize a ternary safetensors mapping back to canonical f32 names.

    The file is checked first (format tag, the ``quant`` plan, each matrix's codes/scales shapes
    and code range): a damaged file is an `InputError` naming the tensor, never a KeyError.
    """
    from zoo.errors import InputError

    def bad(what: str) -> InputError:
        return InputError(f"{source}: {what}", hint="re-create it with `zoo quantize`")

    if meta.get("format") != TERNARY_FORMAT:
        raise bad(f"metadata 'format' is {meta.get('format')!r}, expected {TERNARY_FORMAT!r}")
    try:
        plan = json.loads(meta.get("quant", ""))
    except (ValueError, RecursionError):
        raise bad("metadata 'quant' is not valid JSON") from None
    if not isinstance(plan, dict) or not all(isinstance(v, str) and v in ("int8", "ternary") for v in plan.values()):
        raise bad("metadata 'quant' must map tensor names to 'int8' or 'ternary'")
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        if name.endswith((".codes", ".scales")):
            continue
        out[name] = arr
    for name, qtype in plan.items():
        codes = tensors.get(f"{name}.codes")
        scales = tensors.get(f"{name}.scales")
        if codes is None or scales is None:
            raise bad(f"tensor '{name}.{'codes' if codes is None else 'scales'}' is missing (metadata lists {name})")
        if codes.dtype != np.int8 or codes.ndim != 2 or scales.shape != (codes.shape[0],):
            raise bad(
                f"tensor '{name}': codes {codes.dtype}{list(codes.shape)} / scales {list(scales.shape)} are not "
                "int8 [out, in] / [out]"
            )
        if qtype == "ternary" and codes.size and (codes.min() < -1 or codes.max() > 1):
            raise bad(f"tensor '{name}.codes' has values outside {{-1, 0, +1}}")
        if not np.isfinite(scales).all():
            raise bad(f"tensor '{name}.scales' has non-finite values")
        qm = QuantizedMatrix(qtype, codes.shape[0], codes.shape[1], codes, np.asarray(scales, np.float32).reshape(-1, 1))
        out[name] = quant_type(qtype).dequantize(qm)
    return out
