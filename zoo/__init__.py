"""lewm-zoo: model zoo and artifact registry for LeWM world models.

`zoo.load(ref)` loads a variant (workspace name, directory, file or ``hf://OWNER/REPO[@REV]/PATH``)
and returns a model with ``encode`` / ``predict`` / ``rollout``; see `zoo.runtime`. It is imported
lazily so that ``import zoo`` and ``zoo --help`` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from zoo.runtime import Model, load

__all__ = ["Model", "__version__", "load"]


def __getattr__(name: str) -> Any:
    if name in ("load", "Model"):
        from zoo import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
