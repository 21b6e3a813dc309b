"""What publish may upload, and the gate recomputed from the files themselves (issue 15).

Nothing read from the workspace is trusted, `manifest.json` and `verify.json` included:

- `publishable_files`: only artifact kinds the zoo builds for publication (an allow-list of kind + file
  name: a hand-edited kind cannot make `source/*.ckpt`, `.pull.lock` or `golden.safetensors` uploadable)
  and target artifacts under their own `targets/<T>/` folder; each must be a regular file (no symlink
  anywhere below the variant directory) inside the variant directory.
- `rehash_problems`: every file that would be uploaded is hashed again and compared with the sha256 the
  manifest recorded when the zoo built it (target artifacts included), whatever verify.json lists.
- `recompute_gate`: the verification gate is computed again from the golden files: the variant's golden
  file must have been made from the bytes being published (its `weights_sha256` metadata), and the
  registry's metric/expected/tolerance is applied to its outputs vs the f32 root's reference golden. A
  verify.json saying `status: pass` next to a cosine of 0.01 does not pass.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.errors import InputError, ZooError
from zoo.publish.plan import LocalDigest, cached_file_digest
from zoo.registry.workspace import Workspace
from zoo.verify.state import _plain_relative as _plain

GOLDEN_FILE = "golden.safetensors"
# manifest kind -> the file names that kind may have (top level of the variant directory)
ALLOWED_ARTIFACTS: dict[str, tuple[str, ...]] = {
    "safetensors": ("lejepa_weights.safetensors",),
    "config": ("config.json",),
    "lq40": ("model.lq40",),
    "ternary": ("ternary.safetensors",),
}


def regular_file(vdir: Path, rel: str, *, where: Path) -> Path:
    """`vdir/rel` when it is a regular file reached without any symlink; else a one-line InputError."""
    if not _plain(rel):
        raise InputError(f"{where}: artifact path {rel[:80]!r} is not a plain relative path",
                         hint="rebuild the variant")
    path = vdir / rel
    real_vdir = os.path.realpath(vdir)
    if os.path.realpath(path) != os.path.join(real_vdir, *rel.split("/")):
        raise InputError(f"{where}: artifact {rel!r} is (or lies under) a symlink",
                         hint="publish uploads only regular files the zoo built; rebuild it")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{where}: artifact {rel!r} is recorded but {path} is missing",
                         hint="rebuild it (`zoo verify NAME` / `zoo build NAME`)") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{where}: artifact {rel!r} is not a regular file", hint="rebuild it")
    return path


def publishable_files(vdir: Path, manifest_path: Path, manifest: Mapping[str, Any]) -> dict[str, Path]:
    """{relpath: path} of the manifest's artifacts publish may upload (allow-list; see module docstring)."""
    files: dict[str, Path] = {}
    artifacts = manifest.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise InputError(f"{manifest_path}: field 'artifacts' must be an object", hint="rebuild the variant")
    for rel, rec in artifacts.items():
        if not _plain(str(rel)):  # whatever its kind: a manifest naming such a path was not written by the zoo
            raise InputError(f"{manifest_path}: artifact path {str(rel)[:80]!r} is not a plain relative path",
                             hint="rebuild the variant")
        kind = rec.get("kind") if isinstance(rec, dict) else None
        if isinstance(kind, str) and str(rel) in ALLOWED_ARTIFACTS.get(kind, ()):
            files[str(rel)] = regular_file(vdir, str(rel), where=manifest_path)
    targets = manifest.get("targets") or {}
    if not isinstance(targets, dict):
        raise InputError(f"{manifest_path}: field 'targets' must be an object", hint="rebuild the variant")
    for tname, section in targets.items():
        arts = section.get("artifacts") if isinstance(section, dict) else None
        if not isinstance(arts, dict):
            continue
        for rel in arts:
            rel = str(rel)
            if not (_plain(str(tname)) and "/" not in str(tname) and rel.startswith(f"targets/{tname}/")):
                raise InputError(f"{manifest_path}: target artifact {rel[:80]!r} is outside targets/{str(tname)[:40]}/",
                                 hint="rebuild it with `zoo build`")
            files[rel] = regular_file(vdir, rel, where=manifest_path)
    return files


def recorded_sha256(manifest: Mapping[str, Any], rel: str) -> str | None:
    """The sha256 the manifest recorded for an artifact or a target artifact (None when absent)."""
    rec = (manifest.get("artifacts") or {}).get(rel) if isinstance(manifest.get("artifacts"), dict) else None
    if rec is None and rel.startswith("targets/") and isinstance(manifest.get("targets"), dict):
        section = manifest["targets"].get(rel.split("/")[1])
        arts = section.get("artifacts") if isinstance(section, dict) else None
        rec = arts.get(rel) if isinstance(arts, dict) else None
    sha = rec.get("sha256") if isinstance(rec, dict) else None
    return sha if isinstance(sha, str) else None


