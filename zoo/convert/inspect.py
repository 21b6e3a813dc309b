"""`zoo inspect`: describe a checkpoint, safetensors or LQ40 file as a plain dict (JSON-ready)."""

from __future__ import annotations

import json
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


def describe_safetensors(path: Path) -> dict[str, Any]:
    """Header only (no tensor data is read)."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{path}: truncated safetensors header length (byte 0)")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_SAFETENSORS_HEADER:
            raise CheckpointError(f"{path}: safetensors header length {n} at byte 0 is implausible")
        text = fh.read(n)
    try:
        header = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: safetensors header (bytes 8..{8 + n}) is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    tensors = []
    total = 0
    for name in sorted(header):
        entry = header[name]
        if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list):
            raise CheckpointError(f"{path}: safetensors entry '{name}' is malformed")
        count = 1
        for s in entry["shape"]:
            count *= int(s)
        total += count
        tensors.append({"name": name, "dtype": str(entry.get("dtype")), "shape": entry["shape"]})
    return {"metadata": meta, "tensors": tensors, "parameters": total}
