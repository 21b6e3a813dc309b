"""Loopback W&B server: the GraphQL operations and file GETs `wandb.Api().artifact(...)` sends.

It dispatches on the `query <Name>` text (the client sends an empty operationName), keeps artifacts
in memory, resolves aliases (``latest`` -> the newest version), and can inject faults:
`fail(...)` (500 or a truncated body mid-download), `fail_graphql(...)` (a GraphQL `errors` body with
any HTTP status, 200 included) and `corrupt_digest(...)` (manifest md5 wrong).
Shapes follow the pydantic models in ``wandb/sdk/artifacts/_generated`` (tooling.md section 1).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from ._http import LoggedRequest, LoopbackServer, Response, serve_bytes

_OP = re.compile(r"\b(query|mutation)\s+(\w+)")
API_KEY = "k" * 40  # a syntactically valid 40-character test key (not a secret)


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@dataclasses.dataclass
class ArtifactVersion:
    entity: str
    project: str
    collection: str
    index: int
    files: dict[str, bytes]
    aliases: list[str]
    run_id: str | None = None
    type: str = "model"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    wrong_md5: set[str] = dataclasses.field(default_factory=set)

    @property
    def id(self) -> str:
        return base64.b64encode(f"Artifact:{self.entity}/{self.project}/{self.collection}:v{self.index}".encode()).decode()

    def md5(self, name: str) -> str:
        if name in self.wrong_md5:
            return b64md5(b"not the bytes that are served")
        return b64md5(self.files[name])

    def manifest(self) -> dict[str, Any]:
        return {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {n: {"digest": self.md5(n), "size": len(d)} for n, d in sorted(self.files.items())},
        }

    def digest(self) -> str:
        lines = "".join(f"{n}:{self.md5(n)}\n" for n in sorted(self.files))
        return hashlib.md5(lines.encode()).hexdigest()


@dataclasses.dataclass
class GraphQLFault:
    """Answer matching GraphQL operations with a GraphQL error body (`status` may be 200)."""

    message: str
    status: int = 500
    operation: str | None = None  # None: any operation
    times: int = 1_000_000


class WandbServer(LoopbackServer):
    """In-memory W&B: `add_artifact(...)` then point WANDB_BASE_URL at `url`."""

    def __init__(self, api_key: str = API_KEY, entity: str = "zoo-tests") -> None:
        super().__init__()
        self.api_key = api_key
        self.entity = entity
        self.versions: list[ArtifactVersion] = []
        self.graphql_faults: list[GraphQLFault] = []

    # ------------------------------------------------------------------ data
    def add_artifact(
        self,
        entity: str,
        project: str,
        collection: str,
        files: dict[str, bytes],
        *,
        aliases: tuple[str, ...] = (),
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Log a new version of `entity/project/collection`; it becomes `latest`. Returns 'vN'."""
        same = [v for v in self.versions if (v.entity, v.project, v.collection) == (entity, project, collection)]
        for v in same:
            if "latest" in v.aliases:
                v.aliases.remove("latest")
        ver = ArtifactVersion(entity, project, collection, len(same), dict(files), [*aliases, "latest"],
                              run_id, metadata=dict(metadata or {}))
        self.versions.append(ver)
        return f"v{ver.index}"

    def corrupt_digest(self, collection: str, file: str, version: str | None = None) -> None:
        """Make the manifest claim an md5 that the served bytes do not have."""
        for v in self.versions:
            if v.collection == collection and (version is None or f"v{v.index}" == version):
                v.wrong_md5.add(file)

    def fail_graphql(self, message: str, *, status: int = 500, operation: str | None = None,
                     times: int = 1_000_000) -> GraphQLFault:
        """Answer the next `times` GraphQL requests (only `operation` if given) with `{"errors": [...]}`."""
        fault = GraphQLFault(message, status, operation, times)
        self.graphql_faults.append(fault)
        return fault

    def _graphql_fault(self, op: str) -> GraphQLFault | None:
        with self._lock:
            for fault in self.graphql_faults:
                if fault.times > 0 and fault.operation in (None, op):
                    fault.times -= 1
                    return fault
        return None

    def _find(self, entity: str, project: str, name: str) -> ArtifactVersion | None:
        collection, _, alias = name.partition(":")
        alias = alias or "latest"
        for v in self.versions:
            if (v.entity, v.project, v.collection) != (entity, project, collection):
                continue
            if alias == f"v{v.index}" or alias in v.aliases:
                return v
        return None

    def _by_id(self, art_id: str) -> ArtifactVersion:
        for v in self.versions:
            if v.id == art_id:
                return v
        raise Response(200, {"data": {"artifact": None}})

    # ------------------------------------------------------------------ shapes
    def _project(self, v: ArtifactVersion) -> dict[str, Any]:
        return {"id": f"UHJvamVjdDo{v.project}", "internalId": "1", "name": v.project, "entity": {"name": v.entity}}

    def _artifact(self, v: ArtifactVersion) -> dict[str, Any]:
        return {
            "__typename": "Artifact",
            "id": v.id,
            "artifactSequence": {"__typename": "ArtifactSequence", "name": v.collection, "project": self._project(v)},
            "versionIndex": v.index,
            "artifactType": {"name": v.type},
            "description": None,
            "metadata": json.dumps(v.metadata),
            "ttlDurationSeconds": -2,
            "ttlIsInherited": True,
            "tags": [],
            "historyStep": None,
            "state": "COMMITTED",
            "size": sum(len(d) for d in v.files.values()),
            "digest": v.digest(),
            "digestAlgorithm": "MANIFEST_MD5",
            "commitHash": None,
            "fileCount": len(v.files),
            "createdAt": "2026-01-01T00:00:00",
            "updatedAt": None,
            "aliases": [self._alias(v, a) for a in v.aliases],
        }

    def _alias(self, v: ArtifactVersion, alias: str) -> dict[str, Any]:
        return {
            "__typename": "ArtifactAlias",
            "id": base64.b64encode(f"Alias:{v.id}:{alias}".encode()).decode(),
            "alias": alias,
            "artifactCollection": {"__typename": "ArtifactSequence", "name": v.collection, "project": self._project(v)},
        }

    def _membership(self, v: ArtifactVersion) -> dict[str, Any]:
        return {
            "__typename": "ArtifactCollectionMembership",
            "id": base64.b64encode(f"Membership:{v.id}".encode()).decode(),
            "versionIndex": v.index,
            "createdAt": "2026-01-01T00:00:00",
            "aliases": [{"__typename": "ArtifactAlias", "id": f"a{i}", "alias": a} for i, a in enumerate(v.aliases)],
            "artifactCollection": {"__typename": "ArtifactSequence", "name": v.collection, "project": self._project(v)},
            "artifact": self._artifact(v),
        }

    def _file_node(self, v: ArtifactVersion, i: int, name: str) -> dict[str, Any]:
        url = f"{self.url}/files/blob/{v.id}/{name}"
        return {"__typename": "File", "id": f"RmlsZTo{i}", "name": name, "url": url, "directUrl": url,
                "sizeBytes": len(v.files[name]), "storagePath": f"{v.collection}/{name}",
                "mimetype": "application/octet-stream", "updatedAt": "2026-01-01T00:00:00",
                "digest": v.md5(name), "md5": v.md5(name)}

    # ------------------------------------------------------------------ routes
    def _authorized(self, req: LoggedRequest) -> bool:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                user_key = base64.b64decode(auth[6:]).decode()
            except ValueError:
                return False
            return user_key.partition(":")[2] == self.api_key
        return auth == f"Bearer {self.api_key}"

    def handle(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        path = urlsplit(req.path).path
        if path.startswith("/sdk/otel") or path.startswith("/api/"):
            return 200, {}, {}
        if path == "/graphql" and req.method == "POST":
            return self._graphql(req)
        m = re.fullmatch(r"/files/manifest/([^/]+)\.json", path)
        if m and req.method in ("GET", "HEAD"):
            v = self._by_id(m.group(1))
            return 200, v.manifest(), {}
        m = re.fullmatch(r"/files/blob/([^/]+)/(.+)", path)
        if m and req.method in ("GET", "HEAD"):
            v = self._by_id(m.group(1))
            name = m.group(2)
            if name not in v.files:
                return 404, {"error": f"no file {name}"}, {}
            return serve_bytes(req, v.files[name], {"Content-Type": "application/octet-stream"})
        return 404, {"error": f"no route {req.method} {path}"}, {}

    def _graphql(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        try:
            doc = json.loads(req.body or b"{}")
        except ValueError:
            return 400, {"errors": [{"message": "body is not JSON"}]}, {}
        m = _OP.search(doc.get("query", ""))
        op = m.group(2) if m else (doc.get("operationName") or "")
        req.operation = op
        variables = doc.get("variables") or {}
        if not self._authorized(req):
            return 401, {"errors": [{"message": "user is not logged in"}]}, {}
        fault = self._graphql_fault(op)
        if fault is not None:
            return fault.status, {"errors": [{"message": fault.message, "path": [op]}], "data": None}, {}
        data = self._operation(op, variables)
        return 200, {"data": data}, {}

    def _operation(self, op: str, var: dict[str, Any]) -> dict[str, Any]:
        if op == "Viewer":
            return {"viewer": {"id": "VXNlcjox", "entity": self.entity, "username": self.entity,
                               "flags": "{}", "teams": {"edges": []}, "email": None, "admin": False}}
        if op == "GetDefaultEntity":
            return {"viewer": {"id": "VXNlcjox", "entity": self.entity}}
        if op == "ServerFeaturesQuery":
            return {"serverInfo": {"features": []}}
        if op == "ArtifactMembershipByName":
            v = self._find(var.get("entity", ""), var.get("project", ""), var.get("name", ""))
            if v is None:
                return {"project": {"artifactCollectionMembership": None, "artifact": None}}
            return {"project": {"artifactCollectionMembership": self._membership(v), "artifact": self._artifact(v)}}
        if op == "ArtifactByName":
            v = self._find(var.get("entityName", ""), var.get("projectName", ""), var.get("name", ""))
            return {"project": {"artifact": self._artifact(v) if v else None}}
        if op == "FetchArtifactManifest":
            v = self._by_id(var.get("id", ""))
            return {"artifact": {"currentManifest": {"id": "m1", "file": {
                "directUrl": f"{self.url}/files/manifest/{v.id}.json"}}}}
        if op in ("GetArtifactMembershipFileUrls", "GetArtifactFileUrls", "ArtifactMembershipFiles"):
            v = self._find(var.get("entity", var.get("entityName", "")), var.get("project", var.get("projectName", "")),
                           f"{var.get('collection', '')}:{var.get('alias', 'latest')}")
            if v is None and var.get("id"):
                v = self._by_id(var["id"])
            names = sorted(v.files) if v else []
            if var.get("fileNames"):
                names = [n for n in names if n in var["fileNames"]]
            edges = [{"node": self._file_node(v, i, n)} for i, n in enumerate(names)] if v else []
            files = {"pageInfo": {"endCursor": None, "hasNextPage": False}, "totalCount": len(edges),
                     "edges": edges}
            membership = {"files": files}
            collection = {"__typename": "ArtifactSequence", "artifactMembership": membership}
            return {"project": {"artifactCollection": collection, "artifactCollectionMembership": membership},
                    "artifact": {"files": files}}
        if op == "ArtifactCreatedBy":
            v = self._by_id(var.get("id", ""))
            creator = None if v.run_id is None else {"__typename": "Run", "id": "UnVuOjE=", "name": v.run_id,
                                                      "project": self._project(v)}
            return {"artifact": {"createdBy": creator}}
        raise Response(200, {"errors": [{"message": f"loopback W&B: operation {op!r} not implemented"}]})
