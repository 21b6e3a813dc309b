"""Canonical tensor names and shapes of a converted LeWM (spec §1.2), derived from a `LeWMConfig`.

`expected_shapes(config)` is the single source of truth the engine validates against; tests
(`tests/model_weights.py`) and other stages can use it to build or check weight dicts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig

ENC = "encoder.encoder.layer"
PRED = "predictor.transformer"

# Keys that may appear in converted files but are not part of the trained forward pass:
# SIGReg buffers, elastic router, and the hybrid `encoder.proj` (spec §1.9 row 8, DESIGN decision 2).
IGNORED_PREFIXES = ("sigreg.", "router.", "encoder.proj.")


def has_bottleneck(config: LeWMConfig) -> bool:
    """Upstream ARPredictor uses input_proj/cond_proj exactly when latent_dim != predictor_hidden."""
    return config.latent_dim != config.predictor_hidden


def expected_shapes(config: LeWMConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor the trained forward pass needs, name -> shape, in a stable order."""
    he, ie, d, hp = config.encoder_hidden, config.encoder_inter, config.latent_dim, config.predictor_hidden
    j, p, c = config.projector_hidden, config.patch_size, config.channels
    s: dict[str, tuple[int, ...]] = {
        "encoder.embeddings.patch_embeddings.projection.weight": (he, c, p, p),
        "encoder.embeddings.patch_embeddings.projection.bias": (he,),
        "encoder.embeddings.cls_token": (1, 1, he),
        "encoder.embeddings.position_embeddings": (1, config.encoder_seq_len, he),
    }
    if config.meta_tokens > 0:
        s["encoder.meta_token"] = (1, config.meta_tokens, he)
    for i, kind in enumerate(config.layer_kinds()):
        pre = f"{ENC}.{i}"
        s[f"{pre}.layernorm_before.weight"] = (he,)
        s[f"{pre}.layernorm_before.bias"] = (he,)
        for proj in ("query", "key", "value"):
            s[f"{pre}.attention.attention.{proj}.weight"] = (he, he)
            if kind == "A":
                s[f"{pre}.attention.attention.{proj}.bias"] = (he,)
        s[f"{pre}.attention.output.dense.weight"] = (he, he)
        s[f"{pre}.attention.output.dense.bias"] = (he,)
        s[f"{pre}.layernorm_after.weight"] = (he,)
        s[f"{pre}.layernorm_after.bias"] = (he,)
        s[f"{pre}.intermediate.dense.weight"] = (ie, he)
        s[f"{pre}.intermediate.dense.bias"] = (ie,)
        s[f"{pre}.output.dense.weight"] = (he, ie)
        s[f"{pre}.output.dense.bias"] = (he,)
    s["encoder.layernorm.weight"] = (he,)
    s["encoder.layernorm.bias"] = (he,)
    for head, width in (("projector", he), ("pred_proj", hp)):
        s[f"{head}.net.0.weight"] = (j, width)
        s[f"{head}.net.0.bias"] = (j,)
        for stat in ("weight", "bias", "running_mean", "running_var"):
            s[f"{head}.net.1.{stat}"] = (j,)
        s[f"{head}.net.3.weight"] = (d, j)
        s[f"{head}.net.3.bias"] = (d,)
    sm, a = config.action_dim, config.action_input_dim
    s["action_encoder.patch_embed.weight"] = (sm, a, 1)
    s["action_encoder.patch_embed.bias"] = (sm,)
    s["action_encoder.embed.0.weight"] = (4 * d, sm)
    s["action_encoder.embed.0.bias"] = (4 * d,)
    s["action_encoder.embed.2.weight"] = (d, 4 * d)
    s["action_encoder.embed.2.bias"] = (d,)
    s["predictor.pos_embedding"] = (1, config.history_size, d)
    if has_bottleneck(config):
        for proj in ("input_proj", "cond_proj"):
            s[f"{PRED}.{proj}.weight"] = (hp, d)
            s[f"{PRED}.{proj}.bias"] = (hp,)
    inner, ip = config.predictor_inner_dim, config.predictor_inter
    for layer in range(config.predictor_layers):
        pre = f"{PRED}.layers.{layer}"
        s[f"{pre}.adaLN_modulation.1.weight"] = (6 * hp, hp)
        s[f"{pre}.adaLN_modulation.1.bias"] = (6 * hp,)
        s[f"{pre}.attn.norm.weight"] = (hp,)
        s[f"{pre}.attn.norm.bias"] = (hp,)
        s[f"{pre}.attn.to_qkv.weight"] = (3 * inner, hp)
        s[f"{pre}.attn.to_out.0.weight"] = (hp, inner)
        s[f"{pre}.attn.to_out.0.bias"] = (hp,)
        s[f"{pre}.mlp.net.0.weight"] = (hp,)
        s[f"{pre}.mlp.net.0.bias"] = (hp,)
        s[f"{pre}.mlp.net.1.weight"] = (ip, hp)
        s[f"{pre}.mlp.net.1.bias"] = (ip,)
        s[f"{pre}.mlp.net.4.weight"] = (hp, ip)
        s[f"{pre}.mlp.net.4.bias"] = (hp,)
    s[f"{PRED}.norm.weight"] = (hp,)
    s[f"{PRED}.norm.bias"] = (hp,)
    return s


