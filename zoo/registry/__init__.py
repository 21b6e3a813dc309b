"""registry.yaml: the declaration of every variant (records, schema, workspace)."""

from zoo.registry.loader import (
    Registry,
    check_registry,
    load_registry,
    registry_schema,
    unknown_variant_message,
)
from zoo.registry.records import (
    FAMILIES,
    FORMAT_KINDS,
    LQ40_MODES,
    METRICS,
    Architecture,
    Citation,
    Claims,
    CollectionSettings,
    FormatSpec,
    Provenance,
    SourceSpec,
    VariantRecord,
    VerificationPolicy,
    architecture_to_config,
)
from zoo.registry.workspace import REGISTRY_FILE, Workspace, find_workspace

__all__ = [
    "FAMILIES",
    "FORMAT_KINDS",
    "LQ40_MODES",
    "METRICS",
    "REGISTRY_FILE",
    "Architecture",
    "Citation",
    "Claims",
    "CollectionSettings",
    "FormatSpec",
    "Provenance",
    "Registry",
    "SourceSpec",
    "VariantRecord",
    "VerificationPolicy",
    "Workspace",
    "architecture_to_config",
    "check_registry",
    "find_workspace",
    "load_registry",
    "registry_schema",
    "unknown_variant_message",
]
