"""`zoo show NAME` text: the registry record as YAML (inherited fields marked), then what the zoo measured.

Both parts are YAML documents, so `zoo show X | yq` (or `yaml.safe_load_all`) reads them back.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.registry import Registry, VariantRecord, Workspace


def _raw_variants(text: str) -> Any:
    """The records as written (plain data), by the registry's own reader: a ruamel round-trip load of the
    whole file cost ~4 ms per variant (`zoo show` on 1,000 variants: 4.9 s, now 0.7 s)."""
    from zoo.registry import _yaml

    return _yaml.parse(text).data["variants"]


def _owner_of(reg: Registry, rec: VariantRecord, field: str, raw_variants: Any) -> str | None:
    """Nearest ancestor (parent chain) whose record in the file has `field`."""
    cur = reg.parent_of(rec)
    while cur is not None:
        if field in (raw_variants.get(cur.name) or {}):
            return cur.name
        cur = reg.parent_of(cur)
    return None


def inherited_fields(reg: Registry, rec: VariantRecord) -> dict[str, str]:
    """{field: where it comes from} for fields the record does not write itself."""
    raw_variants = _raw_variants(reg.path.read_text(encoding="utf-8"))
    return _inherited(reg, rec, raw_variants)


def _inherited(reg: Registry, rec: VariantRecord, raw_variants: Any) -> dict[str, str]:
    own = raw_variants.get(rec.name) or {}
    out: dict[str, str] = {}
    for field in ("architecture", "provenance"):
        if field not in own:
            owner = _owner_of(reg, rec, field, raw_variants)
            if owner is not None:
                out[field] = owner
    if "license" not in own:
        out["license"] = "collection"
    return out


def _record_span(lines: list[str], reg: Registry, name: str) -> list[str]:
    """The lines from the record's key to the next record (or the next top-level key, or the end)."""
    names = list(reg.variants)
    start = (reg.variants[name].line or 1) - 1
    i = names.index(name)
    if i + 1 < len(names):
        end = (reg.variants[names[i + 1]].line or 1) - 1
    else:  # last record: up to the next top-level key or the end of the file
        end = len(lines)
        for j in range(start + 1, len(lines)):
            if lines[j] and not lines[j][0].isspace() and not lines[j].startswith("#"):
                end = j
                break
    return lines[start:end]


def _record_lines(text: str, reg: Registry, name: str) -> list[str]:
    """The record's lines exactly as written: from its key to the next record (trailing comments and blank
    lines, which belong to the next record, dropped)."""
    block = _record_span(text.splitlines(), reg, name)
    while block and (not block[-1].strip() or block[-1].lstrip().startswith("#")):
        block.pop()
    cut = len(block[0]) - len(block[0].lstrip()) if block else 0
    return [ln[cut:] if ln[:cut].isspace() else ln.lstrip() if not ln.strip() or ln.lstrip().startswith("#") else ln
            for ln in block]


