"""Command-line interface. `main` is the console-script entry point.

Command modules (`zoo/cli/*_cmds.py`) attach their commands to `main` when imported; the group
imports them lazily (see `LAZY_COMMANDS` in `_app.py`).
"""

from zoo.cli._app import main

__all__ = ["main"]
