"""In-memory Hugging Face Hub emulator for huggingface_hub 2.x with HF_HUB_DISABLE_XET=1.

Download routes: HEAD/GET `/{repo}/resolve/{rev}/{path}`, `/api/{type}s/{repo}[/revision/{rev}]`
(model_info), `/api/{type}s/{repo}/tree/{rev}[/{path}]`, `/api/{type}s/{repo}/paths-info/{rev}`,
`/api/{type}s/{repo}/refs`, `/api/whoami-v2`.
Collections (the routes huggingface_hub's collections API calls): `GET /api/collections?owner=`,
`POST /api/collections` (409 + slug for an existing title), `GET|PATCH|DELETE /api/collections/{slug}`,
`POST /api/collections/{slug}/items` (404 for a missing repo, 409 for a duplicate),
`PATCH|DELETE /api/collections/{slug}/items/{item_object_id}` (position moves the item to that index).
Upload routes (tooling.md section 2): `/api/repos/create`, `/api/validate-yaml`, `preupload`, the LFS batch
API + PUT + verify, the NDJSON `commit` (with the `parentCommit` check), `tag` (create/delete) and
deletions inside commits. Every request is logged (`requests`); `fail(...)` / `fail_nth(n)` inject 500s.

Files whose name ends in an LFS extension or that are larger than `lfs_threshold` go through LFS,
like the Hub's default `.gitattributes`. Tree entries carry git blob ids and, for LFS, the sha256.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._http import LoggedRequest, LoopbackServer, Response, serve_bytes

HF_TEST_TOKEN = "hf_" + "t" * 34  # a syntactically valid test token (not a secret)
LFS_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin", ".lq40", ".gguf", ".npz", ".h5")
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@dataclasses.dataclass
class HubFile:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def pointer(self) -> bytes:
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.data)}\n").encode()

    @property
    def blob_id(self) -> str:
        return git_blob_id(self.pointer() if self.lfs else self.data)


@dataclasses.dataclass
class Commit:
    oid: str
    parent: str | None
    files: dict[str, HubFile]
    title: str
    description: str = ""


@dataclasses.dataclass
class CollectionItem:
    object_id: str
    item_id: str
    item_type: str
    note: str | None = None


@dataclasses.dataclass
class HubCollection:
    slug: str
    title: str
    owner: str
    description: str | None = None
    private: bool = False
    theme: str = "default"
    items: list[CollectionItem] = dataclasses.field(default_factory=list)
    updates: int = 0  # state-changing requests applied (tests assert a re-publish adds none)

    def to_json(self, max_items: int | None = None) -> dict[str, Any]:
        items = self.items if max_items is None else self.items[:max_items]
        return {
            "slug": self.slug, "title": self.title, "description": self.description, "private": self.private,
            "theme": self.theme, "upvotes": 0, "position": 0, "isUpvotedByUser": False,
            "lastUpdated": "2026-01-01T00:00:00.000Z",
            "owner": {"name": self.owner, "type": "user"},
            "items": [{"_id": it.object_id, "id": it.item_id, "type": it.item_type, "position": i,
                       **({"note": {"text": it.note, "html": it.note}} if it.note is not None else {})}
                      for i, it in enumerate(items)],
        }


@dataclasses.dataclass
class Repo:
    repo_type: str  # "model" | "dataset" | "space"
    repo_id: str
    private: bool = False
    commits: dict[str, Commit] = dataclasses.field(default_factory=dict)
    branches: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    tag_messages: dict[str, str] = dataclasses.field(default_factory=dict)

    def head(self, branch: str = "main") -> Commit:
        return self.commits[self.branches[branch]]

    def resolve(self, rev: str) -> Commit | None:
        rev = unquote(rev)
        oid = self.branches.get(rev) or self.tags.get(rev)
        if oid is None and rev in self.commits:
            oid = rev
        return self.commits.get(oid) if oid else None


class HfHubServer(LoopbackServer):
    """`HfApi(endpoint=server.url, token=HF_TEST_TOKEN)` works against this."""

    def __init__(self, token: str = HF_TEST_TOKEN, user: str = "zoo-tests", lfs_threshold: int = 10 << 20) -> None:
        super().__init__()
        self.token = token
        self.user = user
        self.lfs_threshold = lfs_threshold
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.commit_count = 0
        self.collections: dict[str, HubCollection] = {}  # slug -> collection
        self._object_ids = 0

    # ------------------------------------------------------------------ direct data access (test setup)
    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> Repo:
        key = (repo_type, repo_id)
        if key not in self.repos:
            repo = Repo(repo_type, repo_id, private)
            self.repos[key] = repo
            first = self._new_commit(repo, None, {".gitattributes": HubFile(GITATTRIBUTES, False)}, "initial commit")
            repo.branches["main"] = first.oid
        return self.repos[key]

    def add_files(self, repo_id: str, files: dict[str, bytes], *, repo_type: str = "model",
                  branch: str = "main", message: str = "add files") -> str:
        """Commit `files` directly (no HTTP); returns the commit oid."""
        repo = self.create_repo(repo_id, repo_type)
        tree = dict(repo.head(branch).files)
        for path, data in files.items():
            tree[path] = HubFile(data, self._is_lfs(path, len(data)))
            if tree[path].lfs:
                self.lfs_objects[tree[path].sha256] = data
        commit = self._new_commit(repo, repo.branches[branch], tree, message)
        repo.branches[branch] = commit.oid
        return commit.oid

    def files(self, repo_id: str, rev: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        commit = self.repos[(repo_type, repo_id)].resolve(rev)
        assert commit is not None
        return {p: f.data for p, f in commit.files.items()}

    def _is_lfs(self, path: str, size: int) -> bool:
        return path.endswith(LFS_SUFFIXES) or size >= self.lfs_threshold

    def _new_commit(self, repo: Repo, parent: str | None, files: dict[str, HubFile], title: str,
                    description: str = "") -> Commit:
        self.commit_count += 1
        seed = json.dumps([repo.repo_id, parent, self.commit_count, title,
                           sorted((p, f.blob_id) for p, f in files.items())]).encode()
        commit = Commit(hashlib.sha1(seed).hexdigest(), parent, files, title, description)
        repo.commits[commit.oid] = commit
        return commit

    # ------------------------------------------------------------------ helpers
    def _auth_user(self, req: LoggedRequest) -> str | None:
        auth = req.headers.get("authorization", "")
        if not auth:
            return None
        if auth != f"Bearer {self.token}":
            raise Response(401, {"error": "Invalid credentials in Authorization header"},
                           {"X-Error-Message": "Invalid credentials in Authorization header"})
        return self.user

    def _need_auth(self, req: LoggedRequest) -> None:
        if self._auth_user(req) is None:
            raise Response(401, {"error": "You must be authenticated to access this endpoint."},
                           {"X-Error-Message": "You must be authenticated"})

    def _repo(self, repo_type: str, repo_id: str, req: LoggedRequest) -> Repo:
        repo = self.repos.get((repo_type, unquote(repo_id)))
        if repo is None or (repo.private and self._auth_user(req) is None):
            # like the Hub: anonymous callers get 401 (not 404) for missing or private repos
            raise Response(401 if self._auth_user(req) is None else 404, {"error": "Repository not found"},
                           {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        return repo

    @staticmethod
    def _rev(repo: Repo, rev: str) -> Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise Response(404, {"error": f"Invalid rev id: {unquote(rev)}"},
                           {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
        return commit

    @staticmethod
    def _json(req: LoggedRequest) -> Any:
        try:
            return json.loads(req.body or b"{}")
        except ValueError:
            raise Response(400, {"error": "body is not JSON"}) from None

    def _entry(self, path: str, f: HubFile, expand: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": len(f.data), "path": path}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": len(f.pointer())}
        return entry

    # ------------------------------------------------------------------ routing

    def handle(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(req.path)
        path, query = split.path, parse_qs(split.query)
        m = req.method
        if path == "/api/whoami-v2" and m == "GET":
            self._need_auth(req)
            return 200, {"type": "user", "name": self.user, "fullname": self.user, "orgs": [],
                         "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}}, {}
        if path == "/api/repos/create" and m == "POST":
            return self._create(req)
        if path == "/api/validate-yaml" and m == "POST":
            return 200, {"errors": [], "warnings": []}, {}
        if path == "/api/collections" or path.startswith("/api/collections/"):
            return self._collections(req, path[len("/api/collections"):], query)
        if path.startswith("/api/agent-harnesses"):
            # the shape huggingface_hub 2.4 expects (it caches the answer under $HF_HOME)
            return 200, {"standardEnvVars": [], "harnesses": {}}, {}
        mt = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)
        if mt and m == "PUT":
            return self._lfs_put(req, mt.group(1))
        mt = re.fullmatch(r"/lfs-verify/([0-9a-f]{64})", path)
        if mt and m == "POST":
            body = self._json(req)
            if mt.group(1) not in self.lfs_objects:
                return 404, {"message": "object not uploaded"}, {}
            return 200, {"oid": body.get("oid"), "size": body.get("size")}, {}
        mt = re.fullmatch(r"/(?:(datasets|spaces)/)?([^/]+/[^/]+?)\.git/info/lfs/objects/batch", path)
        if mt and m == "POST":
            return self._lfs_batch(req, _TYPES[mt.group(1)] if mt.group(1) else "model",
                                   mt.group(2))
        mt = re.fullmatch(r"/api/(models|datasets|spaces)/([^/]+/[^/]+)(/.*)?", path)
        if mt:
            return self._api(req, _TYPES[mt.group(1)], mt.group(2), mt.group(3) or "", query)
        mt = re.fullmatch(r"/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if mt and m in ("GET", "HEAD"):
            return self._resolve(req, _TYPES[mt.group(1)] if mt.group(1) else "model", mt.group(2),
                                 mt.group(3), unquote(mt.group(4)))
        return 404, {"error": f"loopback Hub: no route {m} {path}"}, {}

    # ------------------------------------------------------------------ collections
    def _new_object_id(self) -> str:
        self._object_ids += 1
        return f"{self._object_ids:024x}"

    def collection(self, owner: str, title: str) -> HubCollection | None:
        return next((c for c in self.collections.values() if c.owner == owner and c.title == title), None)

    def _collections(self, req: LoggedRequest, rest: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        m = req.method
        if rest in ("", "/"):
            if m == "GET":
                owners = query.get("owner", [])
                cols = [c for c in self.collections.values() if not owners or c.owner in owners]
                cols = [c for c in cols if not c.private or self._auth_user(req) == c.owner]
                # list entries carry no "position" (the client adds the list index itself)
                return 200, [{k: v for k, v in c.to_json(max_items=4).items() if k != "position"} for c in cols], {}
            if m == "POST":
                self._need_auth(req)
                body = self._json(req)
                owner, title = body.get("namespace") or self.user, body.get("title")
                if not title:
                    return 400, {"error": "title is required"}, {}
                existing = self.collection(owner, title)
                if existing is not None:
                    return 409, {"error": "Collection already exists", "slug": existing.slug}, {}
                slug_title = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
                col = HubCollection(f"{owner}/{slug_title}-{self._new_object_id()}", title, owner,
                                    body.get("description"), bool(body.get("private")))
                col.updates += 1
                self.collections[col.slug] = col
                return 200, col.to_json(), {}
        mt = re.fullmatch(r"/([^/]+/[^/]+?)(/items(?:/([^/]+))?)?", rest)
        if mt is None:
            return 404, {"error": f"loopback Hub: no route {m} /api/collections{rest}"}, {}
        col = self.collections.get(unquote(mt.group(1)))
        if col is None or (col.private and self._auth_user(req) != col.owner):
            return 404, {"error": "Collection not found"}, {"X-Error-Message": "Collection not found"}
        if mt.group(2) is None:
            if m == "GET":
                return 200, col.to_json(), {}
            self._need_auth(req)
            if m == "PATCH":
                body = self._json(req)
                for key in ("title", "description", "private", "theme"):
                    if key in body:
                        setattr(col, key, body[key])
                col.updates += 1
                return 200, {"data": col.to_json()}, {}
            if m == "DELETE":
                del self.collections[col.slug]
                return 200, {}, {}
            return 405, {"error": "method not allowed"}, {}
        self._need_auth(req)
        if mt.group(3) is None and m == "POST":
            body = self._json(req)
            item = body.get("item") or {}
            item_id, item_type = item.get("id"), item.get("type")
            if item_type in _TYPES.values() and (item_type, item_id) not in self.repos:
                return 404, {"error": f"{item_type} {item_id} not found"}, {"X-Error-Code": "RepoNotFound"}
            if any(it.item_id == item_id and it.item_type == item_type for it in col.items):
                return 409, {"error": "Item already in the collection"}, {}
            col.items.append(CollectionItem(self._new_object_id(), item_id, item_type, body.get("note")))
            col.updates += 1
            return 200, col.to_json(), {}
        found = next((it for it in col.items if it.object_id == mt.group(3)), None)
        if found is None:
            return 404, {"error": "Item not found"}, {}
        if m == "PATCH":
            body = self._json(req)
            if "note" in body:
                found.note = body["note"]
            if "position" in body:
                col.items.remove(found)
                col.items.insert(max(0, min(int(body["position"]), len(col.items))), found)
            col.updates += 1
            return 200, {}, {}
        if m == "DELETE":
            col.items.remove(found)
            col.updates += 1
            return 200, {}, {}
        return 405, {"error": "method not allowed"}, {}

    def _create(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        self._need_auth(req)
        body = self._json(req)
        name, org = body.get("name"), body.get("organization") or self.user
        repo_type = body.get("type") or "model"
        repo_id = f"{org}/{name}"
        url = f"{self.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return 409, {"error": "You already created this model repo", "url": url}, {}
        self.create_repo(repo_id, repo_type, bool(body.get("private")))
        return 200, {"url": url, "name": repo_id, "id": repo_id}, {}

    def _resolve(self, req: LoggedRequest, repo_type: str, repo_id: str, rev: str,
                 path: str) -> tuple[int, Any, dict[str, str]]:
        repo = self._repo(repo_type, repo_id, req)
        commit = self._rev(repo, rev)
        f = commit.files.get(path)
        if f is None:
            return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound",
                                                       "X-Error-Message": "Entry not found",
                                                       "X-Repo-Commit": commit.oid}
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{f.blob_id}"', "Content-Type": "application/octet-stream"}
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.data)),
                            "ETag": f'"{f.sha256}"'})
        return serve_bytes(req, f.data, headers)

    def _api(self, req: LoggedRequest, repo_type: str, repo_id: str, rest: str,
             query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        m = req.method
        if rest in ("", "/") or rest.startswith("/revision/"):
            if m == "DELETE":
                return 404, {"error": "not supported"}, {}
            repo = self._repo(repo_type, repo_id, req)
            commit = self._rev(repo, unquote(rest[len("/revision/"):]) if rest.startswith("/revision/") else "main")
            return 200, {"id": repo.repo_id, "modelId": repo.repo_id, "sha": commit.oid, "private": repo.private,
                         "tags": [], "downloads": 0, "likes": 0, "author": repo.repo_id.split("/")[0],
                         "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
                         "siblings": [{"rfilename": p} for p in sorted(commit.files)]}, {}
        repo = self._repo(repo_type, repo_id, req)
        mt = re.fullmatch(r"/tree/([^/]+)(?:/(.*))?", rest)
        if mt and m == "GET":
            commit = self._rev(repo, mt.group(1))
            prefix = unquote(mt.group(2) or "").strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return 200, self._tree(commit, prefix, recursive), {}
        mt = re.fullmatch(r"/paths-info/([^/]+)", rest)
        if mt and m == "POST":
            commit = self._rev(repo, mt.group(1))
            paths = self._paths_from_body(req)
            out = [self._entry(p, commit.files[p]) for p in paths if p in commit.files]
            dirs = {p for p in paths if p not in commit.files and any(k.startswith(p.rstrip("/") + "/") for k in commit.files)}
            out += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in sorted(dirs)]
            return 200, out, {}
        if rest == "/refs" and m == "GET":
            return 200, {
                "branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": o} for b, o in sorted(repo.branches.items())],
                "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": o} for t, o in sorted(repo.tags.items())],
                "converts": [],
            }, {}
        mt = re.fullmatch(r"/preupload/([^/]+)", rest)
        if mt and m == "POST":
            self._need_auth(req)
            body = self._json(req)
            current = repo.resolve(mt.group(1))
            files = []
            for f in body.get("files", []):
                lfs = self._is_lfs(f["path"], int(f.get("size", 0)))
                remote = current.files.get(f["path"]) if current else None
                # the Hub answers the remote oid (sha256 for LFS, git blob id otherwise) so clients skip no-ops
                oid = None if remote is None else (remote.sha256 if remote.lfs else remote.blob_id)
                files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                              "oid": oid})
            return 200, {"files": files}, {}
        mt = re.fullmatch(r"/commit/([^/]+)", rest)
        if mt and m == "POST":
            self._need_auth(req)
            return self._commit(req, repo, unquote(mt.group(1)))
        mt = re.fullmatch(r"/tag/([^/]+)", rest)
        if mt and m == "POST":
            self._need_auth(req)
            body = self._json(req)
            commit = self._rev(repo, mt.group(1))
            tag = body.get("tag")
            if not tag:
                return 400, {"error": "tag is required"}, {}
            if tag in repo.tags:
                return 409, {"error": f"Tag {tag} already exists"}, {}
            repo.tags[tag] = commit.oid
            repo.tag_messages[tag] = body.get("message") or ""
            return 200, {"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.oid}, {}
        mt = re.fullmatch(r"/tag/([^/]+)", rest)
        if mt and m == "DELETE":
            self._need_auth(req)
            tag = unquote(mt.group(1))
            if repo.tags.pop(tag, None) is None:
                return 404, {"error": f"Invalid rev id: {tag}"}, {"X-Error-Code": "RevisionNotFound"}
            return 200, {}, {}
        return 404, {"error": f"loopback Hub: no route {m} /api/{repo_type}s/{repo_id}{rest}"}, {}

    @staticmethod
    def _paths_from_body(req: LoggedRequest) -> list[str]:
        ctype = req.headers.get("content-type", "")
        if "json" in ctype:
            body = json.loads(req.body or b"{}")
            return [str(p) for p in body.get("paths", [])]
        form = parse_qs(req.body.decode())
        return form.get("paths", [])

    def _tree(self, commit: Commit, prefix: str, recursive: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        dirs: set[str] = set()
        base = f"{prefix}/" if prefix else ""
        for path, f in sorted(commit.files.items()):
            if not path.startswith(base):
                continue
            rel = path[len(base):]
            parts = rel.split("/")
            for i in range(1, len(parts)):
                d = base + "/".join(parts[:i])
                if (recursive or i == 1) and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d})
            if recursive or len(parts) == 1:
                out.append(self._entry(path, f))
        if prefix and not out:
            raise Response(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        return out

    def _lfs_batch(self, req: LoggedRequest, repo_type: str, repo_id: str) -> tuple[int, Any, dict[str, str]]:
        self._need_auth(req)
        self._repo(repo_type, repo_id, req)
        body = self._json(req)
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj["oid"], obj["size"]
            item: dict[str, Any] = {"oid": oid, "size": size}
            if oid not in self.lfs_objects:
                item["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{oid}"},
                                   "verify": {"href": f"{self.url}/lfs-verify/{oid}"}}
            objects.append(item)
        return 200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def _lfs_put(self, req: LoggedRequest, oid: str) -> tuple[int, Any, dict[str, str]]:
        if hashlib.sha256(req.body).hexdigest() != oid:
            return 400, {"error": "sha256 of the uploaded bytes does not match the oid"}, {}
        self.lfs_objects[oid] = req.body
        return 200, b"", {}

    def _commit(self, req: LoggedRequest, repo: Repo, branch: str) -> tuple[int, Any, dict[str, str]]:
        if branch not in repo.branches:
            return 404, {"error": f"Invalid rev id: {branch}"}, {"X-Error-Code": "RevisionNotFound"}
        lines = [json.loads(x) for x in req.body.decode().splitlines() if x.strip()]
        header = next((ln["value"] for ln in lines if ln.get("key") == "header"), {})
        head = repo.branches[branch]
        parent = header.get("parentCommit")
        if parent and parent != head:
            return 412, {"error": f"A commit has happened since. Please refresh and try again. (head is {head})"}, {}
        tree = dict(repo.commits[head].files)
        for ln in lines:
            key, val = ln.get("key"), ln.get("value", {})
            if key == "file":
                data = base64.b64decode(val["content"]) if val.get("encoding") == "base64" else val["content"].encode()
                tree[val["path"]] = HubFile(data, False)
            elif key == "lfsFile":
                data = self.lfs_objects.get(val["oid"])
                if data is None:
                    return 400, {"error": f"LFS object {val['oid']} for {val['path']} was never uploaded"}, {}
                tree[val["path"]] = HubFile(data, True)
            elif key == "deletedFile":
                if val["path"] not in tree:
                    return 404, {"error": f"File not found: {val['path']}"}, {"X-Error-Code": "EntryNotFound"}
                del tree[val["path"]]
            elif key == "deletedFolder":
                prefix = val["path"].rstrip("/") + "/"
                for p in [p for p in tree if p.startswith(prefix)]:
                    del tree[p]
            elif key == "copyFile":
                src = self._rev(repo, val.get("srcRevision") or head).files.get(val["srcPath"])
                if src is None:
                    return 404, {"error": f"File not found: {val['srcPath']}"}, {}
                tree[val["path"]] = src
        commit = self._new_commit(repo, head, tree, header.get("summary", ""), header.get("description", ""))
        repo.branches[branch] = commit.oid
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return 200, {"commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{commit.oid}",
                     "commitOid": commit.oid, "pullRequestUrl": None}, {}
