"""Tiny pull workspaces for tests: a registry.yaml with one f32 variant and the given sources."""

from __future__ import annotations

from pathlib import Path

ARCH = """\
    architecture:
      encoder_kind: vit
      latent_dim: 32
      encoder_layers: 2
      predictor_layers: 2
      encoder_hidden: 32
      encoder_heads: 2
      encoder_inter: 64
      predictor_hidden: 32
      predictor_heads: 4
      predictor_inner_dim: 32
      predictor_inter: 64
      projector_hidden: 48
      action_input_dim: 10
"""


def source_yaml(uri: str, file: str | None = None, sha256: str | None = None) -> str:
    out = f"        - uri: {uri}\n"
    if file:
        out += f"          file: {file}\n"
    if sha256:
        out += f"          sha256: \"{sha256}\"\n"
    return out


def write_pull_workspace(root: Path, sources: list[str], name: str = "tiny") -> Path:
    """`sources` are `source_yaml(...)` snippets; returns the workspace root."""
    root.mkdir(parents=True, exist_ok=True)
    text = (
        "schema_version: 1\n"
        "collection:\n  name: test\n  hub_repo: test/test\n  license: cc-by-nc-4.0\n"
        "variants:\n"
        f"  {name}:\n    family: slim\n    description: pull test variant\n"
        + ARCH
        + "    provenance:\n      sources:\n"
        + "".join(sources)
        + "      checkpoint_kind: object\n"
        "    format: {kind: safetensors-f32}\n"
        "    claims: {source: test}\n"
        "    verification: {status: active, metric: rollout@20, expected_cosine: 1.0, tolerance: 1.0e-6}\n"
        f"  {name}_child:\n    family: slim\n    description: derived test variant\n    parent: {name}\n"
        "    format: {kind: ternary}\n"
        "    claims: {source: test}\n"
        "    verification: {status: active, metric: rollout@20, expected_cosine: 0.5, tolerance: 0.5}\n"
    )
    (root / "registry.yaml").write_text(text, encoding="utf-8")
    return root
