"""What a card shows about one variant: the registry record plus what the zoo measured.

Everything here is read-only: the registry record, `variants/<name>/manifest.json`,
`verify.json`, `targets/fpga/report.json` and `bench.json` (each optional). The result is a
plain `VariantFacts` the templates and the site render; nothing depends on the wall clock.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.cards.redact import redact_json
from zoo.errors import InputError
from zoo.store.manifest import VariantManifest

if TYPE_CHECKING:
    from zoo.registry import CollectionSettings, Registry, VariantRecord, Workspace

# Manifest `kind` of the artifact that *is* the variant, per registry format kind.
MAIN_ARTIFACT_KIND = {"safetensors-f32": "safetensors", "lq40": "lq40", "ternary": "ternary"}
FORMAT_LABEL = {
    "safetensors-f32": "safetensors (f32)",
    "lq40": "LQ40",
    "ternary": "ternary safetensors",
    "hdl": "hardwired HDL",
}
MODE_LABEL = {
    "full": "INT8 encoder + Q4 predictor",
    "q4-pred": "f32 encoder + Q4 predictor",
    "wanda20-q4": "WANDA 20% pruned + Q4 predictor",
    "wanda40-q4": "WANDA 40% pruned + Q4 predictor",
    "q4-full": "Q4 encoder + Q4 predictor (zoo extension)",
}
VERIFY_FILE = "verify.json"
BENCH_FILE = "bench.json"
FPGA_REPORT = "targets/fpga/report.json"
ESP32_MEMORY = "targets/esp32/memory.json"
WASM_REPORT = "targets/wasm/report.json"


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, None when absent; malformed files are an InputError naming the spot."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: byte {exc.start}: not UTF-8 text", hint="regenerate the file") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})", hint="regenerate the file"
        ) from exc
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply", hint="regenerate the file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level must be a JSON object", hint="regenerate the file")
    return data


# Fields of measurement files the cards index into, with the JSON type each must have; a file
# that has them with another type (hand-edited, truncated by another tool) is an InputError
# naming the field, never a TypeError from deep inside a template.
VERIFY_SHAPE: dict[str, type | tuple[type, ...]] = {
    "status": str, "metrics": dict, "gate": dict, "artifacts": dict, "reference": dict,
}
BENCH_SHAPE: dict[str, type | tuple[type, ...]] = {
    "encode": dict, "predict": dict, "rollout20": dict, "machine": dict,
}
REPORT_SHAPE: dict[str, type | tuple[type, ...]] = {
    "table": dict, "measured": dict, "claims": dict, "notes": list, "simulation": dict, "slice": dict,
    "psram_breakdown": dict, "platforms": dict,
}
_JSON_TYPE: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def check_shape(
    path: Path, data: dict[str, Any] | None, shape: dict[str, type | tuple[type, ...]], hint: str
) -> None:
    """Raise InputError when a present field of `data` has the wrong JSON type (absent is fine)."""
    if data is None:
        return
    for field, kind in shape.items():
        value = data.get(field)
        if value is not None and not isinstance(value, kind):
            want = _JSON_TYPE.get(kind, str(kind)) if isinstance(kind, type) else "a value of another type"
            raise InputError(
                f"{path}: field {field!r} must be {want}, got {type(value).__name__}",
                hint=hint,
            )
    if shape is VERIFY_SHAPE:  # staleness compares these digests with the files on disk
        for key, digest in (data.get("artifacts") or {}).items():
            if not isinstance(digest, str):
                raise InputError(f"{path}: field 'artifacts.{key}' must be a sha256 string", hint=hint)


def read_checked(path: Path, shape: dict[str, type | tuple[type, ...]], hint: str) -> dict[str, Any] | None:
    """`read_json_file` plus `check_shape`."""
    data = read_json_file(path)
    check_shape(path, data, shape, hint)
    return data


def hub_path(collection: CollectionSettings, name: str) -> str:
    """Where a variant lives on the Hub: a folder of the one collection repository (DESIGN decision 7)."""
    return f"{collection.hub_repo}/{name}"


def hub_repo_id(collection: CollectionSettings, name: str) -> str:
    """The variant's own repository id in the per-variant layout (`zoo publish --per-variant-repos`).

    Hub metadata (`base_model`) must name a repository (`namespace/name`), never a folder inside
    one, and a variant card is only read as repository metadata when it is a repository's root
    README, i.e. in that layout. Same rule as `zoo.publish.plan.variant_repo_id` (publish comes
    after cards in the stage order, so the one-line rule is restated; a test keeps them equal).
    """
    return f"{collection.hub_repo}-{name}"


@dataclasses.dataclass(frozen=True)
class Artifact:
    path: str
    kind: str
    size: int | None
    sha256: str | None
    produced_by: str | None
    description: str | None = None


@dataclasses.dataclass(frozen=True)
class VariantFacts:
    record: VariantRecord
    hub_path: str
    parent: VariantRecord | None
    reference: VariantRecord  # the f32 ancestor measurements compare against
    children: tuple[str, ...]
    source: dict[str, Any] | None  # manifest "source" (of the f32 root for derived variants)
    converted_by: str | None  # tool that wrote the f32 root's safetensors
    artifacts: tuple[Artifact, ...]
    targets: dict[str, tuple[Artifact, ...]]
    verify: dict[str, Any] | None
    stale: tuple[str, ...]  # artifacts whose digest changed since verify measured them
    fpga_report: dict[str, Any] | None
    bench: dict[str, Any] | None
    esp32_memory: dict[str, Any] | None = None  # targets/esp32/memory.json (flash/RAM vs limits)
    target_checks: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # manifest targets.T.check
    wasm_report: dict[str, Any] | None = None  # targets/wasm/report.json (node / Chromium timings vs claims)
    # uncertain architecture fields as conversion recorded them (manifest of the f32 reference):
    # {field: {"declared": registry value, "measured": checkpoint value}}
    measured_arch: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def arch_value(self, field: str) -> Any:
        """The architecture value that holds: the checkpoint's when conversion measured it, else the record's."""
        entry = self.measured_arch.get(field)
        if isinstance(entry, dict) and "measured" in entry:
            return entry["measured"]
        return getattr(self.record.architecture, field)

    def arch_text(self, field: str) -> str:
        """`12 (declared 6)` when the checkpoint disagrees with the registry, else the value."""
        value = self.arch_value(field)
        declared = getattr(self.record.architecture, field)
        return f"{value} (declared {declared})" if value != declared else str(value)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def main_artifact(self) -> Artifact | None:
        kind = MAIN_ARTIFACT_KIND.get(self.record.format.kind)
        return next((a for a in self.artifacts if a.kind == kind), None)

    @property
    def measured_size(self) -> int | None:
        art = self.main_artifact
        return art.size if art else None

    @property
    def status(self) -> str:
        """verified | measured | failed | stale | not verified (`zoo.store.status.STATUSES`)."""
        from zoo.store.status import status_from_verify

        if self.verify is None:
            return status_from_verify("missing")
        if self.stale:
            return status_from_verify("stale")
        status = str(self.verify.get("status", "pending"))
        return status_from_verify(status if status in ("pass", "fail", "pending") else "pending")

    @property
    def gate_cosine(self) -> float | None:
        gate = (self.verify or {}).get("gate") or {}
        value = gate.get("measured")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def format_label(self) -> str:
        fmt = self.record.format
        label = FORMAT_LABEL.get(fmt.kind, fmt.kind)
        return f"{label} {fmt.mode}" if fmt.mode else label


def _artifacts(section: dict[str, Any] | None) -> tuple[Artifact, ...]:
    out = []
    for rel, rec in sorted((section or {}).items()):
        if not isinstance(rec, dict):
            continue
        size = rec.get("size")
        out.append(
            Artifact(
                path=str(rel),
                kind=str(rec.get("kind", "")),
                size=size if isinstance(size, int) else None,
                sha256=rec.get("sha256") if isinstance(rec.get("sha256"), str) else None,
                produced_by=rec.get("produced_by") if isinstance(rec.get("produced_by"), str) else None,
                description=rec.get("description") if isinstance(rec.get("description"), str) else None,
            )
        )
    return tuple(out)


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str | None:
    """sha256 of a file, cached by (path, size, mtime) because every card render re-checks it."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        from zoo.store.digests import cached_sha256

        _DIGESTS[key] = cached_sha256(path)
    return _DIGESTS[key]


