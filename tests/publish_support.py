"""A tiny publishable workspace for the publish tests: hand-written verify.json/manifest.json with
digests matching small files (no pipeline run), plus helpers to run `zoo publish` in-process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from servers.workspaces import source_yaml, write_pull_workspace

HUB_REPO = "test/test"  # collection.hub_repo of servers.workspaces


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return _sha(data)


def _artifact(data: bytes, kind: str) -> dict[str, Any]:
    return {"sha256": _sha(data), "size": len(data), "kind": kind, "produced_by": "tests"}


def _verify(name: str, parent: str | None, artifacts: dict[str, str], status: str = "pass",
            reference: dict[str, str] | None = None) -> dict[str, Any]:
    return {"schema_version": 1, "variant": name, "parent": parent, "engine_version": "0.1.0",
            "measured_at": "2026-01-01T00:00:00Z", "status": status,
            "gate": {"metric": "rollout@20", "expected_cosine": 0.5, "tolerance": 0.5, "measured": 0.9991},
            "metrics": {}, "artifacts": artifacts, "reference": reference or {}}


def golden_bytes(weights_sha256: str, *, scale: float = 1.0, orthogonal: bool = False) -> bytes:
    """A small but real golden file: the tensors publish's recomputed gate reads, bound to the weights' sha256."""
    import numpy as np
    from safetensors.numpy import save

    dim = 8
    latent = np.arange(1, dim + 1, dtype=np.float32) * scale
    rollout = np.tile(latent, (20, 1))
    if orthogonal:  # cosine ~0 with the default outputs
        rollout = np.tile(np.array([1, -1] * (dim // 2), dtype=np.float32) * np.arange(1, dim + 1)[::-1], (20, 1))
        rollout = rollout - (rollout @ latent / (latent @ latent))[:, None] * latent
        rollout = rollout.astype(np.float32)
    tensors = {"inputs.image": np.zeros((1,), np.float32), "inputs.actions": np.zeros((1,), np.float32),
               "outputs.latent": latent, "outputs.rollout": rollout}
    return save(tensors, metadata={"weights_sha256": weights_sha256})


def make_workspace(root: Path, *, child_status: str = "pass") -> Path:
    """Variants `tiny` (f32) and `tiny_child` (ternary), verified, with cards; returns the root."""
    write_pull_workspace(root, [source_yaml("file:///nonexistent/tiny.ckpt")])
    vt, vc = root / "variants" / "tiny", root / "variants" / "tiny_child"
    weights = b"\x00" * 64 + b"tiny-weights" * 50
    config = json.dumps({"latent_dim": 32}, sort_keys=True).encode()
    ternary = b"ternary" * 40
    golden = golden_bytes(_sha(weights))
    golden_c = golden_bytes(_sha(ternary), scale=2.0)
    _write(vt / "lejepa_weights.safetensors", weights)
    _write(vt / "config.json", config)
    _write(vt / "golden.safetensors", golden)
    _write(vt / "source" / "tiny.ckpt", b"ckpt")
    _write(vt / "manifest.json", json.dumps({
        "schema_version": 1, "variant": "tiny", "targets": {},
        "artifacts": {"lejepa_weights.safetensors": _artifact(weights, "safetensors"),
                      "config.json": _artifact(config, "config"),
                      "golden.safetensors": _artifact(golden, "golden"),
                      "source/tiny.ckpt": _artifact(b"ckpt", "checkpoint")}}, indent=2, sort_keys=True).encode())
    _write(vt / "verify.json", json.dumps(_verify("tiny", None, {
        "lejepa_weights.safetensors": _sha(weights), "golden.safetensors": _sha(golden)}), indent=2).encode())
    _write(vc / "ternary.safetensors", ternary)
    _write(vc / "golden.safetensors", golden_c)
    _write(vc / "targets" / "esp32" / "model.h", b"/* model */\n")
    _write(vc / "manifest.json", json.dumps({
        "schema_version": 1, "variant": "tiny_child",
        "targets": {"esp32": {"artifacts": {"targets/esp32/model.h": _artifact(b"/* model */\n", "c-header")}}},
        "artifacts": {"ternary.safetensors": _artifact(ternary, "ternary"),
                      "golden.safetensors": _artifact(golden_c, "golden")}}, indent=2, sort_keys=True).encode())
    _write(vc / "verify.json", json.dumps(_verify(
        "tiny_child", "tiny", {"ternary.safetensors": _sha(ternary), "golden.safetensors": _sha(golden_c)},
        status=child_status, reference={"variant": "tiny", "golden_sha256": _sha(golden)}), indent=2).encode())
    for name in ("tiny", "tiny_child"):
        _write(root / "cards" / name / "README.md",
               f"---\nlicense: cc-by-nc-4.0\nlibrary_name: lewm-zoo\n---\n# {name}\n".encode())
    _write(root / "cards" / "README.md", b"---\nlicense: cc-by-nc-4.0\n---\n# collection\n")
    return root


# paths in the collection repository, and their local sources (relative to the workspace root)
EXPECTED = {
    "README.md": "cards/README.md",
    "tiny/README.md": "cards/tiny/README.md",
    "tiny/config.json": "variants/tiny/config.json",
    "tiny/lejepa_weights.safetensors": "variants/tiny/lejepa_weights.safetensors",
    "tiny/manifest.json": "variants/tiny/manifest.json",
    "tiny/verify.json": "variants/tiny/verify.json",
    "tiny_child/README.md": "cards/tiny_child/README.md",
    "tiny_child/manifest.json": "variants/tiny_child/manifest.json",
    "tiny_child/targets/esp32/model.h": "variants/tiny_child/targets/esp32/model.h",
    "tiny_child/ternary.safetensors": "variants/tiny_child/ternary.safetensors",
    "tiny_child/verify.json": "variants/tiny_child/verify.json",
}


def zoo(root: Path, *args: str) -> Result:
    from zoo.cli import main

    return CliRunner().invoke(main, ["-C", str(root), *args], catch_exceptions=False)


def zoo_json(root: Path, *args: str) -> dict[str, Any]:
    res = zoo(root, *args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def commit_bodies(server: Any) -> list[list[dict[str, Any]]]:
    """The NDJSON lines of every commit request the server received."""
    out = []
    for r in server.requests:
        if r.method == "POST" and "/commit/" in r.path:
            out.append([json.loads(x) for x in r.body.decode().splitlines() if x.strip()])
    return out


def write_requests(server: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests if r.method in ("POST", "PUT", "DELETE")]
