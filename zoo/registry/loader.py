"""Load and check registry.yaml: JSON Schema (Draft 2020-12) + cross-record checks.

Every problem is reported as `FILE:LINE:COL: message (hint)`; all problems are collected,
not only the first. Valid files become frozen `VariantRecord`s (validated once, at load).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from zoo.errors import RegistryError, UsageError
from zoo.registry.records import (
    Architecture,
    Citation,
    Claims,
    CollectionSettings,
    FormatSpec,
    Provenance,
    SourceSpec,
    VariantRecord,
    VerificationPolicy,
)


@functools.cache
def registry_schema() -> dict[str, Any]:
    text = resources.files("zoo.registry").joinpath("registry.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int  # 1-based
    col: int  # 1-based
    message: str
    hint: str | None = None

    def render(self, display: str) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{display}:{self.line}:{self.col}: {self.message}{hint}"


@dataclasses.dataclass(frozen=True)
class Registry:
    path: Path
    collection: CollectionSettings
    variants: dict[str, VariantRecord]

    def __contains__(self, name: object) -> bool:
        return name in self.variants

    def __iter__(self) -> Iterator[VariantRecord]:
        return iter(self.variants.values())

    def __len__(self) -> int:
        return len(self.variants)

    def get(self, name: str) -> VariantRecord:
        try:
            return self.variants[name]
        except KeyError:
            raise UsageError(unknown_variant_message(name, self.variants)) from None

    def select(self, names: Iterable[str], all_: bool = False) -> list[VariantRecord]:
        """Records for NAME... (in the order given, duplicates dropped) or every record with --all."""
        names = list(names)
        if all_ and names:
            raise UsageError("give variant names or --all, not both")
        if all_:
            return list(self.variants.values())
        if not names:
            raise UsageError("no variant given", hint="name one or more variants, or pass --all")
        seen: dict[str, VariantRecord] = {}
        for n in names:
            seen.setdefault(n, self.get(n))
        return list(seen.values())

    def parent_of(self, rec: VariantRecord) -> VariantRecord | None:
        return self.variants[rec.parent] if rec.parent else None

    def f32_root(self, rec: VariantRecord) -> VariantRecord:
        """The safetensors-f32 ancestor a derived variant is measured against (itself for f32 records)."""
        cur = rec
        while cur.format.kind != "safetensors-f32" and cur.parent:
            cur = self.variants[cur.parent]
        return cur

    def provenance_of(self, rec: VariantRecord) -> Provenance | None:
        return self.f32_root(rec).provenance

    def children(self, name: str) -> list[VariantRecord]:
        return [r for r in self.variants.values() if r.parent == name]


def unknown_variant_message(name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    if not close:
        close = [k for k in known if k.startswith(name)][:1]
    suggestion = f"; did you mean {close[0]}?" if close else "; see `zoo list`"
    return f"unknown variant '{name}'{suggestion}"


# --------------------------------------------------------------------------- parsing


def _display_path(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # duplicates are reported by our own pass, with locations
    return yaml


def _plain(node: Any) -> Any:
    """ruamel round-trip types -> plain Python (bools stay bools, not int subclasses)."""
    from ruamel.yaml.scalarbool import ScalarBoolean
    from ruamel.yaml.scalarfloat import ScalarFloat

    if isinstance(node, Mapping):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, bool):
        return node
    if isinstance(node, ScalarFloat):
        return float(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if node is None:
        return None
    # anything else (tagged scalars such as `!!python/object:...`, sets, timestamps) becomes
    # text, so the schema reports it as a wrongly typed value at its location
    value = getattr(node, "value", node)
    tag = getattr(getattr(node, "tag", None), "value", None) or getattr(node, "tag", None)
    return f"{tag} {value}" if isinstance(tag, str) else str(value)


def _locate(tree: Any, path: Iterable[Any], *, key: bool = False) -> tuple[int, int]:
    """1-based (line, col) of the node at `path` in the ruamel tree (of its key when key=True)."""
    line, col = 0, 0
    node = tree
    for part in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and lc is not None and part in node:
                pos = lc.key(part) if key else lc.value(part)
                line, col = pos[0], pos[1]
                node = node[part]
            elif isinstance(node, list) and lc is not None and isinstance(part, int) and part < len(node):
                line, col = lc.item(part)
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line + 1, col + 1


def _j(value: Any) -> str:
    return json.dumps(value, default=str)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _schema_problem(tree: Any, err: Any) -> Problem:
    path = list(err.absolute_path)
    where = _dotted(path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        line, col = _locate(tree, path, key=True)
        return Problem(line, col, f"{where}: missing required field '{missing}'", f"add '{missing}:'")
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        line, col = _locate(tree, [*path, extra[0]], key=True) if extra else _locate(tree, path)
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        close = difflib.get_close_matches(str(extra[0]), list(err.schema.get("properties", {})), n=1, cutoff=0.6) \
            if extra else []
        hint = f"did you mean {close[0]}? allowed: {allowed}" if close else f"allowed: {allowed}"
        return Problem(line, col, f"{where}: unknown field '{extra[0] if extra else '?'}'", hint)
    line, col = _locate(tree, path)
    if v == "type":
        want = err.validator_value
        want_s = " or ".join(want) if isinstance(want, list) else want
        return Problem(line, col, f"{where}: expected {want_s}, got {_j(err.instance)}", None)
    if v == "enum":
        allowed = ", ".join(_j(x) for x in err.validator_value)
        return Problem(line, col, f"{where}: {_j(err.instance)} is not allowed", _enum_hint(path, err, allowed))
    if v == "const":
        return Problem(line, col, f"{where}: must be {_j(err.validator_value)}", None)
    if v == "pattern":
        return Problem(line, col, f"{where}: {_j(err.instance)} has the wrong form", f"must match {err.validator_value}")
    if v in ("minimum", "maximum", "minItems", "minLength", "minProperties"):
        return Problem(line, col, f"{where}: {err.message}", None)
    if v == "propertyNames":
        return Problem(line, col, f"{where}: bad variant name: {err.message}", "letters, digits and _ only")
    return Problem(line, col, f"{where}: {err.message}", None)


def _enum_hint(path: list[Any], err: Any, allowed: str) -> str:
    """`one of ...`, led by a did-you-mean for a misspelt name (and why heads cannot be uncertain)."""
    value = err.instance
    if not isinstance(value, str):
        return f"one of {allowed}"
    in_uncertain = len(path) >= 2 and path[-2] == "uncertain"
    if in_uncertain and value in _ARCH_FIELDS:
        why = ("shapes cannot tell head counts; conversion always takes them from the registry"
               if value.endswith("_heads") else "it is not a measurement; fix the declared value")
        return f"'{value}' cannot be uncertain: {why}; one of {allowed}"
    names = [x for x in err.validator_value if isinstance(x, str)]
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? one of {allowed}" if close else f"one of {allowed}"


def _load_with_node(text: str) -> tuple[Any, Any]:
    """(round-trip tree, composed node graph) from ONE parse.

    `YAML.load` composes the node graph and throws it away; the duplicate-key pass needs it, and parsing
    the registry twice was a third of the start-up of every command that reads it (`zoo pull` cache hits).
    """
    yaml = _yaml()
    try:  # ruamel >= 0.18.7 keeps per-document info that its constructor reads; older ones have none
        from ruamel.yaml.docinfo import DocInfo, version

        yaml.doc_infos.append(DocInfo(requested_version=version(yaml.version)))
        yaml.tags = {}
    except ImportError:
        pass
    constructor, parser = yaml.get_constructor_parser(text)
    try:
        node = constructor.composer.get_single_node()
        tree = constructor.construct_document(node) if node is not None else None
    finally:
        parser.dispose()
    return tree, node


def _duplicate_problems(root: Any) -> list[Problem]:
    """Duplicate mapping keys anywhere in the composed node graph (ruamel would silently keep the last)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    problems: list[Problem] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: dict[str, int] = {}
            for k, v in node.value:
                key = str(k.value)
                if key in seen:
                    problems.append(
                        Problem(
                            k.start_mark.line + 1,
                            k.start_mark.column + 1,
                            f"duplicate key '{key}' (first defined on line {seen[key]})",
                            "names must be unique; rename or delete one",
                        )
                    )
                else:
                    seen[key] = k.start_mark.line + 1
                stack.append(v)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return problems


