"""`wandb://entity/project/artifact[:alias]` through the real `wandb.Api` (imported lazily).

The API key comes from `WANDB_API_KEY` only (never from ~/.netrc), the server from `WANDB_BASE_URL`
(default https://api.wandb.ai: wandb 0.31 changed its own default). The client resolves the alias
to a version and lists the files with their manifest md5; the bytes are fetched with a resumable
GET of each file's direct URL, and the store checks the md5 because the client would not.

`ZOO_WANDB_TIMEOUT` (seconds, default 10) bounds every wait on the service. Before the client starts,
one small `Viewer` GraphQL request (same endpoint and auth form as the client: Basic base64("api:KEY"))
checks that the service answers, so a failing service is reported at once with its own message; when
the client fails later with its generic text ("service process is busy..."), the same kind of request
for the artifact recovers the service's message. The key is never part of any message.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from zoo.errors import CredentialsError, InputError, RemoteError
from zoo.sources.base import Progress, RemoteFile, Resolution, env_float, http_download, validate_remote_name

DEFAULT_BASE_URL = "https://api.wandb.ai"
_PATH = re.compile(r"^([\w.-]+)/([\w.-]+)/([\w.-]+)(?::([\w.-]+))?$")

DEFAULT_TIMEOUT = 10.0  # seconds; ZOO_WANDB_TIMEOUT overrides
_VIEWER = "query Viewer { viewer { id } }"
_ARTIFACT = """query ArtifactByName($entityName: String!, $projectName: String!, $name: String!) {
  project(name: $projectName, entityName: $entityName) { artifact(name: $name) { id } }
}"""
# The client's own words when it gave up without the service's answer (it kept no response text).
_GENERIC = ("service process", "did not respond in time", "timed out", "timeout")

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
        self._key = ""

    @property
    def base_url(self) -> str:
        return os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL

    def _client(self) -> Any:
        if self._api is not None:
            return self._api
        from zoo.credentials import WANDB_LOGIN_HINT, wandb_key

        key = (wandb_key(self.base_url) or "").strip()  # WANDB_API_KEY, then the `wandb login` netrc entry
        if not key:
            raise CredentialsError(
                f"{self.uri}: no W&B API key (WANDB_API_KEY is not set and ~/.netrc has no entry for {self.base_url})",
                hint=WANDB_LOGIN_HINT + ", or pull from a mirror/--offline",
            )
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        from zoo.secrets import install_log_scrubber, private_client_dir, register_secret

        register_secret(key)
        install_log_scrubber()
        # the wandb service logs failed response bodies verbatim under WANDB_CACHE_DIR (an echoed
        # Authorization header would land on disk); the zoo downloads the files itself, so the
        # client's cache and logs live in a private directory removed at exit
        private_client_dir("WANDB_CACHE_DIR", "zoo-wandb-")
        try:
            import wandb
        except ImportError as exc:  # pragma: no cover - wandb is a declared dependency
            raise RemoteError(f"{self.uri}: the wandb package is not installed ({exc})") from exc
        self._key = key
        problem = self._probe(_VIEWER, {}, retries=int(env_float("ZOO_HTTP_RETRIES", 2)))
        if problem is not None:
            raise _remote_error(self.uri, self.base_url, problem, key=key)
        timeout = max(1, round(self._timeout()))
        try:
            self._api = wandb.Api(overrides={"base_url": self.base_url}, api_key=key, timeout=timeout)
        except Exception as exc:  # the client raises many types; all mean "the service refused"
            raise self._client_error(exc) from None
        return self._api

    @staticmethod
    def _timeout() -> float:
        value = env_float("ZOO_WANDB_TIMEOUT", DEFAULT_TIMEOUT)
        return value if value > 0 else DEFAULT_TIMEOUT

    def _probe(self, query: str, variables: dict[str, str], retries: int = 0) -> str | None:
        """POST one GraphQL request ourselves; the service's error as one line, or None if it answered."""
        import base64

        import requests

        auth = base64.b64encode(f"api:{self._key}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json",
                   "User-Agent": "lewm-zoo"}
        body = json.dumps({"query": query, "variables": variables})
        problem: str | None = None
        for attempt in range(1 + max(0, retries)):
            if attempt:
                time.sleep(min(0.25 * 2**attempt, 2.0))
            try:
                resp = requests.post(f"{self.base_url.rstrip('/')}/graphql", data=body, headers=headers,
                                     timeout=self._timeout())
            except requests.RequestException as exc:
                problem = f"cannot reach the service: {type(exc).__name__}"
                continue
            message = _graphql_error(resp.text)
            if resp.status_code >= 400:
                problem = f"HTTP {resp.status_code}: {message or resp.reason or 'no message'}"
                if resp.status_code < 500 and resp.status_code not in (408, 429):
                    return problem
                continue
            return f"GraphQL error: {message}" if message else None
        return problem

    def _client_error(self, exc: BaseException) -> RemoteError:
        """The client's failure as one line; its generic give-up text is replaced by the service's message."""
        text = " ".join(str(exc).split())
        if not text or any(g in text.lower() for g in _GENERIC):
            problem = self._probe(_VIEWER, {}) or self._probe(
                _ARTIFACT, {"entityName": self.entity, "projectName": self.project,
                            "name": f"{self.artifact}:{self.alias}"})
            if problem is not None:
                return _remote_error(self.uri, self.base_url, problem, key=self._key)
            text = (f"no answer within {self._timeout():g} s (ZOO_WANDB_TIMEOUT): the service kept failing "
                    "or is slow, and answered a fresh request normally")
        status = _status_of(exc)
        return _remote_error(self.uri, self.base_url, f"HTTP {status}: {text}" if status else text, key=self._key)

    def resolve(self) -> Resolution:
        api = self._client()
        name = f"{self.entity}/{self.project}/{self.artifact}:{self.alias}"
        try:
            art = api.artifact(name)
            entries = dict(art.manifest.entries)
            urls = {f.name: f.direct_url for f in art.files()}
        except Exception as exc:
            raise self._client_error(exc) from None
        self._art = art
        files: dict[str, RemoteFile] = {}
        for path, entry in sorted(entries.items()):
            validate_remote_name(str(path), origin=self.uri)
            size, digest = getattr(entry, "size", None), getattr(entry, "digest", None)
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise InputError(f"{self.uri}: artifact manifest entry {str(path)!r}: size {str(size)[:40]!r} is not "
                                 "a non-negative integer", hint="the service's manifest is corrupt; refusing it")
            if digest is not None and (not isinstance(digest, str) or len(digest) > 128):
                raise InputError(f"{self.uri}: artifact manifest entry {str(path)!r}: digest is not a short string",
                                 hint="the service's manifest is corrupt; refusing it")
            files[str(path)] = RemoteFile(
                name=str(path),
                size=size,
                md5_b64=digest,
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


def _graphql_error(text: str) -> str | None:
    """The first message of a GraphQL `errors` list (or a plain `error` field) in a response body."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or a hostile deeply nested body
        return " ".join(text.split())[:200] or None
    if not isinstance(doc, dict):
        return None
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        return str(first.get("message", first)) if isinstance(first, dict) else str(first)
    for key in ("error", "message"):
        if isinstance(doc.get(key), str):
            return str(doc[key])
    return None


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status the client recorded on its error (or on the error it wraps), if any."""
    seen: BaseException | None = exc
    for _ in range(3):
        if seen is None:
            break
        status = getattr(getattr(seen, "response", None), "http_status", None)
        if isinstance(status, int) and status:
            return status
        seen = seen.__cause__
    return None


def _remote_error(uri: str, base_url: str, problem: str, *, key: str = "") -> RemoteError:
    msg = " ".join(problem.split()) or "no message"
    # the base URL is named once by us (its port may contain "401"); the key never appears
    msg = re.sub(r"^Failed to verify credentials with \S+: ", "", msg).replace(base_url, "<server>")
    msg = re.sub(r"^input: \w+ ", "", msg)  # wandb-core's prefix (the operation) on a GraphQL error
    if key:
        msg = msg.replace(key, "***")
    if len(msg) > 300:
        msg = msg[:297] + "..."
    low = msg.lower()
    if re.search(r"\b401\b", msg) or "not logged in" in low or "authentic" in low or "api key" in low:
        return RemoteError(
            f"{uri}: W&B at {base_url} refused the credentials ({msg})",
            hint="check WANDB_API_KEY or your `wandb login` key (and WANDB_BASE_URL for a private server)",
        )
    if "not found" in low or "does not exist" in low or low == "none":
        return RemoteError(f"{uri}: W&B has no such artifact ({msg})", hint="check entity/project/name:alias")
    return RemoteError(f"{uri}: W&B at {base_url} failed ({msg})",
                       hint="retry later, use a mirror, or ZOO_OFFLINE=1 to pull from the cache only")
