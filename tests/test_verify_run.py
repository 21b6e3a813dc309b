"""verify_variant, verify.json state, shards/merge and the CLI on a tiny temp workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from verify_support import build_workspace

from zoo.cli import main
from zoo.verify import engine, verification_state
from zoo.verify.batch import merge_reports, shard_names
from zoo.verify.metrics import METRIC_NAMES, compare_outputs, cosine
from zoo.verify.run import verify_variant


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Any, Any]:
    return build_workspace(tmp_path / "ws")


def _run(ws_root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["-C", str(ws_root), *args])


def test_cosine_f64_and_zero_rule() -> None:
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(np.zeros(3), a) == 0.0
    assert cosine(np.full(3, 1e-13), np.full(3, 1e-13)) == 0.0


def test_compare_lists_every_metric() -> None:
    rng = np.random.default_rng(0)
    ref = {"outputs.latent": rng.standard_normal(8), "outputs.rollout": rng.standard_normal((20, 8))}
    out = {k: v + 0.01 for k, v in ref.items()}
    m = compare_outputs(out, ref)
    assert set(METRIC_NAMES) <= set(m)
    assert m["rollout@20"]["max_abs"] == pytest.approx(0.01)
    assert "latent_norm_drift" in m


def test_diff_needs_same_latent_dim() -> None:
    from zoo.errors import InputError
    from zoo.verify.metrics import diff_outputs

    a = {"outputs.latent": np.ones(8), "outputs.rollout": np.ones((20, 8))}
    b = {"outputs.latent": np.ones(4), "outputs.rollout": np.ones((20, 4))}
    with pytest.raises(InputError, match="latent dim 8 differs"):
        diff_outputs(a, b, source_a="a", source_b="b")
    same = diff_outputs(a, a, source_a="a", source_b="a")
    assert same["diagonal"]["step20"] == pytest.approx(1.0) and same["drift"]["a"] == pytest.approx(0.0)


def test_pass_pending_and_fail_named(ws: tuple[Any, Any]) -> None:
    workspace, registry = ws
    root = verify_variant(workspace, registry, registry.get("tiny_f32"))
    assert root.status == "pass" and root.metrics["rollout@20"]["cosine"] == pytest.approx(1.0)
    ok = verify_variant(workspace, registry, registry.get("tiny_tern"))
    assert ok.status == "pass", ok.reason
    bad = verify_variant(workspace, registry, registry.get("tiny_tern_strict"))
    assert bad.status == "fail" and bad.exit_code == 1
    assert "rollout@20" in (bad.reason or "") and "short by" in (bad.reason or "")
    q4 = verify_variant(workspace, registry, registry.get("tiny_q4"))
    assert q4.status == "pass" and q4.metrics["latent"]["cosine"] > 0.99, q4.reason
    pend = verify_variant(workspace, registry, registry.get("tiny_tern_pending"))
    assert pend.status == "pending" and pend.exit_code == 0
    strict = verify_variant(workspace, registry, registry.get("tiny_tern_pending"), strict=True)
    assert strict.status == "fail" and strict.exit_code == 1
    doc = json.loads((workspace.variant_dir("tiny_tern") / "verify.json").read_text())
    assert doc["status"] == "pass" and doc["gate"]["metric"] == "rollout@20"
    assert set(doc["metrics"]) == {*METRIC_NAMES, "latent_norm_drift"}
    assert set(doc["artifacts"]) == {"ternary.safetensors", "golden.safetensors"}
    assert doc["reference"]["variant"] == "tiny_f32" and len(doc["reference"]["golden_sha256"]) == 64
    assert verification_state(workspace, "tiny_tern") == "pass"
    assert verification_state(workspace, "tiny_tern_strict") == "fail"
    assert verification_state(workspace, "tiny_tern_pending") == "pending"  # registry policy, not --strict


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_corrupt_artifact_fails_only_that_variant_before_numerics(ws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, _ = ws
    res = _run(workspace.root, "verify", "--all", "--json")
    assert res.exit_code == 1  # tiny_tern_strict fails its gate
    assert verification_state(workspace, "tiny_tern") == "pass"
    target = workspace.variant_dir("tiny_tern") / "ternary.safetensors"
    _flip_byte(target, target.stat().st_size - 3)
    assert verification_state(workspace, "tiny_tern") == "stale"
    assert verification_state(workspace, "tiny_tern_pending") == "pending"
    calls: list[str] = []
    real = engine.variant_weights
    monkeypatch.setattr(engine, "variant_weights", lambda w, r, rec: calls.append(rec.name) or real(w, r, rec))
    res = _run(workspace.root, "verify", "tiny_tern", "tiny_tern_pending", "--json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    by = {v["variant"]: v for v in doc["variants"]}
    assert by["tiny_tern"]["status"] == "fail"
    assert by["tiny_tern"]["reason"].startswith("digest mismatch: variants/tiny_tern/ternary.safetensors was modified")
    assert "zoo quantize tiny_tern" in by["tiny_tern"]["reason"]
    assert by["tiny_tern_pending"]["status"] == "pending"
    assert calls == ["tiny_tern_pending"]  # no numerics for the corrupted variant
    assert verification_state(workspace, "tiny_tern") == "fail"


def test_corrupt_one_lq40_byte_fails_exactly_that_variant(ws: tuple[Any, Any]) -> None:
    workspace, _ = ws
    first = json.loads(_run(workspace.root, "verify", "--all", "--json").stdout)
    lq40 = workspace.variant_dir("tiny_q4") / "model.lq40"
    _flip_byte(lq40, lq40.stat().st_size // 2)
    res = _run(workspace.root, "verify", "--all", "--json")
    assert res.exit_code == 1
    after = {v["variant"]: v for v in json.loads(res.stdout)["variants"]}
    before = {v["variant"]: v for v in first["variants"]}
    changed = sorted(n for n in after if after[n]["status"] != before[n]["status"])
    assert changed == ["tiny_q4"]
    assert after["tiny_q4"]["reason"].startswith("digest mismatch: variants/tiny_q4/model.lq40 was modified after it")
    assert "`zoo quantize tiny_q4`" in after["tiny_q4"]["reason"]
    human = _run(workspace.root, "verify", "tiny_q4")
    assert human.exit_code == 1 and "digest mismatch" in human.output and "Traceback" not in human.output


def test_corrupt_golden_goes_stale_then_fails(ws: tuple[Any, Any]) -> None:
    workspace, registry = ws
    verify_variant(workspace, registry, registry.get("tiny_tern"))
    golden = workspace.variant_dir("tiny_tern") / "golden.safetensors"
    before = golden.read_bytes()
    _flip_byte(golden, golden.stat().st_size - 5)
    assert verification_state(workspace, "tiny_tern") == "stale"
    rep = verify_variant(workspace, registry, registry.get("tiny_tern"))
    assert rep.status == "fail"
    assert "variants/tiny_tern/golden.safetensors was modified after it was built" in (rep.reason or "")
    # following the hint (delete it, verify again) rebuilds the same bytes and passes
    hint = (rep.reason or "").split("rebuild with ")[-1]
    assert hint == "`rm variants/tiny_tern/golden.safetensors && zoo verify tiny_tern`"
    golden.unlink()
    rep = verify_variant(workspace, registry, registry.get("tiny_tern"))
    assert rep.status in ("pass", "pending"), rep.reason
    assert verification_state(workspace, "tiny_tern") in ("pass", "pending")
    assert golden.read_bytes() == before


def test_no_build_missing_artifact(ws: tuple[Any, Any]) -> None:
    workspace, registry = ws
    (workspace.variant_dir("tiny_tern") / "ternary.safetensors").unlink()
    rep = verify_variant(workspace, registry, registry.get("tiny_tern"), build=False)
    assert rep.status == "fail" and "missing variants/tiny_tern/ternary.safetensors" in (rep.reason or "")
    res = _run(workspace.root, "verify", "tiny_tern", "--no-build")
    assert res.exit_code == 1 and "--no-build" in res.output


def test_shards_cover_exactly_once_and_merge(ws: tuple[Any, Any], tmp_path: Path) -> None:
    workspace, registry = ws
    names = list(registry.variants)
    parts = [shard_names(names, i, 3) for i in (1, 2, 3)]
    assert sorted(n for p in parts for n in p) == sorted(names)
    files = []
    for i in (1, 2):
        res = _run(workspace.root, "verify", "--all", "--shard", f"{i}/2", "--json")
        assert res.exit_code in (0, 1), res.output
        path = tmp_path / f"shard{i}.json"
        path.write_text(res.stdout)
        files.append(path)
    doc, reports = merge_reports(files)
    assert sorted(r.variant for r in reports) == sorted(names)
    assert doc["summary"]["fail"] == 1 and doc["exit_code"] == 1 and doc["missing_shards"] == []
    res = _run(workspace.root, "verify", "--merge", *map(str, files), "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["summary"]["pass"] == 3
    res = _run(workspace.root, "verify", "--merge", str(files[0]), str(files[0]))
    assert res.exit_code == 2 and "also reported" in res.output
    doc, _ = merge_reports(files[:1])
    assert doc["missing_shards"] == ["2/2"] and doc["exit_code"] == 1


def test_usage_errors(ws: tuple[Any, Any]) -> None:
    workspace, _ = ws
    assert _run(workspace.root, "verify", "--all", "--shard", "3/2").exit_code == 2
    assert _run(workspace.root, "verify", "nope").exit_code == 2
    assert _run(workspace.root, "verify").exit_code == 2
    assert _run(workspace.root, "verify", "--all", "--jobs", "0").exit_code == 2


def test_diff(ws: tuple[Any, Any]) -> None:
    workspace, registry = ws
    verify_variant(workspace, registry, registry.get("tiny_tern"))
    res = _run(workspace.root, "diff", "tiny_f32", "tiny_tern", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["labels"] == ["latent", "step1", "step5", "step10", "step15", "step20"]
    assert len(doc["matrix"]) == 6 and all(len(r) == 6 for r in doc["matrix"])
    assert doc["same_inputs"] is True and doc["diagonal"]["latent"] > 0.5
    res = _run(workspace.root, "diff", "tiny_f32", "tiny_tern_strict")
    assert res.exit_code == 2 and "zoo verify tiny_tern_strict" in res.output


def test_jobs_matches_serial(ws: tuple[Any, Any]) -> None:
    """--jobs 2 (spawned workers, BLAS pinned to 1 thread) gives the serial results, in selection order."""
    from zoo.verify.batch import run_many

    workspace, registry = ws
    records = [registry.get(n) for n in sorted(registry.variants)]
    serial = run_many(workspace, registry, records)  # also writes the derived goldens
    parallel = run_many(workspace, registry, records, jobs=2)
    assert [r.variant for r in parallel] == [r.variant for r in serial]
    for a, b in zip(serial, parallel, strict=True):
        assert (a.status, a.reason) == (b.status, b.reason)
        for name in METRIC_NAMES:  # BLAS thread count changes summation order: ~1e-7, not bits
            assert a.metrics[name]["cosine"] == pytest.approx(b.metrics[name]["cosine"], abs=1e-6)
            assert a.metrics[name]["max_abs"] == pytest.approx(b.metrics[name]["max_abs"], abs=1e-5)


def test_build_failure_is_one_line_error(ws: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing root whose source cannot be pulled: an error report with the stage's exit code, no traceback."""
    workspace, registry = ws
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    (workspace.variant_dir("tiny_f32") / "lejepa_weights.safetensors").unlink()
    assert verify_variant(workspace, registry, registry.get("tiny_q4")).status == "pass"  # needs only the golden
    rep = verify_variant(workspace, registry, registry.get("tiny_f32"))
    assert rep.status == "error" and rep.exit_code in (2, 3) and rep.reason and "\n" not in rep.reason
    res = _run(workspace.root, "verify", "tiny_f32", "tiny_tern")
    assert res.exit_code in (2, 3) and "Traceback" not in res.output