def _cross_problems(tree: Any, data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    variants = data.get("variants")
    if not isinstance(variants, dict):
        return problems
    names = set(variants)
    for name, rec in variants.items():
        if not isinstance(rec, dict):
            continue
        parent = rec.get("parent")
        if isinstance(parent, str) and parent not in names:
            line, col = _locate(tree, ["variants", name, "parent"])
            problems.append(Problem(line, col, f"variants.{name}.parent: {unknown_variant_message(parent, names)}", None))
        if parent == name:
            line, col = _locate(tree, ["variants", name, "parent"])
            problems.append(Problem(line, col, f"variants.{name}.parent: a variant cannot be its own parent", None))
    # parent cycles (longer than a self-reference, which is reported above)
    reported: set[frozenset[str]] = set()
    for start in variants:
        chain: list[str] = []
        cur: Any = start
        while isinstance(cur, str) and cur in variants and cur not in chain:
            chain.append(cur)
            rec = variants[cur]
            cur = rec.get("parent") if isinstance(rec, dict) else None
        if not (isinstance(cur, str) and cur in chain):
            continue
        cycle = chain[chain.index(cur) :]
        if len(cycle) < 2 or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        first = min(cycle)
        ordered = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
        line, col = _locate(tree, ["variants", first, "parent"])
        problems.append(
            Problem(line, col, f"variants.{first}.parent: parent cycle {' -> '.join([*ordered, first])}",
                    "a derived variant must end at an f32 variant")
        )
    # target options only for declared targets
    for name, rec in variants.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("target_options"), dict):
            continue
        targets = rec.get("targets")
        declared: list[Any] = targets if isinstance(targets, list) else []
        for target in rec["target_options"]:
            if target not in declared:
                line, col = _locate(tree, ["variants", name, "target_options", target], key=True)
                problems.append(Problem(line, col, f"variants.{name}.target_options.{target}: options for a target "
                                        "the record does not declare", f"add {target} to targets or drop the options"))
    # derived architecture must agree with the parent's
    for name, rec in variants.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("architecture"), dict):
            continue
        parent_arch = _resolved_arch(variants, rec.get("parent"))
        if parent_arch is None:
            continue
        mine = _arch_dict(rec["architecture"])
        theirs = _arch_dict(parent_arch)
        for field, value in mine.items():
            if theirs.get(field) != value:
                line, col = _locate(tree, ["variants", name, "architecture", field])
                problems.append(
                    Problem(line, col,
                            f"variants.{name}.architecture.{field}: {value!r} disagrees with parent "
                            f"'{rec['parent']}' ({theirs.get(field)!r})",
                            "a derived variant has its parent's architecture; drop the field or fix it")
                )
    return problems


