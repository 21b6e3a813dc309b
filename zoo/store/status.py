"""Local status of a variant in the workspace, read from its manifest and verify.json.

absent -> pulled -> converted -> quantized -> verified (or `failed` / `stale` once verify ran).
Only reads files; it never builds anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.store.manifest import MANIFEST_FILE

_BUILT_KINDS = ("lq40", "ternary", "hdl")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def local_status(variant_dir: Path) -> str:
    manifest = _read_json(variant_dir / MANIFEST_FILE) or {}
    artifacts: dict[str, Any] = manifest.get("artifacts", {}) or {}
    kinds = {rec.get("kind") for rec in artifacts.values() if isinstance(rec, dict)}
    verify = _read_json(variant_dir / "verify.json")
    if verify is not None:
        measured_on = verify.get("artifacts", {}) or {}
        stale = any(
            not isinstance(artifacts.get(rel), dict) or artifacts[rel].get("sha256") != digest
            for rel, digest in measured_on.items()
        )
        if stale:
            return "stale"
        state = verify.get("status")
        if state == "pass":
            return "verified"
        if state == "fail":
            return "failed"
        if state == "pending":
            return "measured"
    if kinds & set(_BUILT_KINDS) or manifest.get("targets"):
        return "quantized"
    if "safetensors" in kinds:
        return "converted"
    if "checkpoint" in kinds:
        return "pulled"
    return "absent"