def _stale(workspace: Workspace, name: str, verify: dict[str, Any] | None) -> tuple[str, ...]:
    """Files verify measured whose current bytes differ (same rule as `zoo verify`'s staleness)."""
    if not verify:
        return ()
    vdir = workspace.variant_dir(name)
    measured = verify.get("artifacts") or {}
    out = [rel for rel, digest in sorted(measured.items()) if _digest(vdir / rel) != digest]
    ref = verify.get("reference") or {}
    ref_name, ref_sha = ref.get("variant"), ref.get("golden_sha256")
    ref_golden = workspace.variant_dir(str(ref_name)) / "golden.safetensors"
    if isinstance(ref_name, str) and ref_sha and ref_name != name and _digest(ref_golden) != ref_sha:
        out.append(f"../{ref_name}/golden.safetensors")
    return tuple(out)


def _parent_of(registry: Registry, rec: VariantRecord) -> VariantRecord | None:
    return registry.variants.get(rec.parent) if rec.parent else None


def _reference(registry: Registry, rec: VariantRecord) -> VariantRecord:
    cur = rec
    seen = {cur.name}
    while cur.format.kind != "safetensors-f32" and cur.parent and cur.parent in registry.variants:
        cur = registry.variants[cur.parent]
        if cur.name in seen:  # pragma: no cover - the loader rejects cycles
            break
        seen.add(cur.name)
    return cur


