"""The Hub Collection grouping the per-variant repositories (the release layout).

With one repository per variant every variant card is a repository card the Hub reads
(`base_model` + `base_model_relation: quantized` build the model tree); a Hub Collection named
after the registry's collection groups them, ordered by family (registry family order, then
registry order), with the collection card's lead text as its description.

Everything goes through huggingface_hub's collections API: `list_collections(owner=...)` +
`get_collection` to read, `create_collection(exists_ok=True)`, `add_collection_item(exists_ok=True)`,
`update_collection_item` (order, notes) and `update_collection_metadata` (description). The plan is
computed first and only the differences are sent, so publishing twice changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from zoo.publish.plan import variant_repo_id
from zoo.registry.loader import Registry

if TYPE_CHECKING:
    from huggingface_hub import HfApi

DESCRIPTION_MAX = 150  # characters the Hub accepts for a collection description
NOTE_MAX = 500  # characters of an item note
ItemAction = Literal["add", "move", "note", "unchanged"]


@dataclasses.dataclass(frozen=True)
class ItemPlan:
    repo_id: str
    variant: str
    position: int  # wanted position among the collection's items
    note: str
    action: ItemAction
    object_id: str | None = None  # the item's id inside the collection (None: not there yet)

    def to_json(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "variant": self.variant, "position": self.position,
                "note": self.note, "action": self.action}


@dataclasses.dataclass
class CollectionPlan:
    namespace: str
    title: str
    description: str
    slug: str | None  # None: the collection does not exist yet
    description_action: Literal["create", "update", "unchanged"]
    items: list[ItemPlan]
    remote_consulted: bool = True
    applied: bool = False  # set once the changes were sent

    @property
    def changes(self) -> list[ItemPlan]:
        return [i for i in self.items if i.action != "unchanged"]

    @property
    def changed(self) -> bool:
        return self.description_action != "unchanged" or bool(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "title": self.title, "slug": self.slug,
                "description": self.description, "description_action": self.description_action,
                "items": [i.to_json() for i in self.items], "changed": self.changed,
                "remote_consulted": self.remote_consulted, "applied": self.applied}


def collection_description(registry: Registry) -> str:
    """The collection card's lead text (registry `collection.description`), cut to the Hub's limit."""
    text = " ".join((registry.collection.description or registry.collection.name).split())
    if len(text) <= DESCRIPTION_MAX:
        return text
    cut = text[: DESCRIPTION_MAX - 1]
    cut = cut[: cut.rfind(" ")] if " " in cut else cut
    return cut.rstrip(",;:.( ") + "…"


def item_note(registry: Registry, name: str, check: Any | None) -> str:
    """One line per item: family, format and the verification result."""
    from zoo.cards.data import FORMAT_LABEL, MODE_LABEL

    rec = registry.variants[name]
    fmt = FORMAT_LABEL.get(rec.format.kind, rec.format.kind)
    if rec.format.mode:
        fmt += f" {rec.format.mode}" + (f" ({MODE_LABEL[rec.format.mode]})" if rec.format.mode in MODE_LABEL else "")
    note = f"{rec.family}: {fmt}"
    if rec.parent:
        note += f", from {rec.parent}"
    if check is not None:
        note += f"; verify {check.summary()}"
    return note[:NOTE_MAX]


def ordered_names(registry: Registry, names: Iterable[str]) -> list[str]:
    """`names` by family (registry family order, unknown families last), then registry order."""
    from zoo.registry import FAMILIES

    order = {n: i for i, n in enumerate(registry.variants)}
    fam_rank = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(set(names), key=lambda n: (fam_rank.get(registry.variants[n].family, len(fam_rank)),
                                             registry.variants[n].family, order[n]))


def find_collection(api: HfApi, namespace: str, title: str) -> Any | None:
    """The namespace's collection with this title (full item list), or None."""
    for col in api.list_collections(owner=namespace, limit=1000):
        # `owner` is a dict on the Hub's answers (a str in the client's annotation): the slug says it too
        if col.title == title and str(col.slug).startswith(f"{namespace}/"):
            return api.get_collection(col.slug)
    return None


