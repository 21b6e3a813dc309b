"""Render variant cards (`cards/<name>/README.md`) and the collection card (`cards/README.md`).

Templates ship in `zoo/cards/templates/` and are rendered with jinja2 under StrictUndefined;
the YAML front matter comes from `huggingface_hub.ModelCardData` and every card is parsed back
and checked (`metadata.validate_card_text`) before anything is written. Output depends only on
the registry and the files under `variants/`, so rendering twice gives identical bytes.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo._io import atomic_write_text, contained_path
from zoo.cards.data import (
    FPGA_REPORT,
    MODE_LABEL,
    VariantFacts,
    collection_facts,
    flatten_scalars,
    hub_path,
    hub_repo_id,
    variant_facts,
)
from zoo.cards.metadata import (
    METRIC_ORDER,
    collection_card_data,
    front_matter,
    validate_card_text,
    variant_card_data,
)
from zoo.cards.redact import redact_value
from zoo.cards.usage import collection_usage_context, usage_context

if TYPE_CHECKING:
    import jinja2

    from zoo.registry import Registry, Workspace

CARD_FILE = "README.md"
# What the original collection reported for its hardwired FPGA design (spec §5.2), shown next to
# the zoo's own synthesis report so readers can compare; these are claims, not zoo measurements.
FPGA_CLAIMS = (
    ("multipliers eliminated", "98.3% of multiplies"),
    ("weight storage", "0 BRAM, 0 multipliers for weights"),
    ("LUTs", "≈12% of the device (card: Arty A7; synapse estimate: ECP5-85K), time-multiplexed 32-MAC estimate"),
    ("logic per Q4 block", "~146 cells (Yosys)"),
    ("cosine vs f32", "1.000 (bit-exact shift-add)"),
)
# The original collection card's Apple Silicon timings (ms: encode, predict, 20-step rollout), hand-recorded
# on other hardware with another runtime; shown next to `zoo bench` numbers as claims, never as measurements.
BENCH_CLAIMS: dict[str, tuple[str, float, float, float]] = {
    "baseline_192d_6e_6p": ("baseline f32", 52, 32, 640),
    "baseline_full": ("baseline INT8+Q4", 25, 21, 420),
    "slim_96d_4e_4p": ("slim 96d f32", 18, 18, 360),
    "slim_96d_4e_4p_full": ("slim 96d INT8+Q4", 10, 15, 300),
    "hybrid_ALAL_64d_4e_4p": ("hybrid f32", 8, 10, 200),
}
BENCH_CLAIMS_SOURCE = "original collection card, Apple Silicon (other hardware and runtime; not reproduced by the zoo)"
BENCH_OPS = (("encode", "encode (image → latent)"), ("predict", "predict (one step)"),
             ("rollout20", "20-step rollout"))
LICENSE_TEXT = {
    "cc-by-nc-4.0": (
        "Creative Commons Attribution-NonCommercial 4.0 (CC BY-NC 4.0), inherited from LeWM. You may copy, "
        "share and adapt these weights for non-commercial purposes, provided you credit the LeWM authors "
        "and this collection and say what you changed. Commercial use is not permitted. Full terms: "
        "https://creativecommons.org/licenses/by-nc/4.0/"
    ),
}


# ----------------------------------------------------------------------------- formatting


def fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.1f} MB"


def fmt_cos(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return "—"
    return f"{float(v):.6f}"


def fmt_num(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "—"
    return str(v)


def short(digest: str | None) -> str:
    return f"`{digest[:12]}`" if digest else "—"


def cell(v: Any) -> str:
    """A value safe inside a Markdown table cell."""
    return fmt_num(v).replace("|", "\\|").replace("\n", " ")


def template_env(*, autoescape: bool) -> jinja2.Environment:
    """The one jinja2 set-up of cards, site pages and plots: package templates, strict undefined,
    whitespace control; `autoescape` for HTML/SVG, off for Markdown (whose values go through `cell`)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zoo.cards", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
    )
    env.filters.update(size=fmt_size, cos=fmt_cos)
    return env


@functools.cache
def _env() -> jinja2.Environment:
    env = template_env(autoescape=False)  # Markdown output; values go through `cell`
    env.filters.update(num=fmt_num, short=short, cell=cell, redact=redact_value)
    return env


