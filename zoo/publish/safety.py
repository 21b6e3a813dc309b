"""Publish safety rails (issue 17, "no accidents"): what must never reach the real collection.

- A demo / synthetic workspace (any variant whose weights are synthetic) may not publish into the
  real collection's namespace (`attocode/...`, the collection repo and its per-variant repos):
  one-line `UsageError` (exit 2) before any request, dry run or not, token or not.
- A variant whose provenance is synthetic is refused by the publish gate unless `--allow-synthetic`.

A variant is synthetic when its f32 root's `provenance.training_status` is "synthetic" (what
`zoo demo` writes) or its provenance notes say "synthetic weights".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zoo.errors import UsageError

REAL_COLLECTION = "attocode/lewm-models"
REAL_NAMESPACE = REAL_COLLECTION.partition("/")[0]
DEMO_HUB_REPO = "local-demo/lewm-models-demo"  # the demo workspace's placeholder collection.hub_repo


def is_synthetic(registry: Any, name: str) -> bool:
    """Whether the weights of variant `name` are synthetic (its f32 root's provenance says so)."""
    try:
        root = registry.f32_root(registry.get(name))
    except Exception:  # an unknown or broken record is refused elsewhere with a proper message
        return False
    prov = getattr(root, "provenance", None)
    if prov is None:
        return False
    status = str(prov.training_status or "").lower()
    notes = str(prov.notes or "").lower()
    return status == "synthetic" or "synthetic weights" in notes


def synthetic_variants(registry: Any, names: Iterable[str] | None = None) -> list[str]:
    pool = list(registry.variants) if names is None else list(names)
    return [n for n in pool if is_synthetic(registry, n)]


def is_real_destination(repo_id: str) -> bool:
    """The real collection's namespace (its collection repo, per-variant repos, anything under it)."""
    return repo_id.partition("/")[0].lower() == REAL_NAMESPACE.lower()


def check_destination(registry: Any, repo_ids: Iterable[str]) -> None:
    """Refuse (exit 2, one line) a synthetic/demo workspace publishing into the real namespace."""
    synthetic = synthetic_variants(registry)
    if not synthetic:
        return
    for repo_id in repo_ids:
        if is_real_destination(repo_id):
            raise UsageError(
                f"{registry.path}: refusing to publish a demo/synthetic workspace ({len(synthetic)} variant(s) with "
                f"synthetic weights, e.g. {synthetic[0]}) to {repo_id}, the real collection's namespace",
                hint=f"publish the demo to a namespace of your own with --repo OWNER/NAME (the demo uses {DEMO_HUB_REPO})",
            )


def synthetic_reason(allow: bool) -> str:
    return ("synthetic weights (provenance training_status: synthetic)"
            + ("; allowed by --allow-synthetic" if allow else "; pass --allow-synthetic to publish them"))
