"""Shared machinery of the block quantizers (rows, padding, shapes, the type registry).

Each quant type is one small class that only knows how to turn a ``[n_blocks, block]`` float32
array into integer codes and float32 scales (``quantize_blocks``) and back (``dequantize_blocks``).
Everything about matrices (splitting rows into blocks, zero padding, reshaping) lives here, so a
new type is a dozen lines. ``block_size = None`` means "one block per output row" (INT8, ternary).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I8 = npt.NDArray[np.int8]

_TYPES: dict[str, type[BlockQuant]] = {}


def round_half_away(v: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Round half away from zero (Rust ``f32::round``); numpy's ``np.round`` rounds half to even.

    Computed as ``trunc(v + copysign(h, v))`` with ``h`` the largest float below 0.5 (of v's
    dtype): adding 0.5 itself would round 0.49999997 + 0.5 up to 1.0, while with ``h`` every
    tie still reaches the next integer and every non-tie stays below it. Checked exhaustively
    against exact float64 rounding for all float32 in [0, 200] (tests/test_quant_blocks.py
    samples it). Three array passes, which is what makes Q4 faster than gguf's Q4_0.
    """
    dt = v.dtype if v.dtype.kind == "f" else np.dtype(np.float64)
    half_down = np.nextafter(dt.type(0.5), dt.type(0))
    r = np.copysign(half_down, v).astype(dt, copy=False)
    r += v
    np.trunc(r, out=r)
    return r


@dataclasses.dataclass(frozen=True)
class QuantizedMatrix:
    """A ``[out, in]`` matrix as integer codes ``[out, in_padded]`` and scales ``[out, blocks_per_row]``."""

    qtype: str
    out_features: int
    in_features: int
    codes: I8
    scales: F32

    @property
    def block_size(self) -> int:
        return self.codes.shape[1] // max(1, self.scales.shape[1])

    @property
    def blocks_per_row(self) -> int:
        return int(self.scales.shape[1])

    def dequantize(self) -> F32:
        return quant_type(self.qtype).dequantize(self)


class BlockQuant:
    """Base of every quant type; subclasses register themselves with ``name=``."""

    name: ClassVar[str]
    block_size: ClassVar[int | None]  # None: one block spanning the whole row

    def __init_subclass__(cls, *, name: str, block_size: int | None, **kw: object) -> None:
        super().__init_subclass__(**kw)
        cls.name = name
        cls.block_size = block_size
        _TYPES[name] = cls

    # --- what each type implements -------------------------------------------------------
    @classmethod
    def quantize_blocks(cls, blocks: F32) -> tuple[I8, F32]:
        """``[n, block]`` f32 -> (codes int8 ``[n, block]``, scales f32 ``[n]``)."""
        raise NotImplementedError

    @classmethod
    def dequantize_blocks(cls, codes: I8, scales: F32) -> F32:
        """Inverse of ``quantize_blocks`` (up to the rounding): ``codes * scale`` per block."""
        return (codes.astype(np.float32) * scales.astype(np.float32)[:, None]).astype(np.float32)

    # --- shared matrix handling ---------------------------------------------------------------
    @classmethod
    def padded_width(cls, in_features: int) -> int:
        bs = cls.block_size
        if bs is None:
            return in_features
        return -(-in_features // bs) * bs

    @classmethod
    def quantize(cls, weight: npt.ArrayLike) -> QuantizedMatrix:
        w = np.asarray(weight, dtype=np.float32)
        if w.ndim != 2:
            raise ValueError(f"{cls.name}: expected a 2-D [out, in] matrix, got shape {w.shape}")
        out_f, in_f = w.shape
        width = cls.padded_width(in_f)
        if width != in_f:
            w = np.pad(w, ((0, 0), (0, width - in_f)))
        bs = cls.block_size or max(1, in_f)
        if in_f == 0:
            codes = np.zeros((out_f, 0), np.int8)
            return QuantizedMatrix(cls.name, out_f, in_f, codes, np.zeros((out_f, 0), np.float32))
        blocks = np.ascontiguousarray(w).reshape(-1, bs)
        codes, scales = cls.quantize_blocks(blocks)
        return QuantizedMatrix(
            cls.name,
            out_f,
            in_f,
            codes.reshape(out_f, width),
            scales.astype(np.float32).reshape(out_f, width // bs),
        )

    @classmethod
    def dequantize(cls, qm: QuantizedMatrix) -> F32:
        out_f, width = qm.codes.shape
        if width == 0:
            return np.zeros((out_f, qm.in_features), np.float32)
        bs = width // qm.scales.shape[1]
        blocks = cls.dequantize_blocks(qm.codes.reshape(-1, bs), qm.scales.reshape(-1))
        return np.ascontiguousarray(blocks.reshape(out_f, width)[:, : qm.in_features])


def quant_type(name: str) -> type[BlockQuant]:
    try:
        return _TYPES[name]
    except KeyError:
        raise ValueError(f"unknown quant type {name!r}; known: {', '.join(sorted(_TYPES))}") from None


def quant_types() -> list[str]:
    return sorted(_TYPES)
