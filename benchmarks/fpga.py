"""Hardwired shift-add Q4 slice vs a dequantize-and-multiply design of the same slice.

Usage: python benchmarks/fpga.py [--rows 8] [--inputs 192] [--repeats 3] [--full]

Both designs compute y = x @ W.T on the same seeded Q4 matrix (Q8.8 inputs). The multiply design
has one constant multiplier per non-zero weight (round(code * scale * 2^F)); the hardwired design is
what `zoo build --target fpga` emits. Prints ratios first (multiply / hardwired), then the numbers:
Yosys word-level multiplier cells and adder bits (and, with --full, synth_xilinx LUT/DSP counts),
and medians of generation, numpy reference, Icarus simulation and Yosys times, all from one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zoo.quant.q4 import quantize_q4
from zoo.targets.fpga import fixed, tools
from zoo.targets.fpga.design import golden_inputs
from zoo.targets.fpga.verilog import generate_module, generate_testbench, pack_hex


def multiply_design(codes: np.ndarray, scales: np.ndarray, fmt: fixed.FixedPointFormat, in_features: int) -> str:
    """Baseline: one constant multiply per non-zero weight, dequantized weight as a fixed-point constant."""
    rows = codes.shape[0]
    wfix = fixed.round_half_away(
        codes.astype(np.float64).reshape(rows, -1, 32) * scales.astype(np.float64)[:, :, None] * 2.0**fmt.scale_frac
    ).reshape(rows, -1).astype(np.int64)
    ob, wb = fmt.out_bits, int(np.abs(wfix).max()).bit_length() + 1
    lines = [f"module mul (input wire [{in_features * 16 - 1}:0] x, output wire [{rows * ob - 1}:0] y);"]
    for i in range(in_features):
        lines.append(f"  wire signed [15:0] x_{i} = x[{i * 16} +: 16];")
    for r in range(rows):
        terms = [
            f"x_{i} * {'-' if w < 0 else ''}{wb}'sd{abs(w)}" for i, w in enumerate(wfix[r, :in_features].tolist()) if w
        ]
        lines.append(f"  wire signed [{fmt.acc_bits - 1}:0] acc{r} = {' + '.join(terms) or '0'};")
        lines.append(f"  assign y[{r * ob} +: {ob}] = (acc{r} + {fmt.acc_bits}'sd{1 << (fmt.scale_frac - 1)}) >>> {fmt.scale_frac};")
    lines.append("endmodule\n")
    return "\n".join(lines)


def timed(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--inputs", type=int, default=192)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="also synth_xilinx both designs (slow: use --rows 2 --inputs 32)")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    q = quantize_q4(rng.normal(0, 0.05, size=(args.rows, args.inputs)).astype(np.float32))
    fmt = fixed.fixed_format(q.codes, q.scales)
    _, x_int, names = golden_inputs(args.inputs, 16, seed=0)
    x_pad = fixed.pad_inputs(x_int, q.codes.shape[1])
    with tempfile.TemporaryDirectory(prefix="zoo-fpga-bench-") as tmp:
        work = Path(tmp)
        hw, mul = work / "hw.v", work / "mul.v"
        gen_ms = timed(lambda: generate_module(q.codes, q.scales, fmt, top="hw", in_features=args.inputs), args.repeats)
        hw.write_text(generate_module(q.codes, q.scales, fmt, top="hw", in_features=args.inputs))
        mul.write_text(multiply_design(q.codes, q.scales, fmt, args.inputs))
        tb = work / "tb.v"
        tb.write_text(generate_testbench(top="hw", in_features=args.inputs, rows=args.rows, fmt=fmt, vectors=len(names)))
        (work / "in.hex").write_text("\n".join(pack_hex(x_int, 16)) + "\n")
        ref_ms = timed(lambda: fixed.reference_forward(q.codes, q.scales, x_pad, fmt), args.repeats)
        sim_ms = timed(
            lambda: tools.simulate(hw, tb, work / "in.hex", rows=args.rows, out_bits=fmt.out_bits, vectors=len(names)),
            args.repeats,
        )
        t0 = time.perf_counter()
        s_hw = tools.synthesize(hw, "hw", full=args.full)
        synth_hw_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        s_mul = tools.synthesize(mul, "mul", full=args.full)
        synth_mul_ms = (time.perf_counter() - t0) * 1e3

    def muls(s: dict) -> int:
        return int(s["coarse_cells"].get("$mul", 0))

    nz = int(np.count_nonzero(q.codes))
    print(f"slice {args.rows} x {args.inputs} Q4 ({nz} non-zero weights), {len(names)} vectors, repeats {args.repeats}")
    print(f"ratio multiplier cells (multiply / hardwired): {muls(s_mul) / max(muls(s_hw), 1):.1f}x "
          f"({muls(s_mul)} vs {muls(s_hw)})")
    if args.full:
        lx, hx = s_mul["xc7"], s_hw["xc7"]
        print(f"ratio synth_xilinx DSP48 (multiply / hardwired): {lx['dsp48'] / max(hx['dsp48'], 1):.1f}x "
              f"({lx['dsp48']} vs {hx['dsp48']}); LUT: {lx['luts'] / max(hx['luts'], 1):.2f}x ({lx['luts']} vs {hx['luts']})")
        print(f"hardwired LUT estimate {s_hw['estimate']['luts']} vs synth_xilinx LUTs {hx['luts']}")
    print(f"ratio icarus sim / numpy reference (median ms): {sim_ms / ref_ms:.0f}x ({sim_ms:.1f} vs {ref_ms:.3f})")
    print(f"hardwired: adder bits {s_hw['coarse_adder_bits']} ({s_hw['coarse_adder_bits'] / nz:.1f} per weight), "
          f"weight multipliers {s_hw['multipliers_for_weights']}, scale multipliers {s_hw['multipliers_for_scales']}")
    print(f"median ms: generate {gen_ms:.1f}, reference {ref_ms:.3f}, simulate {sim_ms:.1f}; "
          f"yosys (one run) hardwired {synth_hw_ms:.0f}, multiply {synth_mul_ms:.0f}")


if __name__ == "__main__":
    main()
