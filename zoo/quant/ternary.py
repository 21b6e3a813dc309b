"""Ternary predictor weights (spec §3.7), a host-only research format stored as safetensors.

Per output row: threshold ``0.5 * mean|w|``; code +1 above it, -1 below ``-threshold``, else 0;
row scale = mean |w| over the non-zero codes (mean |w| if the row has none). As in the original
experiment, adaLN matrices stay INT8 and QKV / out / MLP matrices become ternary. Everything
else is kept as f32. The safetensors metadata names the format (``lewm-zoo-ternary/2``), the
quant type of each matrix (``quant``), the packing (``packing``), the input width of each
ternary matrix (``ternary_in_features``, which the packed shape alone cannot give) and the
architecture (``config``, the compact JSON of ``config.json``, so the file runs on its own with
``zoo.load``; files without it take the f32 root's ``config.json``).

Storage of a quantized matrix ``X.weight`` of shape ``[out, in]``:

- ternary: ``X.weight.codes`` uint8 ``[out, ceil(in / 4)]``, four 2-bit codes per byte,
  LSB-first (weight ``4k + j`` of a row sits in bits ``2j..2j+1`` of byte ``k``), with the
  spec's code values ``00`` = -1, ``01`` = 0, ``10`` = +1, ``11`` = 0 (never written, read as 0).
  Each row is padded to a multiple of 4 with ``01`` (zero); the padding is dropped on reading.
- int8 (adaLN): ``X.weight.codes`` int8 ``[out, in]``.
- both: ``X.weight.scales`` f32 ``[out]``, one scale per row (the original replicates it into
  every 16-weight block; the zoo stores it once).

Format ``lewm-zoo-ternary/1`` (unpacked int8 ternary codes, no ``ternary_in_features``) is still
read. The host experiment's unweighted RMSNorm of the modulation vector ("TerDiT fix") belongs to
its old single-token predictor, not to the weights: it is not applied here, the engine runs the
trained model's semantics on the dequantized matrices.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zoo.formats.lewm_config import LeWMConfig
from zoo.quant.base import F32, I8, BlockQuant, QuantizedMatrix, quant_type
from zoo.quant.wanda import predictor_matrix_names

TERNARY_FORMAT = "lewm-zoo-ternary/2"
TERNARY_FORMAT_V1 = "lewm-zoo-ternary/1"
TERNARY_FILE_NAME = "ternary.safetensors"
TERNARY_PACKING = "2-bit codes, 4 per byte, LSB-first; 00=-1 01=0 10=+1 11=0; rows padded with 01"

U8 = npt.NDArray[np.uint8]
_SHIFTS = np.array([0, 2, 4, 6], np.uint8)
_CODE_OF_FIELD = np.array([-1, 0, 1, 0], np.int8)  # 2-bit field -> ternary code (11 reads as 0)


def pack_ternary(codes: npt.NDArray[np.integer]) -> U8:
    """int ``[out, in]`` codes in {-1, 0, +1} -> uint8 ``[out, ceil(in / 4)]`` (see the module docstring)."""
    c = np.asarray(codes)
    if c.ndim != 2:
        raise ValueError(f"pack_ternary: expected [out, in] codes, got shape {list(c.shape)}")
    if c.size and (c.min() < -1 or c.max() > 1):
        raise ValueError("pack_ternary: codes must be -1, 0 or +1")
    out_f, in_f = c.shape
    nbytes = -(-in_f // 4)
    fields = np.ones((out_f, nbytes * 4), np.uint8)  # padding = 01 (zero)
    fields[:, :in_f] = (c + 1).astype(np.uint8)
    fields = fields.reshape(out_f, nbytes, 4) << _SHIFTS
    return np.bitwise_or.reduce(fields, axis=2).astype(np.uint8)


def unpack_ternary(packed: U8, in_features: int) -> I8:
    """Inverse of `pack_ternary`: uint8 ``[out, ceil(in / 4)]`` -> int8 ``[out, in]``."""
    p = np.asarray(packed, np.uint8)
    fields = (p[:, :, None] >> _SHIFTS) & np.uint8(3)
    return np.ascontiguousarray(_CODE_OF_FIELD[fields.reshape(p.shape[0], -1)[:, :in_features]])


class Ternary(BlockQuant, name="ternary", block_size=None):
    @classmethod
    def quantize_blocks(cls, blocks: F32) -> tuple[I8, F32]:
        a = np.abs(blocks)
        mean_abs = a.mean(axis=1, dtype=np.float64)
        thr = (0.5 * mean_abs).astype(np.float32)
        codes = np.where(blocks > thr[:, None], 1, np.where(blocks < -thr[:, None], -1, 0)).astype(np.int8)
        nz = codes != 0
        count = nz.sum(axis=1)
        nz_mean = np.where(nz, a, 0).sum(axis=1, dtype=np.float64) / np.maximum(count, 1)
        scales = np.where(count > 0, nz_mean, mean_abs).astype(np.float32)
        return codes, scales


def ternary_plan(config: LeWMConfig) -> dict[str, str]:
    """canonical matrix name -> quant type ("int8" for adaLN, "ternary" for the rest)."""
    return {
        name: ("int8" if "adaLN_modulation" in name else "ternary") for name in predictor_matrix_names(config)
    }


def quantize_ternary(weights: Mapping[str, np.ndarray], config: LeWMConfig) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """-> (tensors to store, safetensors metadata)."""
    from zoo.errors import InputError

    plan = ternary_plan(config)
    for name in plan:
        if name not in weights:
            raise InputError(f"weights: tensor '{name}' is missing", hint="config.json and the weights disagree")
        w = np.asarray(weights[name])
        if w.ndim != 2 or not np.isfinite(w).all():
            raise InputError(
                f"weights: tensor '{name}' must be a finite 2-D matrix (shape {list(w.shape)})",
                hint="the checkpoint is broken or config.json does not match it",
            )
    tensors: dict[str, np.ndarray] = {}
    in_features: dict[str, int] = {}
    for name, arr in weights.items():
        if name in plan:
            qm = quant_type(plan[name]).quantize(arr)
            if plan[name] == "ternary":
                tensors[f"{name}.codes"] = pack_ternary(qm.codes)
                in_features[name] = qm.in_features
            else:
                tensors[f"{name}.codes"] = np.ascontiguousarray(qm.codes)
            tensors[f"{name}.scales"] = np.ascontiguousarray(qm.scales.reshape(-1))
        else:
            tensors[name] = np.ascontiguousarray(arr, dtype=np.float32)
    meta = {
        "format": TERNARY_FORMAT,
        "packing": TERNARY_PACKING,
        "quant": _compact_json(plan),
        "ternary_in_features": _compact_json(in_features),
        "config": _compact_json(config.to_dict()),
    }
    return tensors, meta


def ternary_config(meta: Mapping[str, str], *, source: str = TERNARY_FILE_NAME) -> LeWMConfig | None:
    """The architecture embedded in a ternary file's ``config`` metadata (None for older files)."""
    from zoo._io import parse_json_bytes
    from zoo.errors import InputError

    text = meta.get("config")
    if text is None:
        return None
    data = parse_json_bytes(text, where=f"{source}: metadata 'config'", hint="re-create it with `zoo quantize`")
    if not isinstance(data, dict):
        raise InputError(f"{source}: metadata 'config' must be a JSON object", hint="re-create it with `zoo quantize`")
    return LeWMConfig.from_dict(data, source=f"{source}: metadata 'config'")


