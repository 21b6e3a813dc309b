"""Fixed-point arithmetic of the hardwired Q4 matrix and its bit-exact numpy reference.

The generated Verilog (`zoo.targets.fpga.verilog`) and `reference_forward` below compute the same
integers; `dequant_forward` is the f32 matmul the fixed-point error is measured against.

Arithmetic (one output row r, blocks b of 32 inputs, spec §3.4/§5.2):

- input ``x``: signed 16-bit, Q8.8 (real value = x / 2^8);
- product ``w * x`` with the Q4 code w in [-8, 7] realised with shifts/adds: signed 20-bit;
- block sum of up to 32 products through a widening adder tree: signed 25-bit;
- block scale constant ``S = round_half_away(scale * 2^F)``: signed 16-bit (scales are >= 0),
  F chosen per matrix slice as the largest value with max S <= 32767 (capped to [1, 30]);
- scaled block ``bsum * S``: signed 40-bit (the only true multiply, one per non-pruned block);
- row accumulator: signed ``40 + ceil(log2(blocks)) + 1`` bits (one spare bit for rounding);
- output ``y = (acc + 2^(F-1)) >>> F`` (round half up), signed ``ACC_W - F`` bits, Q.8.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

Q4_BLOCK = 32
IN_BITS = 16
IN_FRAC = 8
PRODUCT_BITS = 20  # |w * x| <= 8 * 2^15 = 2^18
BLOCK_BITS = 25  # |sum of 32 products| <= 2^23
SCALE_BITS = 16
SCALED_BITS = BLOCK_BITS + SCALE_BITS - 1  # 40: 25-bit x 16-bit signed
MAX_SCALE_FRAC = 30
MIN_SCALE_FRAC = 1


@dataclasses.dataclass(frozen=True)
class FixedPointFormat:
    """Bit widths of one generated module (all signed two's complement)."""

    blocks: int  # blocks per row (in_padded / 32)
    scale_frac: int  # F: scale constants are round(scale * 2^F)
    in_bits: int = IN_BITS
    in_frac: int = IN_FRAC
    product_bits: int = PRODUCT_BITS
    block_bits: int = BLOCK_BITS
    scale_bits: int = SCALE_BITS

    @property
    def scaled_bits(self) -> int:
        return self.block_bits + self.scale_bits - 1

    @property
    def acc_bits(self) -> int:
        return self.scaled_bits + max(1, math.ceil(math.log2(max(self.blocks, 1)))) + 1

    @property
    def out_bits(self) -> int:
        return self.acc_bits - self.scale_frac

    def describe(self) -> dict[str, str]:
        """Human-readable formats (header comment, report.json)."""
        f = self.scale_frac
        return {
            "input": f"signed {self.in_bits}-bit Q{self.in_bits - self.in_frac}.{self.in_frac}",
            "weight": "Q4 code in [-8, 7], realised with shifts/adds (no multiplier)",
            "product": f"signed <= {self.product_bits}-bit (each adder sized to its worst case), Q.{self.in_frac}",
            "block_sum": f"signed {self.block_bits}-bit adder tree over 32 products, Q.{self.in_frac}",
            "scale": f"signed {self.scale_bits}-bit constant round_half_away(scale * 2^{f}), Q.{f}",
            "scaled_block": f"signed {self.scaled_bits}-bit, Q.{self.in_frac + f}",
            "accumulator": f"signed {self.acc_bits}-bit, Q.{self.in_frac + f}",
            "output": f"signed {self.out_bits}-bit Q{self.out_bits - self.in_frac}.{self.in_frac} "
            f"= (acc + 2^{f - 1}) >>> {f} (round half up)",
        }


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (Rust f32::round), not numpy's half-to-even."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def choose_scale_frac(scales: np.ndarray, scale_bits: int = SCALE_BITS) -> int:
    """Largest F in [1, 30] such that every round(scale * 2^F) fits a signed `scale_bits` constant."""
    smax = float(np.max(np.abs(scales.astype(np.float64)))) if scales.size else 0.0
    limit = 2 ** (scale_bits - 1) - 1
    if smax <= 0.0:
        return 10
    frac = math.floor(math.log2(limit / smax))
    frac = max(MIN_SCALE_FRAC, min(MAX_SCALE_FRAC, frac))
    # log2 may land one off at exact powers of two; step down until it fits.
    while frac > MIN_SCALE_FRAC and round_half_away(np.array(smax * 2.0**frac)) > limit:
        frac -= 1
    return frac


def scale_constants(scales: np.ndarray, scale_frac: int, scale_bits: int = SCALE_BITS) -> np.ndarray:
    """int64 [rows, blocks]: round_half_away(scale * 2^F), clipped to the signed constant range."""
    limit = 2 ** (scale_bits - 1) - 1
    consts = round_half_away(scales.astype(np.float64) * 2.0**scale_frac)
    return np.clip(consts, -limit - 1, limit).astype(np.int64)


def fixed_format(codes: np.ndarray, scales: np.ndarray, scale_frac: int | None = None) -> FixedPointFormat:
    if codes.ndim != 2 or codes.shape[1] % Q4_BLOCK:
        raise ValueError(f"codes must be [rows, k*32], got {codes.shape}")
    frac = choose_scale_frac(scales) if scale_frac is None else int(scale_frac)
    return FixedPointFormat(blocks=codes.shape[1] // Q4_BLOCK, scale_frac=frac)


def quantize_inputs(x: np.ndarray, in_frac: int = IN_FRAC, in_bits: int = IN_BITS) -> np.ndarray:
    """Real inputs [n, in] -> saturated signed Q(in_bits-in_frac).in_frac integers (int64)."""
    lo, hi = -(2 ** (in_bits - 1)), 2 ** (in_bits - 1) - 1
    return np.clip(round_half_away(np.asarray(x, dtype=np.float64) * 2.0**in_frac), lo, hi).astype(np.int64)


def pad_inputs(x_int: np.ndarray, in_padded: int) -> np.ndarray:
    """Zero-pad [n, in] integer inputs to the padded width of the Q4 rows."""
    n, k = x_int.shape
    if k > in_padded:
        raise ValueError(f"input width {k} exceeds padded width {in_padded}")
    out = np.zeros((n, in_padded), dtype=np.int64)
    out[:, :k] = x_int
    return out


def block_sums(codes: np.ndarray, x_int: np.ndarray) -> np.ndarray:
    """int64 [n, rows, blocks]: per-block dot products of codes and integer inputs."""
    rows, width = codes.shape
    nb = width // Q4_BLOCK
    c = codes.astype(np.int64).reshape(rows, nb, Q4_BLOCK)
    xb = x_int.astype(np.int64).reshape(x_int.shape[0], nb, Q4_BLOCK)
    return np.einsum("nbk,rbk->nrb", xb, c, optimize=False)


def reference_forward(codes: np.ndarray, scales: np.ndarray, x_int: np.ndarray, fmt: FixedPointFormat) -> np.ndarray:
    """Bit-exact integer model of the generated logic: int64 [n, rows] outputs in Q.8."""
    sconst = scale_constants(scales, fmt.scale_frac, fmt.scale_bits)
    acc = (block_sums(codes, x_int) * sconst[None, :, :]).sum(axis=-1)
    half = np.int64(1) << np.int64(fmt.scale_frac - 1)
    return (acc + half) >> np.int64(fmt.scale_frac)  # numpy >> on int64 is arithmetic


def dequant_forward(codes: np.ndarray, scales: np.ndarray, x: np.ndarray) -> np.ndarray:
    """f32 dequantized matmul: x [n, in_padded] @ (codes * scale).T."""
    rows, width = codes.shape
    w = (codes.astype(np.float32).reshape(rows, -1, Q4_BLOCK) * scales.astype(np.float32)[:, :, None]).reshape(
        rows, width
    )
    return np.asarray(x, dtype=np.float32) @ w.T


def error_metrics(approx: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Cosine (over all elements) and max abs difference."""
    a = np.asarray(approx, dtype=np.float64).ravel()
    e = np.asarray(exact, dtype=np.float64).ravel()
    na, ne = float(np.linalg.norm(a)), float(np.linalg.norm(e))
    if na == 0.0 and ne == 0.0:
        cos = 1.0
    elif na == 0.0 or ne == 0.0:
        cos = 0.0
    else:
        cos = float(np.dot(a, e) / (na * ne))
    return {"cosine": cos, "max_abs": float(np.max(np.abs(a - e))) if a.size else 0.0}
