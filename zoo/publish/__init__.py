"""Publish stage: push verified variants (and their cards) to the Hugging Face Hub.

Public surface:
- `plan(workspace, registry, names, remote_files, ...) -> Plan` (pure diff, `zoo.publish.plan`)
- `plan_for_workspace(workspace, registry, names, ...) -> PublishResult` (the dry-run; `zoo demo` uses it)
- `publish_workspace(workspace, registry, names, ...) -> PublishResult` (`zoo publish`)
- `variant_repo_id(hub_repo, name)`: `--per-variant-repos` naming, `<hub_repo>-<name>`
"""

from __future__ import annotations

from zoo.publish.plan import Plan, PlannedFile, RemoteFile, plan, variant_repo_id
from zoo.publish.push import PublishResult, VariantCheck, plan_for_workspace, publish_workspace

__all__ = [
    "Plan",
    "PlannedFile",
    "PublishResult",
    "RemoteFile",
    "VariantCheck",
    "plan",
    "plan_for_workspace",
    "publish_workspace",
    "variant_repo_id",
]
