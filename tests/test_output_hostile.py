"""Untrusted text reaches the terminal escaped (issue 15, item 6).

Rich markup (`[/x]` raised MarkupError -> traceback; `[link=...]` turned into a link) and control
characters (`\\n`, `\\x1b[2J`) in tensor names, class names, registry strings and paths: every command
prints them literally, on one line, with no escape sequence, and never a traceback.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from publish_support import make_workspace
from safetensors.numpy import save_file
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main
from zoo.convert.synthetic import _zip_bytes
from zoo.text import plain, safe, visible

HOSTILE = ["[/x]", "[link=https://evil.invalid]click[/link]", "a\nb", "\x1b[2J", "[bold red]x", "tail\\"]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_clean(result: Result, *, code: int | None = 0) -> str:
    """No traceback, no escape sequence; returns the combined output."""
    out = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if code is not None:
        assert result.exit_code == code, out
    assert "\x1b" not in out and "Traceback" not in out and "MarkupError" not in out, out
    assert "\x9b" not in out and "\r" not in out
    return out


def test_helpers() -> None:
    assert visible("a\nb\x1b[2J\x07\u202e") == "a\\nb\\x1b[2J\\x07\\u202e"
    assert visible("a\tb") == "a\tb"
    assert plain("x\ny") == "x\\ny"
    assert safe("[/x]") == "\\[/x]" and safe("tail\\").endswith("\\\\")
    from rich.text import Text

    for s in HOSTILE:  # safe() text inside our markup renders back to the visible form of the original
        assert Text.from_markup(f"[red]{safe(s)}[/red]").plain == visible(s)


def test_inspect_safetensors_with_hostile_tensor_names(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({name: np.zeros(2, np.float32) for name in HOSTILE}, str(path))
    out = assert_clean(run("inspect", str(path)))
    assert "[/x]" in out and "[link=https://evil.invalid]click[/link]" in out and "a\\nb" in out
    assert "\\x1b[2J" in out and "[bold red]x" in out


def _hostile_class_pickle() -> bytes:
    def short(s: str) -> bytes:
        data = s.encode()
        return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE

    # protocol 4: STACK_GLOBAL with names that hold markup and control characters, called with ()
    return (b"\x80\x04" + short("evil[/x].mod\n") + short("Cls\x1b[2J[link=https://evil.invalid]")
            + b"\x93" + b")" + b"R" + b".")


def test_inspect_checkpoint_with_hostile_class_names(tmp_path: Path) -> None:
    path = tmp_path / "h.ckpt"
    path.write_bytes(_zip_bytes("h", _hostile_class_pickle(), [("0", b"\0" * 64)]))
    result = run("inspect", str(path))
    out = assert_clean(result, code=None)
    assert result.exit_code in (0, 2), out
    assert "evil[/x].mod\\n" in out or "evil[/x]" in out


def test_hostile_path_in_inspect_and_errors(tmp_path: Path) -> None:
    d = tmp_path / "dir[" / "x]\x1b[2J"
    d.mkdir(parents=True)
    path = d / "w\n[link=mailto:evil]x.safetensors"
    save_file({"t": np.zeros(2, np.float32)}, str(path))
    out = assert_clean(run("inspect", str(path)))
    assert "dir[/x]\\x1b[2J" in out and "w\\n[link=mailto:evil]x.safetensors" in out
    # an error naming the path stays one line
    bad = d / "bad\nname.safetensors"
    bad.write_bytes(struct.pack("<Q", 5) + b"{\"a\"")
    result = run("inspect", str(bad))
    out = assert_clean(result, code=2)
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out


def _hostile_registry(root: Path) -> Path:
    write_pull_workspace(root, [source_yaml("file:///nonexistent/t.ckpt")])
    text = (root / "registry.yaml").read_text()
    text = text.replace("name: test\n", 'name: "[/x] coll\\e[2J [link=https://evil.invalid]c[/link]"\n', 1)
    text = text.replace("    claims: {source: test}\n",
                        '    claims: {source: test, size_text: "[/x]\\n\\e[2J", cosine_text: "[link=https://e.invalid]y"}\n', 1)
    text = text.replace("    description: pull test variant\n",
                        '    description: "[/x] desc\\nsecond line \\e]8;;https://evil.invalid\\a"\n', 1)
    (root / "registry.yaml").write_text(text)
    return root


def test_list_and_show_with_hostile_registry_strings(tmp_path: Path) -> None:
    ws = _hostile_registry(tmp_path / "ws")
    assert_clean(run("-C", str(ws), "registry", "check"))
    out = assert_clean(run("-C", str(ws), "list"))
    assert "[/x] coll\\x1b[2J [link=https://evil.invalid]c[/link]" in out
    assert "[/x]\\n\\x1b[2J" in out and "[link=https://e.invalid]y" in out
    out = assert_clean(run("-C", str(ws), "show", "tiny"))
    assert "[/x] desc" in out
    doc = json.loads(run("-C", str(ws), "list", "--json").stdout)  # JSON keeps the real strings
    assert doc["variants"][0]["claimed_size"] == "[/x]\n\x1b[2J"


def test_registry_check_problem_lines_stay_lines(tmp_path: Path) -> None:
    ws = tmp_path / "ws[" / "x]"
    write_pull_workspace(ws, [source_yaml("file:///nonexistent/t.ckpt")])
    reg = ws / "registry.yaml"
    reg.write_text(reg.read_text().replace("    family: slim\n", '    family: "sl[/x]\\nim\\e[2J"\n', 1)
                   + '  "bad\\nname[/x]":\n    family: slim\n')
    result = run("-C", str(ws), "registry", "check")
    out = assert_clean(result, code=2)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert all(re.search(r"registry\.yaml:\d+:\d+: ", ln) or re.match(r"\d+ problem", ln) for ln in lines), out
    assert any('"sl[/x]\\\\nim' in ln or "sl[/x]" in ln for ln in lines), out
    # the same through the central error printer (load_registry's multi-problem message)
    out = assert_clean(run("-C", str(ws), "list"), code=2)
    assert all(ln.startswith(("error:", "  ")) for ln in out.splitlines() if ln.strip()), out


def test_verify_and_publish_with_hostile_workspace_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    (tmp_path / "ws[").mkdir()
    ws = make_workspace(tmp_path / "ws[" / "x][link=mailto:evil]")
    vdir = ws / "variants" / "tiny"
    doc = json.loads((vdir / "verify.json").read_text())
    doc["status"] = "fail[/x]\x1b[2J"
    (vdir / "verify.json").write_text(json.dumps(doc))
    result = run("-C", str(ws), "publish", "--dry-run", "--all")
    out = assert_clean(result, code=None)
    assert result.exit_code in (0, 1, 2), out
    assert "tiny" in out
    result = run("-C", str(ws), "publish", "--dry-run", "--all", "--force", "why[/x]\x1b[2J")
    out = assert_clean(result, code=None)
    assert "why[/x]\\x1b[2J" in out, out
    result = run("-C", str(ws), "verify", "tiny_child")
    assert_clean(result, code=None)
    assert result.exit_code in (1, 2), result.output


@pytest.mark.parametrize("value", HOSTILE)
def test_console_backstop_never_raises(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    from zoo.cli._render import SafeConsole

    con = SafeConsole(stderr=True, width=120, force_terminal=False)
    table = Table(title=value)
    table.add_column(value)
    table.add_row(value)
    con.print(table)
    con.print(value)
    con.print(Text(value))  # built directly: control characters still made visible at output
    err = capsys.readouterr().err
    assert "\x1b" not in err


def test_error_lines_from_user_input_are_visible(tmp_path: Path) -> None:
    out = assert_clean(run("-C", str(tmp_path / "no\x1b[2J\nsuch"), "list"), code=2)
    assert "no\\x1b[2J\\nsuch" in out and len(out.strip().splitlines()) == 1
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("file:///nonexistent/t.ckpt")])
    out = assert_clean(run("-C", str(ws), "show", "x\x1b]8;;https://evil.invalid\x07[/x]"), code=2)
    assert out.startswith("error: unknown variant 'x\\x1b]8;;https://evil.invalid\\x07[/x]'")
    assert len(out.strip().splitlines()) == 1
