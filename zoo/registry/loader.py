"""Load and check registry.yaml: JSON Schema (Draft 2020-12) + cross-record checks.

Every problem is reported as `FILE:LINE:COL: message (hint)`; all problems are collected,
not only the first. Valid files become frozen `VariantRecord`s (validated once, at load).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from zoo.errors import RegistryError, UsageError
from zoo.registry import _yaml as _yaml_mod
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
    from importlib import resources  # here: a registry read back from the cache needs no schema

    text = resources.files("zoo.registry").joinpath("registry.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int  # 1-based
    col: int  # 1-based
    message: str
    hint: str | None = None

    def render(self, display: str) -> str:
        from zoo.text import visible

        hint = f" (hint: {self.hint})" if self.hint else ""
        return visible(f"{display}:{self.line}:{self.col}: {self.message}{hint}")  # always one line


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


@dataclasses.dataclass(frozen=True)
class _At:
    """A problem whose location is found later (one re-read of the text for all of them)."""

    path: tuple[Any, ...]
    message: str
    hint: str | None = None
    key: bool = False  # locate the key of the last path part, not its value


def _j(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if not isinstance(part, int):
            part = _j(part) if not _PLAIN_KEY.match(str(part)) else part
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_@.-]{1,80}$")


def _r(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _q(name: Any) -> str:
    """A key for a message: 'plain_name', or its JSON form when it holds anything unusual."""
    return f"'{name}'" if _PLAIN_KEY.match(str(name)) else _j(name)


def _schema_problem(err: Any) -> _At:
    path = tuple(err.absolute_path)
    where = _dotted(path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return _At(path, f"{where}: missing required field '{missing}'", f"add '{missing}:'", key=True)
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        at = (*path, extra[0]) if extra else path
        close = difflib.get_close_matches(str(extra[0]), list(err.schema.get("properties", {})), n=1, cutoff=0.6) \
            if extra else []
        hint = f"did you mean {close[0]}? allowed: {allowed}" if close else f"allowed: {allowed}"
        return _At(at, f"{where}: unknown field {_q(extra[0]) if extra else '?'}", hint, key=bool(extra))
    if v == "type":
        want = err.validator_value
        want_s = " or ".join(want) if isinstance(want, list) else want
        return _At(path, f"{where}: expected {want_s}, got {_j(err.instance)}")
    if v == "enum":
        allowed = ", ".join(_j(x) for x in err.validator_value)
        return _At(path, f"{where}: {_j(err.instance)} is not allowed", _enum_hint(list(path), err, allowed))
    if v == "const":
        return _At(path, f"{where}: must be {_j(err.validator_value)}")
    if v == "pattern":
        return _At(path, f"{where}: {_j(err.instance)} has the wrong form", f"must match {err.validator_value}")
    if v == "propertyNames":
        return _At(path, f"{where}: bad variant name {_j(err.instance)}", "a letter, then letters, digits and _ only")
    message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
    return _At(path, f"{where}: {message}")


MAX_PARENT_DEPTH = 16  # f32 -> quantized -> hardware build is 3; the bound keeps every chain walk cheap


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
    close = difflib.get_close_matches(value[:200], names, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? one of {allowed}" if close else f"one of {allowed}"


def _cross_problems(data: dict[str, Any]) -> list[_At]:
    problems: list[_At] = []
    variants = data.get("variants")
    if not isinstance(variants, dict):
        return problems
    names = set(variants)
    for name, rec in variants.items():
        if not isinstance(rec, dict):
            continue
        parent = rec.get("parent")
        where = f"{_dotted(['variants', name])}.parent"
        if isinstance(parent, str) and parent not in names:
            problems.append(_At(("variants", name, "parent"), f"{where}: {unknown_variant_message(parent, names)}"))
        if parent == name:
            problems.append(_At(("variants", name, "parent"), f"{where}: a variant cannot be its own parent"))
    # file: sources must name a local directory: file:///abs, or file:mirror/x relative to the workspace
    from zoo.registry.uris import file_uri_problem

    for name, rec in variants.items():
        prov = rec.get("provenance") if isinstance(rec, dict) else None
        sources = prov.get("sources") if isinstance(prov, dict) else None
        for i, src in enumerate(sources if isinstance(sources, list) else []):
            uri = src.get("uri") if isinstance(src, dict) else None
            if isinstance(uri, str) and uri.startswith("file:"):
                problem = file_uri_problem(uri)
                if problem is not None:
                    problems.append(_At(("variants", name, "provenance", "sources", i, "uri"),
                                        f"{_dotted(['variants', name, 'provenance', 'sources', i, 'uri'])}: {problem[0]}",
                                        problem[1]))
    # parent cycles (longer than a self-reference, which is reported above) and over-deep chains; each
    # variant is walked once (states: 1 on the current walk, 2 finished; depth = length of its chain)
    state: dict[str, int] = {}
    depth: dict[str, int] = {}
    for start in variants:
        if start in state:
            continue
        chain: list[str] = []
        cur: Any = start
        while isinstance(cur, str) and cur in variants and cur not in state:
            state[cur] = 1
            chain.append(cur)
            rec = variants[cur]
            cur = rec.get("parent") if isinstance(rec, dict) else None
        base = depth.get(cur, 0) if isinstance(cur, str) and state.get(cur) == 2 else 0
        if isinstance(cur, str) and state.get(cur) == 1:  # closed a cycle on this walk
            cycle = chain[chain.index(cur):]
            if len(cycle) >= 2:
                first = min(cycle)
                ordered = cycle[cycle.index(first):] + cycle[: cycle.index(first)]
                problems.append(_At(("variants", first, "parent"),
                                    f"{_dotted(['variants', first])}.parent: parent cycle "
                                    f"{' -> '.join(_j(n) if not _PLAIN_KEY.match(n) else n for n in [*ordered, first])}",
                                    "a derived variant must end at an f32 variant"))
        for name in reversed(chain):
            base += 1
            depth[name] = base
            state[name] = 2
            if base == MAX_PARENT_DEPTH + 1:
                problems.append(_At(("variants", name, "parent"),
                                    f"{_dotted(['variants', name])}.parent: more than {MAX_PARENT_DEPTH} ancestors",
                                    "a derived variant's parent chain must end at an f32 variant within "
                                    f"{MAX_PARENT_DEPTH} steps"))
    # target options only for declared targets
    for name, rec in variants.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("target_options"), dict):
            continue
        targets = rec.get("targets")
        declared: list[Any] = targets if isinstance(targets, list) else []
        for target in rec["target_options"]:
            if target not in declared:
                problems.append(_At(("variants", name, "target_options", target),
                                    f"{_dotted(['variants', name, 'target_options', target])}: options for a "
                                    "target the record does not declare",
                                    f"add {_q(target)} to targets or drop the options", key=True))
    # derived architecture must agree with the parent's
    arch_cache: dict[str, dict[str, Any] | None] = {}
    for name, rec in variants.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("architecture"), dict):
            continue
        parent_arch = _resolved_arch(variants, rec.get("parent"), arch_cache)
        if parent_arch is None:
            continue
        mine = _arch_dict(rec["architecture"])
        theirs = _arch_dict(parent_arch)
        for field, value in mine.items():
            if theirs.get(field) != value:
                problems.append(
                    _At(("variants", name, "architecture", field),
                        f"{_dotted(['variants', name, 'architecture', field])}: {_r(value)} disagrees with parent "
                        f"{_q(rec['parent'])} ({_r(theirs.get(field))})",
                        "a derived variant has its parent's architecture; drop the field or fix it")
                )
    return problems


def _resolved_arch(variants: dict[str, Any], name: Any,
                   cache: dict[str, dict[str, Any] | None] | None = None) -> dict[str, Any] | None:
    """The architecture a variant has or inherits (None when the chain breaks or loops); iterative."""
    seen: list[str] = []
    found: dict[str, Any] | None = None
    while isinstance(name, str) and name in variants and name not in seen:
        if cache is not None and name in cache:
            found = cache[name]
            break
        seen.append(name)
        rec = variants[name]
        if not isinstance(rec, dict):
            break
        if isinstance(rec.get("architecture"), dict):
            found = rec["architecture"]
            break
        name = rec.get("parent")
    if cache is not None:
        for n in seen:
            cache[n] = found
    return found


_ARCH_FIELDS = {f.name: f.default for f in dataclasses.fields(Architecture)}


def _arch_dict(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in _ARCH_FIELDS.items() if v is not dataclasses.MISSING}
    out.update(raw)
    return out


def check_registry(path: str | os.PathLike[str]) -> tuple[list[str], dict[str, Any] | None]:
    """All problems of the file as rendered lines, plus the plain data (None if unparsable)."""
    problems, data, _ = _check(Path(path))
    return problems, data


def _check(p: Path) -> tuple[list[str], dict[str, Any] | None, _yaml_mod.Parsed | None]:
    from zoo.registry import _yaml

    display = _display_path(p)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(_yaml.MAX_BYTES + 1)
    except FileNotFoundError:
        return [f"{display}:1:1: file not found (hint: create it or pass -C DIR)"], None, None
    except OSError as exc:
        return [f"{display}:1:1: cannot read ({exc.strerror})"], None, None
    if len(raw) > _yaml.MAX_BYTES:
        return [f"{display}:1:1: larger than {_yaml.MAX_BYTES >> 20} MiB (hint: a registry is text; "
                "split it or remove what is not a variant)"], None, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{display}:1:1: not UTF-8 text ({exc.reason} at byte {exc.start})"], None, None
    try:
        parsed = _yaml.parse(text)
    except _yaml.YamlError as exc:
        return [Problem(exc.line, exc.col, exc.message, exc.hint).render(display)], None, None
    data = parsed.data
    if not isinstance(data, dict):
        return [f"{display}:1:1: top level must be a mapping with schema_version, collection, variants"], None, None
    problems = [Problem(d.line, d.col, f"duplicate key {_q(d.key)} (first defined on line {d.first_line})",
                        "names must be unique; rename or delete one") for d in parsed.duplicates]
    pending: list[_At] = []
    fast = _fast_check()
    if fast is None or not fast(data):
        from jsonschema import Draft202012Validator

        for err in Draft202012Validator(registry_schema()).iter_errors(data):
            pending.extend(_leaf_errors(err))
    pending.extend(_cross_problems(data))
    if pending:
        where = _yaml.locate(text, [(at.path, at.key) for at in pending])
        problems.extend(Problem(*where[(at.path, at.key)], at.message, at.hint) for at in pending)
    unique = sorted(set(problems), key=lambda pr: (pr.line, pr.col, pr.message))
    return [pr.render(display) for pr in unique], data, parsed


@functools.cache
def _fast_check() -> Callable[[Any], bool] | None:
    from zoo.registry._fastschema import Unsupported, compile_schema

    try:
        return compile_schema(registry_schema())
    except (Unsupported, re.error):  # a schema feature the fast path does not know: jsonschema alone
        return None


def _leaf_errors(err: Any) -> list[_At]:
    """Flatten if/then/oneOf wrappers so each message points at the real field."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        from jsonschema.exceptions import best_match

        return [_schema_problem(best_match(err.context))]
    if err.validator in ("allOf", "if", "then", "else") and err.context:
        out: list[_At] = []
        for sub in err.context:
            out.extend(_leaf_errors(sub))
        return out
    return [_schema_problem(err)]


