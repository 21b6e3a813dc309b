"""A bounded, alias-free YAML reader for registry files (docs/threat-model.md).

The registry needs plain YAML only: mappings, sequences and scalars. This reader consumes the event
stream of PyYAML's parser (libyaml's C parser when available: linear and fast) and builds plain
Python data itself, so
- anchors and aliases are refused with a located error: no recursive structures, no exponential
  "billion laughs" expansion, no shared mutable nodes;
- nesting depth, document size and node count are bounded before they can cost time or memory;
- tags other than the standard scalar ones are refused (nothing is ever constructed from a tag);
- duplicate keys are reported with both locations (the last value is kept, the file is rejected);
- scalars follow the YAML 1.2 core schema (as ruamel did): `yes`/`no`/`on`/`off` stay strings.
Locations are 1-based (line, col). Positions of arbitrary paths are found by `locate`, which re-reads
the events and remembers only the paths it was asked for (error paths only: the common path keeps
no position per node).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

MAX_BYTES = 32 << 20  # a registry of 20,000 variants in the shipped layout is ~28 MB
MAX_DEPTH = 32  # the registry nests 6 levels deep
MAX_NODES = 2_000_000  # ~45 nodes per variant
MAX_ITEMS = 10_000  # per sequence (tags, sources, citations, ... are a handful)


class YamlError(Exception):
    def __init__(self, line: int, col: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.line, self.col, self.message, self.hint = line, col, message, hint


@dataclasses.dataclass(frozen=True)
class Duplicate:
    line: int
    col: int
    key: str
    first_line: int


@dataclasses.dataclass
class Parsed:
    data: Any
    duplicates: list[Duplicate]
    variant_lines: dict[str, int]  # line of each `variants:` key (for `zoo show`)
    # per variant that declares an architecture: line of each field, "" -> the `architecture:` key
    arch_lines: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


def _events(text: str) -> Iterator[Any]:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    loader = loader_cls(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise YamlError(line, col, f"YAML syntax error: {what}", "check indentation and quoting") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, 1, f"YAML error: {' '.join(str(exc).split())[:200]}") from None
    finally:
        loader.dispose()


def _at(event: Any) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {_STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                "tag:yaml.org,2002:null", "!"}
_COLLECTION_TAGS = {None, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "!"}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


def _resolve_plain(value: str) -> Any:
    """A plain scalar under the YAML 1.2 core schema."""
    if not value or len(value) > 400:  # long text is never a number (and int('9' * 5000) raises)
        return value if value else None
    c = value[0]
    if c in "~nN" and _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if c.isdigit() or c in "+-.":
        if _INT.match(value):
            return int(value)
        if _OCT.match(value):
            return int(value[2:], 8)
        if _HEX.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        if _INF.match(value):
            return -math.inf if value[0] == "-" else math.inf
        if _NAN.match(value):
            return math.nan
    return value


def _scalar(event: Any) -> Any:
    tag = event.tag
    if tag is None:
        return _resolve_plain(event.value) if event.implicit[0] and not event.style else event.value
    if tag not in _SCALAR_TAGS:
        line, col = _at(event)
        raise YamlError(line, col, f"YAML tag {tag!r} is not allowed in the registry",
                        "remove the tag: the registry is plain YAML")
    if tag in (_STR, "!"):
        return event.value
    resolved = _resolve_plain(event.value)
    want = {"tag:yaml.org,2002:int": int, "tag:yaml.org,2002:float": float, "tag:yaml.org,2002:bool": bool,
            "tag:yaml.org,2002:null": type(None)}[tag]
    if want is float and isinstance(resolved, int) and not isinstance(resolved, bool):
        resolved = float(resolved)
    if not isinstance(resolved, want) or (want is int and isinstance(resolved, bool)):
        line, col = _at(event)
        raise YamlError(line, col, f"{event.value!r} is not a valid {tag.rsplit(':', 1)[-1]}")
    return resolved


def _refuse_anchor(event: Any) -> None:
    import yaml

    if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
        line, col = _at(event)
        raise YamlError(line, col, "YAML anchors and aliases (&name / *name) are not allowed in the registry",
                        "write the value out in full")


_NOKEY = object()  # a mapping waiting for its next key


def parse(text: str) -> Parsed:
    """Plain data from registry text, or YamlError (located). One tight pass over the events: this
    is the start-up cost of every command that reads the registry (10,000 variants: ~650k events)."""
    import yaml

    scalar_cls, map_cls, seq_cls = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    end_classes = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    skip = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)
    duplicates: list[tuple[tuple[Any, ...], Any]] = []  # (path of the key, key event)
    variant_lines: dict[str, int] = {}
    arch_lines: dict[str, dict[str, int]] = {}
    root: Any = None
    containers: list[Any] = []  # open dicts / lists
    keys: list[Any] = []  # per open container: the pending key (dicts; _NOKEY: a key comes next) or None
    names: list[Any] = []  # per open container: the key or index it sits under (for paths)
    nodes = documents = 0
    variants_map: Any = None  # the top-level `variants:` mapping (its keys' lines are kept)

    for event in _events(text):
        cls = type(event)
        if cls is scalar_cls:
            if event.anchor is not None:
                _refuse_anchor(event)
            if containers and keys[-1] is _NOKEY:  # a mapping key
                if event.tag is not None and event.tag not in _SCALAR_TAGS:
                    _scalar(event)  # raises the located tag error
                key = event.value  # a key is its text: `1:` is the key '1', `null:` the key 'null'
                if key in containers[-1]:
                    duplicates.append(((*names[1:], key), event))
                depth = len(containers)
                if containers[-1] is variants_map:
                    variant_lines.setdefault(key, event.start_mark.line + 1)
                elif depth == 3 and key == "architecture" and containers[1] is variants_map:
                    arch_lines.setdefault(str(names[2]), {}).setdefault("", event.start_mark.line + 1)
                elif depth == 4 and names[3] == "architecture" and containers[1] is variants_map:
                    arch_lines.setdefault(str(names[2]), {}).setdefault(key, event.start_mark.line + 1)
                keys[-1] = key
                continue
            nodes += 1
            if event.tag is None and event.implicit[0] and not event.style:
                value = _resolve_plain(event.value)
            else:
                value = _scalar(event)
            if not containers:
                root = value
            elif keys[-1] is None:
                seq = containers[-1]
                if len(seq) >= MAX_ITEMS:
                    line, col = _at(event)
                    raise YamlError(line, col, f"a list with more than {MAX_ITEMS:,} items",
                                    "the registry's lists are short")
                seq.append(value)
            else:
                containers[-1][keys[-1]] = value
                keys[-1] = _NOKEY
        elif cls is map_cls or cls is seq_cls:
            if event.anchor is not None:
                _refuse_anchor(event)
            if containers and keys[-1] is _NOKEY:
                line, col = _at(event)
                raise YamlError(line, col, "a mapping key must be plain text, not a mapping or list",
                                "registry keys are names")
            nodes += 1
            if nodes > MAX_NODES:
                line, col = _at(event)
                raise YamlError(line, col, f"more than {MAX_NODES:,} YAML nodes", "split or shrink the registry")
            if len(containers) >= MAX_DEPTH:
                line, col = _at(event)
                raise YamlError(line, col, f"nesting deeper than {MAX_DEPTH} levels",
                                "the registry nests a few levels only")
            if event.tag not in _COLLECTION_TAGS:
                line, col = _at(event)
                raise YamlError(line, col, f"YAML tag {event.tag!r} is not allowed in the registry",
                                "remove the tag: the registry is plain YAML")
            new: Any = {} if cls is map_cls else []
            if not containers:
                root = new
                names.append(None)
            elif keys[-1] is None:
                seq = containers[-1]
                if len(seq) >= MAX_ITEMS:
                    line, col = _at(event)
                    raise YamlError(line, col, f"a list with more than {MAX_ITEMS:,} items",
                                    "the registry's lists are short")
                names.append(len(seq))
                seq.append(new)
            else:
                containers[-1][keys[-1]] = new
                names.append(keys[-1])
                keys[-1] = _NOKEY
            containers.append(new)
            keys.append(_NOKEY if cls is map_cls else None)
            if len(containers) == 2 and cls is map_cls and names[-1] == "variants":
                variants_map = new
        elif cls in end_classes:
            containers.pop()
            keys.pop()
            names.pop()
        elif cls is yaml.AliasEvent:
            _refuse_anchor(event)
        elif cls is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                line, col = _at(event)
                raise YamlError(line, col, "more than one YAML document in the registry",
                                "remove the second `---` document")
        elif not isinstance(event, skip):  # pragma: no cover - PyYAML has no other events
            line, col = _at(event)
            raise YamlError(line, col, f"unexpected YAML event {type(event).__name__}")

    dups: list[Duplicate] = []
    if duplicates:
        firsts = locate(text, [(path, True) for path, _ in duplicates])
        for path, event in duplicates:
            line, col = _at(event)
            dups.append(Duplicate(line, col, str(path[-1]), firsts[(path, True)][0]))
    return Parsed(root, dups, variant_lines, arch_lines)


def locate(text: str, wanted: Iterable[tuple[tuple[Any, ...], bool]]) -> dict[tuple[tuple[Any, ...], bool], tuple[int, int]]:
    """1-based (line, col) of each (path, key?) in `wanted`: of the key when key? is true, else of the
    value; a path that does not exist gets its deepest existing ancestor's position, () gets (1, 1).
    `text` is one that `parse` accepted: its bounds are not checked again."""
    import yaml

    wanted = list(wanted)
    prefixes: set[tuple[Any, ...]] = set()
    for path, _ in wanted:
        for i in range(len(path) + 1):
            prefixes.add(tuple(path[:i]))
    values: dict[tuple[Any, ...], tuple[int, int]] = {(): (1, 1)}
    keys: dict[tuple[Any, ...], tuple[int, int]] = {}
    paths: list[tuple[Any, ...]] = []  # per open container: its path
    nexts: list[Any] = []  # per open container: the pending key (mappings; _NOKEY: a key comes next) or next index
    try:
        for event in _events(text):
            cls = type(event)
            if cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                paths.pop()
                nexts.pop()
                continue
            is_start = cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent
            if not is_start and cls is not yaml.ScalarEvent:
                continue  # stream and document events
            if nexts and nexts[-1] is _NOKEY:  # a mapping key
                full = (*paths[-1], event.value)
                if full in prefixes:
                    keys.setdefault(full, _at(event))
                nexts[-1] = event.value
                continue
            path = (*paths[-1], nexts[-1]) if paths else ()
            if path in prefixes:
                values.setdefault(path, _at(event))
            if nexts:
                nexts[-1] = nexts[-1] + 1 if isinstance(nexts[-1], int) else _NOKEY
            if is_start:
                paths.append(path)
                nexts.append(_NOKEY if cls is yaml.MappingStartEvent else 0)
    except YamlError:  # pragma: no cover - the text parsed before
        pass
    out: dict[tuple[tuple[Any, ...], bool], tuple[int, int]] = {}
    for where, want_key in wanted:
        where = tuple(where)
        if want_key and where in keys:
            out[(where, want_key)] = keys[where]
            continue
        for i in range(len(where), -1, -1):
            if where[:i] in values:
                out[(where, want_key)] = values[where[:i]]
                break
    return out
