"""Frozen dataclasses for registry records, validated once at load (timm PretrainedCfg style)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.formats.lewm_config import LeWMConfig

FAMILIES = ("slim", "hybrid", "baseline")
FORMAT_KINDS = ("safetensors-f32", "lq40", "ternary", "hdl")
LQ40_MODES = ("full", "q4-pred", "wanda20-q4", "wanda40-q4", "q4-full")
METRICS = ("latent", "predict@1", "rollout@1", "rollout@10", "rollout@20")
# Architecture fields a checkpoint's tensor shapes decide, so a record may mark them `uncertain`:
# conversion then takes the checkpoint's value (and records declared vs measured) instead of refusing.
# Not listed: encoder_kind (another model family, never a measurement) and the head counts (shapes
# cannot tell them; conversion always takes them from the registry).
MEASURABLE_FIELDS = (
    "latent_dim", "encoder_layers", "predictor_layers", "encoder_hidden", "encoder_inter", "predictor_hidden",
    "predictor_inner_dim", "predictor_inter", "meta_tokens", "block_pattern", "projector_hidden",
    "action_input_dim",
)
# What kind of number a claim is, so cards can label it (claims.size_kind / claims.cosine_kind).
SIZE_KINDS: dict[str, str] = {
    "file": "file size",  # the size of a real file, as the card states it (MB = 10^6 bytes)
    "formula": "formula estimate, not a file size",  # synapse's estimate_*_size (weights only)
    "mib": "MiB (2^20 bytes)",  # the card's "MB" is mebibytes
    "other-config": "measured on another configuration",
    "derived": "derived by the zoo, not stated by the card",
    "approximate": "approximate (~) on the card, origin unstated",
    "gates": "no stored weights: the weights are logic",
}
COSINE_KINDS: dict[str, str] = {
    "measured": "as measured by the original collection (synapse semantics)",
    "other-config": "measured on another configuration",
    "other-source": "from another synapse document, not the card",
    "derived": "derived by the zoo, not stated by the card",
    "approximate": "approximate (~) on the card",
}


@dataclasses.dataclass(frozen=True)
class Architecture:
    encoder_kind: str  # "vit" | "hybrid"
    latent_dim: int  # D
    encoder_layers: int  # Le
    predictor_layers: int  # Lp
    encoder_hidden: int = 192  # He
    encoder_heads: int = 3
    encoder_inter: int = 768
    predictor_hidden: int = 192  # Hp
    predictor_heads: int = 16
    predictor_inner_dim: int = 1024
    predictor_inter: int = 2048
    meta_tokens: int = 0
    block_pattern: str | None = None  # hybrid only, e.g. "ALAL"
    projector_hidden: int = 2048  # J
    action_input_dim: int = 10  # A
    # fields (of MEASURABLE_FIELDS) whose declared value is not trusted: conversion measures them
    uncertain: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    uri: str  # wandb://entity/project/artifact:alias | hf://repo[@rev]/path | file:///path
    file: str | None = None  # checkpoint file name inside the artifact / repo
    sha256: str | None = None
    md5: str | None = None  # base64 md5 as W&B manifests carry it
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class Provenance:
    sources: tuple[SourceSpec, ...]
    checkpoint_kind: str  # "object" | "lightning" | "state_dict"
    epoch: int | None = None
    training_status: str | None = None  # "epoch-1" | "converged" | ...
    run: str | None = None  # W&B run name / id
    notes: str | None = None


@dataclasses.dataclass(frozen=True)
class FormatSpec:
    kind: str  # one of FORMAT_KINDS
    mode: str | None = None  # LQ40 mode for kind == "lq40"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. wanda flavour, fpga slice


@dataclasses.dataclass(frozen=True)
class Claims:
    """Numbers the original collection card claims; never overwritten by measurements."""

    size_bytes: int | None = None
    size_text: str | None = None  # as the card prints it, e.g. "9.8 MB" or "~2 MB"
    cosine: float | None = None
    cosine_text: str | None = None  # e.g. "0.9982", "~0.97", "pending"
    params: str | None = None
    source: str | None = None
    size_kind: str | None = None  # one of SIZE_KINDS: what kind of number the size claim is
    cosine_kind: str | None = None  # one of COSINE_KINDS

    @property
    def size_label(self) -> str | None:
        return SIZE_KINDS.get(self.size_kind or "")

    @property
    def cosine_label(self) -> str | None:
        return COSINE_KINDS.get(self.cosine_kind or "")


@dataclasses.dataclass(frozen=True)
class VerificationPolicy:
    status: str = "active"  # "active" | "pending" (measured and reported, does not fail unless --strict)
    metric: str = "rollout@20"  # which metric gates pass/fail, one of METRICS
    expected_cosine: float = 1.0
    tolerance: float = 1e-6
    notes: str | None = None

    @property
    def threshold(self) -> float:
        return self.expected_cosine - self.tolerance


@dataclasses.dataclass(frozen=True)
class VariantRecord:
    name: str
    family: str
    description: str
    architecture: Architecture
    format: FormatSpec
    verification: VerificationPolicy
    claims: Claims
    parent: str | None = None
    provenance: Provenance | None = None  # f32 roots only; derived variants inherit the parent's
    targets: tuple[str, ...] = ()
    license: str = "cc-by-nc-4.0"
    tags: tuple[str, ...] = ()
    notes: str | None = None
    line: int | None = None  # line of the record in registry.yaml (for messages)
    # per-target build options declared in the registry, e.g. {"esp32": {"flash_mb": 32}}
    target_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # registry.yaml line of each architecture field as declared (in the f32 root the record inherits
    # from); "" -> line of the `architecture:` key itself, for fields left at their default
    architecture_lines: dict[str, int] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def is_derived(self) -> bool:
        return self.parent is not None

    def architecture_line(self, field: str) -> int | None:
        """registry.yaml line to change for an architecture field (its own line, else `architecture:`)."""
        return self.architecture_lines.get(field) or self.architecture_lines.get("") or self.line


@dataclasses.dataclass(frozen=True)
class Citation:
    key: str
    bibtex: str


@dataclasses.dataclass(frozen=True)
class CollectionSettings:
    name: str
    hub_repo: str
    license: str
    description: str = ""
    datasets: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()
    library_name: str = "lewm-zoo"


def architecture_to_config(arch: Architecture) -> LeWMConfig:
    """The LeWMConfig (config.json content) a registry architecture implies."""
    from zoo.formats.lewm_config import LeWMConfig

    return LeWMConfig(
        encoder_type=arch.encoder_kind,
        encoder_hidden=arch.encoder_hidden,
        encoder_layers=arch.encoder_layers,
        encoder_heads=arch.encoder_heads,
        encoder_inter=arch.encoder_inter,
        meta_tokens=arch.meta_tokens,
        block_pattern=arch.block_pattern or "",
        predictor_hidden=arch.predictor_hidden,
        predictor_layers=arch.predictor_layers,
        predictor_inner_dim=arch.predictor_inner_dim,
        predictor_heads=arch.predictor_heads,
        predictor_inter=arch.predictor_inter,
        latent_dim=arch.latent_dim,
        action_dim=10,
        action_input_dim=arch.action_input_dim,
        projector_hidden=arch.projector_hidden,
        has_input_proj=arch.latent_dim != arch.predictor_hidden,
        has_cond_proj=arch.latent_dim != arch.predictor_hidden,
    )