def _dump(key: str, text: str, reg: Registry, owner: str) -> str:
    """`key: ...` of the record `owner` re-dumped by ruamel (comments kept at their columns): only that
    record's lines are loaded with ruamel, not the whole file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML(typ="rt")
    yaml.width = 110
    buf = io.StringIO()
    doc = CommentedMap()
    doc[key] = YAML(typ="rt").load("\n".join(_record_span(text.splitlines(), reg, owner)))[owner][key]
    yaml.dump(doc, buf)
    return buf.getvalue()


def record_yaml(reg: Registry, rec: VariantRecord) -> str:
    text = reg.path.read_text(encoding="utf-8")
    raw_variants = _raw_variants(text)
    lines = [f"# {rec.name}: {reg.path.name} line {rec.line} (as written; inherited fields marked)"]
    lines += _record_lines(text, reg, rec.name)
    # indentation of the record's own fields, so inherited ones line up with them
    indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[2:] if ln.strip() and not ln.lstrip().startswith("#")),
                  "  ")
    for field, owner in _inherited(reg, rec, raw_variants).items():
        if owner == "collection":
            lines.append(f"{indent}# inherited from the collection")
            lines.append(f"{indent}license: {json.dumps(reg.collection.license)}")
            continue
        what = " (the f32 root)" if field == "provenance" else ""
        lines.append(f"{indent}# inherited from {owner}{what}")
        dumped = _dump(field, text, reg, owner)
        lines += [indent + ln if ln else ln for ln in dumped.rstrip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def _q(value: Any) -> str:
    """A YAML scalar: JSON's quoting is valid YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def status_yaml(ws: Workspace, reg: Registry, rec: VariantRecord, m: dict[str, Any],
                measured_arch: dict[str, Any] | None = None, arch_notes: list[str] | None = None) -> str:
    from zoo.cli.registry_cmds import fmt_size
    from zoo.store.status import STATUS_MEANING

    vdir = ws.variant_dir(rec.name)
    rel_dir = f"variants/{rec.name}/"
    out = [f"# what the zoo measured and built ({rel_dir})"]
    out.append(f"status: {_q(m['status'])}  # {STATUS_MEANING.get(m['status'], '')}")
    out.append(f"local: {_q(m['stage'])}  # absent, pulled, converted, quantized or built")
    out.append(f"f32_root: {_q(reg.f32_root(rec).name)}")
    children = [c.name for c in reg.children(rec.name)]
    out.append(f"children: [{', '.join(children)}]")
    claims = rec.claims
    out.append("size:")
    out.append(f"  measured: {_q(m['size'])}" + (f"  # {fmt_size(m['size'])}, {m['artifact']}" if m["size"] else ""))
    out.append(f"  claim: {_q(claims.size_text)}" + (f"  # {claims.size_bytes} bytes" if claims.size_bytes else ""))
    out.append("cosine:")
    out.append(f"  metric: {_q(m['metric'])}")
    cos = m["cosine"]
    out.append(f"  measured: {_q(None if cos is None else round(cos, 6))}")
    out.append(f"  claim: {_q(claims.cosine_text if claims.cosine_text else claims.cosine)}")
    out.append(f"  gate: {_q(round(m['threshold'], 6))}  # expected {rec.verification.expected_cosine} "
               f"- tolerance {rec.verification.tolerance}; policy {rec.verification.status}")
    verify = m["verify"]
    if verify.get("measured_at"):
        out.append(f"  measured_at: {_q(verify.get('measured_at'))}")
    if verify.get("reason"):
        out.append(f"  reason: {_q(verify.get('reason'))}")
    uncertain = list(rec.architecture.uncertain)
    if uncertain:  # declared vs what the checkpoint's conversion measured (later stages use the checkpoint's)
        out.append("architecture_uncertain:")
        notes = dict(zip(uncertain, arch_notes or [], strict=False))
        for field in uncertain:
            entry = (measured_arch or {}).get(field)
            got = entry.get("measured") if isinstance(entry, dict) else None
            out.append(f"  {field}: {{declared: {_q(getattr(rec.architecture, field))}, checkpoint: {_q(got)}}}"
                       + (f"  # {notes[field]}" if field in notes else ""))
    manifest = m["manifest"]
    artifacts = manifest.get("artifacts") or {}
    out.append("artifacts:" + ("" if artifacts else " {}  # nothing built yet"))
    for rel, a in sorted(artifacts.items()):
        if not isinstance(a, dict):
            continue
        present = "" if (vdir / rel).is_file() else "  # missing on disk"
        out.append(f"  {_q(rel)}: {{kind: {_q(a.get('kind'))}, size: {_q(a.get('size'))}, "
                   f"sha256: {_q(a.get('sha256'))}}}{present}")
    built = manifest.get("targets") or {}
    declared = list(rec.targets) + sorted(set(built) - set(rec.targets))
    out.append("targets:" + ("" if declared else " {}  # the registry declares none"))
    for t in declared:
        entry = built.get(t) if isinstance(built.get(t), dict) else None
        if entry is None:
            out.append(f"  {t}: {{state: \"not built\"}}  # zoo build {rec.name} --target {t}")
            continue
        check = entry.get("check") if isinstance(entry.get("check"), dict) else None
        if check is None:
            state = "built, not checked"
        else:
            state = "check passed" if check.get("passed") else "check failed"
        n = len(entry.get("artifacts") or {})
        line = f"  {t}: {{state: {_q(state)}, artifacts: {n}"
        if check is not None and check.get("summary"):
            line += f", summary: {_q(check.get('summary'))}"
        out.append(line + "}")
    return "\n".join(out) + "\n"
