"""Engine input validation: wrong shapes, missing/unexpected tensors, config mismatch, bad call shapes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from model_weights import random_weights, tiny_config
from safetensors.numpy import save

from zoo.errors import InputError
from zoo.model import LeWM, expected_shapes, load_converted


def test_wrong_shape_names_tensor_and_both_shapes() -> None:
    cfg = tiny_config("vit")
    w = random_weights(cfg, 0)
    name = "predictor.transformer.layers.1.attn.to_qkv.weight"
    w[name] = np.zeros((96, 16), np.float32)
    with pytest.raises(InputError) as exc:
        LeWM.from_weights(cfg, w, source="x.safetensors")
    msg = str(exc.value)
    assert name in msg and "[96, 16]" in msg and "[96, 32]" in msg and "x.safetensors" in msg
    assert "\n" not in msg


def test_missing_tensor() -> None:
    cfg = tiny_config("slim")
    w = random_weights(cfg, 0)
    del w["predictor.transformer.cond_proj.bias"]
    with pytest.raises(InputError, match=r"predictor\.transformer\.cond_proj\.bias' is missing"):
        LeWM.from_weights(cfg, w)


def test_config_with_fewer_layers_than_weights() -> None:
    cfg = tiny_config("vit")
    w = random_weights(cfg, 0)
    fewer = dataclasses.replace(cfg, encoder_layers=1)
    with pytest.raises(InputError, match=r"encoder\.encoder\.layer\.1\..*not expected"):
        LeWM.from_weights(fewer, w)


def test_hybrid_pattern_mismatch() -> None:
    cfg = tiny_config("hybrid")
    w = random_weights(cfg, 0)
    # weights say ALAL; a config saying AAAA needs q/k/v biases in layer 1
    with pytest.raises(InputError, match=r"layer\.1\.attention\.attention\.query\.bias' is missing"):
        LeWM.from_weights(dataclasses.replace(cfg, block_pattern="AAAA"), w)
    with pytest.raises(InputError, match="block_pattern"):
        LeWM.from_weights(dataclasses.replace(cfg, block_pattern="AXAL"), w)


def test_latent_dim_mismatch() -> None:
    cfg = tiny_config("slim")
    w = random_weights(cfg, 0)
    with pytest.raises(InputError, match="config implies"):
        LeWM.from_weights(dataclasses.replace(cfg, latent_dim=24), w)


def test_non_float_and_extra_keys() -> None:
    cfg = tiny_config("vit")
    w = random_weights(cfg, 0)
    w["sigreg.t"] = np.zeros(17, np.float32)
    w["encoder.proj.0.weight"] = np.zeros((32, 32), np.float32)
    LeWM.from_weights(cfg, w)  # ignored extras
    w["encoder.layernorm.bias"] = np.zeros(32, np.int32)
    with pytest.raises(InputError, match="dtype"):
        LeWM.from_weights(cfg, w)


def test_float16_weights_accepted() -> None:
    cfg = tiny_config("vit")
    w = {k: v.astype(np.float16) for k, v in random_weights(cfg, 0).items()}
    model = LeWM.from_weights(cfg, w)
    assert model.encode(np.zeros((1, 3, 224, 224), np.float32)).dtype == np.float32


def test_call_shape_errors() -> None:
    cfg = tiny_config("vit")
    model = LeWM.from_weights(cfg, random_weights(cfg, 0))
    with pytest.raises(InputError, match="images"):
        model.encode(np.zeros((1, 3, 112, 112), np.float32))
    with pytest.raises(InputError, match="frames"):
        model.predict(np.zeros((1, 4, 32), np.float32), np.zeros((1, 4, 10), np.float32))
    with pytest.raises(InputError, match="actions"):
        model.predict(np.zeros((1, 2, 32), np.float32), np.zeros((1, 2, 9), np.float32))
    with pytest.raises(InputError, match="history"):
        model.rollout(np.zeros((1, 32), np.float32), np.zeros((1, 5, 10), np.float32), history=4)
    with pytest.raises(InputError, match="batch"):
        model.rollout(np.zeros((2, 32), np.float32), np.zeros((1, 5, 10), np.float32))
    assert model.rollout(np.zeros((1, 32), np.float32), np.zeros((1, 0, 10), np.float32)).shape == (1, 0, 32)


def test_expected_shapes_cover_random_weights() -> None:
    for kind in ("vit", "slim", "hybrid"):
        cfg = tiny_config(kind)
        assert set(random_weights(cfg, 0)) == set(expected_shapes(cfg))
    hyb = expected_shapes(tiny_config("hybrid"))
    assert hyb["encoder.embeddings.position_embeddings"] == (1, 261, 32)
    assert "encoder.encoder.layer.1.attention.attention.query.bias" not in hyb


def test_load_converted_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"config\.json: file not found"):
        load_converted(tmp_path)
    cfg = tiny_config("vit")
    (tmp_path / "config.json").write_text(cfg.to_json())
    with pytest.raises(InputError, match="file not found"):
        load_converted(tmp_path)
    (tmp_path / "lejepa_weights.safetensors").write_bytes(b"garbage!")
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_converted(tmp_path)
    (tmp_path / "lejepa_weights.safetensors").write_bytes(save(random_weights(cfg, 0)))
    assert load_converted(tmp_path).config == cfg
