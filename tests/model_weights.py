"""Random canonical LeWM weight dicts and tiny configs for tests (reusable by other stages' tests)."""

from __future__ import annotations

import numpy as np

from zoo.formats.lewm_config import LeWMConfig
from zoo.model.weights import expected_shapes


def tiny_config(kind: str = "vit") -> LeWMConfig:
    """Small dims, real structure. kind: 'vit' (D == Hp), 'slim' (bottleneck D < Hp), 'hybrid' (ALAL, 4 meta)."""
    common = dict(
        encoder_hidden=32, encoder_heads=2, encoder_layers=2, encoder_inter=64,
        predictor_hidden=32, predictor_layers=2, predictor_heads=4, predictor_inner_dim=32,
        predictor_inter=64, latent_dim=32, projector_hidden=48, action_dim=10, action_input_dim=10,
    )  # fmt: skip
    if kind == "vit":
        return LeWMConfig(encoder_type="vit", **common)  # type: ignore[arg-type]
    if kind == "slim":
        common.update(latent_dim=16)
        return LeWMConfig(encoder_type="vit", has_input_proj=True, has_cond_proj=True, **common)  # type: ignore[arg-type]
    if kind == "hybrid":
        common.update(encoder_heads=4, encoder_layers=4)
        return LeWMConfig(encoder_type="hybrid", meta_tokens=4, block_pattern="ALAL", **common)  # type: ignore[arg-type]
    raise ValueError(kind)


def baseline_config() -> LeWMConfig:
    """The 192d/6e/6p baseline shape (spec §1.1)."""
    return LeWMConfig()


def random_weights(config: LeWMConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded float32 weights for every canonical tensor the config implies (spec §1.2).

    Scales keep activations O(1): matrices ~ N(0, 1/fan_in), norms ~ 1 +- 0.1, biases ~ 0.02,
    BatchNorm running_var in [0.5, 1.5], projector/pred_proj output rows scaled so latents stay small.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in expected_shapes(config).items():
        leaf = name.rsplit(".", 1)[-1]
        is_norm = any(k in name for k in ("layernorm", "norm.", "net.1.", "mlp.net.0.")) and len(shape) == 1
        if leaf == "running_var":
            arr = rng.uniform(0.5, 1.5, size=shape)
        elif leaf == "running_mean":
            arr = 0.1 * rng.standard_normal(shape)
        elif is_norm and leaf == "weight" and not name.endswith("mlp.net.1.weight"):
            arr = 1.0 + 0.1 * rng.standard_normal(shape)
        elif len(shape) == 1:
            arr = 0.02 * rng.standard_normal(shape)
        elif leaf in ("cls_token", "position_embeddings", "meta_token", "pos_embedding"):
            arr = 0.2 * rng.standard_normal(shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            arr = rng.standard_normal(shape) / np.sqrt(fan_in)
            if name.endswith("net.3.weight"):
                arr *= 0.25  # latents O(0.3) per element like trained models (|z| ~ 1), not O(1)
        out[name] = arr.astype(np.float32)
    return out
