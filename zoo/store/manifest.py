"""`variants/<name>/manifest.json`: what the zoo fetched and built for a variant, with digests.

Every stage that writes an artifact into a variant directory records it here
(`record_artifact`), so verify can detect files changed outside the zoo and cards/publish
can show provenance. Updates are serialised with a lock file and written atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo import __version__
from zoo._io import atomic_write_json, read_json_file, sha256_file
from zoo.errors import InputError

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1


class VariantManifest:
    """In-memory view of one manifest.json. Keys:

    - ``variant``: the variant name
    - ``source``: provenance of the pulled checkpoint (uri, served_by, resolved version, run id,
      fetched_at, files {name: {sha256, md5, size}})
    - ``artifacts``: {relative path: {sha256, size, kind, produced_by, inputs {relpath|uri: sha256}, ...}}
    - ``targets``: {target name: {artifacts: {relative path: {sha256, size, ...}}, ...}}
    """

    def __init__(self, variant_dir: Path, data: dict[str, Any]) -> None:
        self.variant_dir = variant_dir
        self.data = data

    @property
    def path(self) -> Path:
        return self.variant_dir / MANIFEST_FILE

    @classmethod
    def load(cls, variant_dir: str | Path) -> VariantManifest:
        vdir = Path(variant_dir)
        path = vdir / MANIFEST_FILE
        if path.exists():
            data = read_json_file(path, hint="delete it and rebuild the variant")
            if not isinstance(data, dict):
                raise InputError(f"{path}: top level must be a JSON object")
        else:
            data = {}
        data.setdefault("schema_version", SCHEMA_VERSION)
        data.setdefault("variant", vdir.name)
        data.setdefault("artifacts", {})
        data.setdefault("targets", {})
        return cls(vdir, data)

    def save(self) -> None:
        atomic_write_json(self.path, self.data)

    @property
    def artifacts(self) -> dict[str, dict[str, Any]]:
        return self.data["artifacts"]

    @property
    def source(self) -> dict[str, Any] | None:
        return self.data.get("source")

    def set_source(self, info: dict[str, Any]) -> None:
        self.data["source"] = info

    def record_artifact(
        self,
        relpath: str,
        *,
        kind: str,
        produced_by: str | None = None,
        inputs: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Hash `variant_dir/relpath` and record it; returns the record."""
        file = self.variant_dir / relpath
        rec: dict[str, Any] = {
            "sha256": sha256_file(file),
            "size": file.stat().st_size,
            "kind": kind,
            "produced_by": produced_by or f"lewm-zoo {__version__}",
        }
        if inputs:
            rec["inputs"] = dict(sorted(inputs.items()))
        rec.update(extra)
        self.artifacts[relpath] = rec
        return rec

    def forget_artifact(self, relpath: str) -> None:
        self.artifacts.pop(relpath, None)

    def check_artifacts(self) -> list[str]:
        """Relative paths whose current sha256 differs from the recorded one (or are missing)."""
        bad = []
        for rel, rec in sorted(self.artifacts.items()):
            file = self.variant_dir / rel
            if not file.exists() or sha256_file(file) != rec.get("sha256"):
                bad.append(rel)
        return bad


@contextlib.contextmanager
def update_manifest(variant_dir: str | Path) -> Iterator[VariantManifest]:
    """Lock, load, let the caller modify, then save atomically."""
    vdir = Path(variant_dir)
    vdir.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock  # here: readers (`zoo list`, cards) never lock

    with FileLock(str(vdir / ".manifest.lock")):
        manifest = VariantManifest.load(vdir)
        yield manifest
        manifest.save()
