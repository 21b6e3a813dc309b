"""Canonical tensor names and shapes of a converted LeWM (spec §1.2), derived from a `LeWMConfig`.

One table for every stage: the converter checks checkpoints against it, the engine validates its
weights with it, tests build weight dicts from it. Pure Python (no numpy), so importing it is cheap.
"""

from __future__ import annotations

from zoo.formats.lewm_config import LeWMConfig

ENC = "encoder.encoder.layer"
PRED = "predictor.transformer"

# Keys that may appear in converted files but are not part of the trained forward pass:
# SIGReg buffers, elastic router, and the hybrid `encoder.proj` (spec §1.9 row 8, DESIGN decision 2).
IGNORED_PREFIXES = ("sigreg.", "router.", "encoder.proj.")


def has_bottleneck(config: LeWMConfig) -> bool:
    """Upstream ARPredictor uses input_proj/cond_proj exactly when latent_dim != predictor_hidden."""
    return config.latent_dim != config.predictor_hidden


def canonical_shapes(config: LeWMConfig) -> dict[str, tuple[int, ...]]:
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


def optional_shapes(config: LeWMConfig) -> dict[str, tuple[int, ...]]:
    """Tensors a converted file may carry beyond the forward pass: the hybrid's BN-folded
    `encoder.proj.0` (kept in the safetensors, never applied: spec §1.9 row 8)."""
    he = config.encoder_hidden
    return {"encoder.proj.0.weight": (he, he), "encoder.proj.0.bias": (he,)}


# the name the engine and tests have always used
expected_shapes = canonical_shapes
