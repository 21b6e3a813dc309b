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