def _check_config(config: LeWMConfig, source: str) -> None:
    if config.image_size % config.patch_size:
        raise InputError(f"{source}: image_size {config.image_size} is not a multiple of patch_size {config.patch_size}")
    if config.encoder_hidden % config.encoder_heads:
        raise InputError(
            f"{source}: encoder_hidden {config.encoder_hidden} is not divisible by encoder_heads {config.encoder_heads}"
        )
    if config.predictor_inner_dim % config.predictor_heads:
        raise InputError(
            f"{source}: predictor_inner_dim {config.predictor_inner_dim} is not divisible by "
            f"predictor_heads {config.predictor_heads}"
        )
    if config.encoder_type == "hybrid" and config.block_pattern.strip("AL"):
        raise InputError(f"{source}: block_pattern {config.block_pattern!r} may only contain 'A' and 'L'")


def validate_weights(
    config: LeWMConfig, weights: Mapping[str, np.ndarray], *, source: str = "weights"
) -> dict[str, NDArray[np.float32]]:
    """Check names, shapes and dtypes against the config; return contiguous float32 copies.

    Unknown extra keys are tolerated (converted files carry SIGReg buffers, router weights,
    the unused hybrid `encoder.proj`), except keys in the encoder/predictor namespaces that
    the config does not expect (they mean config and weights disagree, e.g. a layer count).
    """
    _check_config(config, source)
    shapes = expected_shapes(config)
    out: dict[str, NDArray[np.float32]] = {}
    for name, shape in shapes.items():
        if name not in weights:
            raise InputError(
                f"{source}: tensor '{name}' is missing (expected shape {list(shape)})",
                hint="the config.json does not match the weights, or the file was not converted by `zoo convert`",
            )
        arr = np.asarray(weights[name])
        if tuple(arr.shape) != shape:
            raise InputError(
                f"{source}: tensor '{name}' has shape {list(arr.shape)}, config implies {list(shape)}",
                hint="the config.json does not match the weights",
            )
        if arr.dtype.kind != "f" and "float" not in arr.dtype.name:
            raise InputError(f"{source}: tensor '{name}' has dtype {arr.dtype}, expected a float type")
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
    for name in weights:
        if name in shapes or name.startswith(IGNORED_PREFIXES):
            continue
        if name.startswith((ENC + ".", PRED + ".")) or name in ("encoder.meta_token",):
            raise InputError(
                f"{source}: tensor '{name}' is not expected by the config",
                hint="the config.json does not match the weights (layer count, block pattern or bottleneck)",
            )
    return out
