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
    _write(full / "bench.json", BENCH_DOC)
    _write(ws.variant_dir("baseline_q4_pred") / "targets" / "fpga" / "report.json", FPGA_REPORT_DOC)
    return ws, reg


# `zoo bench NAME --save` output (zoo.model.bench.bench_document)
BENCH_DOC = {
    "schema_version": 1, "variant": "slim_96d_4e_4p_full", "engine": "numpy", "engine_version": "0.1.0",
    "batch": 1, "repeats": 10, "warmup": 2, "threads": "1",
    "machine": {"system": "Linux", "machine": "x86_64", "python": "3.11.7", "numpy": "2.4.6", "cpus": 2},
    "encode": {"median_ms": 12.5, "min_ms": 12.0}, "predict": {"median_ms": 3.25, "min_ms": 3.0},
    "rollout20": {"median_ms": 70.0, "min_ms": 68.5},
}
# the shape `zoo build NAME --target fpga --check` writes (zoo.targets.fpga.design.check_design)
FPGA_REPORT_DOC = {
    "schema_version": 1, "variant": "baseline_q4_pred", "target": "fpga", "passed": True,
    "summary": "bit-exact on 22 vectors; 0 weight multipliers, 96 scale multipliers",
    "simulation": {"bit_exact": True, "vectors": 22},
    "measured": {"bram": 0, "lut_estimate": 10234, "multipliers_for_weights": 0},
    "claims": {"multipliers_eliminated_pct": 98.3, "bram": 0, "lut_pct": 12.0,
               "scope": "whole predictor, time-multiplexed 32-MAC design"},
    "notes": ["multipliers_eliminated_pct = 1 - scale multipliers / weights.",
              "The card's 12% is a time-multiplexed 32-MAC estimate; this design is fully unrolled."],
    "table": {
        "title": "FPGA hardwired Q4 slice: layer 0 to_qkv rows [0, 16) x 192 inputs",
        "columns": ["quantity", "measured (this slice)", "original card claim"],
        "rows": [["simulation vs integer reference", "bit-exact", "within 1 LSB"],
                 ["fixed-point vs f32 dequant (cos / max abs)", "0.999989 / 0.00242", "cos 1.000000"],
                 ["multipliers for weights", "0", "0"], ["multipliers eliminated", "96.9%", "98.3%"],
                 ["adders/subtractors (RTL)", "3047", "-"], ["BRAM", "0", "0"],
                 ["LUT estimate (% of Arty A7-35T)", "10234 (49.2%)", "12%"]],
    },
}