# ----------------------------------------------------------------------------- contexts


# Short forms of the claim kinds (records.SIZE_KINDS / COSINE_KINDS) for table cells.
KIND_SHORT = {"file": "file size", "formula": "formula estimate", "mib": "MiB", "other-config": "other configuration",
              "derived": "derived by the zoo", "approximate": "approximate", "gates": "no stored weights",
              "measured": "as measured", "other-source": "other source"}


def _claims(facts: VariantFacts) -> dict[str, str]:
    """The claimed numbers as the card prints them, each followed by its kind: `54.6 MB (formula estimate)`."""
    c = facts.record.claims
    size = c.size_text or (fmt_size(c.size_bytes) if c.size_bytes else None)
    cos = c.cosine_text or (f"{c.cosine}" if c.cosine is not None else None)
    if size and c.size_kind:
        size = f"{size} ({KIND_SHORT.get(c.size_kind, c.size_kind)})"
    if cos and c.cosine is not None and c.cosine_kind:
        cos = f"{cos} ({KIND_SHORT.get(c.cosine_kind, c.cosine_kind)})"
    return {"size": size or "—", "cosine": cos or "—", "params": c.params or "—", "source": c.source or "",
            "size_kind": c.size_label or "", "cosine_kind": (c.cosine_label or "") if c.cosine is not None else ""}


def _metric_rows(facts: VariantFacts) -> list[dict[str, Any]]:
    if facts.verify is None:
        return []
    metrics = facts.verify.get("metrics") or {}
    pol = facts.record.verification
    rows = []
    names = [m for m in METRIC_ORDER if m in metrics] + sorted(set(metrics) - set(METRIC_ORDER))
    for name in names:
        entry = metrics[name]
        if isinstance(entry, dict):
            cos = entry.get("cosine")
            ok = isinstance(cos, int | float) and float(cos) >= pol.threshold
            rows.append(
                {
                    "metric": name,
                    "cosine": fmt_cos(cos),
                    "max_abs": fmt_num(entry.get("max_abs")),
                    "result": ("pass" if ok else "fail") if isinstance(cos, int | float) else "—",
                    "gate": name == pol.metric,
                }
            )
        else:
            rows.append({"metric": name, "cosine": "—", "max_abs": fmt_num(entry), "result": "—", "gate": False})
    return rows


def _source_rows(facts: VariantFacts) -> list[tuple[str, str]]:
    if not facts.source:
        return []
    # empty values (an artifact without aliases) would only show as blank rows
    return [
        (k, fmt_num(v))
        for k, v in flatten_scalars(facts.source)
        if not k.startswith("files") and v not in ("", None)
    ]


def _source_files(facts: VariantFacts) -> list[dict[str, Any]]:
    files = (facts.source or {}).get("files") or {}
    if not isinstance(files, dict):
        return []
    return [
        {"name": n, "size": v.get("size"), "sha256": v.get("sha256"), "md5": v.get("md5")}
        for n, v in sorted(files.items())
        if isinstance(v, dict)
    ]


def variant_context(registry: Registry, facts: VariantFacts) -> dict[str, Any]:
    rec = facts.record
    col = registry.collection
    prov = facts.reference.provenance
    lic = rec.license
    return {
        "rec": rec,
        "f": facts,
        "collection": col,
        "status": facts.status,
        "format_label": facts.format_label,
        "mode_label": MODE_LABEL.get(rec.format.mode or "", ""),
        "format_options": flatten_scalars(rec.format.options),
        "claims": _claims(facts),
        "measured_size": facts.measured_size,
        "gate": (facts.verify or {}).get("gate") or {},
        "metric_rows": _metric_rows(facts),
        "verified_on": sorted(((facts.verify or {}).get("artifacts") or {}).items()),
        "reference_golden": ((facts.verify or {}).get("reference") or {}).get("golden_sha256"),
        "provenance": prov,
        "source_rows": _source_rows(facts),
        "source_files": _source_files(facts),
        "converter": facts.converted_by or "—",
        "bench": bench_section(facts),
        "fpga": fpga_section(facts),
        "fpga_report_path": FPGA_REPORT,
        "fpga_claims": FPGA_CLAIMS,
        "esp32": esp32_section(facts),
        "wasm": wasm_section(facts),
        "other_targets": {t: a for t, a in facts.targets.items() if t not in ("esp32", "fpga", "wasm")},
        "arch_rows": _arch_rows(facts),
        "parent_hub_path": hub_path(col, facts.parent.name) if facts.parent else None,
        "hub_repo": hub_repo_id(col, facts.name),
        "base_model": hub_repo_id(col, facts.parent.name) if facts.parent else None,
        "citations": col.citations,
        "license_text": LICENSE_TEXT.get(lic, f"Released under the `{lic}` license; see the license text."),
        "use": usage_context(registry, facts),
    }


