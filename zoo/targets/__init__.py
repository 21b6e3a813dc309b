"""Target plugins (hardware builds). Plugins are found through the `zoo.targets` entry-point group.

See `zoo/targets/base.py` for the plugin API and `zoo/targets/registry.py` for discovery and
the build driver (`build_target`).
"""

from zoo.targets.base import ENTRY_POINT_GROUP, Artifact, BuildContext, Target, accepts, format_key
from zoo.targets.registry import (
    BuildResult,
    TargetError,
    TargetInfo,
    build_target,
    discover_targets,
    get_target,
    target_dir,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Artifact",
    "BuildContext",
    "BuildResult",
    "Target",
    "TargetError",
    "TargetInfo",
    "accepts",
    "build_target",
    "discover_targets",
    "format_key",
    "get_target",
    "target_dir",
]
