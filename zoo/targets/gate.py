"""The release gate for declared targets (issue 17 item 5, issue 14): is each target a variant declares
(`targets: [...]` in the registry) built from the variant's current weights?

States of one declared target, from the variant's manifest (`targets.<T>`):

- ``missing``: never built (or the build failed, which leaves no entry);
- ``stale``: built, but from other inputs (the weight files' digests recorded at build time differ from
  the files now), or one of its recorded artifacts is missing/modified;
- ``failed``: built and checked, and the check failed;
- ``built``: built from the current inputs, not checked (the check needs tools: RISC-V gcc + qemu for
  esp32, Icarus/Yosys for fpga); accepted by the gate and said so;
- ``checked``: built from the current inputs and its check passed.

missing / stale / failed fail the variant's verification, with the `zoo build` command to run.
Light on purpose (json + sha256): `zoo verify`, `zoo list` and publish call it. Digests come from the
stat-keyed digest cache (`zoo.store.digests`), as for verify.json's own artifacts: unchanged target
artifacts and weight files are not re-read on every call.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from zoo.store.digests import cached_sha256 as sha256_file
from zoo.store.status import read_manifest

# manifest artifact kinds that hold a variant's weights (what a target is built from)
INPUT_KINDS = frozenset({"safetensors", "config", "lq40", "ternary"})
BAD_STATES = frozenset({"missing", "stale", "failed"})


@dataclasses.dataclass(frozen=True)
class TargetState:
    variant: str
    target: str
    state: str  # missing | stale | failed | built | checked
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state not in BAD_STATES

    @property
    def command(self) -> str:
        return f"zoo build {self.variant} --target {self.target}"

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason, "command": self.command}

    def message(self) -> str:
        return f"declared target {self.target} is {self.state} ({self.reason}); run `{self.command}`"


def target_inputs(workspace: Any, registry: Any, record: Any) -> dict[str, str]:
    """{"<variant>/<file>": sha256} of the weight files a target of `record` is built from: the
    variant's own (model.lq40, ...), or its nearest ancestor's when it has none (hdl -> its Q4 parent)."""
    cur = record
    while cur is not None:
        vdir = Path(workspace.variant_dir(cur.name))
        arts = read_manifest(vdir).get("artifacts")
        found = {}
        if isinstance(arts, dict):
            for rel, rec in sorted(arts.items()):
                if isinstance(rec, dict) and rec.get("kind") in INPUT_KINDS and (vdir / rel).is_file():
                    found[f"{cur.name}/{rel}"] = sha256_file(vdir / rel)
        if found:
            return found
        cur = registry.parent_of(cur) if getattr(cur, "parent", None) else None
    return {}


def entry_problem(vdir: Path, variants_dir: Path, entry: Any) -> str | None:
    """Why a manifest `targets.<T>` entry no longer describes the files (None: it still does).
    Needs no registry: the recorded input keys are `<variant>/<file>` under the variants directory."""
    if not isinstance(entry, dict) or not isinstance(entry.get("artifacts"), dict):
        return "never built"
    for rel, art in sorted(entry["artifacts"].items()):
        path = vdir / rel
        if not path.is_file():
            return f"{rel} is missing"
        if isinstance(art, dict) and art.get("sha256") and sha256_file(path) != art["sha256"]:
            return f"{rel} was modified after the build"
    recorded = entry.get("inputs")
    if not isinstance(recorded, dict) or not recorded:
        return "built before input digests were recorded"
    for key, digest in sorted(recorded.items()):
        path = variants_dir / key
        if not path.is_file() or sha256_file(path) != digest:
            return f"input {key} changed since the build"
    return None


def target_state(workspace: Any, registry: Any, record: Any, target: str) -> TargetState:
    vdir = Path(workspace.variant_dir(record.name))
    targets = read_manifest(vdir).get("targets")
    entry = targets.get(target) if isinstance(targets, dict) else None
    problem = entry_problem(vdir, Path(workspace.variants_dir), entry)
    if problem == "never built":
        return TargetState(record.name, target, "missing", problem)
    if problem is not None:
        return TargetState(record.name, target, "stale", problem)
    assert isinstance(entry, dict)
    recorded = entry["inputs"]
    current = target_inputs(workspace, registry, record)
    if recorded != current:
        changed = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
        return TargetState(record.name, target, "stale", f"input {', '.join(changed)} changed since the build")
    check = entry.get("check")
    if isinstance(check, dict):
        if not check.get("passed", False):
            summary = " ".join(str(check.get("summary", "check failed")).split())[:200]
            return TargetState(record.name, target, "failed", f"check failed: {summary}")
        return TargetState(record.name, target, "checked", "built from the current weights, check passed")
    return TargetState(record.name, target, "built",
                       f"built from the current weights, not checked: `zoo build {record.name} --target {target} "
                       "--check` where the target's tools are installed")


def declared_target_states(workspace: Any, registry: Any, record: Any) -> list[TargetState]:
    return [target_state(workspace, registry, record, t) for t in getattr(record, "targets", ()) or ()]
