"""Seeded random canonical weights for a config (tests and benchmarks of the quant stage)."""

from __future__ import annotations

import numpy as np

from zoo.formats.lewm_config import LeWMConfig


def canonical_shapes(cfg: LeWMConfig) -> dict[str, tuple[int, ...]]:
    """Every canonical tensor (spec §1.2) a converted variant with this config holds."""
    he, ie, hp, d = cfg.encoder_hidden, cfg.encoder_inter, cfg.predictor_hidden, cfg.latent_dim
    inner, ip, j, a, s = cfg.predictor_inner_dim, cfg.predictor_inter, cfg.projector_hidden, cfg.action_input_dim, cfg.action_dim
    emb = "encoder.embeddings."
    shapes: dict[str, tuple[int, ...]] = {
        emb + "patch_embeddings.projection.weight": (he, cfg.channels, cfg.patch_size, cfg.patch_size),
        emb + "patch_embeddings.projection.bias": (he,),
        emb + "cls_token": (1, 1, he),
        emb + "position_embeddings": (1, cfg.encoder_seq_len, he),
        "encoder.layernorm.weight": (he,),
        "encoder.layernorm.bias": (he,),
    }
    if cfg.meta_tokens:
        shapes["encoder.meta_token"] = (1, cfg.meta_tokens, he)
    for i, kind in enumerate(cfg.layer_kinds()):
        p = f"encoder.encoder.layer.{i}."
        for qkv in ("query", "key", "value"):
            shapes[p + f"attention.attention.{qkv}.weight"] = (he, he)
            if kind == "A":
                shapes[p + f"attention.attention.{qkv}.bias"] = (he,)
        shapes.update({
            p + "layernorm_before.weight": (he,), p + "layernorm_before.bias": (he,),
            p + "attention.output.dense.weight": (he, he), p + "attention.output.dense.bias": (he,),
            p + "layernorm_after.weight": (he,), p + "layernorm_after.bias": (he,),
            p + "intermediate.dense.weight": (ie, he), p + "intermediate.dense.bias": (ie,),
            p + "output.dense.weight": (he, ie), p + "output.dense.bias": (he,),
        })
    shapes["predictor.pos_embedding"] = (1, cfg.history_size, d)
    t = "predictor.transformer."
    if cfg.has_input_proj:
        shapes.update({t + "input_proj.weight": (hp, d), t + "input_proj.bias": (hp,)})
    if cfg.has_cond_proj:
        shapes.update({t + "cond_proj.weight": (hp, d), t + "cond_proj.bias": (hp,)})
    for layer in range(cfg.predictor_layers):
        p = f"{t}layers.{layer}."
        shapes.update({
            p + "adaLN_modulation.1.weight": (6 * hp, hp), p + "adaLN_modulation.1.bias": (6 * hp,),
            p + "attn.norm.weight": (hp,), p + "attn.norm.bias": (hp,),
            p + "attn.to_qkv.weight": (3 * inner, hp),
            p + "attn.to_out.0.weight": (hp, inner), p + "attn.to_out.0.bias": (hp,),
            p + "mlp.net.0.weight": (hp,), p + "mlp.net.0.bias": (hp,),
            p + "mlp.net.1.weight": (ip, hp), p + "mlp.net.1.bias": (ip,),
            p + "mlp.net.4.weight": (hp, ip), p + "mlp.net.4.bias": (hp,),
        })
    shapes.update({t + "norm.weight": (hp,), t + "norm.bias": (hp,)})
    shapes.update({
        "action_encoder.patch_embed.weight": (s, a, 1), "action_encoder.patch_embed.bias": (s,),
        "action_encoder.embed.0.weight": (4 * d, s), "action_encoder.embed.0.bias": (4 * d,),
        "action_encoder.embed.2.weight": (d, 4 * d), "action_encoder.embed.2.bias": (d,),
    })
    for head, fan_in in (("projector", he), ("pred_proj", hp)):
        shapes.update({
            f"{head}.net.0.weight": (j, fan_in), f"{head}.net.0.bias": (j,),
            f"{head}.net.1.weight": (j,), f"{head}.net.1.bias": (j,),
            f"{head}.net.1.running_mean": (j,), f"{head}.net.1.running_var": (j,),
            f"{head}.net.3.weight": (d, j), f"{head}.net.3.bias": (d,),
        })
    return shapes


def synthetic_weights(cfg: LeWMConfig, seed: int = 0, scale: float = 0.05) -> dict[str, np.ndarray]:
    """Random f32 weights (LayerNorm weights near 1, BN stats plausible), deterministic per seed."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in canonical_shapes(cfg).items():
        if name.endswith("running_var"):
            arr = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("running_mean"):
            arr = rng.normal(0, 0.1, shape)
        elif len(shape) == 1 and ("norm" in name or ".net.1.weight" in name or "layernorm" in name) and name.endswith("weight"):
            arr = 1.0 + rng.normal(0, 0.05, shape)
        else:
            arr = rng.normal(0, scale, shape)
        out[name] = arr.astype(np.float32)
    return out
