"""Q4 / INT8 / ternary / WANDA quantizers against hand-computed values (spec §3.4-3.7)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from zoo.formats.lq40.writer import q4lin_bytes
from zoo.quant import (
    Int8Matrix,
    Q4Matrix,
    Ternary,
    pack_nibbles,
    quant_type,
    quant_types,
    round_half_away,
    unpack_nibbles,
    wanda_prune,
)


def test_round_half_away_from_zero() -> None:
    v = np.array([0.5, -0.5, 1.5, 2.5, -2.5, 0.49999997, -0.49999997, 3.0, -7.0], np.float32)
    assert round_half_away(v).tolist() == [1, -1, 2, 3, -3, 0, -0, 3, -7]


def test_registry_of_types() -> None:
    assert {"q4", "int8", "ternary"} <= set(quant_types())
    assert quant_type("q4").block_size == 32
    with pytest.raises(ValueError):
        quant_type("q5")


def test_nibble_packing_is_consecutive_pairs() -> None:
    codes = np.zeros((1, 32), np.int8)
    codes[0, 0], codes[0, 1] = -8, 7  # byte 0: low nibble = element 0 (0), high = element 1 (15)
    packed = pack_nibbles(codes)
    assert packed[0, 0] == 0xF0 and packed[0, 1] == 0x88
    assert (unpack_nibbles(packed) == codes).all()


def test_q4lin_bytes_hand_computed() -> None:
    # 2 rows x 40 columns (not a multiple of 32): 2 blocks per row, the 2nd padded with zeros.
    w = np.zeros((2, 40), np.float32)
    w[0, :8] = [7, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 6.5]  # max exactly 7 -> scale 1, ties at .5
    w[1, 32:34] = [-3.5, 1.0]  # max |x| 3.5 -> scale 0.5, -3.5 is exactly -7 steps
    m = Q4Matrix.quantize(w)
    assert m.codes[0, :8].tolist() == [7, 1, -1, 2, -2, 3, -3, 7]  # half away from zero
    assert m.scales.tolist() == [[1.0, 0.0], [0.0, 0.5]]
    block0 = struct.pack("<f", 1.0) + bytes([0x9F, 0xA7, 0xB6, 0xF5]) + b"\x88" * 12
    block3 = struct.pack("<f", 0.5) + bytes([0xA1]) + b"\x88" * 15
    expected = struct.pack("<4I", 2, 40, 4, 2) + bytes([0b1001]) + block0 + block3
    assert q4lin_bytes(m) == expected
    assert m.total_blocks == 4 and m.nonzero_count == 2
    back = Q4Matrix.from_stored(2, 40, m.block_mask, m.stored_blocks())
    assert (back.codes == m.codes).all() and (back.scales == m.scales).all()
    deq = m.dequantize()
    assert deq.shape == (2, 40)
    assert deq[0, :8].tolist() == [7, 1, -1, 2, -2, 3, -3, 7]
    assert deq[1, 32:34].tolist() == [-3.5, 1.0]


def test_q4_never_minus_eight_and_error_bound() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((64, 100)).astype(np.float32)
    m = Q4Matrix.quantize(w)
    assert m.codes.min() >= -7 and m.codes.max() <= 7
    scale_per_col = np.repeat(m.scales, 32, axis=1)[:, :100]
    assert (np.abs(m.dequantize() - w) <= scale_per_col / 2 + 1e-6).all()
    assert (m.codes[:, 100:] == 0).all()


def test_int8_per_row() -> None:
    w = np.array([[127.0, -63.5, 0.5], [0, 0, 0], [-2.54, 1.27, 0.0]], np.float32)
    m = Int8Matrix.quantize(w)
    assert m.scales.tolist() == pytest.approx([1.0, 1.0, 0.02])
    assert m.codes[0].tolist() == [127, -64, 1]  # -63.5 and 0.5 round away from zero
    assert m.codes[1].tolist() == [0, 0, 0]
    assert m.codes[2].tolist() == [-127, 64, 0] or m.codes[2].tolist() == [-127, 63, 0]
    assert (np.abs(m.dequantize() - w) <= m.scales[:, None] / 2 + 1e-6).all()


def test_ternary_rows() -> None:
    w = np.array([[1.0, -1.0, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    qm = Ternary.quantize(w)
    # mean|w| = 0.525, threshold 0.2625 -> codes +1, -1, 0, 0; scale = mean of |nonzero| = 1
    assert qm.codes[0].tolist() == [1, -1, 0, 0]
    assert qm.scales[0, 0] == pytest.approx(1.0)
    assert qm.codes[1].tolist() == [0, 0, 0, 0] and qm.scales[1, 0] == 0.0


def test_wanda_prunes_floor_cols_per_row_stable() -> None:
    w = np.array([[1, 1, 1, 1, 5], [5, 4, 3, 2, 1]], np.float32)
    out = wanda_prune(w, 0.4)  # floor(5 * 0.4) = 2 per row; ties -> lower column first
    assert out.tolist() == [[0, 0, 1, 1, 5], [5, 4, 3, 0, 0]]
    norms = np.array([10, 10, 1, 1, 1], np.float32)
    assert wanda_prune(w, 0.4, norms).tolist() == [[1, 1, 0, 0, 5], [5, 4, 3, 0, 0]]
    big = np.random.default_rng(0).standard_normal((3, 2048)).astype(np.float32)
    assert (wanda_prune(big, 0.2) == 0).sum(axis=1).tolist() == [409] * 3
    assert (wanda_prune(big, 0.4) == 0).sum(axis=1).tolist() == [819] * 3


def test_round_half_away_matches_exact_rounding_near_every_tie() -> None:
    """The 3-pass kernel vs exact float64 rounding for every float32 within 4096 ulps of each tie
    k + 0.5 (|k| <= 130) and around 0.5's binade edge (the value 0.49999997 is the classic trap);
    the whole [0, 200] range was checked exhaustively when the kernel was written."""
    ties = np.arange(0, 131, dtype=np.float32) + np.float32(0.5)
    steps = np.arange(-4096, 4097, dtype=np.int64)
    bits = ties.view(np.uint32).astype(np.int64)[:, None] + steps[None, :]
    v = bits.astype(np.uint32).view(np.float32).reshape(-1)
    v = np.concatenate([v, -v, np.array([0.49999997, -0.49999997, 0.0, -0.0], np.float32)])
    exact = np.sign(v) * np.floor(np.abs(v.astype(np.float64)) + 0.5)
    assert (round_half_away(v).astype(np.float64) == exact).all()
    v64 = v.astype(np.float64) + 0.5
    assert (round_half_away(v64) == np.sign(v64) * np.floor(np.abs(v64) + 0.5)).all()


def test_q4_refuses_non_finite() -> None:
    w = np.ones((2, 32), np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        w2 = w.copy()
        w2[1, 3] = bad
        with pytest.raises(ValueError, match="non-finite"):
            Q4Matrix.quantize(w2)


def test_ternary_file_checks() -> None:
    from zoo.errors import InputError
    from zoo.formats.lewm_config import LeWMConfig
    from zoo.quant.synthetic import synthetic_weights
    from zoo.quant.ternary import quantize_ternary, ternary_to_weights

    cfg = LeWMConfig(
        encoder_hidden=16, encoder_layers=1, encoder_heads=2, encoder_inter=32, predictor_hidden=16,
        predictor_layers=1, predictor_inner_dim=32, predictor_heads=1, predictor_inter=40, latent_dim=16,
        action_input_dim=10, projector_hidden=32, image_size=28,
    )  # fmt: skip
    w = synthetic_weights(cfg, 0)
    tensors, meta = quantize_ternary(w, cfg)
    back = ternary_to_weights(tensors, meta)
    qkv = "predictor.transformer.layers.0.attn.to_qkv.weight"
    assert back[qkv].shape == w[qkv].shape
    qm = Ternary.quantize(w[qkv])
    np.testing.assert_array_equal(back[qkv], qm.codes * tensors[f"{qkv}.scales"][:, None])
    missing = {k: v for k, v in tensors.items() if k != f"{qkv}.codes"}
    with pytest.raises(InputError, match=rf"'{qkv}\.codes' is missing"):
        ternary_to_weights(missing, meta, source="t.safetensors")
    with pytest.raises(InputError, match="'quant' is not valid JSON"):
        ternary_to_weights(tensors, {**meta, "quant": "{bad"})
    with pytest.raises(InputError, match="'format'"):
        ternary_to_weights(tensors, {})
    unpacked = {**tensors, f"{qkv}.codes": qm.codes}  # a v1-style int8 matrix in a v2 file
    with pytest.raises(InputError, match=rf"t.safetensors: tensor '{qkv}': codes int8\[96, 16\].*not uint8 \[out, 4\]"):
        ternary_to_weights(unpacked, meta, source="t.safetensors")
    short = {**tensors, f"{qkv}.codes": tensors[f"{qkv}.codes"][:, :3]}
    with pytest.raises(InputError, match=rf"'{qkv}': codes uint8\[96, 3\]"):
        ternary_to_weights(short, meta)
    with pytest.raises(InputError, match=r"'ternary_in_features' has no valid input width for '.*'"):
        ternary_to_weights(tensors, {**meta, "ternary_in_features": "{}"})
    with pytest.raises(InputError, match="'format' is 'lewm-zoo-ternary/9'"):
        ternary_to_weights(tensors, {**meta, "format": "lewm-zoo-ternary/9"})
    nan = {**w, qkv: np.full_like(w[qkv], np.nan)}
    with pytest.raises(InputError, match="finite 2-D"):
        quantize_ternary(nan, cfg)


def test_ternary_packing_hand_made_row() -> None:
    from zoo.quant.ternary import pack_ternary, unpack_ternary

    # 7 weights (not a multiple of 4), every code; LSB-first 2-bit fields 00=-1 01=0 10=+1
    row = np.array([[-1, 0, 1, 1, 0, -1, 1]], np.int8)
    packed = pack_ternary(row)
    assert packed.dtype == np.uint8 and packed.shape == (1, 2)
    assert packed[0, 0] == 0b10_10_01_00  # fields 00, 01, 10, 10 from bit 0 up
    assert packed[0, 1] == 0b01_10_00_01  # fields 01, 00, 10 + padding 01 (zero)
    np.testing.assert_array_equal(unpack_ternary(packed, 7), row)
    # field 11 is read as 0
    assert unpack_ternary(np.array([[0b11_11_11_11]], np.uint8), 4).tolist() == [[0, 0, 0, 0]]
    codes = np.random.default_rng(1).integers(-1, 2, (5, 1001)).astype(np.int8)
    for n in (0, 1, 2, 3, 4, 5, 1001):
        assert pack_ternary(codes[:, :n]).shape == (5, -(-n // 4))
        np.testing.assert_array_equal(unpack_ternary(pack_ternary(codes[:, :n]), n), codes[:, :n])
    with pytest.raises(ValueError, match="-1, 0 or \\+1"):
        pack_ternary(np.array([[2]], np.int8))


def test_ternary_file_is_packed_and_reads_v1(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save

    from zoo.formats.lewm_config import LeWMConfig
    from zoo.quant.synthetic import synthetic_weights
    from zoo.quant.ternary import quantize_ternary, ternary_to_weights, write_ternary

    cfg = LeWMConfig(
        encoder_hidden=16, encoder_layers=1, encoder_heads=2, encoder_inter=32, predictor_hidden=16,
        predictor_layers=2, predictor_inner_dim=30, predictor_heads=1, predictor_inter=42, latent_dim=16,
        action_input_dim=10, projector_hidden=32, image_size=28,
    )  # fmt: skip
    w = synthetic_weights(cfg, 2)
    tensors, meta = quantize_ternary(w, cfg)
    plan = json.loads(meta["quant"])
    assert meta["format"] == "lewm-zoo-ternary/2" and "LSB-first" in meta["packing"]
    saved = 0
    for name, qtype in plan.items():
        out_f, in_f = w[name].shape
        want = (np.uint8, (out_f, -(-in_f // 4))) if qtype == "ternary" else (np.int8, (out_f, in_f))
        assert (tensors[f"{name}.codes"].dtype, tensors[f"{name}.codes"].shape) == want, name
        saved += out_f * in_f - tensors[f"{name}.codes"].nbytes
    back = ternary_to_weights(tensors, meta)
    # version 1 (unpacked int8 codes) still reads, to the same numbers
    v1 = dict(tensors)
    for name, qtype in plan.items():
        if qtype == "ternary":
            v1[f"{name}.codes"] = Ternary.quantize(w[name]).codes
    back1 = ternary_to_weights(v1, {"format": "lewm-zoo-ternary/1", "quant": meta["quant"]})
    assert back.keys() == back1.keys() and all(np.array_equal(back[k], back1[k]) for k in back)
    # size: the packed file is smaller than the unpacked layout by ~3/4 of the ternary code bytes
    write_ternary(tmp_path / "a.safetensors", w, cfg)
    size_v1 = len(save({k: v1[k] for k in sorted(v1)}, metadata={"format": "lewm-zoo-ternary/1", "quant": meta["quant"]}))
    # (the v2 file also embeds the architecture as `config` metadata, which v1 files lack)
    assert size_v1 - (tmp_path / "a.safetensors").stat().st_size >= saved - 1024 - len(meta["config"])
    # deterministic bytes
    write_ternary(tmp_path / "b.safetensors", w, cfg)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert set(load_file(tmp_path / "a.safetensors")) == set(tensors)
