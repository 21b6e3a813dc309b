"""Find the model tensors inside an unpickled checkpoint (spec §2.1-2.3).

Three layouts:
- ``object``: a whole pickled `JEPA` nn.Module (`<name>_object.ckpt`); walked through
  `_modules` / `_parameters` / `_buffers` exactly as `Module.state_dict()` would (non-persistent
  buffers skipped), giving standard dotted names;
- ``lightning``: a dict with `state_dict` (keys prefixed `model.`; `sigreg.*` kept for the mapper to drop);
- ``state_dict``: a plain name -> tensor mapping (`weights.pt`), possibly nested under `model`/`state_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.convert.unpickler import StubObject, TorchTensor, load_raw, mapping_items
from zoo.errors import CheckpointError

if TYPE_CHECKING:
    import numpy as np

MAX_MODULE_DEPTH = 32
MAX_TENSORS = 100_000


class Checkpoint:
    """What `read_checkpoint` found: raw tensor names (views over the file) and what was stubbed."""

    __slots__ = ("entries", "extra_keys", "kind", "path", "root_class", "shared", "stubbed_classes")

    def __init__(self, path: Path, kind: str, entries: dict[str, TorchTensor], stubbed_classes: list[str],
                 root_class: str | None = None, shared: list[list[str]] | None = None,
                 extra_keys: list[str] | None = None) -> None:
        self.path = path
        self.kind = kind  # "object" | "lightning" | "state_dict"
        self.entries = entries
        self.stubbed_classes = stubbed_classes
        self.root_class = root_class
        self.shared: list[list[str]] = [] if shared is None else shared  # names sharing one storage region
        self.extra_keys: list[str] = [] if extra_keys is None else extra_keys  # top-level keys of a Lightning dict

    @property
    def tensors(self) -> dict[str, np.ndarray[Any, Any]]:
        return {name: t.array for name, t in self.entries.items()}


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a PyTorch zip checkpoint without torch and without executing anything."""
    raw = load_raw(path)
    p = raw.path
    root = raw.root
    root_class = root.cls.qualname if isinstance(root, StubObject) else None
    extra: list[str] = []
    if _is_module(root):
        kind = "object"
        entries = _walk_module(root, p)
    else:
        top = mapping_items(root)
        if top is None:
            raise CheckpointError(
                f"{p}: top-level object is a {_describe(root)}, not a module or a dict of tensors",
                hint="expected a pickled JEPA object, a Lightning checkpoint or a state_dict",
            )
        extra = sorted(str(k) for k in top)
        sd = top.get("state_dict")
        if isinstance(sd, Mapping) or isinstance(mapping_items(sd), Mapping):
            kind = "lightning"
            entries = _flat_tensors(mapping_items(sd) or {}, p, "state_dict", strip="model.")
        elif _is_module(top.get("model")):
            kind = "object"
            entries = _walk_module(top["model"], p)
        elif isinstance(mapping_items(top.get("model")), Mapping):
            kind = "state_dict"
            entries = _flat_tensors(mapping_items(top["model"]) or {}, p, "model", strip="")
        else:
            kind = "state_dict"
            entries = _flat_tensors(top, p, "<root>", strip="")
    if not entries:
        raise CheckpointError(f"{p}: no tensors found in the checkpoint ({kind} layout)",
                              hint="the file holds no model weights")
    return Checkpoint(p, kind, entries, raw.stubbed, root_class, _shared_groups(entries), extra)


def _describe(obj: Any) -> str:
    return obj.cls.qualname if isinstance(obj, StubObject) else type(obj).__name__


def _is_module(obj: Any) -> bool:
    return isinstance(obj, StubObject) and any(k in obj.state_dict() for k in ("_modules", "_parameters"))


def _walk_module(root: StubObject, path: Path) -> dict[str, TorchTensor]:
    """Iterative walk over nested module stubs; names follow `Module.state_dict()`."""
    out: dict[str, TorchTensor] = {}
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    seen: set[int] = set()
    while stack:
        prefix, mod, depth = stack.pop()
        if depth > MAX_MODULE_DEPTH:
            raise CheckpointError(f"{path}: module tree deeper than {MAX_MODULE_DEPTH} at '{prefix}'")
        if id(mod) in seen:
            continue  # a module registered twice (shared submodule) contributes once, like state_dict
        seen.add(id(mod))
        state = mod.state_dict()
        params = mapping_items(state.get("_parameters")) or {}
        buffers = mapping_items(state.get("_buffers")) or {}
        non_persistent = state.get("_non_persistent_buffers_set")
        skip = set(non_persistent) if isinstance(non_persistent, set | frozenset) else set()
        for group in (params, buffers):
            for name, value in group.items():
                if not isinstance(name, str) or name in skip or value is None:
                    continue
                if not isinstance(value, TorchTensor):
                    raise CheckpointError(f"{path}: '{prefix}{name}' is a {_describe(value)}, not a tensor")
                out[prefix + name] = value
        children = mapping_items(state.get("_modules")) or {}
        for name, child in reversed(list(children.items())):
            if child is None or not isinstance(name, str):
                continue
            if not _is_module(child):
                raise CheckpointError(f"{path}: submodule '{prefix}{name}' is a {_describe(child)}, not a module")
            stack.append((f"{prefix}{name}.", child, depth + 1))
        if len(out) > MAX_TENSORS:
            raise CheckpointError(f"{path}: more than {MAX_TENSORS} tensors")
    return dict(sorted(out.items()))


def _flat_tensors(mapping: Mapping[Any, Any], path: Path, where: str, *, strip: str) -> dict[str, TorchTensor]:
    out: dict[str, TorchTensor] = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or not isinstance(value, TorchTensor):
            continue  # non-tensor entries (numbers, stubs) are not weights
        name = key[len(strip) :] if strip and key.startswith(strip) else key
        if name in out:
            raise CheckpointError(f"{path}: {where} has '{key}' twice after stripping '{strip}'")
        out[name] = value
        if len(out) > MAX_TENSORS:
            raise CheckpointError(f"{path}: more than {MAX_TENSORS} tensors in {where}")
    return dict(sorted(out.items()))


def _shared_groups(entries: dict[str, TorchTensor]) -> list[list[str]]:
    by_storage: dict[tuple[str, str], list[str]] = {}
    for name, t in entries.items():
        by_storage.setdefault((t.storage.key, t.storage.code), []).append(name)
    groups = []
    for names in by_storage.values():
        if len(names) > 1:
            groups.append(sorted(names))
    return sorted(groups)
