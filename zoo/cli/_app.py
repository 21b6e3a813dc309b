"""The `zoo` click group, shared options and rendering helpers.

Command modules (`zoo/cli/*_cmds.py`) attach commands to `main`. They import click only at
module level; everything heavy (numpy, wandb, huggingface_hub, rich) is imported inside
the command body so that `zoo --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zoo import __version__
from zoo.errors import ZooError

if TYPE_CHECKING:
    from rich.console import Console

    from zoo.registry import Registry, Workspace

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass
class AppContext:
    directory: Path | None
    _workspace: Workspace | None = None
    _registry: Registry | None = None

    def workspace(self) -> Workspace:
        if self._workspace is None:
            from zoo.registry import find_workspace

            self._workspace = find_workspace(self.directory)
        return self._workspace

    def registry(self) -> Registry:
        if self._registry is None:
            from zoo.registry import load_registry

            self._registry = load_registry(self.workspace().registry_path)
        return self._registry


# command name -> module that defines it; a command's module is imported only when that
# command runs (or for --help), so `zoo convert` does not pay for publish or verify imports
LAZY_COMMANDS = {
    "bench": "model_cmds",
    "build": "build_cmds",
    "card": "card_cmds",
    "convert": "convert_cmds",
    "demo": "demo_cmds",
    "diff": "verify_cmds",
    "golden": "model_cmds",
    "inspect": "convert_cmds",
    "list": "registry_cmds",
    "lock": "pull_cmds",
    "publish": "publish_cmds",
    "pull": "pull_cmds",
    "quantize": "quant_cmds",
    "registry": "registry_cmds",
    "run": "run_cmds",
    "show": "registry_cmds",
    "site": "card_cmds",
    "targets": "build_cmds",
    "verify": "verify_cmds",
}


class ZooGroup(click.Group):
    """Turns ZooError into `error: ...` on stderr and the error's exit code; never a traceback.

    Commands are registered lazily from LAZY_COMMANDS.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            import importlib

            importlib.import_module(f"zoo.cli.{LAZY_COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # click quotes the bad argument (e.g. a -C path) verbatim
            _visible_click_message(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            click.echo(f"error: {error_text(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _visible_click_message(exc)
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run as if zoo was started in DIR (the workspace is found from there upwards).",
)
@click.version_option(__version__, prog_name="zoo")
@click.pass_context
def main(ctx: click.Context, directory: Path | None) -> None:
    """lewm-zoo: pull, convert, quantize, verify, card, publish and build LeWM world-model variants.

    Exit codes: 0 success, 1 verification failed, 2 bad usage or input, 3 remote service error.
    """
    # One BLAS thread unless the user says otherwise: golden files and verify numbers are then
    # byte-stable across machines (threaded BLAS changes f32 summation order), and small
    # matmuls are faster single-threaded anyway. Must happen before numpy is imported.
    from zoo._threads import pin_blas_threads
    from zoo.secrets import install_excepthook

    pin_blas_threads()
    install_excepthook()  # a bug's traceback is shown scrubbed of credentials
    ctx.obj = AppContext(directory)


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:  # pragma: no cover - commands always run under main
        obj = AppContext(None)
    return obj


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def _visible_click_message(exc: click.ClickException) -> None:
    from zoo.text import plain

    exc.message = plain(exc.message)  # type: ignore[misc]  # click declares it Final; we only make it visible


def error_text(exc: ZooError) -> str:
    """The error line(s) the CLI prints: credentials scrubbed, control characters visible; a registry's
    list of located problems stays one problem per line."""
    from zoo.text import plain

    problems = getattr(exc, "problems", None)
    if isinstance(problems, list) and len(problems) > 1 and "\n" in exc.message:
        head = plain(exc.message.split("\n", 1)[0])
        hint = f" (hint: {plain(exc.hint)})" if exc.hint else ""
        return head + "\n  " + "\n  ".join(plain(p) for p in problems) + hint
    return plain(exc.render())


def emit_json(obj: Any) -> None:
    """Machine output: one JSON document on stdout (credentials scrubbed)."""
    from zoo.secrets import scrub

    click.echo(scrub(json.dumps(obj, indent=2, sort_keys=True, default=str)))


_console: Console | None = None


def console() -> Console:
    """Human output goes to stderr (rich), so stdout stays clean for --json."""
    global _console
    if _console is None:
        from zoo.cli._render import SafeConsole  # scrubs credentials, escapes control characters

        # not a terminal (CI logs, pipes): a wide fixed width keeps tables readable
        _console = SafeConsole(stderr=True, width=None if sys.stderr.isatty() else 160)
    return _console