def test_builds_missing_quantized_artifact(ws: tuple[Any, Any]) -> None:
    """A missing model.lq40 is re-made by the quantize stage from the f32 root, then verified."""
    workspace, registry = ws
    lq40 = workspace.variant_dir("tiny_q4") / "model.lq40"
    lq40.unlink()
    assert verify_variant(workspace, registry, registry.get("tiny_q4"), build=False).status == "fail"
    rep = verify_variant(workspace, registry, registry.get("tiny_q4"))
    assert rep.status == "pass", rep.reason
    assert lq40.is_file() and rep.timings["build_s"] > 0
    assert verification_state(workspace, "tiny_q4") == "pass"


_ENTRY = {"variant": "x", "kind": "lq40:full", "parent": "p", "reference": "p", "policy": "active", "status": "pass"}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"shard": {"index": "x", "count": 2}, "variants": []}, "field 'shard'"),
        ({"shard": {"index": 3, "count": 2}, "variants": []}, "field 'shard'"),
        ({"selection": 5, "variants": []}, "field 'selection'"),
        ({"variants": [{**_ENTRY, "timings": [1]}]}, "field 'variants[0]' field 'timings'"),
        ({"variants": [{**_ENTRY, "exit_code": "1"}]}, "field 'variants[0]' has exit_code '1'"),
        ({"variants": [{**_ENTRY, "status": "weird"}]}, "field 'variants[0]' has status 'weird'"),
        ({"variants": [{**_ENTRY, "gate": {"margin": "a"}}]}, "field 'variants[0]' field 'gate.margin'"),
        ({"variants": [{"variant": "x", "status": "pass"}]}, "field 'variants[0]' has no string 'kind'"),
    ],
)
def test_merge_rejects_malformed_reports_with_the_field(tmp_path: Path, doc: dict[str, Any], field: str) -> None:
    """A hand-edited shard report is one located error line (exit 2), never a traceback or a wrong exit 0."""
    path = tmp_path / "shard.json"
    path.write_text(json.dumps({"schema_version": 1, **doc}))
    res = CliRunner().invoke(main, ["verify", "--merge", str(path)])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert f"{path}: {field}" in res.output and "Traceback" not in res.output


def test_merge_accepts_a_valid_entry(tmp_path: Path) -> None:
    path = tmp_path / "shard.json"
    entry = {**_ENTRY, "exit_code": 0, "timings": {"total_s": 0.5}, "gate": {"margin": 0.1, "measured": 0.99}}
    path.write_text(json.dumps({"schema_version": 1, "selection": ["x"], "variants": [entry]}))
    doc, reports = merge_reports([path])
    assert doc["exit_code"] == 0 and [r.variant for r in reports] == ["x"]
