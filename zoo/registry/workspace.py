"""The workspace: the directory holding registry.yaml, found upwards like git finds its repository."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from zoo.errors import UsageError

REGISTRY_FILE = "registry.yaml"


@dataclasses.dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def registry_path(self) -> Path:
        return self.root / REGISTRY_FILE

    @property
    def variants_dir(self) -> Path:
        return self.root / "variants"

    @property
    def cards_dir(self) -> Path:
        return self.root / "cards"

    def variant_dir(self, name: str) -> Path:
        # variants/<name> (or variants/ itself) may be a symlink in a hostile checkout: refuse one that leads
        # out of the workspace, so nothing the zoo writes there lands elsewhere (issue 15)
        from zoo._io import contained_path

        return contained_path(self.root, f"variants/{name}", what="variant directory")


def find_workspace(start: str | os.PathLike[str] | None = None) -> Workspace:
    """Walk up from `start` (default: cwd) to the first directory containing registry.yaml."""
    here = Path(start or os.getcwd()).resolve()
    if start is not None and not here.is_dir():
        raise UsageError(f"-C {start}: not a directory")
    for candidate in (here, *here.parents):
        if (candidate / REGISTRY_FILE).is_file():
            return Workspace(candidate)
    raise UsageError(
        f"no {REGISTRY_FILE} found in {here} or any parent directory",
        hint="run inside a lewm-zoo workspace, pass -C DIR, or create one with `zoo demo`",
    )
