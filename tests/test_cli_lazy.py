"""`zoo --help` stays fast: importing the CLI must not import heavy libraries (timing lives in benchmarks/cli.py)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "wandb", "huggingface_hub", "torch", "rich", "jinja2", "safetensors", "jsonschema", "ruamel")


def test_cli_import_is_light() -> None:
    code = f"import sys, zoo.cli; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "", f"heavy modules imported at CLI start-up: {out}"


def test_help_lists_commands() -> None:
    res = subprocess.run([sys.executable, "-m", "zoo", "--help"], check=True, capture_output=True, text=True)
    for cmd in ("list", "show", "registry"):
        assert cmd in res.stdout


def test_lazy_command_map_is_complete() -> None:
    """Every *_cmds module is in LAZY_COMMANDS and every command it defines is mapped to it."""
    import importlib
    import pkgutil

    import zoo.cli
    from zoo.cli._app import LAZY_COMMANDS, main

    modules = {m.name for m in pkgutil.iter_modules(zoo.cli.__path__) if m.name.endswith("_cmds")}
    assert set(LAZY_COMMANDS.values()) == modules
    for module in modules:
        importlib.import_module(f"zoo.cli.{module}")
    assert set(main.commands) == set(LAZY_COMMANDS)
