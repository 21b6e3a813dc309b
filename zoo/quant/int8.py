"""INT8 per-output-row symmetric quantizer (spec §3.5).

``s[o] = max_i |W[o, i]| / 127`` (1.0 for an all-zero row), ``q = clamp(round_half_away(W / s), -128, 127)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from zoo.quant.base import F32, I8, BlockQuant, QuantizedMatrix, round_half_away


class Int8(BlockQuant, name="int8", block_size=None):
    @classmethod
    def quantize_blocks(cls, blocks: F32) -> tuple[I8, F32]:
        amax = np.abs(blocks).max(axis=1)
        scales = np.where(amax == 0, np.float32(1.0), amax / np.float32(127.0)).astype(np.float32)
        inv = (np.float32(1.0) / scales).astype(np.float32)
        v = (blocks * inv[:, None]).astype(np.float32)
        return np.clip(round_half_away(v), -128, 127).astype(np.int8), scales


@dataclasses.dataclass(frozen=True)
class Int8Matrix:
    """codes int8 ``[out, in]`` and one f32 scale per output row."""

    out_features: int
    in_features: int
    codes: I8
    scales: F32  # [out]

    @classmethod
    def quantize(cls, weight: npt.ArrayLike) -> Int8Matrix:
        qm = Int8.quantize(weight)
        return cls(qm.out_features, qm.in_features, qm.codes, qm.scales.reshape(-1))

    def dequantize(self) -> F32:
        return (self.codes.astype(np.float32) * self.scales[:, None]).astype(np.float32)

    def as_quantized(self) -> QuantizedMatrix:
        return QuantizedMatrix("int8", self.out_features, self.in_features, self.codes, self.scales.reshape(-1, 1))


def quantize_int8(weight: npt.ArrayLike) -> Int8Matrix:
    return Int8Matrix.quantize(weight)
