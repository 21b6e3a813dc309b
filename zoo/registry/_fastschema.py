"""A yes/no JSON Schema check compiled to closures, for the subset of Draft 2020-12 the registry schema uses.

jsonschema's `iter_errors` costs ~1 ms per variant (10,000 variants: 10 s). Registries are valid
almost always, so the loader asks this compiled check first and runs jsonschema (for the located
messages) only when it says "invalid". It must never say "valid" where jsonschema would not:
`tests/test_registry_fuzz.py` compares both on mutated registries. A keyword it does not know makes
`compile_schema` raise `Unsupported`, and the loader then uses jsonschema alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


class Unsupported(Exception):
    pass


_IGNORED = {"$schema", "$id", "title", "description", "$defs", "$comment", "examples", "default"}


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise Unsupported(f"type {name!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality (jsonschema's): booleans are not numbers, containers compare element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    if isinstance(a, str) != isinstance(b, str):
        return False
    return bool(a == b)


def _unique(items: list[Any]) -> bool:
    if all(isinstance(x, str) for x in items):
        return len(set(items)) == len(items)
    return not any(_equal(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items)))


def compile_schema(root: dict[str, Any]) -> Check:
    defs: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        if not pointer.startswith("#/$defs/") or "/" in pointer[len("#/$defs/"):]:
            raise Unsupported(f"$ref {pointer!r}")
        name = pointer[len("#/$defs/"):]
        if name not in root.get("$defs", {}):
            raise Unsupported(f"$ref {pointer!r}")
        if name not in defs:
            defs[name] = lambda v: True  # placeholder while compiling (recursive refs)
            compiled = build(root["$defs"][name])
            defs[name] = compiled
        return lambda v: defs[name](v)

    def build(schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        checks: list[Check] = []
        unknown = set(schema) - _IGNORED - {
            "type", "enum", "const", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
            "maxItems", "minProperties", "required", "properties", "additionalProperties", "items", "uniqueItems",
            "propertyNames", "$ref", "oneOf", "anyOf", "allOf", "if", "then", "else"}
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in schema:
            checks.append(ref(schema["$ref"]))
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            for t in types:
                _is_type(None, t)  # raises Unsupported for unknown names
            checks.append(_type_check(types))
        if "enum" in schema:
            checks.append(_enum_check(list(schema["enum"])))
        if "const" in schema:
            checks.append(_enum_check([schema["const"]]))
        if "pattern" in schema:
            checks.append(_pattern_check(re.compile(schema["pattern"])))
        if "minimum" in schema:
            checks.append(_bound_check(schema["minimum"], lower=True))
        if "maximum" in schema:
            checks.append(_bound_check(schema["maximum"], lower=False))
        for kw, kind, lower in (("minLength", str, True), ("maxLength", str, False), ("minItems", list, True),
                                ("maxItems", list, False), ("minProperties", dict, True)):
            if kw in schema:
                checks.append(_length_check(kind, schema[kw], lower=lower))
        if "required" in schema:
            checks.append(_required_check(list(schema["required"])))
        if "properties" in schema or "additionalProperties" in schema:
            props = {k: build(s) for k, s in schema.get("properties", {}).items()}
            extra = schema.get("additionalProperties", True)
            extra_check = None if extra is True else build(extra)

            def object_check(v: Any, props: dict[str, Check] = props, extra_check: Check | None = extra_check) -> bool:
                if not isinstance(v, dict):
                    return True
                for k, item in v.items():
                    sub = props.get(k)
                    if sub is not None:
                        if not sub(item):
                            return False
                    elif extra_check is not None and not extra_check(item):
                        return False
                return True

            checks.append(object_check)
        if "propertyNames" in schema:
            checks.append(_names_check(build(schema["propertyNames"])))
        if "items" in schema:
            checks.append(_items_check(build(schema["items"])))
        if schema.get("uniqueItems") is True:
            checks.append(_unique_check)
        if "allOf" in schema:
            checks.append(_combine([build(s) for s in schema["allOf"]], "all"))
        if "anyOf" in schema:
            checks.append(_combine([build(s) for s in schema["anyOf"]], "any"))
        if "oneOf" in schema:
            checks.append(_combine([build(s) for s in schema["oneOf"]], "one"))
        if "if" in schema:
            cond = build(schema["if"])
            then = build(schema["then"]) if "then" in schema else None
            other = build(schema["else"]) if "else" in schema else None

            def conditional(v: Any, cond: Check = cond, then: Check | None = then, other: Check | None = other) -> bool:
                branch = then if cond(v) else other
                return branch is None or branch(v)

            checks.append(conditional)
        if not checks:
            return _always
        return checks[0] if len(checks) == 1 else _combine(checks, "all")

    return build(root)


def _always(v: Any) -> bool:
    return True


_PY_TYPES: dict[str, type | tuple[type, ...]] = {"object": dict, "array": list, "string": str}


def _type_check(types: list[str]) -> Check:
    if len(types) == 1 and types[0] in _PY_TYPES:  # the common case, on the hot path
        py = _PY_TYPES[types[0]]
        return lambda v: isinstance(v, py)
    return lambda v: any(_is_type(v, t) for t in types)


def _enum_check(options: list[Any]) -> Check:
    if all(o is None or isinstance(o, str) for o in options):
        strings = frozenset(o for o in options if isinstance(o, str))
        allow_none = None in options
        return lambda v: (isinstance(v, str) and v in strings) or (allow_none and v is None)
    return lambda v: any(_equal(v, o) for o in options)


def _pattern_check(pattern: re.Pattern[str]) -> Check:
    return lambda v: not isinstance(v, str) or pattern.search(v) is not None


def _bound_check(bound: float, *, lower: bool) -> Check:
    if lower:
        return lambda v: not _is_type(v, "number") or bool(v >= bound)
    return lambda v: not _is_type(v, "number") or bool(v <= bound)


def _length_check(kind: type[str] | type[list[Any]] | type[dict[Any, Any]], bound: int, *, lower: bool) -> Check:
    if lower:
        return lambda v: not isinstance(v, kind) or len(v) >= bound
    return lambda v: not isinstance(v, kind) or len(v) <= bound


def _required_check(required: list[str]) -> Check:
    return lambda v: not isinstance(v, dict) or all(k in v for k in required)


def _names_check(names: Check) -> Check:
    return lambda v: not isinstance(v, dict) or all(names(k) for k in v)


def _items_check(item: Check) -> Check:
    def check_items(v: Any) -> bool:
        if isinstance(v, list):
            for x in v:
                if not item(x):
                    return False
        return True

    return check_items


def _unique_check(v: Any) -> bool:
    return not isinstance(v, list) or _unique(v)


def _combine(subs: list[Check], how: str) -> Check:
    if how == "all":
        def check_all(v: Any) -> bool:  # a loop, not all(genexpr): the hot path of every load
            for sub in subs:  # noqa: SIM110
                if not sub(v):
                    return False
            return True

        return check_all
    if how == "any":
        return lambda v: any(s(v) for s in subs)
    return lambda v: sum(1 for s in subs if s(v)) == 1
