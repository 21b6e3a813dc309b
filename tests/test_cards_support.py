"""Shared builders for the card and site tests: a small registry built from the record dataclasses
and a workspace with manifests / verify reports, without any real weights."""

from __future__ import annotations

import json
from pathlib import Path

from zoo._io import sha256_file
from zoo.registry import (
    Architecture,
    Citation,
    Claims,
    CollectionSettings,
    FormatSpec,
    Provenance,
    Registry,
    SourceSpec,
    VariantRecord,
    VerificationPolicy,
    Workspace,
)

BIBTEX = "@article{maes2025lewm,\n  title={LeWorldModel},\n  author={Maes, Lucas and others},\n  year={2025}\n}"


def _f32(name: str, family: str, d: int, le: int, lp: int, **kw: object) -> VariantRecord:
    return VariantRecord(
        name=name,
        family=family,
        description=f"{family} {d}d/{le}e/{lp}p f32 checkpoint.",
        architecture=Architecture(encoder_kind="vit", latent_dim=d, encoder_layers=le, predictor_layers=lp),
        format=FormatSpec(kind="safetensors-f32"),
        verification=VerificationPolicy(status="active", metric="rollout@20", expected_cosine=1.0, tolerance=1e-6),
        claims=Claims(size_text="36.8 MB", cosine_text="1.000"),
        provenance=Provenance(
            sources=(SourceSpec(uri=f"wandb://eren23/crucible-lewm/lewm_{name}:v0", file=f"lewm_{name}.ckpt"),),
            checkpoint_kind="object",
            epoch=1,
            training_status="epoch-1",
            run="run-abc123",
        ),
        **kw,  # type: ignore[arg-type]
    )


def _lq40(name: str, parent: VariantRecord, mode: str, status: str = "active", **kw: object) -> VariantRecord:
    return VariantRecord(
        name=name,
        family=parent.family,
        description=f"{parent.name} in LQ40 mode {mode}.",
        architecture=parent.architecture,
        format=FormatSpec(kind="lq40", mode=mode),
        verification=VerificationPolicy(status=status, metric="rollout@20", expected_cosine=0.998, tolerance=0.005),
        claims=Claims(size_text="9.8 MB", cosine_text="0.9982" if status == "active" else "pending"),
        parent=parent.name,
        **kw,  # type: ignore[arg-type]
    )


def sample_registry(root: Path) -> Registry:
    slim = _f32("slim_96d_4e_4p", "slim", 96, 4, 4)
    base = _f32("baseline_192d_6e_6p", "baseline", 192, 6, 6)
    recs = [
        slim,
        _lq40("slim_96d_4e_4p_full", slim, "full", targets=("esp32",)),
        base,
        _lq40("baseline_q4_pred", base, "q4-pred", targets=("fpga",)),
        _lq40("baseline_wanda40_q4", base, "wanda40-q4", status="pending"),
    ]
    collection = CollectionSettings(
        name="LeWM Model Collection",
        hub_repo="lewm-zoo/lewm-models",
        license="cc-by-nc-4.0",
        description="Quantized and architecture variants of LeWM.",
        datasets=(),
        citations=(Citation("maes2025lewm", BIBTEX),),
    )
    return Registry(path=root / "registry.yaml", collection=collection, variants={r.name: r for r in recs})


def _write(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def sample_workspace(root: Path) -> tuple[Workspace, Registry]:
    """Registry + measured data for two variants (f32 slim and its LQ40 child); the rest unbuilt."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "registry.yaml").write_text("# built in tests\n", encoding="utf-8")
    ws = Workspace(root)
    reg = sample_registry(root)
    slim = ws.variant_dir("slim_96d_4e_4p")
    _write(
        slim / "manifest.json",
        {
            "schema_version": 1,
            "variant": "slim_96d_4e_4p",
            "source": {  # the shape `zoo pull` records
                "uri": "wandb://eren23/crucible-lewm/lewm_slim_96d_4e_4p:v0",
                "served_by": "wandb://eren23/crucible-lewm/lewm_slim_96d_4e_4p:v0",
                "kind": "wandb",
                "resolved_version": "v3",
                "aliases": ["latest", "v3"],
                "run_id": "run-abc123",
                "file": "lewm_slim.ckpt",
                "sha256": "ab" * 32,
                "md5": "q1w2e3==",
                "size": 40_000_000,
                "fetched_at": "2026-11-20T10:00:00Z",
            },
            "artifacts": {
                "lejepa_weights.safetensors": {
                    "sha256": "cd" * 32, "size": 36_812_345, "kind": "safetensors", "produced_by": "lewm-zoo 0.1.0"
                },
                "config.json": {"sha256": "ef" * 32, "size": 512, "kind": "config", "produced_by": "lewm-zoo 0.1.0"},
            },
            "targets": {},
        },
    )
    full = ws.variant_dir("slim_96d_4e_4p_full")
    full.mkdir(parents=True)
    # small stand-ins for the measured files: verify's digests must match the bytes on disk
    (full / "model.lq40").write_bytes(b"LQ40" + bytes(60))
    (full / "golden.safetensors").write_bytes(b"golden-full")
    (slim / "golden.safetensors").write_bytes(b"golden-slim")
    lq_digest = sha256_file(full / "model.lq40")
    _write(
        full / "manifest.json",
        {
            "schema_version": 1,
            "variant": "slim_96d_4e_4p_full",
            "artifacts": {
                "model.lq40": {"sha256": lq_digest, "size": 9_812_000, "kind": "lq40", "produced_by": "lewm-zoo 0.1.0"}
            },
            "targets": {
                "esp32": {"artifacts": {"targets/esp32/weights.h": {"sha256": "34" * 32, "size": 123_456}}}
            },
        },
    )
    _write(
        full / "verify.json",
        {
            "schema_version": 1,
            "variant": "slim_96d_4e_4p_full",
            "parent": "slim_96d_4e_4p",
            "engine_version": "0.1.0",
            "measured_at": "2026-11-20T11:00:00Z",
            "status": "pass",
            "gate": {"metric": "rollout@20", "expected_cosine": 0.998, "tolerance": 0.005, "measured": 0.9991},
            "metrics": {
                "latent": {"cosine": 0.9998, "max_abs": 0.01},
                "predict@1": {"cosine": 0.9995, "max_abs": 0.02},
                "rollout@20": {"cosine": 0.9991, "max_abs": 0.05},
                "latent_norm_drift": 0.01,
            },
            "artifacts": {"model.lq40": lq_digest, "golden.safetensors": sha256_file(full / "golden.safetensors")},
            "reference": {"variant": "slim_96d_4e_4p", "golden_sha256": sha256_file(slim / "golden.safetensors")},
        },
    )
    _write(full / "bench.json", {"encode_ms": {"median": 12.5}, "predict_ms": {"median": 3.25}})
    _write(
        ws.variant_dir("baseline_q4_pred") / "targets" / "fpga" / "report.json",
        {"bram": 0, "luts": 10234, "multipliers": 0, "cells": 146000},
    )
    return ws, reg
