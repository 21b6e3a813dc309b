"""Command-line interface. `main` is the console-script entry point."""

from zoo.cli._app import main

# Each module attaches its commands to `main` on import (keep their top-level imports light).
from zoo.cli import (  # noqa: E402,F401
    build_cmds,
    card_cmds,
    convert_cmds,
    demo_cmds,
    model_cmds,
    publish_cmds,
    pull_cmds,
    quant_cmds,
    registry_cmds,
    verify_cmds,
)

__all__ = ["main"]
