"""A tiny verify workspace in a temp dir: one f32 root, ternary children, registry.yaml, manifests.

Weights come from `tests/model_weights.py` (seeded); files are recorded in the manifests the way
the pipeline stages record them, so verify sees a workspace the zoo built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_weights import random_weights, tiny_config
from servers.workspaces import ARCH

from zoo.registry import Workspace, load_registry
from zoo.store.manifest import update_manifest


def _variant(name: str, kind: str, *, parent: str | None, status: str, expected: float, tol: float) -> str:
    lines = [f"  {name}:", "    family: slim", f"    description: test variant {name}"]
    if parent:
        lines.append(f"    parent: {parent}")
    else:
        lines.append(ARCH.rstrip("\n"))
        lines += [
            "    provenance:",
            "      sources:",
            f"        - uri: file:///nonexistent/{name}.ckpt",
            f"          file: {name}.ckpt",
            "      checkpoint_kind: object",
        ]
    lines += [
        f"    format: {{kind: {kind}}}",
        "    claims: {source: test}",
        "    verification:",
        f"      status: {status}",
        "      metric: rollout@20",
        f"      expected_cosine: {expected}",
        f"      tolerance: {tol}",
    ]
    return "\n".join(lines) + "\n"


REGISTRY = (
    "schema_version: 1\n"
    "collection:\n  name: test\n  hub_repo: test/test\n  license: cc-by-nc-4.0\n"
    "variants:\n"
    + _variant("tiny_f32", "safetensors-f32", parent=None, status="active", expected=1.0, tol=1e-6)
    + _variant("tiny_tern", "ternary", parent="tiny_f32", status="active", expected=0.5, tol=0.5)
    + _variant("tiny_tern_strict", "ternary", parent="tiny_f32", status="active", expected=1.0, tol=1e-9)
    + _variant("tiny_tern_pending", "ternary", parent="tiny_f32", status="pending", expected=1.0, tol=1e-9)
    + _variant("tiny_q4", "lq40, mode: q4-pred", parent="tiny_f32", status="active", expected=0.9, tol=0.1)
)


def build_workspace(root: Path) -> tuple[Workspace, Any]:
    """Write registry.yaml and the built artifacts of tiny_f32 and its ternary children."""
    from safetensors.numpy import save

    from zoo._io import atomic_write_bytes, atomic_write_text, sha256_file
    from zoo.model.golden import golden_from_weights
    from zoo.quant.ternary import write_ternary

    root.mkdir(parents=True, exist_ok=True)
    (root / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    ws = Workspace(root)
    registry = load_registry(ws.registry_path)
    config = tiny_config("vit")
    weights = random_weights(config, seed=3)
    vdir = ws.variant_dir("tiny_f32")
    atomic_write_bytes(vdir / "lejepa_weights.safetensors", save({k: weights[k] for k in sorted(weights)}))
    atomic_write_text(vdir / "config.json", config.to_json())
    golden_from_weights(config, weights, vdir / "golden.safetensors",
                        {"variant": "tiny_f32", "weights_sha256": sha256_file(vdir / "lejepa_weights.safetensors")})
    with update_manifest(vdir) as m:
        m.record_artifact("lejepa_weights.safetensors", kind="safetensors")
        m.record_artifact("config.json", kind="config")
        m.record_artifact("golden.safetensors", kind="golden")
    for name in ("tiny_tern", "tiny_tern_strict", "tiny_tern_pending"):
        d = ws.variant_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        write_ternary(d / "ternary.safetensors", weights, config)
        with update_manifest(d) as m:
            m.record_artifact("ternary.safetensors", kind="ternary")
    from zoo.formats.lq40 import write_lq40

    d = ws.variant_dir("tiny_q4")
    write_lq40(d / "model.lq40", config, weights, "q4-pred")
    with update_manifest(d) as m:
        m.record_artifact("model.lq40", kind="lq40")
    return ws, registry