# --------------------------------------------------------------------------- records


_CACHE_DIR: Path | None = None


def use_cache_dir(directory: str | os.PathLike[str] | None) -> None:
    """Make `load_registry` remember checked registries in `directory` (the CLI uses the zoo cache)."""
    global _CACHE_DIR
    _CACHE_DIR = Path(directory) if directory is not None else None


def load_registry(path: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None) -> Registry:
    """Parse, check and build the registry. With a cache directory (`cache_dir`, else `use_cache_dir`'s), a
    registry that passed every check before and is unchanged since (same file stamps, same schema and
    loader) is rebuilt from the plain data remembered there, skipping the YAML parse and the schema
    validation (most of `zoo list`'s time)."""
    p = Path(path)
    if cache_dir is None:
        cache_dir = _CACHE_DIR
    if cache_dir is not None:
        hit = _cache_read(p, Path(cache_dir))
        if hit is not None:
            return _build(p, *hit)
    problems, data, parsed = _check(p)
    if problems or data is None or parsed is None:
        n = len(problems)
        raise RegistryError(
            problems[0] if n == 1 else f"{_display_path(p)}: {n} problems:\n  " + "\n  ".join(problems),
            problems=problems,
            hint=None if n == 1 else "run `zoo registry check` for the full list",
        )
    variants = data["variants"]
    lines = dict(parsed.variant_lines)
    arch_lines = {name: _architecture_lines(variants, parsed.arch_lines, name) for name in variants}
    if cache_dir is not None:
        _cache_write(p, Path(cache_dir), data, lines, arch_lines)
    return _build(p, data, lines, arch_lines)


