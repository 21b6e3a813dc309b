"""LQ40 -> canonical f32 weights (so any LQ40 runs through zoo.model) and `describe_lq40`.

Quantized matrices are dequantized (``code * scale``). The projector / pred_proj BatchNorm was
folded into slot 0 at export, so the emitted BatchNorm parameters are an identity: weight 1,
bias 0, running_mean 0, running_var ``1 - 1e-5`` (so that ``running_var + eps`` is exactly 1 in
float32 and within 7e-9 of 1 in float64; folding them again reproduces the slot-0 weights bit
for bit). The hybrid ``encoder.proj`` is not exported by the zoo; if a synapse file carries it,
it is returned as ``encoder.proj.0.{weight,bias}`` (the canonical engine does not use it).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from zoo.errors import LQ40Error
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40.constants import IDENTITY_BN_RUNNING_VAR, ZOO_EXTENSION_MODES
from zoo.formats.lq40.layout import body_layout
from zoo.formats.lq40.reader import LQ40File, read_lq40


def lq40_to_weights(lq40: LQ40File | str | os.PathLike[str] | bytes) -> tuple[LeWMConfig, dict[str, np.ndarray]]:
    f = lq40 if isinstance(lq40, LQ40File) else read_lq40(lq40)
    cfg = f.config
    weights: dict[str, np.ndarray] = {}
    for item in body_layout(cfg, f.mode):
        if item.name not in f._by_name:
            continue
        if item.kind == "PHEAD":
            slots = f.phead(item.name)
            if all(w.size == 0 for w, _ in slots):
                continue  # empty head: nothing to emit (the engine will report the missing tensors)
            j, fan_in, d = item.shape
            prefix = item.canonical
            weights[f"{prefix}.net.0.weight"] = slots[0][0].reshape(j, fan_in)
            weights[f"{prefix}.net.0.bias"] = slots[0][1]
            weights[f"{prefix}.net.3.weight"] = slots[1][0].reshape(d, j)
            weights[f"{prefix}.net.3.bias"] = slots[1][1]
            weights[f"{prefix}.net.1.weight"] = np.ones(j, np.float32)
            weights[f"{prefix}.net.1.bias"] = np.zeros(j, np.float32)
            weights[f"{prefix}.net.1.running_mean"] = np.zeros(j, np.float32)
            weights[f"{prefix}.net.1.running_var"] = np.full(j, IDENTITY_BN_RUNNING_VAR, np.float32)
            continue
        s = f.section(item.name)
        if item.kind == "F32VEC":
            if s.count == 0 and (item.optional or item.canonical is None):
                continue
            arr = f.f32(item.name)
            if item.name in ("enc_proj_w", "enc_proj_b"):
                he = cfg.encoder_hidden
                name = "encoder.proj.0.weight" if item.name == "enc_proj_w" else "encoder.proj.0.bias"
                weights[name] = arr.reshape((he, he) if item.name == "enc_proj_w" else (he,))
                continue
            assert item.canonical is not None
            weights[item.canonical] = arr.reshape(item.shape)
        elif item.kind == "Q4LIN":
            assert item.canonical is not None
            weights[item.canonical] = f.q4(item.name).dequantize()
        else:
            assert item.canonical is not None
            weights[item.canonical] = f.i8(item.name).dequantize()
    return cfg, weights


def describe_lq40(src: LQ40File | str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """Header, sections (offsets), per-matrix block counts and sparsity, for `zoo inspect`."""
    f = src if isinstance(src, LQ40File) else read_lq40(src)
    matrices: list[dict[str, Any]] = []
    q4_blocks_total = q4_blocks_stored = 0
    zero_weights = total_weights = 0
    for s in f.sections:
        if s.kind not in ("Q4LIN", "I8LIN"):
            continue
        assert s.out_features is not None and s.in_features is not None
        n = s.out_features * s.in_features
        if s.kind == "Q4LIN":
            m = f.q4(s.name)
            zeros = n - int(np.count_nonzero(m.codes[:, : s.in_features]))
            assert s.total_blocks is not None and s.nonzero_count is not None
            q4_blocks_total += s.total_blocks
            q4_blocks_stored += s.nonzero_count
            info = {
                "total_blocks": s.total_blocks,
                "stored_blocks": s.nonzero_count,
                "omitted_blocks": s.total_blocks - s.nonzero_count,
            }
        else:
            zeros = s.count - int(np.count_nonzero(np.frombuffer(f.data, np.int8, s.count, s.data_offset)))
            info = {}
        zero_weights += zeros
        total_weights += n
        matrices.append(
            {
                "name": s.name,
                "canonical": s.canonical,
                "kind": s.kind,
                "shape": [s.out_features, s.in_features],
                "offset": s.offset,
                "bytes": s.length,
                "sparsity": zeros / n if n else 0.0,
                **info,
            }
        )
    return {
        "mode": f.mode,
        "zoo_extension": f.mode in ZOO_EXTENSION_MODES,
        "size": f.size,
        "header": f.header,
        "header_has_meta_tokens": f.has_meta_tokens_key,
        "trailer_entries": f.trailer_entries,
        "config": f.config.to_dict(),
        "sections": [s.to_dict() for s in f.sections],
        "matrices": matrices,
        "totals": {
            "q4_blocks": q4_blocks_total,
            "q4_blocks_stored": q4_blocks_stored,
            "quantized_weights": total_weights,
            "quantized_zero_weights": zero_weights,
            "sparsity": zero_weights / total_weights if total_weights else 0.0,
        },
    }


def check_runnable(f: LQ40File) -> None:
    """Raise if the file lacks projection heads (it cannot produce latents)."""
    for head in ("projector", "pred_proj"):
        slots = f.phead(head)
        if all(w.size == 0 for w, _ in slots):
            s = f.section(head)
            raise LQ40Error(f"{f.source}: offset {s.offset}: {head}: projection head is empty", hint="re-export with `zoo quantize`")
