"""Emit synthesizable Verilog-2005 for a hardwired Q4 matrix slice, plus its testbench.

Every Q4 weight is a constant realised with shifts and adds (no multiplier):

    0 pruned | +-1 wire/negate | +-2, +-4 shift | +-3 (x<<1)+x | +-5 (x<<2)+x | +-6 (x<<2)+(x<<1)
    +-7 (x<<3)-x | -8 -(x<<3)

(the spec §5.2 table, term for term). The two-term multiples x*3, x*5, x*6, x*7 are built once per
input column and shared by every row
that needs them (synthesis would merge the identical adders anyway; sharing them in the text
keeps the netlist and the simulation small). A negative weight costs no negation: its magnitude
term enters the adder tree on the subtracting side. Each block of 32 products is summed by a
widening binary adder/subtractor tree; the per-block scale is the only true multiply, kept in its own module
(`<top>_scale`) so synthesis can prove that the top module has no multiplier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoo.targets.fpga.fixed import Q4_BLOCK, FixedPointFormat, scale_constants

GENERATOR = "lewm-zoo fpga generator 1"

# |code| -> (shared multiple needed, expression template over x and the shared multiples).
_LEAF: dict[int, tuple[str | None, str]] = {
    1: (None, "{x}"),
    2: (None, "({x} <<< 1)"),
    3: ("m3", "{m3}"),
    4: (None, "({x} <<< 2)"),
    5: ("m5", "{m5}"),
    6: ("m6", "{m6}"),
    7: ("m7", "{m7}"),
    8: (None, "({x} <<< 3)"),  # only -8 occurs
}
_MULTIPLE_EXPR = {
    "m3": "(x_{i} <<< 1) + x_{i}",
    "m5": "(x_{i} <<< 2) + x_{i}",
    "m6": "(x_{i} <<< 2) + (x_{i} <<< 1)",
    "m7": "(x_{i} <<< 3) - x_{i}",
}
MULTIPLES = tuple(_MULTIPLE_EXPR)


Term = tuple[str, bool, int]  # (expression, negative?, bound on |value|)


def _signed_width(bound: int) -> int:
    """Bits of a signed wire holding every value in [-bound, bound]."""
    return bound.bit_length() + 1


def _leaf_term(code: int, col: int, in_bits: int) -> Term:
    """|code| * x_col as a shift/add expression; the sign is folded into the adder tree."""
    _, template = _LEAF[abs(code)]
    expr = template.format(x=f"x_{col}", **{m: f"{m}_{col}" for m in MULTIPLES})
    return expr, code < 0, abs(code) << (in_bits - 1)


def _signed_const(value: int, bits: int) -> str:
    return f"-{bits}'sd{-value}" if value < 0 else f"{bits}'sd{value}"


def _adder_tree(lines: list[str], prefix: str, leaves: list[Term]) -> Term:
    """Emit a widening binary adder/subtractor tree over signed terms (expr, negative?).

    Signs never need a negation cell: (+a)+(-b) is a - b, (-a)+(-b) is -(a + b), and a negative
    block sum is absorbed by negating the block's scale constant. Each node is exactly as wide as
    its worst-case magnitude needs (at most 20-bit products and a 25-bit block sum).
    """
    level, terms = 0, leaves
    while len(terms) > 1:
        level += 1
        nxt: list[Term] = []
        for j in range(0, len(terms) - 1, 2):
            (a, na, ba), (b, nb, bb) = terms[j], terms[j + 1]
            name = f"{prefix}_l{level}_{j // 2}"
            if na == nb:
                expr, neg = f"{a} + {b}", na
            elif nb:
                expr, neg = f"{a} - {b}", False
            else:
                expr, neg = f"{b} - {a}", False
            lines.append(f"  wire signed [{_signed_width(ba + bb) - 1}:0] {name} = {expr};")
            nxt.append((name, neg, ba + bb))
        if len(terms) % 2:
            nxt.append(terms[-1])  # odd term passes through to the next level
        terms = nxt
    return terms[0]


def weight_histogram(codes: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(codes.astype(np.int64), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def generate_module(
    codes: np.ndarray,
    scales: np.ndarray,
    fmt: FixedPointFormat,
    *,
    top: str,
    in_features: int,
    source: str = "",
) -> str:
    """Verilog text of module `top` (ports `x[in_features*16]`, `y[rows*out_bits]`) and its scale module."""
    rows, width = codes.shape
    nb = width // Q4_BLOCK
    codes64 = codes.astype(np.int64)
    if np.any(codes64[:, in_features:] != 0):
        raise ValueError("non-zero Q4 codes in the zero padding beyond in_features")
    if codes64.min(initial=0) < -8 or codes64.max(initial=0) > 7:
        raise ValueError("Q4 codes must be in [-8, 7]")
    sconst = scale_constants(scales, fmt.scale_frac, fmt.scale_bits)
    blocks = codes64.reshape(rows, nb, Q4_BLOCK)
    # A block is pruned when all its codes are zero or its scale constant rounds to zero.
    live = np.any(blocks != 0, axis=2) & (sconst != 0)
    used_codes = np.where(live[:, :, None], blocks, 0).reshape(rows, width)

    # Which shared multiples each input column needs.
    mags = np.abs(used_codes)
    need = {m: np.any(mags == int(m[1]), axis=0) for m in MULTIPLES}
    used_cols = np.any(used_codes != 0, axis=0)

    ob, ab, iw = fmt.out_bits, fmt.acc_bits, fmt.in_bits
    desc = fmt.describe()
    hist = weight_histogram(codes64)
    out: list[str] = [
        f"// {top}: hardwired Q4 matrix slice, generated by {GENERATOR}. Do not edit.",
        f"// source: {source}" if source else "// source: (in-memory matrix)",
        f"// shape: {rows} output rows x {in_features} inputs ({nb} blocks of {Q4_BLOCK} per row)",
        f"// blocks: {rows * nb} total, {int(live.sum())} kept, {int((~live).sum())} pruned (all-zero codes or zero scale)",
        f"// weights: {rows * in_features} total, {int((used_codes != 0).sum())} non-zero shift-add terms",
        "// code histogram: " + ", ".join(f"{k}:{v}" for k, v in hist.items()),
        "//",
        "// Fixed-point formats (signed two's complement):",
        *[f"//   {key:<13} {value}" for key, value in desc.items()],
        "//",
        "// Weight realisation: 0 pruned; +-1 wire/negate; +-2,+-4 shift; +-3 (x<<1)+x; +-5 (x<<2)+x;",
        "//   +-6 (x<<2)+(x<<1); +-7 (x<<3)-x; -8 -(x<<3). x*3, x*5, x*6, x*7 are shared per input column.",
        "//   Negation is folded into the adder tree (a + (-b) -> a - b); a block sum that ends up",
        "//   negated is absorbed by negating that block's scale constant.",
        "// The per-block scale is the only multiply, in module " + f"{top}_scale (one instance per kept block).",
        "",
        f"module {top}_scale #(parameter signed [{fmt.scale_bits - 1}:0] S = {fmt.scale_bits}'sd1) (",
        f"  input  wire signed [{fmt.block_bits - 1}:0] a,",
        f"  output wire signed [{fmt.scaled_bits - 1}:0] p",
        ");",
        "  assign p = a * S;",
        "endmodule",
        "",
        f"module {top} (",
        f"  input  wire [{in_features * iw - 1}:0] x,  // {in_features} x Q{iw - fmt.in_frac}.{fmt.in_frac}, element i at [i*{iw} +: {iw}]",
        f"  output wire [{rows * ob - 1}:0] y  // {rows} x signed {ob}-bit Q.{fmt.in_frac}, row r at [r*{ob} +: {ob}]",
        ");",
    ]
    for i in np.flatnonzero(used_cols):
        out.append(f"  wire signed [{iw - 1}:0] x_{i} = x[{i * iw} +: {iw}];")
    for mult in MULTIPLES:
        for i in np.flatnonzero(need[mult]):
            width = _signed_width(int(mult[1]) << (iw - 1))
            out.append(f"  wire signed [{width - 1}:0] {mult}_{i} = {_MULTIPLE_EXPR[mult].format(i=i)};")

    for r in range(rows):
        scaled: list[str] = []
        for b in np.flatnonzero(live[r]):
            cols = np.flatnonzero(blocks[r, b]) + b * Q4_BLOCK
            leaves = [_leaf_term(int(used_codes[r, c]), int(c), iw) for c in cols]
            top_term, negative, _ = _adder_tree(out, f"t{r}_{b}", leaves)
            const = -int(sconst[r, b]) if negative else int(sconst[r, b])
            bs, sp = f"bs{r}_{b}", f"sp{r}_{b}"
            out.append(f"  wire signed [{fmt.block_bits - 1}:0] {bs} = {top_term};")
            out.append(f"  wire signed [{fmt.scaled_bits - 1}:0] {sp};")
            out.append(
                f"  {top}_scale #(.S({_signed_const(const, fmt.scale_bits)})) "
                f"u_scale{r}_{b} (.a({bs}), .p({sp}));"
            )
            scaled.append(sp)
        acc_expr = " + ".join(scaled) if scaled else f"{ab}'sd0"
        half = 1 << (fmt.scale_frac - 1)
        out.append(f"  wire signed [{ab - 1}:0] acc{r} = {acc_expr};")
        out.append(f"  wire signed [{ab - 1}:0] rnd{r} = acc{r} + {_signed_const(half, ab)};")
        out.append(f"  assign y[{r * ob} +: {ob}] = rnd{r} >>> {fmt.scale_frac};")
    out.append("endmodule")
    out.append("")
    return "\n".join(out)


def generate_testbench(*, top: str, in_features: int, rows: int, fmt: FixedPointFormat, vectors: int) -> str:
    """Testbench reading `inputs.hex` (one vector per line) and writing `outputs.hex` (one line per vector)."""
    iw, ow = in_features * fmt.in_bits, rows * fmt.out_bits
    return "\n".join(
        [
            f"// testbench for {top}, generated by {GENERATOR}. Do not edit.",
            "// Reads inputs.hex ($readmemh, element 0 in the least significant digits), applies each",
            "// vector to the combinational module and writes y as one hex line per vector to outputs.hex.",
            "`timescale 1ns/1ps",
            f"module {top}_tb;",
            f"  reg  [{iw - 1}:0] vin [0:{vectors - 1}];",
            f"  reg  [{iw - 1}:0] x;",
            f"  wire [{ow - 1}:0] y;",
            "  integer i, fd;",
            f"  {top} dut (.x(x), .y(y));",
            "  initial begin",
            '    $readmemh("inputs.hex", vin);',
            '    fd = $fopen("outputs.hex", "w");',
            f"    for (i = 0; i < {vectors}; i = i + 1) begin",
            "      x = vin[i];",
            "      #1;",
            '      $fwrite(fd, "%h\\n", y);',
            "    end",
            "    $fclose(fd);",
            "    $finish;",
            "  end",
            "endmodule",
            "",
        ]
    )


def pack_hex(values: np.ndarray, bits: int) -> list[str]:
    """[n, k] signed ints -> n hex lines, element 0 in the least significant `bits`."""
    k = values.shape[1]
    digits = (k * bits + 3) // 4
    mask = (1 << bits) - 1
    lines = []
    for row in values.tolist():
        word = 0
        for j, v in enumerate(row):
            word |= (int(v) & mask) << (j * bits)
        lines.append(f"{word:0{digits}x}")
    return lines


def unpack_hex(lines: Sequence[str], k: int, bits: int) -> np.ndarray:
    """Inverse of `pack_hex` (two's complement fields). Raises ValueError on x/z digits."""
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    out = np.zeros((len(lines), k), dtype=np.int64)
    for n, line in enumerate(lines):
        word = int(line.strip(), 16)
        for j in range(k):
            field = (word >> (j * bits)) & mask
            out[n, j] = field - (1 << bits) if field & sign else field
    return out