def _architecture_lines(variants: dict[str, Any], declared: dict[str, dict[str, int]], name: str) -> dict[str, int]:
    """Line of each declared architecture field ("" -> the `architecture:` key) of the record `name`
    inherits its architecture from (itself for f32 roots)."""
    cur: Any = name
    seen: set[str] = set()
    while isinstance(cur, str) and cur in variants and cur not in seen:
        seen.add(cur)
        rec: Any = variants[cur]
        if not isinstance(rec, dict):
            break
        if isinstance(rec.get("architecture"), dict) and cur in declared:
            return declared[cur]
        cur = rec.get("parent")
    return {}


_RACY_S = 2.0  # a file changed this recently may change again within its timestamp granularity


def _cache_key(p: Path) -> tuple[str, list[int]] | None:
    import hashlib

    try:
        real = os.path.realpath(p)
        st = os.stat(real)
        deps = [os.stat(__file__), os.stat(Path(__file__).with_name("registry.schema.json"))]
    except OSError:
        return None
    stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    stamp += [d.st_mtime_ns for d in deps] + [d.st_size for d in deps]
    return hashlib.sha256(real.encode()).hexdigest()[:24], stamp


def _cache_read(p: Path, cache_dir: Path) -> tuple[dict[str, Any], dict[str, int], dict[str, dict[str, int]]] | None:
    from zoo import __version__

    key = _cache_key(p)
    if key is None:
        return None
    try:
        doc = json.loads((cache_dir / f"{key[0]}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("stamp") != key[1] or doc.get("zoo") != __version__:
        return None
    data, lines, arch_lines = doc.get("data"), doc.get("lines"), doc.get("arch_lines")
    if isinstance(data, dict) and isinstance(lines, dict) and isinstance(arch_lines, dict):
        return data, lines, arch_lines
    return None


def _cache_write(p: Path, cache_dir: Path, data: dict[str, Any], lines: dict[str, int],
                 arch_lines: dict[str, dict[str, int]]) -> None:
    import time

    from zoo import __version__
    from zoo._io import atomic_write_text

    key = _cache_key(p)
    if key is None or time.time() - max(key[1][3], key[1][4]) / 1e9 < _RACY_S:
        return
    doc = {"zoo": __version__, "path": os.path.realpath(p), "stamp": key[1], "data": data, "lines": lines,
           "arch_lines": arch_lines}
    with contextlib.suppress(OSError):  # an unwritable cache only costs speed
        # not sort_keys: the order of the variants is the registry's order
        atomic_write_text(cache_dir / f"{key[0]}.json", json.dumps(doc, ensure_ascii=False))


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
    arch_cache: dict[str, dict[str, Any] | None] = {}
    for name in raw:
        arch_raw = _resolved_arch(raw, name, arch_cache)
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