def plan_collection(registry: Registry, names: Iterable[str], base_repo: str, remote: Any | None,
                    checks: dict[str, Any] | None = None, *, remote_consulted: bool = True) -> CollectionPlan:
    """Compare the wanted collection (the variants' repositories in family order) with `remote`."""
    namespace = base_repo.split("/")[0]
    title = registry.collection.name
    description = collection_description(registry)
    checks = checks or {}
    by_repo = {variant_repo_id(base_repo, n): n for n in registry.variants}
    remote_items = sorted(remote.items, key=lambda it: it.position) if remote is not None else []
    present = {it.item_id: it for it in remote_items if it.item_type == "model"}
    # the published variants plus registry variants already in the collection, in family order
    wanted = ordered_names(registry, [*names, *(by_repo[r] for r in present if r in by_repo)])
    items: list[ItemPlan] = []
    current_order = [it.item_id for it in remote_items]
    for pos, name in enumerate(wanted):
        repo_id = variant_repo_id(base_repo, name)
        existing = present.get(repo_id)
        note = item_note(registry, name, checks.get(name)) if name in checks else (
            existing.note if existing is not None and existing.note else item_note(registry, name, None))
        if existing is None:
            action: ItemAction = "add"
        elif current_order.index(repo_id) != pos:
            action = "move"
        elif (existing.note or "") != note:
            action = "note"
        else:
            action = "unchanged"
        items.append(ItemPlan(repo_id, name, pos, note, action, existing.item_object_id if existing else None))
    if remote is None:
        desc_action: Literal["create", "update", "unchanged"] = "create"
    else:
        desc_action = "unchanged" if (remote.description or "") == description else "update"
    return CollectionPlan(namespace, title, description, remote.slug if remote is not None else None,
                          desc_action, items, remote_consulted)


def read_collection(api: HfApi | None, registry: Registry, base_repo: str) -> tuple[Any | None, bool]:
    """(remote collection or None, consulted?) for the dry-run and the publish."""
    if api is None:
        return None, False
    from zoo.publish.push import remote_errors

    with remote_errors(base_repo.split("/")[0], "reading the Hub collection"):
        return find_collection(api, base_repo.split("/")[0], registry.collection.name), True


def apply_collection(api: HfApi, plan: CollectionPlan) -> CollectionPlan:
    """Send only what differs; afterwards the collection holds the items in the planned order."""
    from zoo.publish.push import remote_errors

    if not plan.changed:
        return plan
    where = f"collection {plan.slug or plan.title!r}"
    with remote_errors(plan.namespace, f"updating the Hub {where}"):
        if plan.slug is None:
            col = api.create_collection(plan.title, namespace=plan.namespace, description=plan.description,
                                        exists_ok=True)
            plan.slug = col.slug
            if (col.description or "") != plan.description:
                api.update_collection_metadata(col.slug, description=plan.description)
        elif plan.description_action == "update":
            api.update_collection_metadata(plan.slug, description=plan.description)
        slug = plan.slug
        for item in plan.items:
            if item.action == "add":
                api.add_collection_item(slug, item.repo_id, "model", note=item.note, exists_ok=True)
            elif item.action == "note" and item.object_id:
                api.update_collection_item(slug, item.object_id, note=item.note)
        # order: move every item that is not at its planned position, in position order
        col = api.get_collection(slug)
        for item in plan.items:
            ids = [it.item_id for it in sorted(col.items, key=lambda it: it.position)]
            current = next((it for it in col.items if it.item_id == item.repo_id), None)
            if current is None:
                continue
            if ids.index(item.repo_id) != item.position or (current.note or "") != item.note:
                api.update_collection_item(slug, current.item_object_id, position=item.position,
                                           note=item.note if (current.note or "") != item.note else None)
                col = api.get_collection(slug)
    plan.applied = True
    return plan