def _arch_value(facts: VariantFacts, field: str) -> str:
    """A field as the card shows it: `declared 6, checkpoint 12` when they differ; uncertain ones say so."""
    a = facts.record.architecture
    declared = getattr(a, field)
    entry = facts.measured_arch.get(field)
    if isinstance(entry, dict) and "measured" in entry:
        got = entry["measured"]
        if got != declared:
            return f"declared {declared}, checkpoint {got}"
        return f"{declared} (uncertain in the registry; the checkpoint agrees)"
    if field in a.uncertain:
        return f"{declared} (declared, uncertain: measured at conversion)"
    return str(declared)


def _arch_rows(facts: VariantFacts) -> list[tuple[str, Any]]:
    a = facts.record.architecture

    def v(field: str) -> str:
        return _arch_value(facts, field)

    pattern = facts.arch_value("block_pattern")
    rows: list[tuple[str, Any]] = [
        ("encoder", f"{a.encoder_kind}" + (f" (blocks {pattern})" if pattern else "")),
        ("latent dim D", v("latent_dim")),
        ("encoder layers / hidden / heads / MLP", f"{v('encoder_layers')} / {v('encoder_hidden')} / {a.encoder_heads} / {v('encoder_inter')}"),
        ("predictor layers / hidden / heads / MLP", f"{v('predictor_layers')} / {v('predictor_hidden')} / {a.predictor_heads} / {v('predictor_inter')}"),
        ("predictor attention inner dim", v("predictor_inner_dim")),
        ("meta tokens", v("meta_tokens")),
        ("projector hidden", v("projector_hidden")),
        ("action input dim", v("action_input_dim")),
        ("input image", "224×224 RGB, 14×14 patches"),
    ]
    return rows


# ----------------------------------------------------------------------------- hardware / benchmark sections


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _pct(part: Any, whole: Any) -> str:
    a, b = _num(part), _num(whole)
    return f"{100.0 * a / b:.1f}%" if a is not None and b else "—"


def fpga_section(facts: VariantFacts) -> dict[str, Any] | None:
    """The "Hardware: FPGA" section from `targets/fpga/report.json` (None when there is no report).

    The report's own comparison table (measured slice vs the original card's claims) is rendered
    as is; a report without a usable table falls back to its `measured` numbers.
    """
    rep = facts.fpga_report
    if rep is None:
        return None
    table = _dict(rep.get("table"))
    raw_columns, raw_rows = table.get("columns"), table.get("rows")
    columns: list[Any] = ["quantity", "measured"]
    rows: list[list[Any]] = [[k, v] for k, v in flatten_scalars(_dict(rep.get("measured")))]
    if (isinstance(raw_columns, list) and len(raw_columns) >= 2 and isinstance(raw_rows, list)
            and all(isinstance(r, list) and len(r) == len(raw_columns) for r in raw_rows)):
        columns, rows = raw_columns, raw_rows
    claims = _dict(rep.get("claims"))
    raw_notes = rep.get("notes")
    notes = [n for n in raw_notes if isinstance(n, str)] if isinstance(raw_notes, list) else []
    # the note that explains why the measured LUT share differs from the card's ~12%
    lut_gap = next((n for n in notes if "12%" in n or "time-multiplexed" in n), None)
    sim = _dict(rep.get("simulation"))
    sl = _dict(rep.get("slice"))
    passed = rep.get("passed")
    return {
        "title": str(table.get("title") or "FPGA hardwired design"),
        "columns": [str(c) for c in columns],
        "rows": [[cell(c) for c in r] for r in rows],
        "summary": str(rep.get("summary") or ""),
        "passed": passed if isinstance(passed, bool) else None,
        "bit_exact": sim.get("bit_exact") if isinstance(sim.get("bit_exact"), bool) else None,
        "slice": sl,
        "claims_scope": str(claims.get("scope") or ""),
        "lut_gap": lut_gap,
        "notes": [n for n in notes if n != lut_gap],
    }


