"""Verify stage: golden outputs of every variant vs its f32 root, gated by the registry.

Public surface:
- `verification_state(workspace, name)` -> "missing" | "pass" | "fail" | "pending" | "stale"
  (light: reads verify.json and hashes the files it names; cards, publish and `zoo list` use it)
- `verify_variant(workspace, registry, record, *, build=True, strict=False) -> VerifyReport`
- `run_many(...)`, `merge_reports(...)` for batches, shards and `--jobs`
- `cosine`, `compare_outputs`, `diff_outputs` (metrics)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.verify.state import VERIFY_FILE, read_verify_json, stale_reasons, verification_state

if TYPE_CHECKING:
    from zoo.verify.batch import merge_reports, run_many
    from zoo.verify.metrics import compare_outputs, cosine, diff_outputs
    from zoo.verify.run import VerifyReport, verify_variant

__all__ = [
    "VERIFY_FILE",
    "VerifyReport",
    "compare_outputs",
    "cosine",
    "diff_outputs",
    "merge_reports",
    "read_verify_json",
    "run_many",
    "stale_reasons",
    "verification_state",
    "verify_variant",
]

_LAZY = {
    "VerifyReport": "zoo.verify.run",
    "verify_variant": "zoo.verify.run",
    "run_many": "zoo.verify.batch",
    "merge_reports": "zoo.verify.batch",
    "cosine": "zoo.verify.metrics",
    "compare_outputs": "zoo.verify.metrics",
    "diff_outputs": "zoo.verify.metrics",
}


def __getattr__(name: str) -> Any:
    # numpy and the engine load only when numerics are needed (keeps `zoo list` fast).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo.verify' has no attribute {name!r}")
