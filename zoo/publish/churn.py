"""No churn (issue 17 item 3): a release with nothing changed makes no Hub commit.

`verify.json` carries `measured_at` and the manifest's source `fetched_at`: a fresh CI workspace
re-measures the same numbers at another time, so their bytes differ from the Hub's although nothing
a user cares about changed. For those small JSON files only, when the digest differs the Hub's copy is
read (at the planned head) and compared with the local one without the volatile keys; equal -> the
file is left as it is on the Hub ("unchanged"), so the Hub keeps the first measurement's time.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from zoo.publish.plan import Plan, PlannedFile

JSON_NAMES = ("verify.json", "manifest.json")
VOLATILE_KEYS = frozenset({"measured_at", "fetched_at"})


def strip_volatile(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def _load(data: bytes) -> Any:
    from zoo._io import parse_json_bytes
    from zoo.errors import ZooError

    try:
        return parse_json_bytes(data, where="verify.json/manifest.json")  # bounded depth: the Hub's bytes
    except (ZooError, UnicodeDecodeError, ValueError):
        return None


def same_but_volatile(local: bytes, remote: bytes) -> bool:
    a, b = _load(local), _load(remote)
    return a is not None and b is not None and strip_volatile(a) == strip_volatile(b)


def settle_volatile(api: Any, p: Plan) -> Plan:
    """`p` with JSON updates that differ only in volatile keys turned into "unchanged"."""
    candidates = [f for f in p.files if f.action == "update" and f.path.rsplit("/", 1)[-1] in JSON_NAMES]
    if not candidates or p.head is None:
        return p
    from zoo.publish.push import remote_errors

    settled: dict[str, PlannedFile] = {}
    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as tmp, remote_errors(p.repo_id, "reading JSON files"):
        for f in candidates:
            remote = Path(api.hf_hub_download(repo_id=p.repo_id, filename=f.path, revision=p.head, cache_dir=tmp))
            local = f.content if f.content is not None else f.local.read_bytes()
            if same_but_volatile(local, remote.read_bytes()):
                settled[f.path] = dataclasses.replace(f, action="unchanged")
    if not settled:
        return p
    return dataclasses.replace(p, files=tuple(settled.get(f.path, f) for f in p.files))
