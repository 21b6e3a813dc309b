"""Discovery of target plugins (entry-point group ``zoo.targets``) and the build driver.

Built-in targets (esp32, fpga) are registered through the same entry-point group in this
package's pyproject, so a third-party package is found exactly like them.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import UsageError, ZooError
from zoo.targets.base import ENTRY_POINT_GROUP, Artifact, BuildContext, Target, accepts, format_key

if TYPE_CHECKING:
    from zoo.registry import Registry, VariantRecord, Workspace

TARGETS_DIR = "targets"


class TargetError(ZooError):
    """A target plugin cannot be loaded or failed unexpectedly."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class TargetInfo:
    """One installed target: where it comes from, and (if it loads) its formats."""

    name: str
    value: str  # "module:attr" of the entry point
    package: str  # distribution that declares it
    version: str
    entry_point: Any = dataclasses.field(repr=False, compare=False, default=None)

    def load(self) -> Target:
        """Import and instantiate the plugin (class, factory function, or ready instance)."""
        try:
            obj = self.entry_point.load()
            target = (
                obj() if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Target)) else obj
            )
        except ZooError:
            raise
        except Exception as exc:
            raise TargetError(
                f"target '{self.name}' ({self.value}, package {self.package}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                hint=f"reinstall {self.package} or check its entry point",
            ) from exc
        if not isinstance(target, Target):
            raise TargetError(
                f"target '{self.name}' ({self.value}) is not a zoo target: it needs name, formats, build(), check()",
            )
        return target

    def describe(self) -> dict[str, Any]:
        """JSON-able listing entry; a plugin that fails to load is listed with its error."""
        row: dict[str, Any] = {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "entry_point": self.value,
        }
        try:
            target = self.load()
        except ZooError as exc:
            row.update(loaded=False, error=exc.message, formats=[], description="", tools=[])
            return row
        row.update(
            loaded=True,
            formats=list(target.formats),
            description=str(getattr(target, "description", "") or ""),
            tools=target_tools(target),
        )
        return row


def target_tools(target: Any) -> list[str]:
    """The programs a target declares it runs (its optional ``tools`` attribute), in its order."""
    tools = getattr(target, "tools", ()) or ()
    return [str(t) for t in tools] if isinstance(tools, list | tuple) else []


def discover_targets() -> dict[str, TargetInfo]:
    """Installed targets by name (sorted). If two distributions declare one name, the first found wins."""
    found: dict[str, TargetInfo] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        found[ep.name] = TargetInfo(ep.name, ep.value, package, version, ep)
    return dict(sorted(found.items()))


def get_target(name: str) -> Target:
    targets = discover_targets()
    if name not in targets:
        known = ", ".join(targets) or "none"
        raise UsageError(
            f"--target {name}: no such target (installed: {known})",
            hint="`zoo targets` lists installed targets; plugins register under the 'zoo.targets' entry point",
        )
    return targets[name].load()


@dataclasses.dataclass
class BuildResult:
    variant: str
    target: str
    out_dir: Path
    artifacts: list[dict[str, Any]]  # {path (relative to the variant dir), sha256, size, kind, description}
    check: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "target": self.target,
            "out_dir": str(self.out_dir),
            "artifacts": self.artifacts,
            "check": self.check,
        }


def target_dir(workspace: Workspace, variant: str, target: str) -> Path:
    from zoo._io import contained_path

    # a symlinked targets/ or targets/<T> must not make a build write (or rmtree) outside the variant
    return contained_path(workspace.variant_dir(variant), f"{TARGETS_DIR}/{target}", what="target build directory")


def _call_plugin(target: Target, what: str, fn: Any, ctx: BuildContext) -> Any:
    try:
        return fn(ctx)
    except ZooError:
        raise
    except Exception as exc:  # a plugin bug must still end as one line, not a traceback
        raise TargetError(
            f"target '{target.name}' {what} failed for variant '{ctx.variant.name}': {type(exc).__name__}: {exc}",
            hint="this is a bug in the target plugin; rerun with the plugin's own tests",
        ) from exc


