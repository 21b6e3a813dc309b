"""Random mutations of a valid registry are either valid or rejected with located errors, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.errors import RegistryError
from zoo.registry import check_registry, load_registry

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