def rehash_problems(files: Mapping[str, Path], manifest: Mapping[str, Any],
                    digests: dict[Path, LocalDigest] | None = None) -> list[str]:
    """Files whose bytes no longer hash to the manifest's record (or that have no record). `digests`: the
    publish run's {path: LocalDigest} cache, which the plan then reuses instead of reading the files again."""
    problems = []
    for rel, path in sorted(files.items()):
        want = recorded_sha256(manifest, rel)
        if want is None:
            problems.append(f"{rel} has no sha256 in manifest.json (not built by the zoo)")
        elif cached_file_digest(path, digests).sha256 != want:
            problems.append(f"{rel} changed since it was recorded in manifest.json")
    return problems


@dataclasses.dataclass(frozen=True)
class GateCheck:
    """The gate recomputed from the golden files: `state` is pass | fail | pending | stale."""

    state: str
    reasons: tuple[str, ...] = ()
    metric: str | None = None
    measured: float | None = None


def recompute_gate(workspace: Workspace, registry: Any, name: str,
                   digests: dict[Path, LocalDigest] | None = None) -> GateCheck:
    """Apply the registry's verification policy to the golden files on disk (see module docstring)."""
    try:
        return _recompute(workspace, registry, name, digests)
    except ZooError as exc:
        return GateCheck("stale", (f"gate cannot be recomputed: {exc.message}",))
    except (ValueError, KeyError, TypeError) as exc:  # golden tensors of the wrong shape or kind
        return GateCheck("stale", (f"gate cannot be recomputed from the golden files ({type(exc).__name__}: "
                                   f"{str(exc)[:120]})",))


def _recompute(workspace: Workspace, registry: Any, name: str, digests: dict[Path, LocalDigest] | None) -> GateCheck:
    from zoo.model.golden import read_golden
    from zoo.verify.metrics import compare_outputs
    from zoo.verify.run import _gate, _gate_reason, numerics_source, required_files

    rec = registry.get(name)
    pol = rec.verification
    root = registry.f32_root(rec)
    vdir = workspace.variant_dir(name)
    own_path = regular_file(vdir, GOLDEN_FILE, where=vdir / "manifest.json")
    ref_path = regular_file(workspace.variant_dir(root.name), GOLDEN_FILE,
                            where=workspace.variant_dir(root.name) / "manifest.json")
    own, meta = read_golden(own_path)
    ref, _ = read_golden(ref_path)
    src = numerics_source(registry, rec)
    numeric = required_files(src)
    if numeric:  # the golden file must come from the bytes that are published
        weights = regular_file(workspace.variant_dir(src.name), numeric[0],
                               where=workspace.variant_dir(src.name) / "manifest.json")
        if meta.get("weights_sha256") != cached_file_digest(weights, digests).sha256:
            return GateCheck("stale", (f"{own_path.name} was not computed from {src.name}/{numeric[0]} "
                                       "(weights_sha256 differs); run `zoo verify " + name + "`",))
    metrics = compare_outputs(own, ref, source=str(own_path), reference_source=str(ref_path))
    if pol.metric not in metrics:
        return GateCheck("stale", (f"metric {pol.metric} cannot be computed from the golden files",))
    gate = _gate(rec, metrics)  # zoo verify's own threshold and verdict
    if gate["passed"]:
        return GateCheck("pass", (), pol.metric, gate["measured"])
    reason = "recomputed gate: " + _gate_reason(gate)
    return GateCheck("pending" if pol.status == "pending" else "fail", (reason,), pol.metric, gate["measured"])


def check_uploads(uploads: Any) -> None:
    """Just before the commit: every planned local file is still a regular, non-symlinked file of the planned
    size (a swap between planning and uploading is refused rather than uploaded)."""
    for f in uploads:
        if f.content is not None:
            continue  # uploaded from the bytes digested at planning time
        local = Path(f.local)
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            raise InputError(f"{local}: disappeared after planning", hint="run `zoo publish` again") from None
        if (not stat.S_ISREG(st.st_mode) or os.path.realpath(local) != os.path.abspath(local)
                or st.st_size != f.size):
            raise InputError(f"{local}: changed after planning (no longer the regular file of {f.size} bytes)",
                             hint="run `zoo publish` again")