def _resolved_arch(variants: dict[str, Any], name: Any, depth: int = 0) -> dict[str, Any] | None:
    if not isinstance(name, str) or name not in variants or depth > len(variants):
        return None
    rec = variants[name]
    if not isinstance(rec, dict):
        return None
    if isinstance(rec.get("architecture"), dict):
        return rec["architecture"]
    return _resolved_arch(variants, rec.get("parent"), depth + 1)


_ARCH_FIELDS = {f.name: f.default for f in dataclasses.fields(Architecture)}


def _arch_dict(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in _ARCH_FIELDS.items() if v is not dataclasses.MISSING}
    out.update(raw)
    return out


def check_registry(path: str | os.PathLike[str]) -> tuple[list[str], dict[str, Any] | None]:
    """All problems of the file as rendered lines, plus the plain data (None if unparsable)."""
    problems, data, _ = _check(Path(path))
    return problems, data


def _check(p: Path) -> tuple[list[str], dict[str, Any] | None, Any]:
    from jsonschema import Draft202012Validator

    display = _display_path(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{display}:1:1: file not found (hint: create it or pass -C DIR)"], None, None
    except UnicodeDecodeError as exc:
        return [f"{display}:1:1: not UTF-8 text ({exc.reason} at byte {exc.start})"], None, None
    except OSError as exc:
        return [f"{display}:1:1: cannot read ({exc.strerror})"], None, None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        tree, node = _load_with_node(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        return [f"{display}:{line}:{col}: YAML syntax error: {what} (hint: check indentation and quoting)"], None, None
    except (YAMLError, ValueError, TypeError) as exc:  # rare constructor errors
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [f"{display}:1:1: YAML error: {msg}"], None, None
    data = _plain(tree)
    if not isinstance(data, dict):
        return [f"{display}:1:1: top level must be a mapping with schema_version, collection, variants"], None, None
    problems = _duplicate_problems(node)
    validator = Draft202012Validator(registry_schema())
    for err in validator.iter_errors(data):
        problems.extend(_leaf_errors(tree, err))
    problems.extend(_cross_problems(tree, data))
    unique = sorted(set(problems), key=lambda pr: (pr.line, pr.col, pr.message))
    return [pr.render(display) for pr in unique], data, tree


def _leaf_errors(tree: Any, err: Any) -> list[Problem]:
    """Flatten if/then/oneOf wrappers so each message points at the real field."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        from jsonschema.exceptions import best_match

        return [_schema_problem(tree, best_match(err.context))]
    if err.validator in ("allOf", "if", "then", "else") and err.context:
        out: list[Problem] = []
        for sub in err.context:
            out.extend(_leaf_errors(tree, sub))
        return out
    return [_schema_problem(tree, err)]


# --------------------------------------------------------------------------- records


def load_registry(path: str | os.PathLike[str]) -> Registry:
    p = Path(path)
    problems, data, tree = _check(p)
    if problems or data is None:
        n = len(problems)
        raise RegistryError(
            problems[0] if n == 1 else f"{_display_path(p)}: {n} problems:\n  " + "\n  ".join(problems),
            problems=problems,
            hint=None if n == 1 else "run `zoo registry check` for the full list",
        )
    variants = tree["variants"]
    lines = {name: variants.lc.key(name)[0] + 1 for name in variants}
    arch_lines = {name: _architecture_lines(variants, name) for name in variants}
    return _build(p, data, lines, arch_lines)


def _architecture_lines(variants: Any, name: str) -> dict[str, int]:
    """Line of each declared architecture field ("" -> the `architecture:` key) of the record `name`
    inherits its architecture from (itself for f32 roots)."""
    cur: Any = name
    seen: set[str] = set()
    while isinstance(cur, str) and cur in variants and cur not in seen:
        seen.add(cur)
        rec: Any = variants[cur]
        if not isinstance(rec, Mapping):
            break
        arch: Any = rec.get("architecture")
        rec_lc, arch_lc = getattr(rec, "lc", None), getattr(arch, "lc", None)
        if isinstance(arch, Mapping) and rec_lc is not None and arch_lc is not None:
            out = {"": rec_lc.key("architecture")[0] + 1}
            out.update({str(k): arch_lc.key(k)[0] + 1 for k in arch})
            return out
        cur = rec.get("parent")
    return {}


def _build(path: Path, data: dict[str, Any], lines: dict[str, int],
           arch_lines: dict[str, dict[str, int]] | None = None) -> Registry:
    col = data["collection"]
    collection = CollectionSettings(
        name=col["name"],
        hub_repo=col["hub_repo"],
        license=col["license"],
        description=col.get("description", ""),
        datasets=tuple(col.get("datasets", ())),
        citations=tuple(Citation(c["key"], c["bibtex"]) for c in col.get("citations", ())),
        library_name=col.get("library_name", "lewm-zoo"),
    )
    raw = data["variants"]
    records: dict[str, VariantRecord] = {}
    for name in raw:
        arch_raw = _resolved_arch(raw, name)
        assert arch_raw is not None  # guaranteed by the schema (f32 roots carry one)
        rec = raw[name]
        prov = rec.get("provenance")
        fmt = rec["format"]
        ver = rec["verification"]
        records[name] = VariantRecord(
            name=name,
            family=rec["family"],
            description=rec["description"],
            architecture=Architecture(**{**arch_raw, "uncertain": tuple(arch_raw.get("uncertain", ()))}),
            format=FormatSpec(kind=fmt["kind"], mode=fmt.get("mode"), options=dict(fmt.get("options", {}))),
            verification=VerificationPolicy(
                status=ver["status"],
                metric=ver["metric"],
                expected_cosine=float(ver["expected_cosine"]),
                tolerance=float(ver["tolerance"]),
                notes=ver.get("notes"),
            ),
            claims=Claims(**rec.get("claims", {})),
            parent=rec.get("parent"),
            provenance=None
            if prov is None
            else Provenance(
                sources=tuple(SourceSpec(**s) for s in prov["sources"]),
                checkpoint_kind=prov["checkpoint_kind"],
                epoch=prov.get("epoch"),
                training_status=prov.get("training_status"),
                run=prov.get("run"),
                notes=prov.get("notes"),
            ),
            targets=tuple(rec.get("targets", ())),
            license=rec.get("license", collection.license),
            tags=tuple(rec.get("tags", ())),
            notes=rec.get("notes"),
            line=lines.get(name),
            target_options={str(t): dict(o) for t, o in (rec.get("target_options") or {}).items()},
            architecture_lines=dict((arch_lines or {}).get(name, {})),
        )
    return Registry(path=path, collection=collection, variants=records)