def variant_facts(workspace: Workspace, registry: Registry, name: str) -> VariantFacts:
    rec = registry.variants[name]
    vdir = workspace.variant_dir(name)
    manifest = VariantManifest.load(vdir)
    reference = _reference(registry, rec)
    ref_manifest = manifest if reference.name == name else VariantManifest.load(workspace.variant_dir(reference.name))
    source = manifest.source if manifest.source is not None else ref_manifest.source
    artifacts = _artifacts(manifest.artifacts)
    converted_by = next(
        (a.produced_by for a in _artifacts(ref_manifest.artifacts) if a.kind == "safetensors" and a.produced_by),
        None,
    )
    targets: dict[str, tuple[Artifact, ...]] = {}
    checks: dict[str, dict[str, Any]] = {}
    for target, section in sorted((manifest.data.get("targets") or {}).items()):
        if isinstance(section, dict):
            targets[str(target)] = _artifacts(section.get("artifacts"))
            if isinstance(section.get("check"), dict):
                checks[str(target)] = section["check"]
    esp32_memory = None
    if "esp32" in targets:
        esp32_memory = read_checked(vdir / ESP32_MEMORY, REPORT_SHAPE, f"rebuild it: zoo build {name} --target esp32")
    wasm_report = None
    if "wasm" in targets:
        wasm_report = read_checked(vdir / WASM_REPORT, REPORT_SHAPE, f"rebuild it: zoo build {name} --target wasm --check")
    verify = read_checked(vdir / VERIFY_FILE, VERIFY_SHAPE, f"measure again: zoo verify {name}")
    config_rec = ref_manifest.artifacts.get("config.json")
    measured = config_rec.get("uncertain_fields") if isinstance(config_rec, dict) else None
    return VariantFacts(
        record=rec,
        hub_path=hub_path(registry.collection, name),
        parent=_parent_of(registry, rec),
        reference=reference,
        children=tuple(r.name for r in registry.variants.values() if r.parent == name),
        # no local paths on a card; no fetch time either (a re-pull must not change the card: issue 17, no churn)
        source=redact_json({k: v for k, v in source.items() if k != "fetched_at"}) if isinstance(source, dict) else None,
        converted_by=converted_by,
        artifacts=artifacts,
        targets=targets,
        verify=verify,
        stale=_stale(workspace, name, verify),
        fpga_report=read_checked(vdir / FPGA_REPORT, REPORT_SHAPE, f"rebuild it: zoo build {name} --target fpga --check"),
        bench=read_checked(vdir / BENCH_FILE, BENCH_SHAPE, f"measure again: zoo bench {name} --save"),
        esp32_memory=esp32_memory,
        target_checks=checks,
        measured_arch={str(k): v for k, v in measured.items() if isinstance(v, dict)} if isinstance(measured, dict)
        else {},
        wasm_report=wasm_report,
    )


def collection_facts(workspace: Workspace, registry: Registry) -> list[VariantFacts]:
    return [variant_facts(workspace, registry, name) for name in registry.variants]


def flatten_scalars(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, scalar) leaves of a JSON document in sorted key order (lists indexed)."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for key in sorted(obj, key=str):
            out.extend(flatten_scalars(obj[key], f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, list):
        if all(not isinstance(v, dict | list) for v in obj):
            out.append((prefix, ", ".join(str(v) for v in obj)))
        else:
            for i, v in enumerate(obj):
                out.extend(flatten_scalars(v, f"{prefix}[{i}]"))
    else:
        out.append((prefix, obj))
    return out
