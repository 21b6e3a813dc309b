"""Build what a command needs before it runs, the way `zoo verify` does (pull, convert, quantize the chain).

`zoo bench` and `zoo build` call `ensure_numeric_files`; with `--no-build` they refuse instead, naming
the missing files and the command that makes them.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import UsageError


def ensure_numeric_files(workspace: Any, registry: Any, rec: Any, *, build: bool, command: str) -> list[str]:
    """Make the files the numbers of `rec` come from exist (for hdl variants: their Q4 parent's);
    returns the display paths that were missing (empty when nothing had to be built)."""
    from zoo.verify.run import numerics_source, rebuild_command, required_files

    src = numerics_source(registry, rec)
    missing = [f"variants/{src.name}/{rel}" for rel in required_files(src)
               if not (workspace.variant_dir(src.name) / rel).is_file()]
    if not missing:
        return []
    if not build:
        first = f"zoo pull {src.name}" if src.format.kind == "safetensors-f32" else rebuild_command(src)
        raise UsageError(
            f"{command} {rec.name}: missing {', '.join(missing)} (--no-build)",
            hint=f"drop --no-build to build them, or run `{first}`",
        )
    from zoo.cli._app import console
    from zoo.text import safe
    from zoo.verify import engine

    console().print(f"building missing prerequisites of {safe(rec.name)}: {safe(', '.join(missing))}")
    engine.build_artifacts(workspace, registry, src, golden=False)
    return missing