def _compact_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


_ST_DTYPES = {np.dtype(np.float32): ("F32", "<f4"), np.dtype(np.int8): ("I8", "i1"), np.dtype(np.uint8): ("U8", "u1")}


def ternary_file_bytes(tensors: Mapping[str, np.ndarray], meta: Mapping[str, str]) -> bytes:
    """safetensors bytes with a sorted, compact header, so the same input gives the same bytes
    (``safetensors.numpy.save`` orders the metadata by a randomly seeded hash map)."""
    header: dict[str, object] = {"__metadata__": dict(sorted(meta.items()))}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        tag, dt = _ST_DTYPES[arr.dtype]
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
        header[name] = {"dtype": tag, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_ternary(path: str | Path, weights: Mapping[str, np.ndarray], config: LeWMConfig) -> None:
    from zoo._io import atomic_write_bytes

    tensors, meta = quantize_ternary(weights, config)
    atomic_write_bytes(path, ternary_file_bytes(tensors, meta))


def ternary_to_weights(
    tensors: Mapping[str, np.ndarray], meta: Mapping[str, str], *, source: str = TERNARY_FILE_NAME
) -> dict[str, np.ndarray]:
    """Dequantize a ternary safetensors mapping back to canonical f32 names.

    The file is checked first (format tag, the ``quant`` plan, each matrix's codes/scales dtypes
    and shapes, code range): a damaged file is an `InputError` naming the tensor, never a KeyError.
    Version 1 files (unpacked int8 ternary codes) are read too.
    """
    from zoo.errors import InputError

    def bad(what: str) -> InputError:
        return InputError(f"{source}: {what}", hint="re-create it with `zoo quantize`")

    fmt = meta.get("format")
    if fmt not in (TERNARY_FORMAT, TERNARY_FORMAT_V1):
        raise bad(f"metadata 'format' is {fmt!r}, expected {TERNARY_FORMAT!r}")
    packed = fmt == TERNARY_FORMAT
    try:
        plan = json.loads(meta.get("quant", ""))
    except (ValueError, RecursionError):
        raise bad("metadata 'quant' is not valid JSON") from None
    if not isinstance(plan, dict) or not all(isinstance(v, str) and v in ("int8", "ternary") for v in plan.values()):
        raise bad("metadata 'quant' must map tensor names to 'int8' or 'ternary'")
    in_features: dict[str, object] = {}
    if packed:
        try:
            in_features = json.loads(meta.get("ternary_in_features", ""))
        except (ValueError, RecursionError):
            raise bad("metadata 'ternary_in_features' is not valid JSON") from None
        if not isinstance(in_features, dict):
            raise bad("metadata 'ternary_in_features' must map tensor names to input widths")
    out: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        if name.endswith((".codes", ".scales")):
            continue
        out[name] = arr
    for name, qtype in plan.items():
        codes = tensors.get(f"{name}.codes")
        scales = tensors.get(f"{name}.scales")
        if codes is None or scales is None:
            raise bad(f"tensor '{name}.{'codes' if codes is None else 'scales'}' is missing (metadata lists {name})")
        unpack_to: int | None = None
        if packed and qtype == "ternary":
            in_f = in_features.get(name)
            if not isinstance(in_f, int) or isinstance(in_f, bool) or in_f < 0:
                raise bad(f"metadata 'ternary_in_features' has no valid input width for '{name}'")
            unpack_to = in_f
            want = f"uint8 [out, {-(-in_f // 4)}] (4 packed 2-bit codes per byte) / [out]"
            ok = codes.dtype == np.uint8 and codes.ndim == 2 and codes.shape[1] == -(-in_f // 4)
        else:
            want = "int8 [out, in] / [out]"
            ok = codes.dtype == np.int8 and codes.ndim == 2
        if not ok or scales.shape != (codes.shape[0],):
            raise bad(f"tensor '{name}': codes {codes.dtype}{list(codes.shape)} / scales {list(scales.shape)} are not {want}")
        if not np.isfinite(scales).all():
            raise bad(f"tensor '{name}.scales' has non-finite values")
        if unpack_to is not None:
            codes = unpack_ternary(codes, unpack_to)
        elif qtype == "ternary" and codes.size and (codes.min() < -1 or codes.max() > 1):
            raise bad(f"tensor '{name}.codes' has values outside {{-1, 0, +1}}")
        qm = QuantizedMatrix(qtype, codes.shape[0], codes.shape[1], codes, np.asarray(scales, np.float32).reshape(-1, 1))
        out[name] = quant_type(qtype).dequantize(qm)
    return out
