"""`zoo inspect`: describe a checkpoint, safetensors or LQ40 file as a plain dict (JSON-ready)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from zoo.errors import CheckpointError

MAX_SAFETENSORS_HEADER = 100 << 20


def describe_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
        size = p.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{p}: file not found") from None
    except OSError as exc:
        raise CheckpointError(f"{p}: cannot read ({exc.strerror})") from None
    if head[:4] == b"LQ40":
        from zoo.formats.lq40 import describe_lq40

        info = dict(describe_lq40(p))
        return {"path": str(p), "format": "lq40", "size": size, **info}
    if len(head) >= 9 and head[8:9] == b"{":
        return {"path": str(p), "format": "safetensors", "size": size, **describe_safetensors(p)}
    return {"path": str(p), "format": "torch-zip", "size": size, **describe_checkpoint(p)}


def describe_checkpoint(path: Path) -> dict[str, Any]:
    from zoo.convert.extract import read_checkpoint

    ckpt = read_checkpoint(path)
    tensors = [{"name": n, "dtype": str(t.dtype), "shape": list(t.shape), "parameter": t.is_parameter}
               for n, t in ckpt.entries.items()]
    return {
        "kind": ckpt.kind,
        "root_class": ckpt.root_class,
        "stubbed_classes": ckpt.stubbed_classes,
        "shared_storages": ckpt.shared,
        "tensors": tensors,
        "parameters": sum(int(t.array.size) for t in ckpt.entries.values()),
    }


# safetensors dtype -> bits per element (the format's own list; sub-byte float kinds are packed)
SAFETENSORS_DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6,
    "F6_E3M2": 6,
}
MAX_DIMS = 16
MAX_DIM = 1 << 48


def describe_safetensors(path: Path) -> dict[str, Any]:
    """Header only (no tensor data is read); every field is checked (issue 15: a hostile header is one line)."""
    from zoo._io import parse_json_bytes
    from zoo.errors import InputError

    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{path}: truncated safetensors header length (byte 0)")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_SAFETENSORS_HEADER:
            raise CheckpointError(f"{path}: safetensors header length {n} at byte 0 is implausible")
        text = fh.read(n)
        file_size = os.fstat(fh.fileno()).st_size
    if len(text) < n:
        raise CheckpointError(f"{path}: safetensors header length {n} at byte 0 runs past the end of the file "
                              f"({file_size} bytes)", hint="the file is truncated")
    where = f"{path}: safetensors header (bytes 8..{8 + n})"
    try:
        header = parse_json_bytes(text, where=where)
    except InputError as exc:
        raise CheckpointError(exc.message, hint="the file is corrupt or not safetensors") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where} is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise CheckpointError(f"{where}: field '__metadata__' must map strings to strings")
    data_size = file_size - 8 - n
    tensors = []
    total = 0
    for name in sorted(header):
        count = _check_entry(where, name, header[name], data_size)
        total += count
        entry = header[name]
        tensors.append({"name": name, "dtype": entry["dtype"], "shape": entry["shape"]})
    return {"metadata": meta, "tensors": tensors, "parameters": total}


def _check_entry(where: str, name: str, entry: Any, data_size: int) -> int:
    """Element count of one header entry after checking dtype, shape and data_offsets against the file."""
    label = f"{where}: entry {name[:80]!r}"
    if not isinstance(entry, dict):
        raise CheckpointError(f"{label} is malformed (not an object)")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
        raise CheckpointError(f"{label}: field 'dtype' {str(dtype)[:20]!r} is not a safetensors dtype")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in shape):
        raise CheckpointError(f"{label}: field 'shape' must be a list of at most {MAX_DIMS} non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(
            isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise CheckpointError(f"{label}: field 'data_offsets' must be [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise CheckpointError(f"{label}: data_offsets [{begin}, {end}] lie outside the {data_size} data bytes",
                              hint="the file is truncated or corrupt")
    count = 1
    for d in shape:
        count *= d
    if (count * SAFETENSORS_DTYPE_BITS[dtype] + 7) // 8 != end - begin:
        raise CheckpointError(f"{label}: shape {shape} of {dtype} needs {(count * SAFETENSORS_DTYPE_BITS[dtype] + 7) // 8} "
                              f"bytes, data_offsets give {end - begin}")
    return count
