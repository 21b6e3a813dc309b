"""`variants/<name>/verify.json`: read it back and tell whether it still describes the artifacts.

Light on purpose (no numpy, no engine): cards, publish and `zoo list` call
`verification_state` for every variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from zoo._io import read_json_file
from zoo.errors import InputError
from zoo.registry.workspace import Workspace
from zoo.store.digests import cached_sha256 as sha256_file

VERIFY_FILE = "verify.json"
SCHEMA_VERSION = 1

State = Literal["missing", "pass", "fail", "pending", "stale"]


def verify_json_path(workspace: Workspace, name: str) -> Path:
    return workspace.variant_dir(name) / VERIFY_FILE


def read_verify_json(workspace: Workspace, name: str) -> dict[str, Any] | None:
    """The parsed verify.json of a variant, or None when there is none (or it is unreadable)."""
    path = verify_json_path(workspace, name)
    try:
        data = read_json_file(path)
    except FileNotFoundError:
        return None
    except (OSError, InputError):  # unreadable, not JSON, too deep or too large: stale, never a traceback
        return {}
    return data if isinstance(data, dict) else {}


def _plain_relative(rel: object) -> bool:
    """A verify.json path we may hash: relative, no '..', no backslash (absolute paths are never hashed)."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def stale_reasons(workspace: Workspace, name: str, data: dict[str, Any]) -> list[str]:
    """Why a verify.json no longer describes the files on disk (empty list = still current).

    Digests come from the stat-keyed digest cache (`zoo.store.digests`): unchanged files are not re-read."""
    vdir = workspace.variant_dir(name)
    reasons: list[str] = []
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict) or not artifacts:
        return [f"{vdir / VERIFY_FILE}: no artifact digests recorded"]
    for rel, digest in sorted(artifacts.items()):
        if not _plain_relative(rel):
            reasons.append(f"{vdir / VERIFY_FILE}: artifact path {str(rel)[:80]!r} is not a plain relative path")
            continue
        path = vdir / rel
        if not path.is_file():
            reasons.append(f"{rel} is missing")
        elif sha256_file(path) != digest:
            reasons.append(f"{rel} changed since it was verified")
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        for key, digest in sorted(inputs.items()):
            if not _plain_relative(key):
                reasons.append(f"{vdir / VERIFY_FILE}: input path {str(key)[:80]!r} is not a plain relative path")
                continue
            path = workspace.variants_dir / key  # "<variant>/<file>"
            if not path.is_file():
                reasons.append(f"input {key} is missing")
            elif sha256_file(path) != digest:
                reasons.append(f"input {key} changed since it was verified")
    targets = data.get("targets")
    if isinstance(targets, dict) and targets:
        from zoo.store.status import read_manifest
        from zoo.targets.gate import BAD_STATES, entry_problem

        entries = read_manifest(vdir).get("targets") or {}
        if not isinstance(entries, dict):
            entries = {}
        for tname, tstate in sorted(targets.items()):
            if tstate in BAD_STATES:
                continue  # recorded as a failure already
            problem = entry_problem(vdir, workspace.variants_dir, entries.get(tname))
            if problem is not None:
                reasons.append(f"target {tname}: {problem} since it was verified")
    ref = data.get("reference")
    if isinstance(ref, dict) and ref.get("variant") and ref.get("golden_sha256") and ref["variant"] != name:
        if not _plain_relative(ref["variant"]) or "/" in str(ref["variant"]):
            return [*reasons, f"{vdir / VERIFY_FILE}: reference variant {str(ref['variant'])[:80]!r} is not a name"]
        try:
            ref_golden = workspace.variant_dir(str(ref["variant"])) / "golden.safetensors"
        except InputError as exc:
            return [*reasons, exc.message]
        if not ref_golden.is_file():
            reasons.append(f"reference {ref['variant']}/golden.safetensors is missing")
        elif sha256_file(ref_golden) != ref["golden_sha256"]:
            reasons.append(f"reference {ref['variant']}/golden.safetensors changed since it was verified")
    return reasons


def verification_state(workspace: Workspace, name: str) -> State:
    """"missing" | "pass" | "fail" | "pending" | "stale" for one variant's verify.json.

    "stale" means a verify.json exists but the artifact digests it was measured on no longer
    match the files (or it cannot be read): the variant must be verified again.
    """
    return state_of(workspace, name, read_verify_json(workspace, name))


def state_of(workspace: Workspace, name: str, data: dict[str, Any] | None) -> State:
    """`verification_state` of a verify.json already read by `read_verify_json` (None: there is none)."""
    if data is None:
        return "missing"
    status = data.get("status")
    if status not in ("pass", "fail", "pending") or data.get("schema_version") != SCHEMA_VERSION:
        return "stale"
    if stale_reasons(workspace, name, data):
        return "stale"
    return status
