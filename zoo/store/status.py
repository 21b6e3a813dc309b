"""Build status of a variant in the workspace, read from its manifest (never builds anything).

absent -> pulled -> converted -> quantized. Verification states (verified, failed, stale,
measured) come from `zoo.verify.verification_state`; `zoo list` combines the two.
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
    except (OSError, ValueError, RecursionError):  # unreadable or hostile (deep JSON): no status, no traceback
        return None
    return data if isinstance(data, dict) else None


def build_status(variant_dir: Path) -> str:
    manifest = _read_json(variant_dir / MANIFEST_FILE) or {}
    artifacts: dict[str, Any] = manifest.get("artifacts", {}) or {}
    kinds = {rec.get("kind") for rec in artifacts.values() if isinstance(rec, dict)}
    if kinds & set(_BUILT_KINDS) or manifest.get("targets"):
        return "quantized"
    if "safetensors" in kinds:
        return "converted"
    if "checkpoint" in kinds:
        return "pulled"
    return "absent"
