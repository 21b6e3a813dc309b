"""Many variants at once: selection, shards, parallel workers, merged reports.

`--shard I/N` takes the variants whose index in the *sorted* selection is ≡ I-1 (mod N), so the
N shards of one selection are disjoint and cover it exactly once on any machine.
`--jobs N` runs variants in N worker processes, dependency level by level (an f32 root is
built and verified before the variants quantized from it), with BLAS threads pinned to 1 per
worker so N workers use N cores.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from zoo.errors import InputError, UsageError
from zoo.registry.records import VariantRecord
from zoo.registry.workspace import Workspace
from zoo.verify.run import VerifyReport, verify_variant
from zoo.verify.threads import THREAD_VARS, pin_blas_threads

REPORT_SCHEMA = 1

Progress = Callable[[str, str], None]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 1 <= I <= N."""
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise UsageError(f"--shard {text}: expected I/N, e.g. 1/2") from None
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: need 1 <= I <= N")
    return index, count


def shard_names(names: Iterable[str], index: int, count: int) -> list[str]:
    ordered = sorted(set(names))
    return [n for i, n in enumerate(ordered) if i % count == index - 1]


def _depth(registry: Any, rec: VariantRecord) -> int:
    depth, cur = 0, rec
    while cur.parent:
        cur = registry.parent_of(cur)
        depth += 1
    return depth


def _levels(registry: Any, records: Sequence[VariantRecord]) -> list[list[VariantRecord]]:
    by_depth: dict[int, list[VariantRecord]] = {}
    for rec in records:
        by_depth.setdefault(_depth(registry, rec), []).append(rec)
    return [by_depth[d] for d in sorted(by_depth)]


def _worker_init() -> None:
    pin_blas_threads(force=True)


def _verify_in_worker(root: str, name: str, build: bool, strict: bool) -> dict[str, Any]:
    from zoo.registry import load_registry

    workspace = Workspace(Path(root))
    registry = load_registry(workspace.registry_path)
    return verify_variant(workspace, registry, registry.get(name), build=build, strict=strict).to_json()


def _prepare_in_worker(root: str, name: str) -> dict[str, Any]:
    """Build (only) an ancestor that is not itself selected; returns an error report or {}."""
    from zoo.errors import ZooError
    from zoo.registry import load_registry
    from zoo.verify import engine

    workspace = Workspace(Path(root))
    registry = load_registry(workspace.registry_path)
    try:
        engine.build_artifacts(workspace, registry, registry.get(name))
    except ZooError as exc:
        return {"name": name, "error": exc.render(), "exit_code": exc.exit_code}
    return {}


def run_many(
    workspace: Workspace,
    registry: Any,
    records: Sequence[VariantRecord],
    *,
    build: bool = True,
    strict: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[VerifyReport]:
    """Verify `records` (serially, or in `jobs` processes); reports in the order of `records`."""
    say = progress or (lambda _n, _s: None)
    if jobs <= 1:
        return [verify_variant(workspace, registry, rec, build=build, strict=strict, progress=say) for rec in records]

    selected = {r.name for r in records}
    # Ancestors the selection depends on are built first even if they are not selected, so no
    # two workers ever build the same variant directory at the same time.
    needed: dict[str, VariantRecord] = {r.name: r for r in records}
    if build:
        for rec in records:
            cur = rec
            while cur.parent:
                cur = registry.parent_of(cur)
                needed.setdefault(cur.name, cur)
    results: dict[str, VerifyReport] = {}
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    try:
        pin_blas_threads(force=True)  # spawned workers read these when they import numpy
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init) as pool:
            blocked: dict[str, str] = {}
            for level in _levels(registry, list(needed.values())):
                futures: dict[str, Future[dict[str, Any]]] = {}
                for rec in level:
                    ancestor_error = _blocked_by(registry, rec, blocked)
                    if ancestor_error is not None:
                        if rec.name in selected:
                            results[rec.name] = _blocked_report(registry, rec, ancestor_error)
                        blocked[rec.name] = ancestor_error
                        continue
                    say(rec.name, "running" if rec.name in selected else "building")
                    if rec.name in selected:
                        futures[rec.name] = pool.submit(_verify_in_worker, str(workspace.root), rec.name, build, strict)
                    else:
                        futures[rec.name] = pool.submit(_prepare_in_worker, str(workspace.root), rec.name)
                for name, fut in futures.items():
                    data = fut.result()
                    if name in selected:
                        report = VerifyReport.from_json(data)
                        results[name] = report
                        say(name, report.status)
                        if report.status == "error":
                            blocked[name] = report.reason or "error"
                    elif data:
                        blocked[name] = str(data["error"])
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return [results[r.name] for r in records]


def _blocked_by(registry: Any, rec: VariantRecord, blocked: dict[str, str]) -> str | None:
    cur = rec
    while cur.parent:
        cur = registry.parent_of(cur)
        if cur.name in blocked:
            return f"building {cur.name} failed: {blocked[cur.name]}"
    return None


def _blocked_report(registry: Any, rec: VariantRecord, reason: str) -> VerifyReport:
    return VerifyReport(
        variant=rec.name,
        kind=rec.format.kind if rec.format.mode is None else f"{rec.format.kind}:{rec.format.mode}",
        parent=rec.parent,
        reference=registry.f32_root(rec).name,
        policy=rec.verification.status,
        status="error",
        reason=reason,
        exit_code=2,
    )


def exit_code(reports: Iterable[VerifyReport]) -> int:
    """0 all pass (pending counts as pass), 3 any remote error, 2 any input error, else 1 any failure."""
    codes = {r.exit_code for r in reports}
    for code in (3, 2, 1):
        if code in codes:
            return code
    return 0