def esp32_section(facts: VariantFacts) -> dict[str, Any] | None:
    """The "Hardware: ESP32-P4" section: built artifacts with sizes and the memory report."""
    arts = facts.targets.get("esp32")
    if arts is None:
        return None
    mem = facts.esp32_memory or {}
    memory_rows: list[tuple[str, str, str, str]] = []
    if mem:
        flash, flash_lim = mem.get("flash_bytes"), mem.get("flash_limit_bytes")
        psram, psram_lim = mem.get("psram_bytes"), mem.get("psram_limit_bytes")
        memory_rows = [
            ("flash (model blob)", _bytes(flash), _bytes(flash_lim), _pct(flash, flash_lim)),
            ("scratch RAM (activations)", _bytes(mem.get("ram_scratch_bytes")), "part of PSRAM",
             _pct(mem.get("ram_scratch_bytes"), psram_lim)),
            ("PSRAM at load (total)", _bytes(psram), _bytes(psram_lim), _pct(psram, psram_lim)),
        ]
        breakdown = _dict(mem.get("psram_breakdown"))
        for key, value in sorted(breakdown.items()):
            memory_rows.append((f"PSRAM: {str(key).replace('_', ' ')}", _bytes(value), "", _pct(value, psram_lim)))
    check = facts.target_checks.get("esp32") or {}
    fits = mem.get("fits")
    return {
        "artifacts": arts,
        "total": sum(a.size or 0 for a in arts),
        "memory_rows": memory_rows,
        "fits": fits if isinstance(fits, bool) else None,
        "check_summary": str(check.get("summary") or ""),
        "check_passed": check.get("passed") if isinstance(check.get("passed"), bool) else None,
    }


def wasm_section(facts: VariantFacts) -> dict[str, Any] | None:
    """The "Browser: WebAssembly" section: built files and, after `--check`, node / Chromium timings
    next to the original card's browser claims (`targets/wasm/report.json`)."""
    arts = facts.targets.get("wasm")
    if arts is None:
        return None
    rep = facts.wasm_report or {}
    plats = _dict(rep.get("platforms"))
    claims = _dict(rep.get("claims"))
    rows: list[list[str]] = []
    if plats:
        for key, label in (("encode", "encode (224×224 image)"), ("predict", "predict (full history)"),
                           ("rollout", "rollout, 20 steps")):  # fmt: skip
            cells = [label]
            for p in ("node", "chromium"):
                v = _num(_dict(_dict(plats.get(p)).get("ms")).get(key))
                cells.append("—" if v is None else f"{v:,.1f} ms")
            c = _num(claims.get(f"{key}_ms"))
            cells.append(f"~{c:,.0f} ms" if c is not None else "—")
            chrome = _num(_dict(_dict(plats.get("chromium")).get("ms")).get(key))
            cells.append(f"{c / chrome:,.1f}× faster" if c is not None and chrome else "—")
            rows.append(cells)
        cos = [_num(_dict(plats.get(p)).get("min_cosine")) for p in ("node", "chromium")]
        rows.append(["min cosine vs golden", *("—" if v is None else f"{v:.6f}" for v in cos), "—", "—"])
    passed = rep.get("passed")
    return {
        "artifacts": arts,
        "total": sum(a.size or 0 for a in arts),
        "rows": rows,
        "claim_row": str(claims.get("row") or ""),
        "claims_source": str(claims.get("source") or ""),
        "summary": str(rep.get("summary") or ""),
        "passed": passed if isinstance(passed, bool) else None,
        "runtimes": {p: str(_dict(plats.get(p)).get("runtime") or "") for p in ("node", "chromium") if p in plats},
        "machine": ", ".join(f"{k.replace('_', ' ')} {fmt_num(v)}" for k, v in sorted(_dict(rep.get("machine")).items())),
    }


