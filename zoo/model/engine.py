"""NumPy forward pass of LeWM with the trained model's semantics (spec §1.9, DESIGN decision 1).

Decisions where the spec leaves a detail open:

- ViT encoder: HF ViT 4.x block (pre-norm, LayerNorm eps 1e-12, softmax attention with q/k/v
  biases, erf GELU MLP), sequence ``[CLS, patches]`` plus ``position_embeddings``; the latent
  source is the CLS row of ``last_hidden_state`` (after the final LayerNorm).
- Hybrid ALAL encoder: sequence ``[CLS, meta_0..meta_{M-1}, patches]`` plus all 1+M+N
  position rows; LayerNorm eps 1e-5 (``nn.LayerNorm`` default, the hybrid is a plain torch
  module, not HF); ``A`` blocks are softmax multi-head attention (``nn.MultiheadAttention``,
  q/k/v split from the fused in_proj at conversion); ``L`` blocks are multi-head linear attention
  with phi = ELU + 1, no 1/sqrt(d) scaling, ``out = phi(q) (sum phi(k) v^T) / (phi(q) . sum phi(k) + 1e-6)``,
  over all tokens (bidirectional), heads = ``encoder_heads`` of the config. ``encoder.proj`` is
  NOT applied (spec §1.9 row 8).
- Projector / pred_proj: Linear -> BatchNorm1d (eval, running stats, eps 1e-5) -> erf GELU -> Linear.
- Action encoder: Conv1d(k=1) as a per-frame Linear -> Linear -> SiLU -> Linear.
- ARPredictor: ``x = emb + pos[:T]``, ``input_proj``/``cond_proj`` only when latent_dim !=
  predictor_hidden; adaLN from ``Linear(SiLU(c))`` chunked (shift1, scale1, gate1, shift2, scale2,
  gate2); no-affine LN eps 1e-6 -> modulate -> sublayer with its own affine LN eps 1e-5;
  causal softmax attention (head dim = inner / heads, scale 1/sqrt(head dim)); final affine LN
  eps 1e-5; no output projection (output_dim == hidden_dim in every launcher); pred_proj per token.
- Rollout: upstream ``JEPA.rollout`` with a sliding window of ``history`` frames; frame k is
  paired with action k, and ``z[t+1] = predict(z[t-h+1..t], a[t-h+1..t])[last]``.

Everything is computed in float32 (the precision of the trained weights).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig
from zoo.model.ops import elu_plus_one, gelu, layer_norm, silu, softmax_
from zoo.model.preprocess import patchify
from zoo.model.weights import ENC, PRED, has_bottleneck, validate_weights

F32 = NDArray[np.float32]

VIT_LN_EPS = 1e-12
HYBRID_LN_EPS = 1e-5
BN_EPS = 1e-5
ADALN_EPS = 1e-6
AFFINE_LN_EPS = 1e-5
LINEAR_ATTN_EPS = 1e-6

WEIGHTS_FILE = "lejepa_weights.safetensors"
CONFIG_FILE = "config.json"


def _t(w: F32) -> F32:
    """[out, in] torch layout -> contiguous [in, out] so that y = x @ w_t + b."""
    return np.ascontiguousarray(w.T)


@dataclasses.dataclass
class _MLPHead:
    """Linear -> BatchNorm1d(eval) -> GELU -> Linear, with BN kept separate (not folded) for parity."""

    w0: F32
    b0: F32
    bn_scale: F32
    bn_shift: F32
    w3: F32
    b3: F32

    @classmethod
    def load(cls, w: Mapping[str, F32], prefix: str) -> _MLPHead:
        inv_std = (1.0 / np.sqrt(w[f"{prefix}.net.1.running_var"].astype(np.float64) + BN_EPS)).astype(np.float32)
        scale = (inv_std * w[f"{prefix}.net.1.weight"]).astype(np.float32)
        shift = (w[f"{prefix}.net.1.bias"] - w[f"{prefix}.net.1.running_mean"] * scale).astype(np.float32)
        return cls(
            _t(w[f"{prefix}.net.0.weight"]), w[f"{prefix}.net.0.bias"], scale, shift,
            _t(w[f"{prefix}.net.3.weight"]), w[f"{prefix}.net.3.bias"],
        )  # fmt: skip

    def __call__(self, x: F32) -> F32:
        h = x @ self.w0
        h += self.b0
        h *= self.bn_scale
        h += self.bn_shift
        out: F32 = gelu(h) @ self.w3
        out += self.b3
        return out


@dataclasses.dataclass
class _EncoderLayer:
    kind: str  # "A" softmax, "L" linear attention
    ln1_w: F32
    ln1_b: F32
    w_qkv: F32  # [He, 3He]; for "A" the query columns and bias are pre-scaled by 1/sqrt(head dim)
    b_qkv: F32 | None
    w_o: F32
    b_o: F32
    ln2_w: F32
    ln2_b: F32
    w_up: F32
    b_up: F32
    w_down: F32
    b_down: F32


@dataclasses.dataclass
class _PredictorLayer:
    ln_attn_w: F32
    ln_attn_b: F32
    w_qkv: F32  # [Hp, 3 inner], query columns pre-scaled by 1/sqrt(dim_head)
    w_out: F32
    b_out: F32
    ln_mlp_w: F32
    ln_mlp_b: F32
    w_up: F32
    b_up: F32
    w_down: F32
    b_down: F32


class LeWM:
    """A loaded LeWM: ``encode``, ``predict``, ``rollout`` on batched float32 numpy arrays."""

    def __init__(self, config: LeWMConfig, weights: Mapping[str, F32]) -> None:
        self.config = config
        c = config
        w = weights
        he = c.encoder_hidden
        self._hybrid = c.encoder_type == "hybrid"
        self._enc_eps = HYBRID_LN_EPS if self._hybrid else VIT_LN_EPS
        self._enc_heads = c.encoder_heads
        enc_hd = he // c.encoder_heads

        # embeddings: patch conv as a [C*P*P, He] matrix (flatten order (c, py, px), spec §1.4)
        self._w_patch = _t(w["encoder.embeddings.patch_embeddings.projection.weight"].reshape(he, -1))
        pos = w["encoder.embeddings.position_embeddings"][0]
        prefix = [w["encoder.embeddings.cls_token"][0]]
        if c.meta_tokens > 0:
            prefix.append(w["encoder.meta_token"][0])
        # rows [CLS, meta...] with their positions added; patch rows get the patch bias folded in
        self._prefix_tokens = np.concatenate(prefix, axis=0) + pos[: 1 + c.meta_tokens]
        self._patch_pos = pos[1 + c.meta_tokens :] + w["encoder.embeddings.patch_embeddings.projection.bias"]

        q_scale = np.float32(1.0 / np.sqrt(enc_hd))
        self._enc_layers: list[_EncoderLayer] = []
        for i, kind in enumerate(c.layer_kinds()):
            p = f"{ENC}.{i}"
            att = f"{p}.attention.attention"
            wq = w[f"{att}.query.weight"]
            if kind == "A":
                wq = wq * q_scale
                b_qkv: F32 | None = np.concatenate(
                    [w[f"{att}.query.bias"] * q_scale, w[f"{att}.key.bias"], w[f"{att}.value.bias"]]
                ).astype(np.float32)
            else:
                b_qkv = None
            w_qkv = np.concatenate([wq, w[f"{att}.key.weight"], w[f"{att}.value.weight"]], axis=0)
            self._enc_layers.append(
                _EncoderLayer(
                    kind,
                    w[f"{p}.layernorm_before.weight"], w[f"{p}.layernorm_before.bias"],
                    _t(w_qkv.astype(np.float32)), b_qkv,
                    _t(w[f"{p}.attention.output.dense.weight"]), w[f"{p}.attention.output.dense.bias"],
                    w[f"{p}.layernorm_after.weight"], w[f"{p}.layernorm_after.bias"],
                    _t(w[f"{p}.intermediate.dense.weight"]), w[f"{p}.intermediate.dense.bias"],
                    _t(w[f"{p}.output.dense.weight"]), w[f"{p}.output.dense.bias"],
                )
            )
        self._enc_ln_w = w["encoder.layernorm.weight"]
        self._enc_ln_b = w["encoder.layernorm.bias"]
        self._projector = _MLPHead.load(w, "projector")
        self._pred_proj = _MLPHead.load(w, "pred_proj")

        # action encoder: Conv1d(k=1) is a per-frame Linear
        self._act_w0 = _t(w["action_encoder.patch_embed.weight"][:, :, 0])
        self._act_b0 = w["action_encoder.patch_embed.bias"]
        self._act_w1 = _t(w["action_encoder.embed.0.weight"])
        self._act_b1 = w["action_encoder.embed.0.bias"]
        self._act_w2 = _t(w["action_encoder.embed.2.weight"])
        self._act_b2 = w["action_encoder.embed.2.bias"]

        # predictor
        hp = c.predictor_hidden
        self._pos = w["predictor.pos_embedding"][0]
        self._bottleneck = has_bottleneck(c)
        if self._bottleneck:
            self._w_in: F32 | None = _t(w[f"{PRED}.input_proj.weight"])
            self._b_in: F32 | None = w[f"{PRED}.input_proj.bias"]
            self._w_cond: F32 | None = _t(w[f"{PRED}.cond_proj.weight"])
            self._b_cond: F32 | None = w[f"{PRED}.cond_proj.bias"]
        else:
            self._w_in = self._b_in = self._w_cond = self._b_cond = None
        self._pred_heads = c.predictor_heads
        inner = c.predictor_inner_dim
        pq_scale = np.float32(1.0 / np.sqrt(inner // c.predictor_heads))
        # all layers' adaLN Linear fused into one [Hp, Lp*6Hp] matmul (conditioning does not depend on x)
        self._w_ada = np.ascontiguousarray(
            np.concatenate([_t(w[f"{PRED}.layers.{i}.adaLN_modulation.1.weight"]) for i in range(c.predictor_layers)], 1)
        )
        self._b_ada = np.concatenate([w[f"{PRED}.layers.{i}.adaLN_modulation.1.bias"] for i in range(c.predictor_layers)])
        self._hp = hp
        self._pred_layers: list[_PredictorLayer] = []
        for i in range(c.predictor_layers):
            p = f"{PRED}.layers.{i}"
            qkv = w[f"{p}.attn.to_qkv.weight"].copy()
            qkv[:inner] *= pq_scale
            self._pred_layers.append(
                _PredictorLayer(
                    w[f"{p}.attn.norm.weight"], w[f"{p}.attn.norm.bias"],
                    _t(qkv), _t(w[f"{p}.attn.to_out.0.weight"]), w[f"{p}.attn.to_out.0.bias"],
                    w[f"{p}.mlp.net.0.weight"], w[f"{p}.mlp.net.0.bias"],
                    _t(w[f"{p}.mlp.net.1.weight"]), w[f"{p}.mlp.net.1.bias"],
                    _t(w[f"{p}.mlp.net.4.weight"]), w[f"{p}.mlp.net.4.bias"],
                )
            )
        self._pred_ln_w = w[f"{PRED}.norm.weight"]
        self._pred_ln_b = w[f"{PRED}.norm.bias"]
        h = c.history_size
        # additive causal masks for window lengths 1..history
        self._causal = {
            t: np.triu(np.full((t, t), -np.inf, dtype=np.float32), k=1) for t in range(1, h + 1)
        }

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_weights(cls, config: LeWMConfig, weights: Mapping[str, np.ndarray], *, source: str = "weights") -> LeWM:
        """Validate canonical tensors (spec §1.2) against `config` and build the engine.

        Accepts any mapping of float arrays (f32, f16, bf16, dequantized LQ40 ...); they are
        converted to contiguous float32. Raises `InputError` naming the offending tensor.
        """
        return cls(config, validate_weights(config, weights, source=source))

    # ------------------------------------------------------------------ encoder

    def _check(self, name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> F32:
        a = np.asarray(arr)
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape, strict=True)):
            want = ["B" if s is None else s for s in shape]
            raise InputError(f"{name}: shape {list(a.shape)} does not match the expected {want}")
        return np.ascontiguousarray(a, dtype=np.float32)

    def _attention(self, layer: _EncoderLayer, h: F32) -> F32:
        b, n, he = h.shape
        nh = self._enc_heads
        qkv = h @ layer.w_qkv
        if layer.b_qkv is not None:
            qkv += layer.b_qkv
        qkv = qkv.reshape(b, n, 3, nh, he // nh).transpose(2, 0, 3, 1, 4)  # [3, B, nh, N, hd]
        q, k, v = qkv[0], qkv[1], qkv[2]
        if layer.kind == "A":
            scores = q @ k.transpose(0, 1, 3, 2)
            ctx = softmax_(scores) @ v
        else:
            fq, fk = elu_plus_one(q), elu_plus_one(k)
            kv = fk.transpose(0, 1, 3, 2) @ v  # [B, nh, hd, hd]
            ksum = fk.sum(axis=2, keepdims=True, dtype=np.float32)  # [B, nh, 1, hd]
            den = fq @ ksum.transpose(0, 1, 3, 2)  # [B, nh, N, 1]
            den += np.float32(LINEAR_ATTN_EPS)
            ctx = fq @ kv
            ctx /= den
        ctx = ctx.transpose(0, 2, 1, 3).reshape(b, n, he)
        out: F32 = ctx @ layer.w_o
        out += layer.b_o
        return out

    def _encoder_trunk(self, images: np.ndarray) -> F32:
        """Hidden states [B, 1+M+N, He] before the final LayerNorm."""
        c = self.config
        x = self._check("images", images, (None, c.channels, c.image_size, c.image_size))
        b = x.shape[0]
        patches = patchify(x, c.patch_size)  # spec §1.4 order, matches the flattened conv weight
        n_prefix = self._prefix_tokens.shape[0]
        hs = np.empty((b, c.encoder_seq_len, c.encoder_hidden), dtype=np.float32)
        hs[:, :n_prefix] = self._prefix_tokens
        np.matmul(patches, self._w_patch, out=hs[:, n_prefix:])
        hs[:, n_prefix:] += self._patch_pos
        eps = self._enc_eps
        for layer in self._enc_layers:
            hs += self._attention(layer, layer_norm(hs, layer.ln1_w, layer.ln1_b, eps))
            up = layer_norm(hs, layer.ln2_w, layer.ln2_b, eps) @ layer.w_up
            up += layer.b_up
            down = gelu(up) @ layer.w_down
            down += layer.b_down
            hs += down
        return hs

    def encoder_hidden_states(self, images: np.ndarray) -> F32:
        """``last_hidden_state`` [B, 1+M+N, He] (after the final LayerNorm) of [B,3,H,W] images."""
        return layer_norm(self._encoder_trunk(images), self._enc_ln_w, self._enc_ln_b, self._enc_eps)

    def encode(self, images: np.ndarray) -> F32:
        """[B, 3, 224, 224] ImageNet-normalised float images -> latents [B, D] (projector of the CLS row)."""
        hs = self._encoder_trunk(images)
        cls_tok = layer_norm(hs[:, 0], self._enc_ln_w, self._enc_ln_b, self._enc_eps)  # LN is per token
        return self._projector(cls_tok)

    # ------------------------------------------------------------------ predictor

    def encode_actions(self, actions: np.ndarray) -> F32:
        """Raw actions [B, T, A] -> action embeddings [B, T, D] (upstream Embedder)."""
        a = self._check("actions", actions, (None, None, self.config.action_input_dim))
        h: F32 = a @ self._act_w0
        h += self._act_b0
        h = h @ self._act_w1
        h += self._act_b1
        out: F32 = silu(h) @ self._act_w2
        out += self._act_b2
        return out

    def _modulation(self, act_emb: F32) -> F32:
        """Per-token adaLN parameters of every layer: [B, T, Lp, 6, Hp] (shift1, scale1, gate1, ...)."""
        c = act_emb
        if self._w_cond is not None and self._b_cond is not None:
            c = c @ self._w_cond
            c += self._b_cond
        m = silu(c) @ self._w_ada
        m += self._b_ada
        b, t = act_emb.shape[:2]
        return m.reshape(b, t, len(self._pred_layers), 6, self._hp)

    def _transformer(self, emb: F32, mod: F32) -> F32:
        """ARPredictor trunk on a window: emb [B, T, D], mod [B, T, Lp, 6, Hp] -> [B, T, Hp] (final LN)."""
        b, t, _ = emb.shape
        x = emb + self._pos[:t]
        if self._w_in is not None:
            x = x @ self._w_in
            x += self._b_in
        mask = self._causal[t]
        nh = self._pred_heads
        for i, layer in enumerate(self._pred_layers):
            m = mod[:, :, i]
            shift1, scale1, gate1, shift2, scale2, gate2 = (m[:, :, j] for j in range(6))
            h = layer_norm(x, None, None, ADALN_EPS)
            h *= scale1 + np.float32(1.0)
            h += shift1
            h = layer_norm(h, layer.ln_attn_w, layer.ln_attn_b, AFFINE_LN_EPS)
            qkv = (h @ layer.w_qkv).reshape(b, t, 3, nh, -1).transpose(2, 0, 3, 1, 4)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2)
            scores += mask
            ctx = (softmax_(scores) @ qkv[2]).transpose(0, 2, 1, 3).reshape(b, t, -1)
            att = ctx @ layer.w_out
            att += layer.b_out
            att *= gate1
            x = x + att
            h = layer_norm(x, None, None, ADALN_EPS)
            h *= scale2 + np.float32(1.0)
            h += shift2
            h = layer_norm(h, layer.ln_mlp_w, layer.ln_mlp_b, AFFINE_LN_EPS) @ layer.w_up
            h += layer.b_up
            ff = gelu(h) @ layer.w_down
            ff += layer.b_down
            ff *= gate2
            x += ff
        return layer_norm(x, self._pred_ln_w, self._pred_ln_b, AFFINE_LN_EPS)

    def predict(self, emb: np.ndarray, actions: np.ndarray) -> F32:
        """Frame embeddings [B, T, D] + raw actions [B, T, A] (T <= history) -> predictions [B, T, D].

        Output token t is the prediction of frame t+1 (causal attention).
        """
        c = self.config
        e = self._check("emb", emb, (None, None, c.latent_dim))
        a = self._check("actions", actions, (None, None, c.action_input_dim))
        if e.shape[:2] != a.shape[:2]:
            raise InputError(f"predict: emb {list(e.shape)} and actions {list(a.shape)} differ in batch/time")
        if not 1 <= e.shape[1] <= c.history_size:
            raise InputError(f"predict: {e.shape[1]} frames given, the predictor takes 1..{c.history_size}")
        mod = self._modulation(self.encode_actions(a))
        return self._pred_proj(self._transformer(e, mod))

    def rollout(self, start: np.ndarray, actions: np.ndarray, history: int | None = None) -> F32:
        """Autoregressive rollout: start images [B,3,H,W] or latents [B,D], actions [B,T,A] -> [B,T,D].

        Frame k is paired with action k; ``z[t+1] = predict(z[t-h+1..t], a[t-h+1..t])[last]``
        for t = 0..T-1, with ``h = history`` (default: the config's history_size, 3).
        """
        c = self.config
        hist = c.history_size if history is None else history
        if not 1 <= hist <= c.history_size:
            raise InputError(f"rollout: history {hist} must be within 1..{c.history_size}")
        s = np.asarray(start)
        z0 = self.encode(s) if s.ndim == 4 else self._check("latents", s, (None, c.latent_dim))
        a = self._check("actions", actions, (None, None, c.action_input_dim))
        if a.shape[0] != z0.shape[0]:
            raise InputError(f"rollout: {z0.shape[0]} start frames but actions have batch {a.shape[0]}")
        b, steps = a.shape[:2]
        # action conditioning is independent of the latents: compute it once for all steps
        mod = self._modulation(self.encode_actions(a)) if steps else None
        z = np.empty((b, steps + 1, c.latent_dim), dtype=np.float32)
        z[:, 0] = z0
        for t in range(steps):
            lo = max(0, t - hist + 1)
            assert mod is not None
            y = self._transformer(z[:, lo : t + 1], mod[:, lo : t + 1])
            z[:, t + 1] = self._pred_proj(y[:, -1])
        return z[:, 1:].copy()


def load_converted(directory: str | Path) -> LeWM:
    """Load `lejepa_weights.safetensors` + `config.json` of a converted variant directory."""
    d = Path(directory)
    config = LeWMConfig.from_file(d / CONFIG_FILE)
    weights = read_safetensors(d / WEIGHTS_FILE)
    return LeWM.from_weights(config, weights, source=str(d / WEIGHTS_FILE))


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as numpy arrays; one-line `InputError` on a bad file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found", hint="run `zoo convert` first")
    try:
        import ml_dtypes  # noqa: F401  (registers bfloat16 so BF16 tensors load)
        from safetensors.numpy import load_file

        return dict(load_file(str(p)))
    except Exception as exc:  # safetensors raises several error types for malformed headers
        raise InputError(f"{p}: not a readable safetensors file ({exc})") from exc
