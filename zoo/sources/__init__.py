"""Where checkpoint bytes come from: W&B artifacts, the Hugging Face Hub, or a local mirror directory.

`open_source(uri)` returns a `Source` (resolve -> `Resolution`, download one file into a partial
path). Heavy clients (wandb, huggingface_hub) are imported only when a source of that kind is used.
"""

from __future__ import annotations

import os

from zoo.errors import InputError
from zoo.sources.base import (
    SCHEMES,
    RemoteFile,
    Resolution,
    Source,
    env_offline,
    http_download,
    validate_remote_name,
)


def source_kind(uri: str) -> str:
    if uri.startswith("file:"):  # file:///abs, file://localhost/abs, or workspace-relative file:mirror/x
        return "file"
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme not in SCHEMES:
        raise InputError(
            f"{uri}: unknown source scheme",
            hint="use wandb://ENTITY/PROJECT/ARTIFACT:ALIAS, hf://ORG/NAME@REV/PATH, file:///mirror/dir "
            "or file:mirror/dir (relative to the workspace)",
        )
    return scheme


def open_source(uri: str, *, file: str | None = None, base: str | os.PathLike[str] | None = None) -> Source:
    """A source object for `uri` (no network until `resolve()`); `base` is the directory a
    workspace-relative `file:mirror/x` URI is resolved against (the workspace root)."""
    kind = source_kind(uri)
    if kind == "wandb":
        from zoo.sources.wandb_source import WandbSource

        return WandbSource(uri)
    if kind == "hf":
        from zoo.sources.hf_source import HfSource

        return HfSource(uri, file=file)
    from zoo.sources.local_source import LocalMirrorSource

    return LocalMirrorSource(uri, base=base)


__all__ = [
    "RemoteFile",
    "Resolution",
    "Source",
    "env_offline",
    "http_download",
    "open_source",
    "source_kind",
    "validate_remote_name",
]