def _bytes(v: Any) -> str:
    n = _num(v)
    return "—" if n is None else f"{int(n):,} B ({fmt_size(int(n))})"


def _ms(entry: Any, key: str = "median_ms") -> float | None:
    return _num(entry.get(key)) if isinstance(entry, dict) else None


def bench_section(facts: VariantFacts) -> dict[str, Any] | None:
    """"Benchmarks (this machine)": `bench.json` medians next to the original card's claimed timings."""
    bench = facts.bench
    claim = BENCH_CLAIMS.get(facts.name)
    if bench is None and claim is None:
        return None
    rows = []
    for i, (op, label) in enumerate(BENCH_OPS):
        med = _ms((bench or {}).get(op))
        low = _ms((bench or {}).get(op), "min_ms")
        rows.append({
            "op": label,
            "median": "—" if med is None else f"{med:.2f}",
            "min": "—" if low is None else f"{low:.2f}",
            "claim": "—" if claim is None else f"{claim[i + 1]:g}",
        })
    machine = _dict((bench or {}).get("machine"))
    setup = []
    if bench is not None:
        setup = [f"{k}: {fmt_num(v)}" for k, v in (
            ("engine", bench.get("engine")), ("batch", bench.get("batch")), ("runs", bench.get("repeats")),
            ("warm-up", bench.get("warmup")), ("BLAS threads", bench.get("threads")),
        ) if v is not None]
        setup += [f"{k}: {fmt_num(v)}" for k, v in sorted(machine.items())]
    return {
        "measured": bench is not None,
        "rows": rows,
        "setup": setup,
        "claim_label": claim[0] if claim else None,
        "claim_source": BENCH_CLAIMS_SOURCE,
    }


# ----------------------------------------------------------------------------- public API


def _compose(card_data: Any, body: str, *, where: str) -> str:
    body = re.sub(r"\n{3,}", "\n\n", body.strip())  # templates' optional blocks leave blank runs
    text = front_matter(card_data, where=where) + "\n" + body + "\n"
    validate_card_text(text, where=where)
    return text


def render_card(workspace: Workspace, registry: Registry, name: str) -> str:
    """The full README.md (front matter + body) of one variant."""
    rec = registry.variants.get(name)
    if rec is None:
        from zoo.errors import UsageError
        from zoo.registry import unknown_variant_message

        raise UsageError(unknown_variant_message(name, registry.variants))
    facts = variant_facts(workspace, registry, name)
    body = _env().get_template("variant.md.j2").render(**variant_context(registry, facts))
    return _compose(variant_card_data(registry.collection, facts), body, where=f"cards/{name}/{CARD_FILE}")


def collection_context(registry: Registry, facts: list[VariantFacts]) -> dict[str, Any]:
    from zoo.registry import FAMILIES

    families = [fam for fam in FAMILIES if any(f.record.family == fam for f in facts)]
    families += sorted({f.record.family for f in facts} - set(families))
    by_family = {fam: [f for f in facts if f.record.family == fam] for fam in families}
    tldr = []
    for fam in families:
        group = by_family[fam]
        passed = [f for f in group if f.status == "verified"]
        # an f32 reference measured against its own golden outputs is 1.0 by construction, so
        # "best" only ranks derived (compressed) variants
        measured = [f for f in group if f.record.is_derived and f.gate_cosine is not None and f.status in ("verified", "measured")]
        sized = [f for f in group if f.measured_size is not None]
        smallest = min(sized, key=lambda f: (f.measured_size, f.name)) if sized else None
        best = max(measured, key=lambda f: (f.gate_cosine or 0.0, f.name)) if measured else None
        tldr.append(
            {
                "family": fam,
                "count": len(group),
                "passed": len(passed),
                "smallest": smallest,
                "best": best,
            }
        )
    derived = [f for f in facts if f.record.is_derived]
    benches = [f for f in facts if f.bench]
    from zoo.store.status import STATUSES

    statuses = {s: sum(1 for f in facts if f.status == s) for s in STATUSES}
    return {
        "collection": registry.collection,
        "facts": facts,
        "families": families,
        "by_family": by_family,
        "tldr": tldr,
        "derived": derived,
        "benches": [(f, bench_section(f)) for f in benches],
        # claimed timings of variants the zoo has not benchmarked stay visible next to measured ones
        "bench_claims_only": [(f, bench_section(f)) for f in facts if not f.bench and f.name in BENCH_CLAIMS],
        "bench_claims": [(n, c) for n, c in BENCH_CLAIMS.items() if any(f.name == n for f in facts)],
        "bench_claims_source": BENCH_CLAIMS_SOURCE,
        "fpga": [(f, fpga_section(f)) for f in facts if f.fpga_report],
        "esp32": [(f, esp32_section(f)) for f in facts if "esp32" in f.targets],
        "wasm": [(f, wasm_section(f)) for f in facts if "wasm" in f.targets],
        "fpga_claims": FPGA_CLAIMS,
        "claims": {f.name: _claims(f) for f in facts},
        "statuses": statuses,
        "mode_label": MODE_LABEL,
        "citations": registry.collection.citations,
        "license_text": LICENSE_TEXT.get(
            registry.collection.license, f"Released under the `{registry.collection.license}` license."
        ),
        "use": collection_usage_context(registry, facts),
    }


