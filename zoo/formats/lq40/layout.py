"""The ordered list of LQ40 body items (spec §3.3) for a config and mode.

Writer and reader share this list: each item has the LQ40 field name used in messages and
``LQ40File.sections``, its kind, the canonical tensor name (spec §1.2) it comes from, and its
expected shape. The sequence of kinds depends only on (encoder layers, predictor layers, mode);
the sizes depend on the whole config.
"""

from __future__ import annotations

import dataclasses

from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40.constants import ENCODER_MATRIX_KIND, TRAILER_ENTRIES


@dataclasses.dataclass(frozen=True)
class Item:
    name: str  # LQ40 field name, e.g. "encoder.layer.0.w_q"
    kind: str  # "F32VEC" | "Q4LIN" | "I8LIN" | "PHEAD"
    canonical: str | None  # canonical tensor name; for PHEAD the module prefix ("projector")
    shape: tuple[int, ...]  # canonical shape (F32VEC: flattened length = prod(shape); matrices: (out, in))
    optional: bool = False  # may be stored empty (n = 0)
    trailer: bool = False

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def _vec(name: str, canonical: str | None, *shape: int, optional: bool = False, trailer: bool = False) -> Item:
    return Item(name, "F32VEC", canonical, tuple(shape), optional, trailer)


