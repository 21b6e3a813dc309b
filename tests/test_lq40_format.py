"""LQ40 writer/reader: spec §3.9 size arithmetic, round trips, BN fold, hybrid trailer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40 import (
    MODES,
    describe_lq40,
    encode_lq40,
    fold_batchnorm,
    lq40_to_weights,
    read_lq40,
    write_lq40,
)
from zoo.quant.synthetic import synthetic_weights

SMALL = LeWMConfig(
    encoder_hidden=16, encoder_layers=2, encoder_heads=2, encoder_inter=64, predictor_hidden=16,
    predictor_layers=2, predictor_inner_dim=64, predictor_heads=1, predictor_inter=48, latent_dim=8,
    action_input_dim=4, projector_hidden=32, has_input_proj=True, has_cond_proj=True, image_size=28,
)
HYBRID = LeWMConfig(
    encoder_type="hybrid", encoder_hidden=16, encoder_layers=2, encoder_heads=2, encoder_inter=64,
    meta_tokens=2, block_pattern="AL", predictor_hidden=16, predictor_layers=1, predictor_inner_dim=64,
    predictor_heads=1, predictor_inter=64, latent_dim=16, action_input_dim=10, projector_hidden=32,
    image_size=28,
)


@pytest.fixture(scope="module")
def baseline() -> tuple[LeWMConfig, dict[str, np.ndarray]]:
    cfg = LeWMConfig(action_input_dim=10, projector_hidden=2048)  # 192d/6e/6p, J=2048, A=10
    return cfg, synthetic_weights(cfg, seed=3)


def _body(data: bytes, trailer: int = 28) -> int:
    return len(data) - 8 - int.from_bytes(data[4:8], "little") - trailer


def test_size_arithmetic_spec_3_9(baseline: tuple[LeWMConfig, dict[str, np.ndarray]]) -> None:
    cfg, w = baseline
    q4 = encode_lq40(cfg, w, "q4-pred")
    assert _body(q4) == 25_142_156
    full = encode_lq40(cfg, w, "full")
    assert _body(full) == 17_221_436
    assert int.from_bytes(full[4:8], "little") == 303  # the spec's full-mode header example
    # the older exporter (no trailer, no meta_tokens key): exactly the original lewm-wanda40-q4.bin size
    old = encode_lq40(cfg, w, "wanda40-q4", trailer=False, meta_tokens_key=False)
    assert len(old) == 25_142_457
    f = read_lq40(old)
    assert f.trailer_entries == 0 and not f.has_meta_tokens_key and f.config.meta_tokens == 0
    assert f.to_bytes() == old


def test_header_json_exact() -> None:
    w = synthetic_weights(SMALL, 0)
    data = encode_lq40(SMALL, w, "full")
    n = int.from_bytes(data[4:8], "little")
    text = data[8 : 8 + n].decode()
    assert data[:4] == b"LQ40"
    assert " " not in text
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert set(keys) == {
        "action_dim", "channels", "encoder_heads", "encoder_hidden", "encoder_inter", "encoder_layers",
        "image_size", "latent_dim", "meta_tokens", "mode", "patch_size", "predictor_heads",
        "predictor_hidden", "predictor_inner_dim", "predictor_inter", "predictor_layers",
    }


@pytest.mark.parametrize("mode", MODES)
def test_round_trip_write_read_write(mode: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = synthetic_weights(SMALL, 1)
    path = tmp_path / "m.lq40"
    size = write_lq40(path, SMALL, w, mode)
    data = path.read_bytes()
    assert size == len(data)
    f = read_lq40(path)
    assert f.mode == mode
    assert f.to_bytes() == data
    assert encode_lq40(SMALL, w, mode) == data  # deterministic
    cfg, back = lq40_to_weights(f)
    assert cfg == SMALL
    # re-exporting the dequantized weights reproduces the file (BN identity refolds exactly,
    # requantizing code*scale gives the same codes and scales)
    assert encode_lq40(cfg, back, mode) == data


def test_hybrid_trailer_and_l_blocks() -> None:
    w = synthetic_weights(HYBRID, 2)
    w["encoder.proj.0.weight"] = np.ones((16, 16), np.float32)  # present in converted files, never exported
    w["encoder.proj.0.bias"] = np.ones(16, np.float32)
    data = encode_lq40(HYBRID, w, "full")
    f = read_lq40(data)
    assert f.config == HYBRID
    assert f.section("encoder.layer.1.q_bias").count == 0
    assert f.section("meta_token").count == 2 * 16
    assert f.section("enc_proj_w").count == 0 and f.section("enc_proj_b").count == 0
    cfg, back = lq40_to_weights(f)
    assert "encoder.proj.0.weight" not in back
    np.testing.assert_array_equal(back["encoder.meta_token"], w["encoder.meta_token"])
    assert encode_lq40(cfg, back, "full") == data


def test_batchnorm_is_folded_into_slot0() -> None:
    w = synthetic_weights(SMALL, 4)
    f = read_lq40(encode_lq40(SMALL, w, "q4-pred"))
    (w0, b0), (w1, _b1), (w2, b2) = f.phead("projector")
    assert w2.size == 0 and b2.size == 0
    x = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float64)
    p = "projector.net."
    lin = x @ w[p + "0.weight"].T.astype(np.float64) + w[p + "0.bias"]
    bn = (lin - w[p + "1.running_mean"]) / np.sqrt(w[p + "1.running_var"].astype(np.float64) + 1e-5)
    bn = bn * w[p + "1.weight"] + w[p + "1.bias"]
    folded = x @ w0.reshape(32, 16).T.astype(np.float64) + b0
    np.testing.assert_allclose(folded, bn, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(w1, w[p + "3.weight"].reshape(-1))
    # folding an identity BN is exact
    _, back = lq40_to_weights(f)
    bnp = {k: back[f"{p}1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")}
    fw, fb = fold_batchnorm(back[p + "0.weight"], back[p + "0.bias"], bnp)
    np.testing.assert_array_equal(fw, back[p + "0.weight"])
    np.testing.assert_array_equal(fb, back[p + "0.bias"])


def test_sections_offsets_point_into_blob() -> None:
    w = synthetic_weights(SMALL, 5)
    data = encode_lq40(SMALL, w, "full")
    f = read_lq40(data)
    s = f.section("predictor.layer.0.adaln")
    assert s.kind == "Q4LIN" and s.bitmap_offset == s.offset + 16
    m = f.q4("predictor.layer.0.adaln")
    assert data[s.bitmap_offset : s.bitmap_offset + len(m.bitmap)] == m.bitmap
    assert data[s.blocks_offset : s.blocks_offset + 20 * m.nonzero_count] == m.stored_blocks()
    v = f.section("patch_proj")
    np.testing.assert_array_equal(
        np.frombuffer(data, "<f4", v.count, v.data_offset), w["encoder.embeddings.patch_embeddings.projection.weight"].reshape(-1)
    )
    i8 = f.section("encoder.layer.0.w_q")
    assert i8.kind == "I8LIN" and i8.scales_offset == i8.data_offset + 16 * 16 + 4
    # element (o, i) at byte i*out + o: transposed
    codes = f.i8("encoder.layer.0.w_q").codes
    raw = np.frombuffer(data, np.int8, 256, i8.data_offset)
    assert raw[1 * 16 + 0] == codes[0, 1]
    ordered = [x.offset for x in f.top_sections()]
    assert ordered == sorted(ordered)


def test_wanda_modes_and_describe() -> None:
    w = synthetic_weights(SMALL, 6)
    d20 = describe_lq40(encode_lq40(SMALL, w, "wanda20-q4"))
    d40 = describe_lq40(encode_lq40(SMALL, w, "wanda40-q4"))
    mats = {m["name"]: m for m in d40["matrices"]}
    up = mats["predictor.layer.0.mlp_up"]  # in = 16 -> floor(16*0.4) = 6 zeros of 16 per row
    assert up["sparsity"] == pytest.approx(6 / 16)
    assert d20["totals"]["sparsity"] < d40["totals"]["sparsity"]
    assert up["total_blocks"] == 48 and up["stored_blocks"] == 48
    # calibrated norms change which weights go
    norms = {n: np.linspace(0.1, 10, w[n].shape[1]).astype(np.float32) for n in w if ".layers." in n and n.endswith(("adaLN_modulation.1.weight", "to_qkv.weight", "to_out.0.weight", "net.1.weight", "net.4.weight"))}
    assert encode_lq40(SMALL, w, "wanda20-q4", wanda=norms) != encode_lq40(SMALL, w, "wanda20-q4")
    json.dumps(d40)  # JSON serializable for `zoo inspect --json`


def test_all_zero_blocks_are_omitted() -> None:
    w = synthetic_weights(SMALL, 7)
    name = "predictor.transformer.layers.0.mlp.net.4.weight"  # [16, 48]: 2 blocks per row
    w[name] = w[name].copy()
    w[name][:, :32] = 0
    f = read_lq40(encode_lq40(SMALL, w, "q4-pred"))
    s = f.section("predictor.layer.0.mlp_down")
    assert s.total_blocks == 32 and s.nonzero_count == 16
    assert s.length == 16 + 4 + 16 * 20


def test_writer_refuses_non_finite_and_bad_batchnorm() -> None:
    from zoo.errors import InputError

    w = synthetic_weights(SMALL, 4)
    bad = dict(w)
    bad["predictor.transformer.layers.1.attn.to_qkv.weight"] = w["predictor.transformer.layers.1.attn.to_qkv.weight"].copy()
    bad["predictor.transformer.layers.1.attn.to_qkv.weight"][3, 5] = np.nan
    for mode in ("q4-pred", "wanda20-q4"):
        with pytest.raises(InputError, match=r"to_qkv.weight' has a non-finite value \(flat index 53,"):
            encode_lq40(SMALL, bad, mode)
    bad = dict(w)
    bad["projector.net.1.running_var"] = -np.ones_like(w["projector.net.1.running_var"])
    with pytest.raises(InputError, match="running_var"):
        encode_lq40(SMALL, bad, "full")
    bad = dict(w)
    bad["pred_proj.net.1.running_mean"] = np.zeros(5, np.float32)
    with pytest.raises(InputError, match=r"pred_proj\.net\.1\.running_mean"):
        encode_lq40(SMALL, bad, "full")
    bad = dict(w)
    bad["predictor.transformer.layers.0.mlp.net.1.weight"] = np.zeros(7, np.float32)  # wrong shape before WANDA
    with pytest.raises(InputError, match=r"mlp\.net\.1\.weight"):
        encode_lq40(SMALL, bad, "wanda40-q4")
