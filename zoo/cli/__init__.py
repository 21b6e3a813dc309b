"""Command-line interface. `main` is the console-script entry point."""

# Each module attaches its commands to `main` on import (keep their top-level imports light).
from zoo.cli import (  # noqa: F401
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
from zoo.cli._app import main

__all__ = ["main"]