def render_collection_card(workspace: Workspace, registry: Registry) -> str:
    """The collection card (`cards/README.md`), the root README of the Hub collection repository."""
    facts = collection_facts(workspace, registry)
    body = _env().get_template("collection.md.j2").render(**collection_context(registry, facts))
    return _compose(collection_card_data(registry.collection, facts), body, where=f"cards/{CARD_FILE}")


def expected_cards(workspace: Workspace, registry: Registry, names: list[str] | None = None) -> dict[Path, str]:
    """Every card path -> its rendered text (all variants when `names` is None) plus the collection card."""
    selected = list(registry.variants) if names is None else names
    out = {workspace.cards_dir / n / CARD_FILE: render_card(workspace, registry, n) for n in selected}
    out[workspace.cards_dir / CARD_FILE] = render_collection_card(workspace, registry)
    from zoo.cards.plots import SIZE_COSINE_SVG, size_cosine_svg

    # the collection card shows this plot as an image (a relative link, uploaded next to it)
    out[workspace.cards_dir / SIZE_COSINE_SVG] = size_cosine_svg(collection_facts(workspace, registry))
    return out


def write_cards(workspace: Workspace, registry: Registry, names: list[str] | None = None) -> list[Path]:
    """Render (all first, so a bad card writes nothing), then write changed cards atomically."""
    cards = expected_cards(workspace, registry, names)
    written = []
    root = workspace.root
    # every destination is checked before anything is written: no writing through symlinks that leave the workspace
    checked = {contained_path(root, path.relative_to(root), what="card"): text for path, text in cards.items()}
    for path, text in checked.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        written.append(path)
    return written


def check_cards(workspace: Workspace, registry: Registry, *, include_site: bool | None = None) -> list[str]:
    """Paths (relative to the workspace) whose committed content differs from a fresh render.

    Also lists card directories of variants no longer in the registry. The site is compared too
    when `cards/site/` exists (or `include_site` is True).
    """
    root = workspace.root
    stale: list[str] = []
    for path, text in expected_cards(workspace, registry).items():
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            stale.append(str(path.relative_to(root)))
    cards_dir = workspace.cards_dir
    if cards_dir.is_dir():
        for sub in sorted(cards_dir.iterdir()):
            if sub.is_dir() and (sub / CARD_FILE).is_file() and sub.name not in registry.variants:
                stale.append(str((sub / CARD_FILE).relative_to(root)))
    site_dir = cards_dir / "site"
    if include_site or (include_site is None and site_dir.is_dir()):
        from zoo.cards.site import SITE_DIR, site_files

        files = site_files(workspace, registry)
        for rel, text in files.items():
            path = cards_dir / SITE_DIR / rel
            if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
                stale.append(str(path.relative_to(root)))
        if site_dir.is_dir():
            for path in sorted(site_dir.rglob("*")):
                if path.is_file() and str(path.relative_to(site_dir)) not in files:
                    stale.append(str(path.relative_to(root)))
    return sorted(stale)
