"""FPGA target: hardwired shift-add Verilog from Q4 predictor weights (spec §5.2).

`zoo build NAME --target fpga [--check]`: `build` writes `hardwired.v` (every Q4 weight a
shift/add constant, 32-element adder trees, one constant multiply per block scale), a testbench,
golden input vectors and the bit-exact integer reference outputs; `check` simulates with Icarus
Verilog (exact equality required), synthesises with Yosys and writes `report.json`.

Options (registry `format.options`, overridable with `--set KEY=VALUE`): `layer` (0),
`matrix` (adaln | to_qkv | attn_out | mlp_up | mlp_down; default to_qkv), `rows` ([0, 8]),
`vectors` (random vectors, 16), `seed` (0), `scale_frac` (auto), `full_synth` (false).
"""

from __future__ import annotations

from typing import Any

from zoo.targets.base import Artifact, BuildContext
from zoo.targets.fpga.design import REPORT_FILE, check_design, load_q4_slice, slice_spec, write_design

__all__ = ["REPORT_FILE", "FpgaTarget", "check_design", "load_q4_slice", "slice_spec", "write_design"]


class FpgaTarget:
    name = "fpga"
    formats = ("hdl", "lq40:q4-pred", "lq40:full", "lq40:q4-full", "lq40:wanda20-q4", "lq40:wanda40-q4")
    description = "hardwired shift-add Verilog from Q4 predictor weights (Icarus sim, Yosys synth)"
    tools = ("iverilog", "vvp", "yosys")  # check: Icarus Verilog compile + simulate, Yosys synthesis
    needs_numeric_files = True  # build reads the Q4 predictor of the LQ40 file (an hdl variant's parent's)

    def build(self, ctx: BuildContext) -> list[Artifact]:
        spec = slice_spec(ctx.variant.format.options, ctx.options)
        q = load_q4_slice(ctx.workspace, ctx.registry, ctx.variant, spec)
        written = write_design(ctx.out_dir, q, spec, variant=ctx.variant.name)
        return [Artifact(path, kind, desc) for path, kind, desc in written]

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        spec = slice_spec(ctx.variant.format.options, ctx.options)
        return check_design(ctx.out_dir, full_synth=spec.full_synth, phase=getattr(ctx, "phase", None))
