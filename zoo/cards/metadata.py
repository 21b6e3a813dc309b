"""Hub YAML front matter for a card: built with `ModelCardData`, checked locally before writing.

The Hub's own validator (`ModelCard.validate()`) POSTs to huggingface.co and is never called;
instead the rendered text is parsed back with `huggingface_hub.ModelCard` and checked for what
the Hub rejects or warns about (missing/unterminated block, unknown license, model-index shape).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from zoo.errors import InputError

if TYPE_CHECKING:
    from zoo.cards.data import VariantFacts
    from zoo.registry import CollectionSettings

METRIC_ORDER = ("latent", "predict@1", "rollout@1", "rollout@10", "rollout@20")
TASK_TYPE = "world-modeling"
TASK_NAME = "Latent prediction fidelity vs the f32 reference"
DATASET_TYPE = "lewm-golden-inputs"
DATASET_NAME = "LeWM deterministic golden inputs"
BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")
# Hub license identifiers (subset of hub-docs repositories-licenses.md that model zoos use).
HUB_LICENSES = frozenset(
    {
        "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bsd-3-clause",
        "bsd-2-clause", "cc0-1.0", "cc-by-2.0", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
        "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "gpl-2.0", "gpl-3.0", "lgpl-2.1", "lgpl-3.0",
        "agpl-3.0", "mpl-2.0", "llama2", "llama3", "gemma", "unlicense", "other", "unknown",
    }
)  # fmt: skip
_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.DOTALL)
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")
# A Hub model id: exactly `namespace/name` (a folder path such as `org/repo/sub` is not a model).
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-")


def variant_tags(facts: VariantFacts) -> list[str]:
    rec = facts.record
    tags = ["world-model", "jepa", "lewm", f"family-{rec.family}"]
    kind = rec.format.kind
    tags.append("safetensors" if kind == "safetensors-f32" else _tag(kind))
    if rec.format.mode:  # `lq40-full` says more on the Hub's tag list than a bare `full`
        tags.append(_tag(f"{kind}-{rec.format.mode}"))
    if rec.is_derived:
        tags.append("quantized")
    tags.extend(_tag(t) for t in rec.targets)
    tags.extend(_tag(t) for t in rec.tags)
    return list(dict.fromkeys(t for t in tags if t))


def eval_results(facts: VariantFacts) -> list[Any]:
    """model-index entries: one per measured cosine metric (none while unmeasured or stale)."""
    from huggingface_hub import EvalResult

    if facts.verify is None or facts.stale:
        return []
    metrics = facts.verify.get("metrics") or {}
    out = []
    for metric in METRIC_ORDER:
        entry = metrics.get(metric)
        cosine = entry.get("cosine") if isinstance(entry, dict) else None
        if not isinstance(cosine, int | float) or isinstance(cosine, bool):
            continue
        out.append(
            EvalResult(
                task_type=TASK_TYPE,
                task_name=TASK_NAME,
                dataset_type=DATASET_TYPE,
                dataset_name=DATASET_NAME,
                dataset_split="test",
                metric_type="cosine_similarity",
                # an f32 reference is checked against the golden outputs it wrote, not against a parent
                metric_name=f"cosine {metric} vs {facts.reference.name}"
                if facts.record.is_derived
                else f"cosine {metric} vs its golden outputs",
                metric_value=round(float(cosine), 6),
            )
        )
    return out


def variant_card_data(collection: CollectionSettings, facts: VariantFacts) -> Any:
    from huggingface_hub import ModelCardData

    rec = facts.record
    kwargs: dict[str, Any] = {}
    if facts.parent is not None:
        from zoo.cards.data import hub_repo_id

        kwargs["base_model"] = hub_repo_id(collection, facts.parent.name)
        kwargs["base_model_relation"] = "quantized"
    return ModelCardData(
        license=rec.license,
        library_name=collection.library_name,
        tags=variant_tags(facts),
        datasets=list(collection.datasets) or None,
        model_name=rec.name,
        eval_results=eval_results(facts) or None,
        **kwargs,
    )


def collection_card_data(collection: CollectionSettings, facts: list[VariantFacts]) -> Any:
    from huggingface_hub import ModelCardData

    tags = ["world-model", "jepa", "lewm", "model-zoo", "safetensors"]
    for f in facts:
        tags.extend(_tag(t) for t in f.record.targets)
        if f.record.format.kind != "safetensors-f32":
            tags.append(_tag(f.record.format.kind))
    return ModelCardData(
        license=collection.license,
        library_name=collection.library_name,
        tags=list(dict.fromkeys(tags)),
        datasets=list(collection.datasets) or None,
        model_name=collection.name,
    )


def front_matter(card_data: Any, *, where: str) -> str:
    try:
        yaml_text = card_data.to_yaml()
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: card metadata cannot be serialised ({exc})") from exc
    return f"---\n{yaml_text.rstrip()}\n---\n"


def validate_card_text(text: str, *, where: str) -> dict[str, Any]:
    """Parse a rendered card back as the Hub client does; raise InputError on anything invalid."""
    from huggingface_hub import ModelCard

    hint = "fix the record in registry.yaml (or the card template) and render again"
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise InputError(f"{where}: line 1: YAML front matter missing or not terminated by '---'", hint=hint)
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except Exception as exc:  # yaml.YAMLError, ValueError, KeyError from model-index parsing
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{where}: invalid card metadata ({first})", hint=hint) from exc
    data: dict[str, Any] = card.data.to_dict()
    if not data:
        raise InputError(f"{where}: card metadata is empty", hint=hint)
    lic = data.get("license")
    if lic not in HUB_LICENSES:
        raise InputError(
            f"{where}: field 'license': {lic!r} is not a Hub license identifier",
            hint="use an id such as cc-by-nc-4.0, or 'other' with license_name/license_link",
        )
    if lic == "other" and not (data.get("license_name") and data.get("license_link")):
        raise InputError(f"{where}: field 'license': 'other' needs license_name and license_link", hint=hint)
    if not isinstance(data.get("library_name"), str) or not data["library_name"]:
        raise InputError(f"{where}: field 'library_name' missing", hint=hint)
    tags = data.get("tags") or []
    bad = [t for t in tags if not isinstance(t, str) or not _TAG.match(t)]
    if bad or not tags:
        raise InputError(f"{where}: field 'tags': invalid or missing tags {bad!r}", hint=hint)
    relation = data.get("base_model_relation")
    if relation is not None:
        if relation not in BASE_MODEL_RELATIONS:
            raise InputError(f"{where}: field 'base_model_relation': {relation!r} is not one of {BASE_MODEL_RELATIONS}")
        if not data.get("base_model"):
            raise InputError(f"{where}: field 'base_model_relation' set without 'base_model'", hint=hint)
    base = data.get("base_model")
    for model_id in [base] if isinstance(base, str) else base or []:
        if not isinstance(model_id, str) or not _REPO_ID.match(model_id):
            raise InputError(
                f"{where}: field 'base_model': {model_id!r} is not a Hub model id (namespace/name)",
                hint="point base_model at a repository, not a folder inside one",
            )
    for result in getattr(card.data, "eval_results", None) or []:
        if not isinstance(result.metric_value, int | float) or isinstance(result.metric_value, bool):
            raise InputError(f"{where}: field 'model-index': metric value {result.metric_value!r} is not a number")
    return data
