"""Hostile registry files (issue 15, items 2 and 7): YAML bombs, deep nesting, huge files, tags,
trailing-newline schema bypasses, path-like file names. Each is refused with a located one-line error,
fast and in bounded memory."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main
from zoo.errors import RegistryError
from zoo.registry import _yaml, check_registry, load_registry
from zoo.registry.loader import registry_schema

LOCATED = re.compile(r"^.+:\d+:\d+: .+")


def _ws(tmp_path: Path, file: str | None = "t.ckpt") -> Path:
    return write_pull_workspace(tmp_path / "ws", [source_yaml("file:///nonexistent/t.ckpt", file)])


def _check_cli(path: Path) -> tuple[int, str, float]:
    t0 = time.monotonic()
    r = CliRunner().invoke(main, ["registry", "check", str(path)])
    return r.exit_code, r.output, time.monotonic() - t0


BOMBS = {
    "recursive alias": "schema_version: 1\nvariants: &v\n  a: *v\n",
    "recursive list": "a: &a [*a, *a]\n",
    "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(12)),
    "merge key": "base: &b {family: slim}\nvariants:\n  x:\n    <<: *b\n",
    "anchor only": "schema_version: &one 1\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_aliases_are_refused_fast_and_located(tmp_path: Path, name: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(BOMBS[name])
    tracemalloc.start()
    try:
        code, out, seconds = _check_cli(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2, out
    assert seconds < 2.0, seconds  # the acceptance bound; this takes milliseconds
    assert peak < 50 << 20, peak
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert LOCATED.match(lines[0]) and "anchors and aliases" in lines[0], out


@pytest.mark.parametrize("text,needle", [
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nesting"),  # libyaml stops at 1000 itself
    ("a: " + "{b: " * 40 + "1" + "}" * 40 + "\n", "nesting deeper than"),
    ("a: !!python/object/apply:os.system [echo]\n", "YAML tag"),
    ("a: !!set {x}\n", "YAML tag"),
    ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ("? [a, b]\n: c\n", "mapping key must be plain text"),
    ("a: [" + "1, " * (_yaml.MAX_ITEMS + 5) + "1]\n", "more than 10,000 items"),
    ("a: 'unterminated\n", "YAML syntax error"),
])
def test_structural_limits_are_located(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    problems, data = check_registry(path)
    assert data is None and len(problems) == 1 and LOCATED.match(problems[0]) and needle in problems[0], problems


def test_oversized_file_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_BYTES", 1 << 16)
    path = tmp_path / "registry.yaml"
    path.write_text("# padding\n" * 10000)
    problems, data = check_registry(path)
    assert data is None and len(problems) == 1 and LOCATED.match(problems[0]) and "larger than" in problems[0]


def test_node_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_NODES", 1000)
    path = tmp_path / "registry.yaml"
    path.write_text("".join(f"k{i}: [1, 2]\n" for i in range(600)))
    problems, _ = check_registry(path)
    assert len(problems) == 1 and "more than 1,000 YAML nodes" in problems[0]


def test_yaml_1_2_scalars_and_duplicates(tmp_path: Path) -> None:
    parsed = _yaml.parse("a: yes\nb: on\nc: 0o17\nd: 0x1f\ne: 1.0e-6\nf: ~\ng: .inf\nh: '1'\ni: 012\nj: 1_000\n")
    assert parsed.data == {"a": "yes", "b": "on", "c": 15, "d": 31, "e": 1e-6, "f": None, "g": float("inf"),
                           "h": "1", "i": 12, "j": "1_000"}
    parsed = _yaml.parse("x:\n  a: 1\n  b: 2\n  a: 3\n")
    assert [(d.line, d.col, d.key, d.first_line) for d in parsed.duplicates] == [(4, 3, "a", 2)]


def test_parent_chain_is_bounded_and_linear(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    text = (ws / "registry.yaml").read_text()
    chain = "".join(
        f"  c{i}:\n    family: slim\n    description: d\n    parent: {'tiny' if i == 0 else f'c{i - 1}'}\n"
        "    format: {kind: ternary}\n"
        "    verification: {status: active, metric: rollout@20, expected_cosine: 0.5, tolerance: 0.5}\n"
        for i in range(3000))
    (ws / "registry.yaml").write_text(text + chain)
    t0 = time.monotonic()
    problems, _ = check_registry(ws / "registry.yaml")
    assert time.monotonic() - t0 < 20
    assert problems and all("more than 16 ancestors" in p for p in problems)
    assert len(problems) == 1  # reported once, at the first variant too deep


# --------------------------------------------------------------------------------------- schema


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                yield v
            else:
                yield from _patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _patterns(v)


def test_every_schema_pattern_is_anchored_at_both_ends() -> None:
    patterns = list(_patterns(registry_schema()))
    assert len(patterns) >= 10
    for p in patterns:
        assert p.startswith("^") and p.endswith("$(?!\\n)"), p


def _load(ws: Path) -> RegistryError | None:
    try:
        load_registry(ws / "registry.yaml")
    except RegistryError as exc:
        return exc
    return None


@pytest.mark.parametrize("old,new", [
    ("  tiny_child:\n", '  "vv\\n":\n'),
    ("  tiny_child:\n", '  "vv\\r":\n'),
    ("    parent: tiny\n", '    parent: "tiny\\n"\n'),
    ("      checkpoint_kind: object\n", '      checkpoint_kind: object\n    targets: ["esp32\\n"]\n'),
    ("  hub_repo: test/test\n", '  hub_repo: "test/test\\n"\n'),
    ("  hub_repo: test/test\n", '  hub_repo: "test/../x"\n'),
    ("- uri: file:///nonexistent/t.ckpt\n", '- uri: "file:///nonexistent/t.ckpt\\n"\n'),
    ("- uri: file:///nonexistent/t.ckpt\n", '- uri: "file:///non\\eexistent/t.ckpt"\n'),
    ("          file: t.ckpt\n", '          file: "t.ckpt\\n"\n'),
    ("          file: t.ckpt\n", "          file: ../t.ckpt\n"),
    ("          file: t.ckpt\n", "          file: sub/t.ckpt\n"),
    ("          file: t.ckpt\n", "          file: ..\n"),
    ("          file: t.ckpt\n", "          file: .hidden\n"),
    ("          file: t.ckpt\n", '          file: "a\\\\b"\n'),
    ("          file: t.ckpt\n", '          file: "t.ckpt"\n          sha256: "' + "a" * 64 + '\\n"\n'),
    ("    claims: {source: test}\n", "    claims: {source: test}\n    tags: [\"ok\\n\"]\n"),
])
def test_trailing_newlines_and_paths_are_refused(tmp_path: Path, old: str, new: str) -> None:
    ws = _ws(tmp_path)
    reg = ws / "registry.yaml"
    text = reg.read_text()
    assert old in text, old
    reg.write_text(text.replace(old, new, 1))
    err = _load(ws)
    assert err is not None, new
    assert all(LOCATED.match(p) and "\n" not in p for p in err.problems), err.problems
    # nothing was created for the bad name
    assert not any(p.name.startswith("vv") for p in ws.rglob("*"))


def test_plain_file_names_are_accepted(tmp_path: Path) -> None:
    ws = _ws(tmp_path, file="lewm_slim_48d_2e_2p_epoch_1_object.ckpt")
    assert _load(ws) is None


def test_registry_check_json_stays_json(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(BOMBS["recursive alias"])
    r = CliRunner().invoke(main, ["registry", "check", str(path), "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "anchors and aliases" in doc["problems"][0]


def test_every_record_knows_its_line() -> None:
    shipped = Path(__file__).resolve().parent.parent / "registry.yaml"
    lines = shipped.read_text().splitlines()
    reg = load_registry(shipped)
    for rec in reg:
        assert rec.line is not None and lines[rec.line - 1] == f"  {rec.name}:", rec.name
