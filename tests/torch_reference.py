"""A small PyTorch LeWM reference for parity tests and benchmarks (tests only, never a runtime dependency).

Written from the upstream module definitions the spec describes (§1.2, §1.9): an HF-ViT-style
encoder (eps 1e-12), the hybrid ALAL encoder as a plain torch module (nn.MultiheadAttention for A
blocks, ELU+1 linear attention for L blocks, eps 1e-5 LayerNorms), the MLP projector with
BatchNorm1d, the Embedder action encoder, and the ARPredictor (ConditionalBlock with adaLN,
Attention with its own LayerNorm and causal SDPA, FeedForward). Weights are loaded from a
canonical (converted) weight dict, so the engine and this reference run on identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.formats.lewm_config import LeWMConfig

# --------------------------------------------------------------------------- encoders


class ViTSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        hd = d // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        return (att @ v).transpose(1, 2).reshape(b, n, d)


class ViTAttentionOutput(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)


class ViTAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention = ViTSelfAttention(dim, heads)
        self.output = ViTAttentionOutput(dim)


class Dense(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.dense = nn.Linear(i, o)


class ViTLayer(nn.Module):
    def __init__(self, dim: int, heads: int, inter: int, eps: float) -> None:
        super().__init__()
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.attention = ViTAttention(dim, heads)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.intermediate = Dense(dim, inter)
        self.output = Dense(inter, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        h = F.gelu(self.intermediate.dense(self.layernorm_after(x)))
        return x + self.output.dense(h)


class PatchEmbeddings(nn.Module):
    def __init__(self, c: int, dim: int, p: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(c, dim, kernel_size=p, stride=p)


class ViTEmbeddings(nn.Module):
    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        he = cfg.encoder_hidden
        self.cls_token = nn.Parameter(torch.zeros(1, 1, he))
        self.patch_embeddings = PatchEmbeddings(cfg.channels, he, cfg.patch_size)
        self.position_embeddings = nn.Parameter(torch.zeros(1, 1 + cfg.num_patches, he))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(p.shape[0], -1, -1), p], dim=1)
        return x + self.position_embeddings


class ViTLayers(nn.Module):
    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            ViTLayer(cfg.encoder_hidden, cfg.encoder_heads, cfg.encoder_inter, 1e-12) for _ in range(cfg.encoder_layers)
        )


class HFViT(nn.Module):
    """HF ViTModel structure (no pooler): returns last_hidden_state."""

    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        self.embeddings = ViTEmbeddings(cfg)
        self.encoder = ViTLayers(cfg)
        self.layernorm = nn.LayerNorm(cfg.encoder_hidden, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embeddings(x)
        for layer in self.encoder.layer:
            h = layer(h)
        return self.layernorm(h)


class LinearAttention(nn.Module):
    def __init__(self, dim: int, heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads, self.eps = heads, eps
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        q = F.elu(split(self.q_proj(x))) + 1
        k = F.elu(split(self.k_proj(x))) + 1
        v = split(self.v_proj(x))
        kv = torch.einsum("bhnd,bhne->bhde", k, v)
        den = torch.einsum("bhnd,bhd->bhn", q, k.sum(dim=2)) + self.eps
        out = torch.einsum("bhnd,bhde->bhne", q, kv) / den.unsqueeze(-1)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class HybridBlock(nn.Module):
    def __init__(self, kind: str, dim: int, heads: int, inter: int) -> None:
        super().__init__()
        self.kind = kind
        self.norm1 = nn.LayerNorm(dim)
        self.attn: nn.Module = (
            nn.MultiheadAttention(dim, heads, batch_first=True) if kind == "A" else LinearAttention(dim, heads)
        )
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, inter), nn.GELU(), nn.Linear(inter, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h = self.attn(h, h, h, need_weights=False)[0] if self.kind == "A" else self.attn(h)
        x = x + h
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, c: int, dim: int, p: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c, dim, kernel_size=p, stride=p)


class HybridEncoder(nn.Module):
    """Hybrid ALAL ViT: [CLS, meta tokens, patches] + pos_embed, blocks, final norm; no `proj` applied."""

    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        he = cfg.encoder_hidden
        self.patch_embed = PatchEmbed(cfg.channels, he, cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, he))
        self.meta_token = nn.Parameter(torch.zeros(1, cfg.meta_tokens, he))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.encoder_seq_len, he))
        self.blocks = nn.ModuleList(
            HybridBlock(k, he, cfg.encoder_heads, cfg.encoder_inter) for k in cfg.layer_kinds()
        )
        self.norm = nn.LayerNorm(he)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        b = p.shape[0]
        h = torch.cat([self.cls_token.expand(b, -1, -1), self.meta_token.expand(b, -1, -1), p], dim=1)
        h = h + self.pos_embed
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h)


# --------------------------------------------------------------------------- heads and predictor


class MLP(nn.Module):
    def __init__(self, i: int, hidden: int, o: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(i, hidden), nn.BatchNorm1d(hidden), nn.GELU(), nn.Linear(hidden, o))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return self.net(x.reshape(-1, shape[-1])).reshape(*shape[:-1], -1)


class Embedder(nn.Module):
    def __init__(self, input_dim: int, smoothed_dim: int, emb_dim: int) -> None:
        super().__init__()
        self.patch_embed = nn.Conv1d(input_dim, smoothed_dim, kernel_size=1)
        self.embed = nn.Sequential(nn.Linear(smoothed_dim, 4 * emb_dim), nn.SiLU(), nn.Linear(4 * emb_dim, emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x.permute(0, 2, 1)).permute(0, 2, 1)
        return self.embed(x)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, heads * dim_head * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(self.norm(x)).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class ConditionalBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.attn = Attention(dim, heads, dim_head)
        self.mlp = FeedForward(dim, mlp_dim)
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1))
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


class Transformer(nn.Module):
    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        d, hp = cfg.latent_dim, cfg.predictor_hidden
        self.input_proj: nn.Module = nn.Linear(d, hp) if d != hp else nn.Identity()
        self.cond_proj: nn.Module = nn.Linear(d, hp) if d != hp else nn.Identity()
        dim_head = cfg.predictor_inner_dim // cfg.predictor_heads
        self.layers = nn.ModuleList(
            ConditionalBlock(hp, cfg.predictor_heads, dim_head, cfg.predictor_inter) for _ in range(cfg.predictor_layers)
        )
        self.norm = nn.LayerNorm(hp)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.input_proj(x)
        c = self.cond_proj(c)
        for layer in self.layers:
            x = layer(x, c)
        return self.norm(x)


class ARPredictor(nn.Module):
    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, cfg.history_size, cfg.latent_dim))
        self.transformer = Transformer(cfg)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        return self.transformer(x + self.pos_embedding[:, :t], c)


class TorchLeWM(nn.Module):
    """JEPA wrapper: encode, predict, rollout (history window 3, last token)."""

    def __init__(self, cfg: LeWMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder: nn.Module = HybridEncoder(cfg) if cfg.encoder_type == "hybrid" else HFViT(cfg)
        j = cfg.projector_hidden
        self.projector = MLP(cfg.encoder_hidden, j, cfg.latent_dim)
        self.pred_proj = MLP(cfg.predictor_hidden, j, cfg.latent_dim)
        self.action_encoder = Embedder(cfg.action_input_dim, cfg.action_dim, cfg.latent_dim)
        self.predictor = ARPredictor(cfg)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(images)[:, 0])

    @torch.no_grad()
    def predict(self, emb: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.pred_proj(self.predictor(emb, self.action_encoder(actions)))

    @torch.no_grad()
    def rollout(self, start: torch.Tensor, actions: torch.Tensor, history: int = 3) -> torch.Tensor:
        z = [self.encode(start) if start.dim() == 4 else start]
        for t in range(actions.shape[1]):
            lo = max(0, t - history + 1)
            window = torch.stack(z[lo : t + 1], dim=1)
            z.append(self.predict(window, actions[:, lo : t + 1])[:, -1])
        return torch.stack(z[1:], dim=1)


def _hybrid_state_dict(cfg: LeWMConfig, w: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Canonical (HF-renamed) hybrid encoder names -> the hybrid module's own names."""
    out = {
        "encoder.cls_token": w["encoder.embeddings.cls_token"],
        "encoder.meta_token": w["encoder.meta_token"],
        "encoder.pos_embed": w["encoder.embeddings.position_embeddings"],
        "encoder.patch_embed.proj.weight": w["encoder.embeddings.patch_embeddings.projection.weight"],
        "encoder.patch_embed.proj.bias": w["encoder.embeddings.patch_embeddings.projection.bias"],
        "encoder.norm.weight": w["encoder.layernorm.weight"],
        "encoder.norm.bias": w["encoder.layernorm.bias"],
    }
    for i, kind in enumerate(cfg.layer_kinds()):
        src, dst = f"encoder.encoder.layer.{i}", f"encoder.blocks.{i}"
        att = f"{src}.attention.attention"
        for a, b in (("layernorm_before", "norm1"), ("layernorm_after", "norm2")):
            out[f"{dst}.{b}.weight"], out[f"{dst}.{b}.bias"] = w[f"{src}.{a}.weight"], w[f"{src}.{a}.bias"]
        if kind == "A":
            out[f"{dst}.attn.in_proj_weight"] = torch.cat([w[f"{att}.{p}.weight"] for p in ("query", "key", "value")])
            out[f"{dst}.attn.in_proj_bias"] = torch.cat([w[f"{att}.{p}.bias"] for p in ("query", "key", "value")])
        else:
            for p, q in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")):
                out[f"{dst}.attn.{q}.weight"] = w[f"{att}.{p}.weight"]
        for leaf in ("weight", "bias"):
            out[f"{dst}.attn.out_proj.{leaf}"] = w[f"{src}.attention.output.dense.{leaf}"]
            out[f"{dst}.mlp.0.{leaf}"] = w[f"{src}.intermediate.dense.{leaf}"]
            out[f"{dst}.mlp.2.{leaf}"] = w[f"{src}.output.dense.{leaf}"]
    return out


def build_reference(cfg: LeWMConfig, weights: Mapping[str, np.ndarray]) -> TorchLeWM:
    """A TorchLeWM in eval mode holding exactly `weights` (canonical names, spec §1.2)."""
    model = TorchLeWM(cfg).eval()
    w = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in weights.items()}
    state = {k: v for k, v in w.items() if not k.startswith("encoder.")}
    if cfg.encoder_type == "hybrid":
        state.update(_hybrid_state_dict(cfg, w))
    else:
        state.update({k: v for k, v in w.items() if k.startswith("encoder.")})
    for head in ("projector", "pred_proj"):
        state[f"{head}.net.1.num_batches_tracked"] = torch.tensor(0)
    model.load_state_dict(state, strict=True)
    return model
