"""Status words of a variant: the one verification vocabulary, and the local build stage.

Verification status (`zoo list`, `zoo show`, the cards, the site and the README use these words and no
others): verified, measured, failed, stale, not verified; `status_from_verify` maps the verify stage's
states onto them. Build stage (read from the manifest, never builds anything):
absent -> pulled -> converted -> quantized (-> built, once a hardware target was built).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo._io import read_json_file
from zoo.errors import InputError
from zoo.store.manifest import MANIFEST_FILE

_BUILT_KINDS = ("lq40", "ternary", "hdl")

STATUSES = ("verified", "measured", "failed", "stale", "not verified")
STATUS_MEANING = {
    "verified": "verify passed the registry's gate on the files as they are now",
    "measured": "verified under a `pending` policy: numbers measured and reported, not gated",
    "failed": "verify ran and the gate failed (or the files could not be checked)",
    "stale": "files changed since verify measured them; run `zoo verify NAME` again",
    "not verified": "verify has not run on this variant yet",
}
STAGES = ("absent", "pulled", "converted", "quantized", "built")
_FROM_VERIFY = {"pass": "verified", "pending": "measured", "fail": "failed", "stale": "stale", "missing": "not verified"}


def status_from_verify(state: str | None) -> str:
    """The status word of a verify state ("pass" | "pending" | "fail" | "stale" | "missing"/None)."""
    return _FROM_VERIFY.get(state or "missing", "stale")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = read_json_file(path)  # bounded size and depth
    except (OSError, InputError):  # unreadable or hostile: no status, no traceback
        return None
    return data if isinstance(data, dict) else None


# manifest `kind` of the artifact that *is* the variant, per registry format kind (hdl has none of its own)
MAIN_ARTIFACT_KIND = {"safetensors-f32": "safetensors", "lq40": "lq40", "ternary": "ternary"}


def read_manifest(variant_dir: Path) -> dict[str, Any]:
    """The variant's manifest.json as a dict ({} when absent or unreadable); never raises."""
    return _read_json(variant_dir / MANIFEST_FILE) or {}


def main_artifact(manifest: dict[str, Any], format_kind: str) -> dict[str, Any] | None:
    """The manifest entry (plus "path") of the file that is the variant (safetensors, model.lq40, ...)."""
    want = MAIN_ARTIFACT_KIND.get(format_kind)
    if want is None:
        return None
    for rel, rec in sorted((manifest.get("artifacts") or {}).items()):
        if isinstance(rec, dict) and rec.get("kind") == want:
            return {"path": rel, **rec}
    return None


def build_status(variant_dir: Path, manifest: dict[str, Any] | None = None) -> str:
    """How far the variant is built: absent | pulled | converted | quantized | built."""
    if manifest is None:
        manifest = read_manifest(variant_dir)
    artifacts: dict[str, Any] = manifest.get("artifacts", {}) or {}
    kinds = {rec.get("kind") for rec in artifacts.values() if isinstance(rec, dict)}
    if manifest.get("targets"):
        return "built"
    if kinds & set(_BUILT_KINDS):
        return "quantized"
    if "safetensors" in kinds:
        return "converted"
    if "checkpoint" in kinds:
        return "pulled"
    return "absent"