def body_layout(cfg: LeWMConfig, mode: str) -> list[Item]:
    he, ie, m = cfg.encoder_hidden, cfg.encoder_inter, cfg.meta_tokens
    hp, d, inner, ip = cfg.predictor_hidden, cfg.latent_dim, cfg.predictor_inner_dim, cfg.predictor_inter
    c, p = cfg.channels, cfg.patch_size
    mat_kind = ENCODER_MATRIX_KIND.get(mode, "F32VEC")
    emb = "encoder.embeddings."
    items = [
        _vec("patch_proj", emb + "patch_embeddings.projection.weight", he, c, p, p),
        _vec("patch_proj_bias", emb + "patch_embeddings.projection.bias", he),
        _vec("cls_token", emb + "cls_token", 1, 1, he),
        _vec("pos_embed", emb + "position_embeddings", 1, cfg.encoder_seq_len, he),
    ]

    def mat(name: str, canonical: str, out: int, inp: int) -> Item:
        return Item(name, mat_kind, canonical, (out, inp))

    for i, kind in enumerate(cfg.layer_kinds()):
        pre, f = f"encoder.encoder.layer.{i}.", f"encoder.layer.{i}."
        qkv_bias = he if kind == "A" else 0
        att = pre + "attention.attention."
        items += [
            _vec(f + "attn_norm_w", pre + "layernorm_before.weight", he),
            _vec(f + "attn_norm_b", pre + "layernorm_before.bias", he),
            mat(f + "w_q", att + "query.weight", he, he),
            _vec(f + "q_bias", att + "query.bias", qkv_bias, optional=True),
            mat(f + "w_k", att + "key.weight", he, he),
            _vec(f + "k_bias", att + "key.bias", qkv_bias, optional=True),
            mat(f + "w_v", att + "value.weight", he, he),
            _vec(f + "v_bias", att + "value.bias", qkv_bias, optional=True),
            mat(f + "w_o", pre + "attention.output.dense.weight", he, he),
            _vec(f + "o_bias", pre + "attention.output.dense.bias", he),
            _vec(f + "ffn_norm_w", pre + "layernorm_after.weight", he),
            _vec(f + "ffn_norm_b", pre + "layernorm_after.bias", he),
            mat(f + "ffn_up", pre + "intermediate.dense.weight", ie, he),
            _vec(f + "ffn_up_bias", pre + "intermediate.dense.bias", ie),
            mat(f + "ffn_down", pre + "output.dense.weight", he, ie),
            _vec(f + "ffn_down_bias", pre + "output.dense.bias", he),
        ]
    items += [
        _vec("final_norm_w", "encoder.layernorm.weight", he),
        _vec("final_norm_b", "encoder.layernorm.bias", he),
        _vec("predictor_pos_embed", "predictor.pos_embedding", 1, cfg.history_size, d),
    ]
    for layer in range(cfg.predictor_layers):
        pre, f = f"predictor.transformer.layers.{layer}.", f"predictor.layer.{layer}."
        items += [
            Item(f + "adaln", "Q4LIN", pre + "adaLN_modulation.1.weight", (6 * hp, hp)),
            _vec(f + "adaln_bias", pre + "adaLN_modulation.1.bias", 6 * hp),
            Item(f + "to_qkv", "Q4LIN", pre + "attn.to_qkv.weight", (3 * inner, hp)),
            Item(f + "attn_out", "Q4LIN", pre + "attn.to_out.0.weight", (hp, inner)),
            _vec(f + "attn_out_bias", pre + "attn.to_out.0.bias", hp),
            _vec(f + "attn_norm_w", pre + "attn.norm.weight", hp),
            _vec(f + "attn_norm_b", pre + "attn.norm.bias", hp),
            _vec(f + "mlp_norm_w", pre + "mlp.net.0.weight", hp),
            _vec(f + "mlp_norm_b", pre + "mlp.net.0.bias", hp),
            Item(f + "mlp_up", "Q4LIN", pre + "mlp.net.1.weight", (ip, hp)),
            _vec(f + "mlp_up_bias", pre + "mlp.net.1.bias", ip),
            Item(f + "mlp_down", "Q4LIN", pre + "mlp.net.4.weight", (hp, ip)),
            _vec(f + "mlp_down_bias", pre + "mlp.net.4.bias", hp),
        ]
    a, s, j = cfg.action_input_dim, cfg.action_dim, cfg.projector_hidden
    items += [
        _vec("predictor_norm_w", "predictor.transformer.norm.weight", hp),
        _vec("predictor_norm_b", "predictor.transformer.norm.bias", hp),
        _vec("action_conv_w", "action_encoder.patch_embed.weight", s, a, 1),
        _vec("action_conv_b", "action_encoder.patch_embed.bias", s),
        _vec("action_mlp1_w", "action_encoder.embed.0.weight", 4 * d, s),
        _vec("action_mlp1_b", "action_encoder.embed.0.bias", 4 * d),
        _vec("action_mlp2_w", "action_encoder.embed.2.weight", d, 4 * d),
        _vec("action_mlp2_b", "action_encoder.embed.2.bias", d),
        Item("projector", "PHEAD", "projector", (j, he, d)),
        Item("pred_proj", "PHEAD", "pred_proj", (j, hp, d)),
    ]
    in_proj = (hp, d) if cfg.has_input_proj else (0,)
    cond_proj = (hp, d) if cfg.has_cond_proj else (0,)
    tp = "predictor.transformer."
    items += [
        _vec("input_proj_w", tp + "input_proj.weight", *in_proj, optional=True, trailer=True),
        _vec("input_proj_b", tp + "input_proj.bias", hp if cfg.has_input_proj else 0, optional=True, trailer=True),
        _vec("cond_proj_w", tp + "cond_proj.weight", *cond_proj, optional=True, trailer=True),
        _vec("cond_proj_b", tp + "cond_proj.bias", hp if cfg.has_cond_proj else 0, optional=True, trailer=True),
        _vec("meta_token", "encoder.meta_token", 1, m, he, optional=True, trailer=True),
        # DESIGN decision 2: the hybrid encoder.proj is not part of the trained forward pass and is
        # never exported; both entries are written empty.
        _vec("enc_proj_w", None, 0, optional=True, trailer=True),
        _vec("enc_proj_b", None, 0, optional=True, trailer=True),
    ]
    assert sum(it.trailer for it in items) == TRAILER_ENTRIES
    return items
