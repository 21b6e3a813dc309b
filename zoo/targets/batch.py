"""`zoo build --all` / `zoo build NAME...`: build many (variant, target) pairs, each failure recorded,
none stopping the others (the release's build job runs this)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from zoo.errors import ZooError

Phase = Callable[[str], None]


@dataclasses.dataclass
class BuildOutcome:
    variant: str
    target: str
    artifacts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    check: dict[str, Any] | None = None
    error: str | None = None
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_many(
    workspace: Any,
    registry: Any,
    jobs: Sequence[tuple[Any, str]],
    options: dict[str, Any] | None = None,
    *,
    check: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[BuildOutcome]:
    from zoo.targets.registry import build_target

    out: list[BuildOutcome] = []
    for rec, target in jobs:
        say = None if progress is None else _labelled(progress, f"{rec.name} -> {target}")
        outcome = BuildOutcome(rec.name, target)
        try:
            result = build_target(workspace, registry, rec, target, dict(options or {}), check=check, progress=say)
            outcome.artifacts, outcome.check = result.artifacts, result.check
            if result.check is not None and not result.check.get("passed", False):
                outcome.error = f"check failed: {result.check.get('summary', 'no summary')}"
                outcome.exit_code = 1
        except ZooError as exc:
            outcome.error, outcome.exit_code = exc.render(), exc.exit_code
        out.append(outcome)
    return out


def _labelled(progress: Callable[[str], None], label: str) -> Phase:
    def say(phase: str) -> None:
        progress(f"{label}: {phase}")

    return say
