"""Random mutations of a valid registry are either valid or rejected with located errors, never a traceback."""

from __future__ import annotations

import copy
import json
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from zoo.errors import RegistryError
from zoo.registry import check_registry, load_registry
from zoo.registry.loader import _fast_check, registry_schema

SHIPPED = Path(__file__).resolve().parent.parent / "registry.yaml"
LINES = SHIPPED.read_text().splitlines(keepends=True)
LOCATED = re.compile(r"^.+:\d+:\d+: .+")

junk = st.sampled_from(["", "x", "-1", "null", "[]", "{}", "1e999", "true", "'", ":", "- a", "  ", "\t", "?", "&a", "*a",
                        "!!python/object:os.system", "0x10", "~", "\"unterminated", "[1, 2", "latent_dim: 3"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "replace_value", "duplicate", "insert", "indent"]))
        if op == "delete":
            del lines[i]
        elif op == "replace_value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {draw(junk)}\n"
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(junk) + "\n")
        elif op == "indent":
            lines[i] = "  " + lines[i]
        if not lines:
            break
    return "".join(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_mutations_are_valid_or_located(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("reg") / "registry.yaml"
    path.write_text(text)
    problems, _ = check_registry(path)
    for line in problems:
        assert LOCATED.match(line), line
    if problems:
        try:
            load_registry(path)
        except RegistryError as exc:
            assert exc.problems == problems
        else:  # pragma: no cover
            raise AssertionError("load_registry accepted a registry check_registry rejected")
    else:
        reg = load_registry(path)
        assert len(reg) >= 1


# ------------------------------------------------------------------ hostile and structural fuzzing (issue 15)

YAML_ALPHABET = st.sampled_from([*"ab01 :-[]{},&*!|>'\"#%@`?~.\n\t\\", "\x1b", "\x00", "\u202e", "é", "<<"])
HOSTILE_STRINGS = st.sampled_from(["vv\n", "[/x]", "\x1b[2J", "a/b", "..", "", " ", "x" * 70, "tiny\n", "0" * 64 + "\n",
                                   "file:///a\n", "hf://o/n/f", "wandb://a/b/c:d", "[link=mailto:x]y"])
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                      st.text(max_size=12), HOSTILE_STRINGS)
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), HOSTILE_STRINGS), inner, max_size=4)),
    max_leaves=12)
SHIPPED_DATA: dict[str, Any] = check_registry(SHIPPED)[1]  # type: ignore[assignment]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(YAML_ALPHABET, max_size=300).map("".join))
def test_arbitrary_text_gives_located_lines_fast(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("reg") / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        problems, _ = check_registry(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 5
    assert peak < 64 << 20
    assert problems, "arbitrary text is never a valid registry"
    for line in problems:
        assert LOCATED.match(line) and "\n" not in line and "\x1b" not in line, line


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(SHIPPED_DATA)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["replace", "delete", "add_key"]))
        if op == "replace":
            parent[path[-1]] = draw(json_value)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=8), HOSTILE_STRINGS))] = draw(json_value)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_data())
def test_fast_schema_check_agrees_with_jsonschema(data: Any) -> None:
    fast = _fast_check()
    assert fast is not None
    slow_ok = not any(True for _ in Draft202012Validator(registry_schema()).iter_errors(data))
    assert fast(data) == slow_ok


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_data())
def test_structural_mutations_are_valid_or_located(tmp_path_factory, data: Any) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("reg") / "registry.yaml"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")  # JSON is YAML
    problems, _ = check_registry(path)
    for line in problems:
        assert LOCATED.match(line) and "\n" not in line, line
    if not problems:
        assert len(load_registry(path)) >= 1
    else:
        try:
            load_registry(path)
        except RegistryError as exc:
            assert "\n" not in exc.problems[0]
        else:  # pragma: no cover
            raise AssertionError("load_registry accepted a registry check_registry rejected")
