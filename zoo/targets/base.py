"""Plugin API for build targets.

A target turns one registry variant into hardware artifacts. It is an object (usually a class
instance created with no arguments) with:

- ``name``: the target name (``esp32``, ``fpga``, ...), equal to its entry-point name;
- ``formats``: the registry formats it accepts, each ``"<kind>"`` or ``"<kind>:<mode>"``
  (e.g. ``("lq40:full", "lq40:q4-pred")``; ``"lq40"`` or ``"lq40:*"`` accepts every LQ40 mode);
- ``description``: optional one-line text shown by ``zoo targets``;
- ``tools``: optional names of the programs ``build``/``check`` run from PATH (e.g. ``("gcc", "qemu-riscv32")``);
  ``zoo doctor`` and ``zoo targets`` report whether each is installed;
- ``needs_numeric_files``: optional; true when ``build`` reads the variant's numeric files (its LQ40 file;
  for an hdl variant, its Q4 parent's): ``zoo build`` then pulls/converts/quantizes them first when missing,
  as ``zoo verify`` does (``--no-build`` refuses instead);
- ``build(ctx) -> list[Artifact]``: writes files into ``ctx.out_dir``
  (``variants/<name>/targets/<target>/``) with the ``zoo._io`` atomic writers and returns them;
- ``check(ctx) -> dict``: validates what ``build`` wrote (e.g. runs it under emulation) and
  returns a JSON-able report with at least ``"passed": bool`` and ``"summary": str``.

Bad input (a variant the target cannot handle, a missing input file) is reported by raising a
``zoo.errors.ZooError`` subclass. ``zoo.targets.registry.build_target`` does the rest: it checks
the format, creates ``out_dir``, records the returned artifacts (relative path, sha256, size,
kind) in the variant manifest under ``targets.<target>.artifacts``, and runs ``check`` on request.

Third-party plugins declare ``[project.entry-points."zoo.targets"] mytarget = "pkg.mod:MyTarget"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from zoo.registry import Registry, VariantRecord, Workspace

ENTRY_POINT_GROUP = "zoo.targets"


@dataclasses.dataclass(frozen=True)
class BuildContext:
    workspace: Workspace
    registry: Registry
    variant: VariantRecord
    out_dir: Path  # variants/<name>/targets/<target>/ (exists when build() is called)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # progress callback: plugins call ctx.phase("compile") etc. (shown by `zoo build` on a terminal)
    progress: Callable[[str], None] | None = dataclasses.field(default=None, compare=False, repr=False)

    def phase(self, name: str) -> None:
        """Report the phase the plugin enters: generate, compile, simulate, synthesize, ..."""
        if self.progress is not None:
            self.progress(name)

    @property
    def variant_dir(self) -> Path:
        """variants/<name>/: where the variant's inputs (model.lq40, config.json, ...) live."""
        return self.workspace.variant_dir(self.variant.name)


@dataclasses.dataclass(frozen=True)
class Artifact:
    path: Path  # absolute path of the written file (inside ctx.out_dir)
    kind: str  # e.g. "firmware-blob", "c-header", "c-source", "verilog", "report"
    description: str = ""


@runtime_checkable
class Target(Protocol):
    name: str
    formats: tuple[str, ...]

    def build(self, ctx: BuildContext) -> list[Artifact]: ...

    def check(self, ctx: BuildContext) -> dict[str, Any]: ...


def format_key(variant: VariantRecord) -> str:
    """``"<kind>:<mode>"`` (or ``"<kind>"`` when the format has no mode) of a registry record."""
    fmt = variant.format
    return f"{fmt.kind}:{fmt.mode}" if fmt.mode else fmt.kind


def accepts(target: Target, variant: VariantRecord) -> bool:
    """Whether `target.formats` covers the variant's format."""
    kind, mode = variant.format.kind, variant.format.mode
    for pattern in target.formats:
        pkind, _, pmode = pattern.partition(":")
        if pkind != kind:
            continue
        if pmode in ("", "*") or pmode == mode:
            return True
    return False
