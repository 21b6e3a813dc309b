"""Verify one variant: build what is missing, check digests, run the engine, compare, gate.

Order matters (issue 7): artifacts are checked against the digests in the manifest *before*
any numerics, so a file edited outside the zoo fails with a clear reason instead of a
surprising cosine. The registry's `VerificationPolicy` decides pass/fail; `pending`
variants are measured and reported but only fail under `--strict`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo._io import atomic_write_json, sha256_file
from zoo.errors import ZooError
from zoo.registry.records import VariantRecord
from zoo.registry.workspace import Workspace
from zoo.verify import engine
from zoo.verify.metrics import METRIC_NAMES, compare_outputs, cosine, max_abs
from zoo.verify.state import SCHEMA_VERSION, VERIFY_FILE

GOLDEN_FILE = "golden.safetensors"
# A fresh engine run must reproduce the stored golden file of the same weights this closely
# (same engine, same inputs; only BLAS summation order may differ between machines).
CONSISTENCY_COSINE = 1.0 - 1e-6
CONSISTENCY_REL_MAX_ABS = 1e-4

Progress = Callable[[str, str], None]


@dataclasses.dataclass
class VerifyReport:
    """Outcome of verifying one variant (also one entry of `zoo verify --json`)."""

    variant: str
    kind: str
    parent: str | None
    reference: str
    policy: str  # the registry's verification status: "active" | "pending"
    status: str  # "pass" | "fail" | "pending" | "error"
    reason: str | None = None
    gate: dict[str, Any] | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)  # numerics files in other variant dirs
    targets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # declared target -> state
    exit_code: int = 0
    verify_json: str | None = None

    @property
    def failed(self) -> bool:
        return self.exit_code != 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerifyReport:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def rebuild_command(rec: VariantRecord) -> str:
    kind = rec.format.kind
    if kind == "safetensors-f32":
        return f"zoo convert {rec.name}"
    if kind in ("lq40", "ternary"):
        return f"zoo quantize {rec.name}"
    return f"zoo verify {rec.name}"


def _artifact_command(rec: VariantRecord, rel: str) -> str:
    if rel == GOLDEN_FILE:
        return f"`rm variants/{rec.name}/{GOLDEN_FILE} && zoo verify {rec.name}`"
    if rel.startswith("source/"):
        return f"`zoo pull {rec.name} --force`"
    return f"`{rebuild_command(rec)}`"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def required_files(rec: VariantRecord) -> tuple[str, ...]:
    """Files (relative to the variant dir) the numerics of a variant of this kind are computed from."""
    return engine.NUMERIC_FILES.get(rec.format.kind, ())


def numerics_source(registry: Any, rec: VariantRecord) -> VariantRecord:
    """The record whose weights give this variant's numbers (hdl variants compute their Q4 parent's)."""
    cur = rec
    while cur.format.kind not in engine.NUMERIC_FILES or not engine.NUMERIC_FILES[cur.format.kind]:
        parent = registry.parent_of(cur)
        if parent is None:
            break
        cur = parent
    return cur


def _missing(workspace: Workspace, registry: Any, rec: VariantRecord) -> list[str]:
    """Display paths (variants/NAME/file) of files verify needs and that are not there."""
    src = numerics_source(registry, rec)
    root = registry.f32_root(rec)
    need: list[tuple[str, str]] = [(src.name, f) for f in required_files(src)]
    need.append((root.name, GOLDEN_FILE))
    missing = []
    for name, rel in dict.fromkeys(need):
        if not (workspace.variant_dir(name) / rel).is_file():
            missing.append(f"variants/{name}/{rel}")
    return missing


def _check_digests(workspace: Workspace, registry: Any, rec: VariantRecord) -> tuple[list[str], dict[str, str]]:
    """(problems, own artifact digests). Checks the variant's own manifest, its numerics source's
    and the reference golden file, before any numerics."""
    from zoo.store.manifest import VariantManifest

    problems: list[str] = []
    own: dict[str, str] = {}
    src = numerics_source(registry, rec)
    root = registry.f32_root(rec)
    for owner in dict.fromkeys([rec.name, src.name, root.name]):
        owner_rec = registry.get(owner)
        vdir = workspace.variant_dir(owner)
        manifest = VariantManifest.load(vdir)
        wanted = set(manifest.artifacts)
        if owner != rec.name:
            # Other variants only matter through the files this variant's numbers depend on.
            wanted &= (set(required_files(owner_rec)) if owner == src.name else set()) | (
                {GOLDEN_FILE} if owner == root.name else set()
            )
        for rel in sorted(wanted):
            recorded = manifest.artifacts[rel].get("sha256")
            path = vdir / rel
            actual = sha256_file(path) if path.is_file() else None
            if owner == rec.name and actual is not None:
                own[rel] = actual
            if actual == recorded:
                continue
            if actual is None and rel == GOLDEN_FILE and owner == rec.name != root.name:
                continue  # a derived variant's golden file is (re)written by this run from its artifact
            what = "is missing" if actual is None else "was modified after it was built"
            label = f"variants/{owner}/{rel}"
            if owner != rec.name:
                label = f"{label} (reference of {rec.name})" if owner == root.name else f"{label} (input of {rec.name})"
            problems.append(f"digest mismatch: {label} {what}; rebuild with {_artifact_command(owner_rec, rel)}")
        for rel in (required_files(owner_rec) if owner == src.name else ()):
            if rel not in manifest.artifacts and (vdir / rel).is_file():
                problems.append(
                    f"digest mismatch: variants/{owner}/{rel} is not recorded in the manifest (it was not built by "
                    f"the zoo); rebuild with `{rebuild_command(owner_rec)}`"
                )
    return problems, own


def _gate(rec: VariantRecord, metrics: dict[str, Any]) -> dict[str, Any]:
    pol = rec.verification
    measured = float(metrics[pol.metric]["cosine"])
    threshold = pol.expected_cosine - pol.tolerance
    return {
        "metric": pol.metric,
        "expected_cosine": pol.expected_cosine,
        "tolerance": pol.tolerance,
        "threshold": threshold,
        "measured": measured,
        "margin": measured - threshold,
        "passed": bool(measured >= threshold),
    }


def _gate_reason(gate: dict[str, Any]) -> str:
    return (
        f"{gate['metric']} cosine {gate['measured']:.6f} < {gate['threshold']:.6f} "
        f"(expected {gate['expected_cosine']} - tolerance {gate['tolerance']}; short by {-gate['margin']:.6f})"
    )


def _consistency_problem(rec: VariantRecord, fresh: dict[str, Any], stored: dict[str, Any]) -> str | None:
    """Whether the stored golden file still matches what the engine computes from the artifact."""
    for key in ("inputs.image", "inputs.actions"):
        if key in stored and key in fresh and (
            stored[key].shape != fresh[key].shape or max_abs(stored[key], fresh[key]) > 0
        ):
            return f"variants/{rec.name}/{GOLDEN_FILE}: tensor {key} differs from the golden input recipe"
    for key in ("outputs.latent", "outputs.rollout"):
        if key not in stored:
            return f"variants/{rec.name}/{GOLDEN_FILE}: missing tensor {key}"
        a, b = fresh[key], stored[key]
        if a.shape != b.shape:
            return f"variants/{rec.name}/{GOLDEN_FILE}: {key} has shape {list(b.shape)}, engine gives {list(a.shape)}"
        scale = max(float(abs(b).max()) if b.size else 0.0, 1e-6)
        if cosine(a, b) < CONSISTENCY_COSINE or max_abs(a, b) > CONSISTENCY_REL_MAX_ABS * scale:
            return (
                f"variants/{rec.name}/{GOLDEN_FILE}: {key} no longer matches a fresh engine run "
                f"(cosine {cosine(a, b):.6f}, max abs {max_abs(a, b):.3g})"
            )
    return None


def verify_variant(
    workspace: Workspace,
    registry: Any,
    record: VariantRecord,
    *,
    build: bool = True,
    strict: bool = False,
    write: bool = True,
    progress: Progress | None = None,
    unbuildable_targets: dict[str, str] | None = None,
) -> VerifyReport:
    """Verify one variant and (with `write`) record the result in `variants/<name>/verify.json`.

    Never raises for a per-variant problem: bad input, remote errors and failed checks come back
    as a report with `status` "fail" or "error" and the exit code they map to.
    """
    rec = record
    root = registry.f32_root(rec)
    report = VerifyReport(
        variant=rec.name,
        kind=rec.format.kind if rec.format.mode is None else f"{rec.format.kind}:{rec.format.mode}",
        parent=rec.parent,
        reference=root.name,
        policy=rec.verification.status,
        status="fail",
    )
    say = progress or (lambda _name, _stage: None)
    t_start = time.perf_counter()
    timings = report.timings
    try:
        # 1. artifacts exist (build them, or fail with --no-build)
        missing = _missing(workspace, registry, rec)
        t0 = time.perf_counter()
        if missing:
            if not build:
                report.reason = (
                    f"missing {', '.join(missing)} (--no-build); run `zoo verify {rec.name}` without --no-build "
                    f"or `{rebuild_command(numerics_source(registry, rec))}`"
                )
                report.exit_code = 1
                return report
            say(rec.name, "building")
            engine.build_artifacts(workspace, registry, rec)
        timings["build_s"] = time.perf_counter() - t0

        # 2. digests before numerics
        say(rec.name, "checking digests")
        t0 = time.perf_counter()
        problems, own = _check_digests(workspace, registry, rec)
        timings["check_s"] = time.perf_counter() - t0
        if problems:
            report.reason = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            report.exit_code = 1
            report.artifacts = own
            if write:
                _write_verify_json(workspace, rec, report, reference_sha=None)
            return report

        # 3. numerics
        say(rec.name, "inference")
        t0 = time.perf_counter()
        vdir = workspace.variant_dir(rec.name)
        ref_path = workspace.variant_dir(root.name) / GOLDEN_FILE
        ref = engine.read_golden(ref_path)
        src = numerics_source(registry, rec)
        config, weights, used = engine.variant_weights(workspace, registry, src)
        if src.name != rec.name:  # hdl: its numbers come from the parent's file; stale when that changes
            report.inputs = dict(sorted(used.items()))
        fresh = engine.run_golden(config, weights, ref)
        own_golden = vdir / GOLDEN_FILE
        if rec.name == root.name:
            # f32 root: its stored golden is the reference; the check is engine determinism.
            metrics = compare_outputs(fresh, ref, source="fresh engine run", reference_source=str(ref_path))
        else:
            if own_golden.is_file():
                problem = _consistency_problem(rec, fresh, engine.read_golden(own_golden))
                if problem:
                    raise _Fail(problem + f"; delete it and run `zoo verify {rec.name}`")
            else:
                engine.write_golden(workspace, rec, config, weights, own_golden, used)
                own[GOLDEN_FILE] = sha256_file(own_golden)
            metrics = compare_outputs(fresh, ref, source=str(own_golden), reference_source=str(ref_path))
        timings["inference_s"] = time.perf_counter() - t0
        report.metrics = metrics
        report.artifacts = own

        # 4. gate
        gate = _gate(rec, metrics)
        report.gate = gate
        if rec.verification.status == "pending" and not strict:
            report.status = "pending"
            report.exit_code = 0
            if not gate["passed"]:
                report.reason = "pending (not gated): " + _gate_reason(gate)
        elif gate["passed"]:
            report.status = "pass"
            report.exit_code = 0
        else:
            report.status = "fail"
            report.exit_code = 1
            report.reason = _gate_reason(gate)
        # 5. declared targets (issue 17 item 5): missing / stale / failed fail the variant like the gate
        _gate_targets(workspace, registry, rec, report, strict=strict, unbuildable=unbuildable_targets or {})
        if write:
            _write_verify_json(workspace, rec, report, reference_sha=sha256_file(ref_path))
        return report
    except _Fail as exc:
        report.status, report.reason, report.exit_code = "fail", str(exc), 1
        if write:
            _write_verify_json(workspace, rec, report, reference_sha=None)
        return report
    except ZooError as exc:
        if exc.exit_code == 3 and rec.verification.status == "pending" and not strict:
            # a pending variant whose source is unreachable is reported and skipped, not fatal (issue 17);
            # no verify.json is written, so publish leaves it out
            report.status, report.exit_code = "pending", 0
            report.reason = f"skipped: source unreachable ({exc.render()})"
            return report
        report.status, report.reason, report.exit_code = "error", exc.render(), exc.exit_code
        return report
    except Exception as exc:  # a bug in a stage must not abort the other variants of a batch
        first = str(exc).splitlines()[0] if str(exc) else ""
        report.status, report.exit_code = "error", 1
        report.reason = f"internal error ({type(exc).__name__}: {first}); please report it with `zoo verify {rec.name}`"
        return report
    finally:
        timings["total_s"] = time.perf_counter() - t_start
        say(rec.name, report.status)


def _gate_targets(workspace: Workspace, registry: Any, rec: VariantRecord, report: VerifyReport, *,
                  strict: bool, unbuildable: dict[str, str]) -> None:
    """`unbuildable` (zoo demo only): declared targets that could not be built on this machine for lack of
    their toolchain; reported with that reason, not gated."""
    from zoo.targets.gate import declared_target_states

    states = declared_target_states(workspace, registry, rec)
    report.targets = {s.target: s.to_json() for s in states}
    for s in states:
        if s.state == "missing" and s.target in unbuildable:
            report.targets[s.target]["reason"] = f"not built here: {unbuildable[s.target]}"
    bad = [s for s in states if not s.ok and not (s.state == "missing" and s.target in unbuildable)]
    if not bad:
        return
    why = "; ".join(s.message() for s in bad)
    if report.policy == "pending" and not strict:
        report.reason = (report.reason + "; " if report.reason else "") + "pending (not gated): " + why
        return
    if report.status == "pass":
        report.status, report.exit_code = "fail", 1
        report.reason = why
    elif report.status == "fail":
        report.reason = (report.reason + "; " if report.reason else "") + why


class _Fail(Exception):
    """A verification failure found during numerics (recorded, not raised to the caller)."""


def _write_verify_json(
    workspace: Workspace, rec: VariantRecord, report: VerifyReport, *, reference_sha: str | None
) -> Path:
    root_name = report.reference
    metrics = {k: report.metrics[k] for k in (*METRIC_NAMES, "latent_norm_drift") if k in report.metrics}
    status = report.status
    if rec.verification.status == "pending" and status in ("pass", "fail") and report.gate is not None:
        status = "pending"  # the registry decides; --strict only changes this run's exit code
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "variant": rec.name,
        "parent": rec.parent,
        "engine_version": engine.engine_version(),
        "measured_at": _now(),
        "status": status,
        "reason": report.reason,
        "gate": None
        if report.gate is None
        else {k: report.gate[k] for k in ("metric", "expected_cosine", "tolerance", "measured", "passed")},
        "metrics": metrics,
        "artifacts": dict(sorted(report.artifacts.items())),
        "reference": {"variant": root_name, "golden_sha256": reference_sha},
    }
    if report.inputs:
        doc["inputs"] = report.inputs
    if report.targets:
        doc["targets"] = {t: v["state"] for t, v in sorted(report.targets.items())}
    path = workspace.variant_dir(rec.name) / VERIFY_FILE
    # No churn (issue 17): when nothing but the time changed, keep the file (and its measured_at) as it is.
    from zoo.store.status import _read_json

    previous = _read_json(path)
    if previous is not None and {**previous, "measured_at": None} == {**doc, "measured_at": None}:
        report.verify_json = str(path)
        return path
    atomic_write_json(path, doc)
    report.verify_json = str(path)
    return path
