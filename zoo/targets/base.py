"""Plugin API for build targets (provisional: the esp32 issue owns and may extend it).

A target is an object with a `name`, the registry formats it accepts, `build()` which writes
artifacts into `variants/<name>/targets/<target>/` and returns them, and `check()` which
validates the built artifacts (e.g. runs them under emulation) and returns a report.
Third-party plugins register a factory under the `zoo.targets` entry-point group.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from zoo.registry import Registry, VariantRecord, Workspace


@dataclasses.dataclass(frozen=True)
class BuildContext:
    workspace: Workspace
    registry: Registry
    variant: VariantRecord
    out_dir: Path  # variants/<name>/targets/<target>/
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Artifact:
    path: Path  # absolute path of the written file
    kind: str  # e.g. "firmware-blob", "c-header", "verilog", "report"
    description: str = ""


@runtime_checkable
class Target(Protocol):
    name: str
    formats: tuple[str, ...]  # registry format kinds/modes it accepts, e.g. ("lq40:full", "lq40:q4-pred")

    def build(self, ctx: BuildContext) -> list[Artifact]: ...

    def check(self, ctx: BuildContext) -> dict[str, Any]: ...
