"""FPGA target: fixed-point reference, Verilog generation, options (no HDL tools needed)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zoo.errors import UsageError
from zoo.quant.q4 import quantize_q4
from zoo.targets.fpga import fixed
from zoo.targets.fpga.design import golden_inputs, slice_spec
from zoo.targets.fpga.verilog import generate_module, generate_testbench, pack_hex, unpack_hex


def every_code_matrix() -> tuple[np.ndarray, np.ndarray]:
    """4 rows x 96 inputs: every code -8..7 twice per block in row 0, an all-zero block, random rest."""
    rng = np.random.default_rng(1)
    codes = rng.integers(-8, 8, size=(4, 96)).astype(np.int8)
    codes[0, :32] = np.repeat(np.arange(-8, 8), 2)
    codes[1, 32:64] = 0  # all-zero block: pruned
    codes[3, :] = 0  # all-zero row
    scales = rng.uniform(0.001, 0.05, size=(4, 3)).astype(np.float32)
    return codes, scales


def brute_force(codes: np.ndarray, scales: np.ndarray, x_int: np.ndarray, fmt: fixed.FixedPointFormat) -> np.ndarray:
    """Python-int model of the hardware (no numpy overflow possible)."""
    sconst = fixed.scale_constants(scales, fmt.scale_frac)
    out = np.zeros((x_int.shape[0], codes.shape[0]), np.int64)
    for n in range(x_int.shape[0]):
        for r in range(codes.shape[0]):
            acc = 0
            for b in range(codes.shape[1] // 32):
                bs = sum(int(codes[r, b * 32 + k]) * int(x_int[n, b * 32 + k]) for k in range(32))
                acc += bs * int(sconst[r, b])
            out[n, r] = (acc + (1 << (fmt.scale_frac - 1))) >> fmt.scale_frac
    return out


def test_reference_matches_python_ints_on_corner_vectors() -> None:
    codes, scales = every_code_matrix()
    fmt = fixed.fixed_format(codes, scales)
    _, x_int, _ = golden_inputs(96, 4, seed=3)
    ref = fixed.reference_forward(codes, scales, x_int, fmt)
    assert np.array_equal(ref, brute_force(codes, scales, x_int, fmt))
    # outputs fit the declared signed output width
    assert np.abs(ref).max() < 2 ** (fmt.out_bits - 1)


def test_fixed_point_close_to_f32_dequant() -> None:
    rng = np.random.default_rng(0)
    q = quantize_q4(rng.normal(0, 0.05, size=(16, 192)).astype(np.float32))
    fmt = fixed.fixed_format(q.codes, q.scales)
    x = rng.standard_normal((8, 192))
    y = fixed.reference_forward(q.codes, q.scales, fixed.quantize_inputs(x), fmt) / 256.0
    err = fixed.error_metrics(y, fixed.dequant_forward(q.codes, q.scales, x))
    assert err["cosine"] > 0.9999
    assert err["max_abs"] < 0.02


def test_scale_frac_fits_16_bit_constants() -> None:
    scales = np.array([[0.5, 0.001], [1e-6, 0.0]], np.float32)
    frac = fixed.choose_scale_frac(scales)
    consts = fixed.scale_constants(scales, frac)
    assert consts.max() <= 32767
    assert fixed.round_half_away(np.array(0.5 * 2.0 ** (frac + 1))) > 32767  # F is the largest that fits
    assert fixed.choose_scale_frac(np.zeros((1, 1), np.float32)) == 10


def test_round_half_away() -> None:
    assert fixed.round_half_away(np.array([0.5, -0.5, 1.5, 2.5, -2.5])).tolist() == [1, -1, 2, 3, -3]


def test_verilog_has_no_multiply_on_weights_and_prunes_zero_blocks() -> None:
    codes, scales = every_code_matrix()
    fmt = fixed.fixed_format(codes, scales)
    text = generate_module(codes, scales, fmt, top="hw", in_features=96)
    top_body = text[text.index("module hw ("):].split("endmodule")[0]
    assert "*" not in re.sub(r"//[^\n]*", "", top_body)
    assert " * S" in text  # the scale module is the only multiply
    assert "u_scale1_1 " not in text  # all-zero block pruned
    assert not re.search(r"u_scale3_\d", text)  # all-zero row
    assert f"acc3 = {fmt.acc_bits}'sd0;" in text
    for needle in ("m3_", "m5_", "m6_", "m7_", "(x_1 <<< 2) + (x_1 <<< 1)", "<<< 3", "Q8.8", f"Q.{fmt.scale_frac}"):
        assert needle in text
    # deterministic
    assert text == generate_module(codes, scales, fmt, top="hw", in_features=96)


def test_negative_block_sum_folds_into_scale_sign() -> None:
    codes = np.zeros((1, 32), np.int8)
    codes[0, :4] = [-1, -3, -8, -5]
    scales = np.array([[0.01]], np.float32)
    fmt = fixed.fixed_format(codes, scales)
    text = generate_module(codes, scales, fmt, top="hw", in_features=32)
    s = int(fixed.scale_constants(scales, fmt.scale_frac)[0, 0])
    assert f".S(-16'sd{s})" in text
    assert " - " not in text.split("module hw (")[1]  # all-negative terms add up; no subtraction needed


def test_padding_codes_must_be_zero() -> None:
    codes = np.ones((1, 32), np.int8)
    with pytest.raises(ValueError, match="padding"):
        generate_module(codes, np.ones((1, 1), np.float32), fixed.fixed_format(codes, np.ones((1, 1))), top="hw", in_features=20)


def test_hex_round_trip() -> None:
    rng = np.random.default_rng(5)
    v = rng.integers(-(2**23), 2**23, size=(5, 7))
    assert np.array_equal(unpack_hex(pack_hex(v, 25), 7, 25), v)


def test_testbench_mentions_files_and_sizes() -> None:
    fmt = fixed.FixedPointFormat(blocks=2, scale_frac=12)
    tb = generate_testbench(top="hw", in_features=40, rows=3, fmt=fmt, vectors=9)
    assert '$readmemh("inputs.hex", vin)' in tb
    assert f"wire [{3 * fmt.out_bits - 1}:0] y" in tb
    assert "[0:8]" in tb


def test_slice_spec_options() -> None:
    spec = slice_spec({"layer": 0, "matrix": "to_qkv", "rows": [0, 16]}, {"rows": "4:8", "vectors": "3"})
    assert spec.rows == (4, 8) and spec.random_vectors == 3
    assert spec.tensor == "predictor.transformer.layers.0.attn.to_qkv.weight"
    assert slice_spec({"matrix": "adaln_linear"}).tensor.endswith("adaLN_modulation.1.weight")
    assert slice_spec({}).rows == (0, 8)
    for bad in ({"matrix": "nope"}, {"rows": [5, 2]}, {"rows": "x"}, {"layer": "a"}, {"colour": 1},
                {"rows": [0, 10_000]}, {"full_synth": "maybe"}):
        with pytest.raises(UsageError):
            slice_spec(bad)


def test_every_code_is_realised_as_the_spec_table() -> None:
    """Spec §5.2: 0 pruned, +-1 wire/negate, +-2/+-4 shift, +-3/+-5/+-6/+-7 two-term, -8 shift."""
    from zoo.targets.fpga.verilog import _MULTIPLE_EXPR, _leaf_term

    spec = {
        1: "x_5", 2: "(x_5 <<< 1)", 4: "(x_5 <<< 2)", 8: "(x_5 <<< 3)",
        3: "(x_5 <<< 1) + x_5", 5: "(x_5 <<< 2) + x_5", 6: "(x_5 <<< 2) + (x_5 <<< 1)", 7: "(x_5 <<< 3) - x_5",
    }  # fmt: skip
    for code in [c for c in range(-8, 8) if c != 0]:
        expr, negative, bound = _leaf_term(code, 5, 16)
        assert negative == (code < 0) and bound == abs(code) << 15
        if abs(code) in (3, 5, 6, 7):  # two-term forms, shared per column as m<k>_<col>
            assert expr == f"m{abs(code)}_5"
            assert _MULTIPLE_EXPR[expr[:2]].format(i=5) == spec[abs(code)]
        else:
            assert expr == spec[abs(code)]
    with pytest.raises(KeyError):
        _leaf_term(0, 5, 16)  # 0 never becomes logic (pruned before the tree)