def summary(reports: Sequence[VerifyReport]) -> dict[str, int]:
    out = {"pass": 0, "fail": 0, "pending": 0, "error": 0}
    for r in reports:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def report_document(
    reports: Sequence[VerifyReport],
    *,
    shard: tuple[int, int] | None = None,
    strict: bool = False,
    selection: Sequence[str] | None = None,
    wall_s: float | None = None,
) -> dict[str, Any]:
    from zoo.verify import engine

    return {
        "schema_version": REPORT_SCHEMA,
        "engine_version": engine.engine_version(),
        "strict": strict,
        "shard": None if shard is None else {"index": shard[0], "count": shard[1]},
        "selection": sorted(selection) if selection is not None else sorted(r.variant for r in reports),
        "variants": [r.to_json() for r in reports],
        "summary": summary(reports),
        "exit_code": exit_code(reports),
        "wall_s": wall_s,
    }


def merge_reports(paths: Sequence[Path]) -> tuple[dict[str, Any], list[VerifyReport]]:
    """Combine shard reports (the `--json` output of `zoo verify --shard I/N`) into one document."""
    reports: dict[str, VerifyReport] = {}
    origin: dict[str, Path] = {}
    shards: dict[int, set[int]] = {}
    selection: set[str] = set()
    strict = False
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"{path}: not a JSON report ({type(exc).__name__})" if isinstance(exc, RecursionError)
                             else f"{path}: not a JSON report ({exc})",
                             hint="pass the --json output of `zoo verify`") from None
        if not isinstance(data, dict) or data.get("schema_version") != REPORT_SCHEMA or not isinstance(
            data.get("variants"), list
        ):
            raise InputError(
                f"{path}: not a `zoo verify --json` report (field 'schema_version' or 'variants')",
                hint="pass the --json output of `zoo verify`",
            )
        strict = strict or bool(data.get("strict"))
        shard = data.get("shard")
        if shard is not None:
            index: Any = shard.get("index") if isinstance(shard, dict) else None
            count: Any = shard.get("count") if isinstance(shard, dict) else None
            if not (_is_int(index) and _is_int(count) and 1 <= index <= count):
                raise InputError(f"{path}: field 'shard' must be {{\"index\": I, \"count\": N}} with 1 <= I <= N",
                                 hint="pass the unmodified --json output of `zoo verify --shard I/N`")
            shards.setdefault(count, set()).add(index)
        sel = data.get("selection") or []
        if not isinstance(sel, list) or not all(isinstance(n, str) for n in sel):
            raise InputError(f"{path}: field 'selection' must be a list of variant names",
                             hint="pass the unmodified --json output of `zoo verify`")
        selection.update(sel)
        for i, entry in enumerate(data["variants"]):
            problem = _entry_problem(entry)
            if problem is not None:
                raise InputError(f"{path}: field 'variants[{i}]' {problem}",
                                 hint="pass the unmodified --json output of `zoo verify`")
            name = str(entry["variant"])
            if name in reports:
                raise InputError(
                    f"{path}: variant {name} is also reported in {origin[name]}",
                    hint="merge the reports of disjoint shards (--shard 1/N ... N/N) of one run",
                )
            try:
                reports[name] = VerifyReport.from_json(entry)
            except TypeError as exc:
                raise InputError(f"{path}: field 'variants[{i}]' is incomplete ({exc})") from None
            origin[name] = Path(path)
    if len(shards) > 1:
        raise InputError(f"shard reports come from different splits: N in {sorted(shards)}")
    missing_shards: list[str] = []
    for count, seen in shards.items():
        missing_shards = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    ordered = [reports[n] for n in sorted(reports)]
    doc = report_document(ordered, strict=strict, selection=sorted(selection | set(reports)))
    doc["merged_from"] = [str(p) for p in paths]
    doc["missing_shards"] = missing_shards
    doc["unreported"] = sorted(selection - set(reports))
    if missing_shards or doc["unreported"]:
        doc["exit_code"] = max(doc["exit_code"], 1) if doc["exit_code"] != 0 else 1
    return doc, ordered


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Field types of one variant entry of a report: a hand-edited or foreign report must fail here, with
# the field named, rather than deep inside the table renderer or the exit-code logic.
_STATUSES = frozenset({"pass", "fail", "pending", "error"})


def _entry_problem(entry: Any) -> str | None:
    """Why a `variants[i]` entry of a shard report cannot be merged (None when it can)."""
    if not isinstance(entry, dict):
        return "is not an object"
    for key in ("variant", "kind", "reference", "policy"):
        if not isinstance(entry.get(key), str):
            return f"has no string {key!r}"
    if entry.get("status") not in _STATUSES:
        return f"has status {entry.get('status')!r}; expected one of {', '.join(sorted(_STATUSES))}"
    if not isinstance(entry.get("parent"), (str, type(None))) or not isinstance(entry.get("reason"), (str, type(None))):
        return "has a non-string 'parent' or 'reason'"
    if not _is_int(entry.get("exit_code", 0)) or entry.get("exit_code", 0) not in (0, 1, 2, 3):
        return f"has exit_code {entry.get('exit_code')!r}; expected 0, 1, 2 or 3"
    for key in ("metrics", "artifacts", "timings", "inputs"):
        if not isinstance(entry.get(key, {}), dict):
            return f"field {key!r} is not an object"
    if not all(_is_num(v) for v in entry.get("timings", {}).values()):
        return "field 'timings' has a non-numeric value"
    gate = entry.get("gate")
    if gate is not None:
        if not isinstance(gate, dict):
            return "field 'gate' is not an object"
        for key in ("measured", "threshold", "margin", "expected_cosine", "tolerance"):
            if key in gate and not _is_num(gate[key]):
                return f"field 'gate.{key}' is not a number"
    return None


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
