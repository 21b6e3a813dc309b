"""Q4: blocks of 32 input elements per output row, f32 scale max|x|/7 (spec §3.4).

``q = clamp(round_half_away(x * (1/scale)), -8, 7)`` in float32 arithmetic (as the Rust
exporter computes it). On disk each block is ``f32 scale`` + 16 bytes where byte ``i`` holds
element ``2i`` in the low nibble and ``2i+1`` in the high nibble, each as ``q + 8``
(consecutive pairs, not GGML's i / i+16 pairing). Blocks whose scale is 0 are omitted and
marked 0 in an LSB-first bitmap.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from zoo.quant.base import F32, I8, BlockQuant, QuantizedMatrix, round_half_away

Q4_BLOCK = 32
Q4_BLOCK_BYTES = 20  # f32 scale + 16 nibble bytes
U8 = npt.NDArray[np.uint8]

# one stored block: little-endian f32 scale followed by 16 packed bytes
Q4_BLOCK_DTYPE = np.dtype([("scale", "<f4"), ("nibbles", "u1", (16,))])


def _block_absmax(blocks: F32) -> F32:
    """max |x| per row of ``[n, 32]``: pairwise halving with ``np.maximum`` (5 short passes) is about
    twice as fast as ``abs().max(axis=1)``, whose reduction over 32-element rows is per-row overhead.
    ``np.maximum`` propagates NaN like ``max`` does."""
    a = np.abs(blocks)
    while a.shape[1] > 1:
        half = a.shape[1] // 2
        if 2 * half != a.shape[1]:
            return np.asarray(a.max(axis=1), dtype=np.float32)
        a = np.maximum(a[:, :half], a[:, half:])
    return np.ascontiguousarray(a[:, 0], dtype=np.float32)


class Q4(BlockQuant, name="q4", block_size=Q4_BLOCK):
    @classmethod
    def quantize_blocks(cls, blocks: F32) -> tuple[I8, F32]:
        scales = _block_absmax(blocks)
        scales /= np.float32(7.0)
        if not np.isfinite(scales).all():  # max() propagates NaN, inf stays inf: one cheap check
            raise ValueError("q4: the matrix has non-finite values (NaN or inf)")
        with np.errstate(divide="ignore"):
            inv = np.float32(1.0) / scales  # the exporter multiplies by 1/scale (f32), not divides
        inv[scales == 0] = 0
        v = blocks * inv[:, None]
        r = round_half_away(v)
        np.clip(r, -8, 7, out=r)
        return r.astype(np.int8), scales


def pack_nibbles(codes: I8) -> U8:
    """``[n, 32]`` codes in [-8, 7] -> ``[n, 16]`` bytes (low nibble = even element)."""
    u = (codes.astype(np.int16) + 8).astype(np.uint8)
    return (u[:, 0::2] | (u[:, 1::2] << np.uint8(4))).astype(np.uint8)


def unpack_nibbles(packed: U8) -> I8:
    """``[n, 16]`` bytes -> ``[n, 32]`` int8 codes."""
    out = np.empty((packed.shape[0], packed.shape[1] * 2), np.int8)
    out[:, 0::2] = (packed & np.uint8(0x0F)).astype(np.int8) - np.int8(8)
    out[:, 1::2] = (packed >> np.uint8(4)).astype(np.int8) - np.int8(8)
    return out


@dataclasses.dataclass(frozen=True)
class Q4Matrix:
    """One Q4 linear: codes int8 ``[out, in_padded]``, scales f32 ``[out, blocks_per_row]``.

    This is the form the ESP32/FPGA targets consume; ``bitmap``/``stored_blocks`` are the exact
    on-disk Q4LIN parts.
    """

    out_features: int
    in_features: int
    codes: I8
    scales: F32

    @classmethod
    def quantize(cls, weight: npt.ArrayLike) -> Q4Matrix:
        qm = Q4.quantize(weight)
        return cls(qm.out_features, qm.in_features, qm.codes, qm.scales)

    @property
    def blocks_per_row(self) -> int:
        return -(-self.in_features // Q4_BLOCK)

    @property
    def total_blocks(self) -> int:
        return self.out_features * self.blocks_per_row

    @property
    def block_mask(self) -> npt.NDArray[np.bool_]:
        """Row-major flag per block: True if stored (scale != 0)."""
        return self.scales.reshape(-1) != 0

    @property
    def nonzero_count(self) -> int:
        return int(np.count_nonzero(self.block_mask))

    @property
    def bitmap(self) -> bytes:
        return np.packbits(self.block_mask, bitorder="little").tobytes()

    def stored_blocks(self) -> bytes:
        """The ``nonzero_count`` 20-byte blocks in block order."""
        mask = self.block_mask
        codes = self.codes.reshape(-1, Q4_BLOCK)[mask]
        rec = np.empty(codes.shape[0], Q4_BLOCK_DTYPE)
        rec["scale"] = self.scales.reshape(-1)[mask]
        rec["nibbles"] = pack_nibbles(codes)
        return rec.tobytes()

    @classmethod
    def from_stored(cls, out_features: int, in_features: int, mask: npt.NDArray[np.bool_], blocks: bytes) -> Q4Matrix:
        """Rebuild from a block mask (length total_blocks) and the stored 20-byte blocks."""
        bpr = -(-in_features // Q4_BLOCK)
        rec = np.frombuffer(blocks, dtype=Q4_BLOCK_DTYPE)
        total = out_features * bpr
        scales = np.zeros(total, np.float32)
        codes = np.zeros((total, Q4_BLOCK), np.int8)
        scales[mask] = rec["scale"]
        codes[mask] = unpack_nibbles(rec["nibbles"])
        return cls(out_features, in_features, codes.reshape(out_features, bpr * Q4_BLOCK), scales.reshape(out_features, bpr))

    def as_quantized(self) -> QuantizedMatrix:
        return QuantizedMatrix("q4", self.out_features, self.in_features, self.codes, self.scales)

    def dequantize(self) -> F32:
        return Q4.dequantize(self.as_quantized())

    def sparsity(self) -> float:
        """Fraction of zero codes over the real (unpadded) weights."""
        n = self.out_features * self.in_features
        if n == 0:
            return 0.0
        return 1.0 - float(np.count_nonzero(self.codes[:, : self.in_features])) / n


def quantize_q4(weight: npt.ArrayLike) -> Q4Matrix:
    return Q4Matrix.quantize(weight)
