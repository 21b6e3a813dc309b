"""FPGA target: Icarus Verilog simulation and Yosys synthesis of generated slices (needs iverilog/yosys)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo.quant.q4 import quantize_q4
from zoo.targets.fpga import fixed, tools
from zoo.targets.fpga.design import golden_inputs
from zoo.targets.fpga.verilog import generate_module, generate_testbench, pack_hex

pytestmark = [
    pytest.mark.hdl,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("iverilog", "vvp", "yosys")), reason="needs iverilog, vvp and yosys"
    ),
]


def write_and_simulate(tmp: Path, codes: np.ndarray, scales: np.ndarray, in_features: int, x_int: np.ndarray):
    fmt = fixed.fixed_format(codes, scales)
    (tmp / "hw.v").write_text(generate_module(codes, scales, fmt, top="hw", in_features=in_features))
    (tmp / "tb.v").write_text(
        generate_testbench(top="hw", in_features=in_features, rows=codes.shape[0], fmt=fmt, vectors=len(x_int))
    )
    (tmp / "in.hex").write_text("\n".join(pack_hex(x_int, 16)) + "\n")
    sim = tools.simulate(tmp / "hw.v", tmp / "tb.v", tmp / "in.hex", rows=codes.shape[0], out_bits=fmt.out_bits,
                         vectors=len(x_int))
    ref = fixed.reference_forward(codes, scales, fixed.pad_inputs(x_int, codes.shape[1]), fmt)
    return fmt, sim, ref


def test_every_code_and_zero_blocks_bit_exact_and_no_weight_multipliers(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(-8, 8, size=(4, 64)).astype(np.int8)
    codes[0, :32] = np.repeat(np.arange(-8, 8), 2)  # every code value, twice
    codes[1, 32:] = 0  # all-zero block
    codes[2, :] = 0  # all-zero row
    codes[3, :32] = -8  # extreme negative block: sum folds into a negated scale
    scales = rng.uniform(0.002, 0.09, size=(4, 2)).astype(np.float32)
    _, x_int, _ = golden_inputs(64, 6, seed=1)
    _, sim, ref = write_and_simulate(tmp_path, codes, scales, 64, x_int)
    assert np.array_equal(sim, ref)

    synth = tools.synthesize(tmp_path / "hw.v", "hw")
    assert synth["rtl_weight_mul_check"] == "pass"
    assert synth["multipliers_for_weights"] == 0
    assert synth["multipliers_for_scales"] == 5  # 8 blocks - 1 zero block - 2 of the zero row
    assert synth["estimate"]["bram"] == 0 and synth["estimate"]["luts"] > 0


def test_random_q4_matrix_with_padding_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    q = quantize_q4(rng.normal(0, 0.04, size=(6, 40)).astype(np.float32))  # 40 inputs -> padded to 64
    _, x_int, _ = golden_inputs(40, 10, seed=2)
    _, sim, ref = write_and_simulate(tmp_path, q.codes, q.scales, 40, x_int)
    assert np.array_equal(sim, ref)


def test_multiplier_check_catches_a_weight_multiply(tmp_path: Path) -> None:
    (tmp_path / "bad.v").write_text(
        "module bad(input signed [15:0] a, output signed [19:0] y);\n  assign y = a * 20'sd3;\nendmodule\n"
    )
    synth = tools.synthesize(tmp_path / "bad.v", "bad")
    assert synth["rtl_weight_mul_check"] == "fail"
    assert synth["multipliers_for_weights"] == 1


def test_simulation_tool_error_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "hw.v").write_text("module hw(; endmodule\n")
    (tmp_path / "tb.v").write_text("module tb; endmodule\n")
    (tmp_path / "in.hex").write_text("0\n")
    with pytest.raises(tools.ToolError, match="iverilog: exit code"):
        tools.simulate(tmp_path / "hw.v", tmp_path / "tb.v", tmp_path / "in.hex", rows=1, out_bits=8, vectors=1)
