"""`wandb://entity/project/artifact[:alias]` through the real `wandb.Api` (imported lazily).

The API key comes from `WANDB_API_KEY` only (never from ~/.netrc), the server from `WANDB_BASE_URL`
(default https://api.wandb.ai: wandb 0.31 changed its own default). The client resolves the alias
to a version and lists the files with their manifest md5; the bytes are fetched with a resumable
GET of each file's direct URL, and the store checks the md5 because the client would not.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from zoo.errors import CredentialsError, InputError, RemoteError
from zoo.sources.base import Progress, RemoteFile, Resolution, env_float, http_download, validate_remote_name

DEFAULT_BASE_URL = "https://api.wandb.ai"
_PATH = re.compile(r"^([\w.-]+)/([\w.-]+)/([\w.-]+)(?::([\w.-]+))?$")

_CREATED_BY = """query ArtifactCreatedBy($id: ID!) {
  artifact(id: $id) { createdBy { __typename ... on Run { name } } }
}"""


class WandbSource:
    kind = "wandb"

    def __init__(self, uri: str) -> None:
        self.uri = uri
        m = _PATH.match(uri[len("wandb://") :])
        if not m:
            raise InputError(
                f"{uri}: not a W&B artifact URI",
                hint="use wandb://ENTITY/PROJECT/ARTIFACT[:ALIAS], e.g. wandb://eren23/crucible-lewm/name:latest",
            )
        self.entity, self.project, self.artifact, alias = m.groups()
        self.alias = alias or "latest"
        self._api: Any = None
        self._art: Any = None

    @property
    def base_url(self) -> str:
        return os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL

    def _client(self) -> Any:
        if self._api is not None:
            return self._api
        key = os.environ.get("WANDB_API_KEY", "").strip()
        if not key:
            raise CredentialsError(
                f"{self.uri}: WANDB_API_KEY is not set",
                hint="export WANDB_API_KEY=<your key from https://wandb.ai/authorize>, or pull from a mirror/--offline",
            )
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        try:
            import wandb
        except ImportError as exc:  # pragma: no cover - wandb is a declared dependency
            raise RemoteError(f"{self.uri}: the wandb package is not installed ({exc})") from exc
        timeout = int(env_float("ZOO_WANDB_TIMEOUT", 15))
        try:
            self._api = wandb.Api(overrides={"base_url": self.base_url}, api_key=key, timeout=timeout)
        except Exception as exc:  # the client raises many types; all mean "the service refused"
            raise _remote_error(self.uri, self.base_url, exc) from None
        return self._api

    def resolve(self) -> Resolution:
        api = self._client()
        name = f"{self.entity}/{self.project}/{self.artifact}:{self.alias}"
        try:
            art = api.artifact(name)
            entries = dict(art.manifest.entries)
            urls = {f.name: f.direct_url for f in art.files()}
        except Exception as exc:
            raise _remote_error(self.uri, self.base_url, exc) from None
        self._art = art
        files: dict[str, RemoteFile] = {}
        for path, entry in sorted(entries.items()):
            validate_remote_name(str(path), origin=self.uri)
            files[str(path)] = RemoteFile(
                name=str(path),
                size=getattr(entry, "size", None),
                md5_b64=getattr(entry, "digest", None),
                url=urls.get(str(path)),
            )
        return Resolution(
            uri=self.uri,
            kind=self.kind,
            version=str(art.version),
            files=files,
            run_id=self._run_id(art),
            aliases=tuple(sorted(str(a) for a in (getattr(art, "aliases", None) or []))),
            extra={"artifact": f"{self.entity}/{self.project}/{self.artifact}:{art.version}"},
        )

    def _run_id(self, art: Any) -> str | None:
        """The run that logged the artifact: metadata first, else one small GraphQL query (best effort)."""
        meta = getattr(art, "metadata", None) or {}
        if isinstance(meta, dict):
            for key in ("run_id", "run"):
                if isinstance(meta.get(key), str):
                    return str(meta[key])
        service = getattr(art, "_service_api", None)
        if service is None or not hasattr(service, "execute_graphql"):
            return None
        try:
            raw = service.execute_graphql(_CREATED_BY, variables={"id": art.id})
            data = raw if isinstance(raw, dict) else json.loads(raw)
            data = data.get("data", data)
            creator = ((data.get("artifact") or {}).get("createdBy")) or {}
            name = creator.get("name")
            return str(name) if name else None
        except Exception:  # lineage is nice to have; never fail a pull on it
            return None

    def download(self, resolution: Resolution, name: str, part: Path, progress: Progress | None = None) -> None:
        rf = resolution.files[name]
        if not rf.url:
            raise RemoteError(f"{self.uri}: the service gave no download URL for {name}")
        http_download(rf.url, part, origin=f"{self.uri} {name}", expected_size=rf.size, progress=progress)


def _remote_error(uri: str, base_url: str, exc: BaseException) -> RemoteError | CredentialsError:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if len(msg) > 300:
        msg = msg[:297] + "..."
    low = msg.lower()
    if "401" in msg or "not logged in" in low or "authentic" in low or "api key" in low:
        return RemoteError(
            f"{uri}: W&B at {base_url} refused the credentials ({msg})",
            hint="check WANDB_API_KEY (and WANDB_BASE_URL for a private server)",
        )
    if "not found" in low or "does not exist" in low or low == "none":
        return RemoteError(f"{uri}: W&B has no such artifact ({msg})", hint="check entity/project/name:alias")
    return RemoteError(f"{uri}: W&B request to {base_url} failed ({msg})", hint="retry later or use a mirror")