def build_target(
    workspace: Workspace,
    registry: Registry,
    record: VariantRecord,
    target_name: str,
    options: dict[str, Any] | None = None,
    *,
    check: bool = False,
    target: Target | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build `record` for `target_name` into variants/<name>/targets/<T>/ and record the artifacts.

    The plugin's ``build`` writes into a staging directory (``ctx.out_dir``; plugins must not embed
    that absolute path in their files) that replaces ``out_dir`` only on success. The manifest entry
    ``targets.<T>`` is then replaced as a whole: ``artifacts`` {relpath: {sha256, size, kind,
    description}}, ``format``, ``plugin`` {package, version}; after ``check`` (when `check` is true)
    the entry is rewritten with the files the check added and ``check`` (its report). The build is
    recorded before the check runs, so a check that fails or raises still leaves an honest manifest.
    """
    if target is None:
        target = get_target(target_name)
    if not accepts(target, record):
        raise UsageError(
            f"variant '{record.name}' has format {format_key(record)}; target '{target_name}' accepts "
            f"{', '.join(target.formats) or 'nothing'}",
            hint="pick a variant with one of those formats (`zoo list`)",
        )
    from zoo.targets.gate import target_inputs

    vdir = workspace.variant_dir(record.name)
    out_dir = target_dir(workspace, record.name, target_name)
    inputs = target_inputs(workspace, registry, record)  # what the build reads: its staleness reference
    # Build into a fresh staging directory and swap it in only when the plugin succeeded: a failed
    # build (bad option, corrupt input, plugin bug) leaves the previous build and its manifest entry
    # untouched, and no stale file from an earlier build survives a successful one.
    staging = out_dir.parent / f".{target_name}.building"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        ctx = BuildContext(workspace, registry, record, staging,
                           {**record.target_options.get(target_name, {}), **(options or {})}, progress)
        ctx.phase("generate")
        artifacts: list[Artifact] = _call_plugin(target, "build", target.build, ctx)
        staged_rows = _artifact_rows(target_name, vdir, staging, artifacts)
        _swap_in(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    staged_prefix = staging.resolve().relative_to(vdir.resolve()).as_posix() + "/"
    final_prefix = out_dir.resolve().relative_to(vdir.resolve()).as_posix() + "/"
    rows = [{**row, "path": final_prefix + row["path"][len(staged_prefix) :]} for row in staged_rows]
    info = discover_targets().get(target_name)
    plugin = {"package": info.package if info else "?", "version": info.version if info else "?"}
    # Record the build before the check runs, so a check that cannot run (missing tool) or raises
    # still leaves a manifest that describes exactly the files on disk.
    _record(vdir, target_name, record, rows, plugin, None, inputs)

    report: dict[str, Any] | None = None
    if check:
        ctx = BuildContext(workspace, registry, record, out_dir,
                           {**record.target_options.get(target_name, {}), **(options or {})}, progress)
        ctx.phase("check")
        report = _call_plugin(target, "check", target.check, ctx)
        if not isinstance(report, dict):
            raise TargetError(
                f"target '{target_name}' check returned {type(report).__name__}, expected a dict"
            )
        rows = _with_check_outputs(target_name, vdir, out_dir, rows)
        _record(vdir, target_name, record, rows, plugin, report, inputs)
    return BuildResult(record.name, target_name, out_dir, rows, report)


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace out_dir by staging with renames (the old build is removed only once the new one is in place)."""
    old = out_dir.parent / f".{out_dir.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    if old.exists():
        shutil.rmtree(old)


def _record(
    vdir: Path,
    target_name: str,
    record: VariantRecord,
    rows: list[dict[str, Any]],
    plugin: dict[str, str],
    report: dict[str, Any] | None,
    inputs: dict[str, str] | None = None,
) -> None:
    from zoo.store.manifest import update_manifest

    with update_manifest(vdir) as manifest:
        entry: dict[str, Any] = {
            "artifacts": {row["path"]: {k: v for k, v in row.items() if k != "path"} for row in rows},
            "format": format_key(record),
            "plugin": plugin,
            "inputs": dict(sorted((inputs or {}).items())),  # weight digests the build read (zoo.targets.gate)
        }
        if report is not None:
            entry["check"] = report
        manifest.data.setdefault("targets", {})[target_name] = entry


def _with_check_outputs(
    target_name: str, vdir: Path, out_dir: Path, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Add the files the check wrote into out_dir (e.g. fpga's report.json) to the build's rows,
    so the manifest, cards and publish see them like any other artifact."""
    known = {str(row["path"]) for row in rows}
    extra = [
        Artifact(path, "check-report" if path.suffix == ".json" else "check-output", "written by the target's check")
        for path in sorted(out_dir.rglob("*"))
        if path.is_file() and path.resolve().relative_to(vdir.resolve()).as_posix() not in known
    ]
    if not extra:
        return rows
    return sorted([*rows, *_artifact_rows(target_name, vdir, out_dir, extra)], key=lambda r: str(r["path"]))


def _artifact_rows(
    target_name: str, vdir: Path, out_dir: Path, artifacts: list[Artifact]
) -> list[dict[str, Any]]:
    from zoo._io import sha256_file

    rows = []
    root = out_dir.resolve()
    for art in artifacts:
        path = Path(art.path)
        if not path.is_absolute():
            path = out_dir / path
        resolved = path.resolve()
        if root not in resolved.parents or not resolved.is_file():
            raise TargetError(
                f"target '{target_name}' returned artifact {path} which is not a file inside {out_dir}",
                hint="targets must write their artifacts into ctx.out_dir",
            )
        rows.append(
            {
                "path": resolved.relative_to(vdir.resolve()).as_posix(),
                "sha256": sha256_file(resolved),
                "size": resolved.stat().st_size,
                "kind": art.kind,
                "description": art.description,
            }
        )
    rows.sort(key=lambda r: str(r["path"]))
    return rows
