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
            from zoo.registry.loader import use_cache_dir
            from zoo.store.cache import default_cache_root

            # a checked, unchanged registry is read back from the cache (no YAML parse, no schema pass)
            use_cache_dir(default_cache_root() / "registry")
            self._registry = load_registry(self.workspace().registry_path)
        return self._registry


# command name -> module that defines it; a command's module is imported only when that
# command runs (or for --help), so `zoo convert` does not pay for publish or verify imports
LAZY_COMMANDS = {
    "bench": "model_cmds",
    "build": "build_cmds",
    "cache": "cache_cmds",
    "card": "card_cmds",
    "completion": "doctor_cmds",
    "convert": "convert_cmds",
    "demo": "demo_cmds",
    "diff": "verify_cmds",
    "doctor": "doctor_cmds",
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


def _summary(cmd: click.Command) -> str:
    """A command's whole first sentence for `zoo --help` (click cuts "Fetch NAME... (or --all) from ..."
    at "NAME..." and shortens to the terminal width; the help formatter wraps long lines instead)."""
    if cmd.short_help:
        return cmd.short_help
    words = (cmd.help or "").partition("\n\n")[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word.endswith(".") and not word.endswith("..") and (not nxt or nxt[0].isupper()):
            return " ".join(words[: i + 1])
    return " ".join(words)


class SummaryGroup(click.Group):
    """A group whose command list shows each command's full first sentence."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, _summary(cmd)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class ZooGroup(SummaryGroup):
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

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            name = args[0] if args else ""
            if name and "No such command" in exc.message:
                import difflib

                close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
                if close:
                    raise click.UsageError(f"No such command '{name}'. Did you mean '{close[0]}'?", ctx) from None
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
@click.option("-q", "--quiet", is_flag=True, help="No progress, notes or hints on stderr (errors still print).")
@click.option("-v", "--verbose", count=True, help="The zoo's log lines on stderr (-vv: debug lines too).")
@click.version_option(__version__, prog_name="zoo")
@click.pass_context
def main(ctx: click.Context, directory: Path | None, quiet: bool, verbose: int) -> None:
    """lewm-zoo: pull, convert, quantize, verify, card, publish and build LeWM world-model variants.

    Results go to stdout (tables on a terminal, plain aligned text when piped, one JSON document with
    --json); progress, notes and errors go to stderr.
    Exit codes: 0 success, 1 verification failed, 2 bad usage or input, 3 remote service error.
    """
    # One BLAS thread unless the user says otherwise: golden files and verify numbers are then
    # byte-stable across machines (threaded BLAS changes f32 summation order), and small
    # matmuls are faster single-threaded anyway. Must happen before numpy is imported.
    from zoo._threads import pin_blas_threads
    from zoo.secrets import install_excepthook, install_warning_scrubber

    pin_blas_threads()
    install_excepthook()  # a bug's traceback is shown scrubbed of credentials
    install_warning_scrubber()  # and so are Python warnings (the clients' included)
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose exclude each other")
    global _verbosity
    _verbosity = -1 if quiet else verbose
    if _console is not None:
        _console.quiet = quiet
    if verbose or _log_handlers:
        _log_to_stderr(verbose)
    ctx.obj = AppContext(directory)


_log_handlers: list[tuple[Any, Any]] = []  # (logger, handler) installed by an earlier -v in this process


def _log_to_stderr(verbose: int) -> None:
    """-v: the zoo's own log lines (which source was tried, cache hits) on stderr; -vv: its debug lines too.
    Only the `zoo` loggers: client libraries' request logs can carry signed download URLs. Handlers of an
    earlier invocation in the same process (tests) are removed first."""
    import logging

    for logger, handler in _log_handlers:
        logger.removeHandler(handler)
    _log_handlers.clear()
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("zoo")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    _log_handlers.append((logger, handler))


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
_results: Console | None = None
_verbosity = 0  # -1 with -q, else the number of -v


def verbosity() -> int:
    """-1 with -q/--quiet, 0 by default, N with N times -v."""
    return _verbosity


def console() -> Console:
    """Progress, notes and logs go to stderr (rich), so stdout carries only results. Quiet with -q."""
    global _console
    if _console is None:
        from zoo.cli._render import SafeConsole  # scrubs credentials, escapes control characters

        # not a terminal (CI logs, pipes): a wide fixed width keeps lines readable
        _console = SafeConsole(stderr=True, width=None if sys.stderr.isatty() else 160, quiet=_verbosity < 0)
    return _console


def results() -> Console:
    """Human results go to stdout (rich): styled on a terminal; piped, plain text without wrapping,
    so `zoo list | grep slim` and `zoo show X > file` work like any other tool's output."""
    global _results
    if _results is None:
        from zoo.cli._render import SafeConsole  # scrubs credentials, escapes control characters

        tty = sys.stdout.isatty()
        _results = SafeConsole(width=None if tty else 1000, soft_wrap=not tty)
    return _results


def print_table(table: Any) -> None:
    """A rich Table as a result on stdout: drawn on a terminal; piped, plain aligned text (a header line
    then one line per row, columns separated by two spaces, empty cells as "-") with the title on stderr."""
    con = results()
    if con.is_terminal:
        con.print(table)
        return
    if table.title:
        from rich.text import Text

        title = table.title
        note(title.plain if isinstance(title, Text) else Text.from_markup(str(title)).plain)  # titles are markup
    click.echo(plain_table(table))


def note(text: str) -> None:
    """One plain line on stderr (silenced by -q), without starting rich; credentials scrubbed, control
    characters visible."""
    from zoo.text import plain

    if _verbosity >= 0:
        click.echo(plain(text), err=True)


def print_rows(columns: list[str], rows: list[list[str]], *, title: str = "", right: tuple[str, ...] = (),
               styles: dict[str, dict[str, str]] | None = None) -> None:
    """Rows of plain strings as a result: a rich table on a terminal; piped, the plain aligned text of
    `print_table` without importing rich at all (`zoo list | grep` stays fast). `styles[column][value]`
    colours a cell on a terminal."""
    if not sys.stdout.isatty():
        if title:
            note(title)
        click.echo(_plain_lines([columns, *rows], [c in right for c in columns]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, title_justify="left")
    for col in columns:
        table.add_column(col, no_wrap=True, justify="right" if col in right else "left")
    for row in rows:
        table.add_row(*(Text(v, style=(styles or {}).get(c, {}).get(v, "")) for c, v in zip(columns, row, strict=True)))
    results().print(table)


def _plain_lines(grid: list[list[str]], right: list[bool]) -> str:
    """Aligned columns; every cell scrubbed of credentials, control characters visible, one line."""
    from zoo.text import plain

    grid = [[" ".join(plain(cell).split()) or "-" for cell in row] for row in grid]
    widths = [max(len(row[j]) for row in grid) for j in range(len(right))]
    return "\n".join(
        "  ".join(row[j].rjust(widths[j]) if right[j] else row[j].ljust(widths[j]) for j in range(len(right))).rstrip()
        for row in grid
    )


def plain_table(table: Any) -> str:
    """The text `print_table` writes when stdout is not a terminal."""
    from rich.text import Text

    def plain(cell: Any) -> str:
        if isinstance(cell, Text):
            text = cell.plain
        elif isinstance(cell, str):
            text = Text.from_markup(cell).plain if "[" in cell else cell
        else:
            text = str(cell)
        return text

    columns = list(table.columns)
    grid = [[plain(c.header) for c in columns]]
    cells = [[plain(cell) for cell in c.cells] for c in columns]
    grid.extend([col[i] if i < len(col) else "-" for col in cells] for i in range(table.row_count))
    return _plain_lines(grid, [c.justify == "right" for c in columns])


class ZooChoice(click.Choice):
    """click.Choice that suggests the closest choice ("did you mean 'esp32'?"); `loader` computes the
    choices when they are needed (e.g. installed target plugins, which can change while a process runs),
    so defining a command stays cheap."""

    def __init__(self, choices: Any = (), *, loader: Callable[[], Any] | None = None,
                 case_sensitive: bool = True) -> None:
        self._loader = loader
        super().__init__(tuple(choices), case_sensitive)

    @property
    def choices(self) -> tuple[Any, ...]:
        if self._loader is not None:
            return tuple(self._loader())
        return self._choices

    @choices.setter
    def choices(self, value: Any) -> None:
        self._choices = tuple(value)

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        import difflib

        message = super().get_invalid_choice_message(value, ctx)
        close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1, cutoff=0.5)
        return f"{message} Did you mean {close[0]!r}?" if close else message


def installed_target_names() -> list[str]:
    """Names of the installed target plugins (entry points only; nothing is imported)."""
    from zoo.targets.registry import discover_targets

    return list(discover_targets())


def _scan_variant_names(registry_text: str) -> list[str]:
    """Variant names of a registry.yaml without parsing it (shell completion must answer in a few ms):
    the keys one indentation level below the top-level `variants:` line."""
    import re

    names: list[str] = []
    inside = False
    indent: str | None = None
    for line in registry_text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = re.match(r"variants\s*:\s*(#.*)?$", line) is not None
            indent = None
            continue
        if not inside:
            continue
        lead = line[: len(line) - len(line.lstrip())]
        if indent is None:
            indent = lead
        if lead == indent:
            m = re.match(r"\s+([A-Za-z0-9_]+)\s*:", line)
            if m:
                names.append(m.group(1))
    return names


def complete_variants(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of variant names from the workspace's registry.yaml (found from -C DIR or the
    current directory upwards); an empty list outside a workspace."""
    import os

    from click.shell_completion import CompletionItem

    root = ctx.find_root().params.get("directory") if ctx.find_root() is not None else None
    here = Path(root or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        path = candidate / "registry.yaml"
        if path.is_file():
            try:
                names = _scan_variant_names(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                return []
            return [CompletionItem(n) for n in names if n.startswith(incomplete)]
    return []


def complete_variants_or_paths(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Variant names, or file names once the word looks like a path (`./`, `/`, `~`, contains `/`)."""
    from click.shell_completion import CompletionItem

    if incomplete.startswith((".", "/", "~")) or "/" in incomplete:
        return [CompletionItem(incomplete, type="file")]
    return complete_variants(ctx, param, incomplete) or [CompletionItem(incomplete, type="file")]
