"""The "How to use" and "Intended uses & limitations" facts of a card (issue 16).

The snippet a card shows must run as written for a Hub user: it loads the variant's own file
from its per-variant repository (`hf://<hub_repo>-<name>/<file>`, the release layout), so the
reference, the file name and the printed shapes are computed here from the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.cards.data import hub_repo_id
from zoo.registry.records import architecture_to_config

if TYPE_CHECKING:
    from zoo.cards.data import VariantFacts
    from zoo.registry import Registry, VariantRecord

SNIPPET_STEPS = 20
SYNTHETIC_STATUS = "synthetic"


def is_synthetic(facts: VariantFacts) -> bool:
    prov = facts.reference.provenance
    return prov is not None and prov.training_status == SYNTHETIC_STATUS


def hub_reference(registry: Registry, rec: VariantRecord) -> tuple[str, str]:
    """(`hf://` reference in the per-variant layout, the same file in the single-repo mirror layout)."""
    from zoo.verify.engine import LQ40_FILE, NUMERIC_FILES
    from zoo.verify.run import numerics_source

    src = numerics_source(registry, rec)  # the record whose file `zoo.load` reads (hdl: its quantized parent)
    fname = (NUMERIC_FILES.get(src.format.kind) or (LQ40_FILE,))[0]
    col = registry.collection
    return f"hf://{hub_repo_id(col, src.name)}/{fname}", f"hf://{col.hub_repo}/{src.name}/{fname}"


def _training(facts: VariantFacts) -> str:
    prov = facts.reference.provenance
    ref = facts.reference.name
    if prov is None:
        return f"no training provenance is recorded for {ref}."
    if prov.training_status == SYNTHETIC_STATUS:
        return "none: seeded random weights (`zoo demo`)."
    if prov.training_status == "converged":
        return f"{ref} is the converged baseline" + (f" (epoch {prov.epoch})" if prov.epoch is not None else "") + \
            "; its quality is that of a research checkpoint, not of a tuned production model."
    epoch = f"epoch {prov.epoch}" if prov.epoch is not None else (prov.training_status or "an early epoch")
    status = prov.training_status
    if status and status != f"epoch-{prov.epoch}":
        epoch += f", status {status}"
    return (f"{ref} is an early training snapshot ({epoch}): latents and rollouts are of epoch-1 quality, useful "
            "to compare variants and tooling, not converged.")


def _quantization(facts: VariantFacts) -> str:
    rec = facts.record
    if not rec.is_derived:
        return ("none: this is the f32 reference the compressed variants are measured against "
                "(the zoo's numpy engine runs it in float32).")
    metric = rec.verification.metric
    measured = facts.gate_cosine
    got = f"{measured:.6f}" if measured is not None and facts.status != "stale" else "not measured yet"
    return (f"the weights are compressed ({facts.format_label}), so outputs differ from {facts.reference.name}'s: "
            f"`{metric}` cosine against the f32 reference: {got} (gate ≥ {rec.verification.threshold:.6f}); the "
            f"error grows with rollout length. See Verification for every metric.")


def usage_context(registry: Registry, facts: VariantFacts) -> dict[str, Any]:
    from zoo.verify.run import numerics_source

    rec = facts.record
    hub_ref, mirror_ref = hub_reference(registry, rec)
    d = rec.architecture.latent_dim
    datasets = ", ".join(f"`{x}`" for x in registry.collection.datasets) or "PushT"
    return {
        "synthetic": is_synthetic(facts),
        "hub_ref": hub_ref,
        "mirror_ref": mirror_ref,
        "numerics_name": numerics_source(registry, rec).name,
        "latent_dim": d,
        "action_dim": rec.architecture.action_input_dim,
        "history": architecture_to_config(rec.architecture).history_size,
        "expected_output": f"({d},) ({SNIPPET_STEPS}, {d})",
        "datasets": datasets,
        "training": _training(facts),
        "quantization": _quantization(facts),
        # each relative's own repository (the release layout), linked next to the collection-folder links
        "repo_of": {n: hub_repo_id(registry.collection, n) for n in (rec.parent, *facts.children) if n},
    }


def snippet_variant(facts: list[VariantFacts]) -> VariantFacts | None:
    """The variant the collection card's snippet loads: the first LQ40 `full` variant (small, the
    collection's headline format), else the first variant with weights of its own."""
    for f in facts:
        if f.record.format.kind == "lq40" and f.record.format.mode == "full":
            return f
    from zoo.verify.engine import NUMERIC_FILES

    return next((f for f in facts if NUMERIC_FILES.get(f.record.format.kind)), None)


def collection_usage_context(registry: Registry, facts: list[VariantFacts]) -> dict[str, Any]:
    chosen = snippet_variant(facts)
    base = usage_context(registry, chosen) if chosen is not None else None
    return {
        "synthetic": any(is_synthetic(f) for f in facts),
        "variant": chosen.name if chosen is not None else None,
        "snippet": base,
        "datasets": ", ".join(f"`{x}`" for x in registry.collection.datasets) or "PushT",
        "license": registry.collection.license,
    }
