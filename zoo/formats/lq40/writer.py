"""LQ40 writer: canonical f32 weights + LeWMConfig -> bytes (spec §3.1-3.3, DESIGN decision 2)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40.constants import BN_EPS, MAGIC, MODES, PHEAD_SLOTS
from zoo.formats.lq40.layout import Item, body_layout
from zoo.quant.int8 import Int8Matrix
from zoo.quant.q4 import Q4Matrix

_U32 = struct.Struct("<I")

PheadSlots = Sequence[tuple[np.ndarray, np.ndarray]]


def header_dict(cfg: LeWMConfig, mode: str, *, meta_tokens_key: bool = True) -> dict[str, Any]:
    """The header JSON object: exactly the keys of spec §3.2."""
    h: dict[str, Any] = {
        "mode": mode,
        "image_size": cfg.image_size,
        "patch_size": cfg.patch_size,
        "encoder_hidden": cfg.encoder_hidden,
        "encoder_layers": cfg.encoder_layers,
        "encoder_heads": cfg.encoder_heads,
        "encoder_inter": cfg.encoder_inter,
        "predictor_hidden": cfg.predictor_hidden,
        "predictor_layers": cfg.predictor_layers,
        "predictor_heads": cfg.predictor_heads,
        "predictor_inner_dim": cfg.predictor_inner_dim,
        "predictor_inter": cfg.predictor_inter,
        "action_dim": cfg.action_dim,
        "latent_dim": cfg.latent_dim,
        "channels": cfg.channels,
    }
    if meta_tokens_key:
        h["meta_tokens"] = cfg.meta_tokens
    return h


def header_bytes(header: Mapping[str, Any]) -> bytes:
    """Compact JSON with sorted keys (serde_json's output for the synapse exporter)."""
    return json.dumps(dict(header), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- primitives ------------------------------------------------------------------------------
def f32vec_bytes(arr: np.ndarray) -> bytes:
    flat = np.ascontiguousarray(arr, dtype="<f4").reshape(-1)
    return _U32.pack(flat.size) + flat.tobytes()


def q4lin_bytes(m: Q4Matrix) -> bytes:
    head = struct.pack("<4I", m.out_features, m.in_features, m.total_blocks, m.nonzero_count)
    return head + m.bitmap + m.stored_blocks()


def i8lin_bytes(m: Int8Matrix) -> bytes:
    nbytes = m.out_features * m.in_features
    body = np.ascontiguousarray(m.codes.T).astype(np.int8).tobytes()  # stored transposed [in][out]
    scales = np.ascontiguousarray(m.scales, dtype="<f4")
    return (
        struct.pack("<3I", m.out_features, m.in_features, nbytes)
        + body
        + _U32.pack(scales.size)
        + scales.tobytes()
    )


def phead_bytes(slots: PheadSlots) -> bytes:
    parts = [_U32.pack(len(slots))]
    for w, b in slots:
        parts += [f32vec_bytes(w), f32vec_bytes(b)]
    return b"".join(parts)


def item_bytes(kind: str, value: Any) -> bytes:
    if kind == "F32VEC":
        return f32vec_bytes(value)
    if kind == "Q4LIN":
        return q4lin_bytes(value)
    if kind == "I8LIN":
        return i8lin_bytes(value)
    if kind == "PHEAD":
        return phead_bytes(value)
    raise ValueError(f"unknown LQ40 item kind {kind}")


def serialize(header: Mapping[str, Any], kinds_values: Sequence[tuple[str, Any]]) -> bytes:
    hb = header_bytes(header)
    parts = [MAGIC, _U32.pack(len(hb)), hb]
    parts += [item_bytes(kind, value) for kind, value in kinds_values]
    return b"".join(parts)


# --- weights -> items ------------------------------------------------------------------------
def fold_batchnorm(
    weight: np.ndarray, bias: np.ndarray, bn: Mapping[str, np.ndarray] | None, eps: float = BN_EPS
) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BatchNorm1d that follows a Linear into it (computed in float64).

    ``s = gamma / sqrt(var + eps)``, ``W' = s[:, None] * W``, ``b' = s * (b - mean) + beta``.
    """
    if not bn:
        return np.asarray(weight, np.float32), np.asarray(bias, np.float32)
    out = weight.shape[0]
    gamma = np.asarray(bn.get("weight", np.ones(out)), np.float64)
    beta = np.asarray(bn.get("bias", np.zeros(out)), np.float64)
    mean = np.asarray(bn.get("running_mean", np.zeros(out)), np.float64)
    var = np.asarray(bn.get("running_var", np.ones(out)), np.float64)
    s = gamma / np.sqrt(var + eps)
    w = (np.asarray(weight, np.float64) * s[:, None]).astype(np.float32)
    b = (s * (np.asarray(bias, np.float64) - mean) + beta).astype(np.float32)
    return w, b


def _tensor(weights: Mapping[str, np.ndarray], name: str, field: str) -> np.ndarray:
    try:
        return np.asarray(weights[name], dtype=np.float32)
    except KeyError:
        raise InputError(
            f"weights: missing tensor '{name}' (LQ40 field {field})",
            hint="convert the checkpoint with `zoo convert` so every canonical tensor exists",
        ) from None


def _check_numel(arr: np.ndarray, item: Item, name: str, numel: int | None = None) -> None:
    want = item.numel if numel is None else numel
    if arr.size != want:
        raise InputError(
            f"weights: tensor '{name}' has shape {list(arr.shape)} ({arr.size} values), "
            f"LQ40 field {item.name} needs {want}",
            hint="config.json and the weights disagree; re-run `zoo convert`",
        )


def _head_slots(weights: Mapping[str, np.ndarray], item: Item) -> list[tuple[np.ndarray, np.ndarray]]:
    prefix = item.canonical
    j, fan_in, d = item.shape
    w0 = _tensor(weights, f"{prefix}.net.0.weight", f"{item.name}.slot0")
    b0 = _tensor(weights, f"{prefix}.net.0.bias", f"{item.name}.slot0")
    w1 = _tensor(weights, f"{prefix}.net.3.weight", f"{item.name}.slot1")
    b1 = _tensor(weights, f"{prefix}.net.3.bias", f"{item.name}.slot1")
    for arr, name, want in ((w0, "net.0.weight", j * fan_in), (b0, "net.0.bias", j), (w1, "net.3.weight", d * j), (b1, "net.3.bias", d)):
        _check_numel(arr, item, f"{prefix}.{name}", want)
    bn_keys = ("weight", "bias", "running_mean", "running_var")
    bn = {k: np.asarray(weights[f"{prefix}.net.1.{k}"]) for k in bn_keys if f"{prefix}.net.1.{k}" in weights}
    for k, arr in bn.items():
        _check_numel(arr, item, f"{prefix}.net.1.{k}", j)
    if "running_var" in bn and not (np.asarray(bn["running_var"], np.float64) + BN_EPS > 0).all():
        raise InputError(
            f"weights: {prefix}.net.1.running_var has values <= -eps (LQ40 field {item.name}): BatchNorm cannot be folded",
            hint="the checkpoint's BatchNorm statistics are broken; re-convert it",
        )
    w0f, b0f = fold_batchnorm(w0.reshape(j, fan_in), b0, bn)
    for arr, what in ((w0f, "net.0 with net.1 (BatchNorm) folded"), (b0f, "net.0 bias with net.1 folded"),
                      (w1, "net.3.weight"), (b1, "net.3.bias")):
        if not np.isfinite(arr).all():
            raise InputError(
                f"weights: {prefix}.{what} has non-finite values (LQ40 field {item.name})",
                hint="NaN/inf weights, or a negative BatchNorm running_var; re-convert the checkpoint",
            )
    empty = np.zeros(0, np.float32)
    slots = [(w0f, b0f), (w1, b1)]
    return slots + [(empty, empty)] * (PHEAD_SLOTS - len(slots))


def build_items(
    cfg: LeWMConfig,
    weights: Mapping[str, np.ndarray],
    mode: str,
    *,
    wanda_norms: Mapping[str, np.ndarray] | None = None,
) -> list[tuple[Item, Any]]:
    """Quantize and order every body item of ``mode``."""
    if mode not in MODES:
        raise InputError(f"unknown LQ40 mode '{mode}'", hint=f"one of: {', '.join(MODES)}")
    from zoo.quant.wanda import WANDA_MODES, prune_predictor

    layout = body_layout(cfg, mode)
    # shapes and finiteness first, so that pruning and the quantizers only ever see good matrices
    # (a NaN would otherwise become an arbitrary int8 code and a silently broken file)
    for item in layout:
        if item.kind == "PHEAD" or item.canonical is None or (item.optional and item.numel == 0):
            continue
        tensor = _tensor(weights, item.canonical, item.name)
        _check_numel(tensor, item, item.canonical)
        if not np.isfinite(tensor).all():
            bad = int(np.flatnonzero(~np.isfinite(tensor.reshape(-1)))[0])
            raise InputError(
                f"weights: tensor '{item.canonical}' has a non-finite value (flat index {bad}, LQ40 field {item.name})",
                hint="the checkpoint is broken (NaN/inf); re-train or re-convert it",
            )
    pruned: Mapping[str, np.ndarray] = {}
    if mode in WANDA_MODES:
        try:
            pruned = prune_predictor(weights, cfg, WANDA_MODES[mode], wanda_norms)
        except KeyError as exc:
            raise InputError(f"weights: missing tensor {exc} needed for WANDA pruning") from None
        except ValueError as exc:  # calibrated norms of the wrong length or missing
            raise InputError(f"weights: WANDA pruning failed ({exc})") from None
    out: list[tuple[Item, Any]] = []
    for item in layout:
        value: Any
        if item.kind == "PHEAD":
            value = _head_slots(weights, item)
        elif item.canonical is None or (item.optional and item.numel == 0):
            if item.canonical is not None and item.canonical in weights and np.asarray(weights[item.canonical]).size:
                raise InputError(
                    f"weights: tensor '{item.canonical}' is present but config.json implies LQ40 field "
                    f"{item.name} is empty",
                    hint="config.json and the weights disagree; re-run `zoo convert`",
                )
            value = np.zeros(0, np.float32)
        else:
            arr = pruned.get(item.canonical) if item.canonical in pruned else _tensor(weights, item.canonical, item.name)
            assert arr is not None
            _check_numel(arr, item, item.canonical)
            if item.kind == "F32VEC":
                value = arr.reshape(-1)
            elif item.kind == "Q4LIN":
                value = Q4Matrix.quantize(arr.reshape(item.shape))
            else:
                value = Int8Matrix.quantize(arr.reshape(item.shape))
        out.append((item, value))
    return out


def encode_lq40(
    cfg: LeWMConfig,
    weights: Mapping[str, np.ndarray],
    mode: str,
    *,
    wanda: Mapping[str, np.ndarray] | None = None,
    trailer: bool = True,
    meta_tokens_key: bool = True,
) -> bytes:
    """The LQ40 bytes. ``wanda``: calibrated activation norms per predictor matrix (None:
    magnitude pruning, as the original files). ``trailer=False`` / ``meta_tokens_key=False``
    reproduce the older exporter (for compatibility tests)."""
    items = build_items(cfg, weights, mode, wanda_norms=wanda)
    kv = [(it.kind, v) for it, v in items if trailer or not it.trailer]
    return serialize(header_dict(cfg, mode, meta_tokens_key=meta_tokens_key), kv)


def write_lq40(
    path: str | os.PathLike[str],
    cfg: LeWMConfig,
    weights: Mapping[str, np.ndarray],
    mode: str,
    *,
    wanda: Mapping[str, np.ndarray] | None = None,
    trailer: bool = True,
    meta_tokens_key: bool = True,
) -> int:
    """Write atomically; returns the file size."""
    from zoo._io import atomic_write_bytes

    data = encode_lq40(cfg, weights, mode, wanda=wanda, trailer=trailer, meta_tokens_key=meta_tokens_key)
    atomic_write_bytes(path, data)
    return len(data)
