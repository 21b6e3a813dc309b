"""Publish verified variants to the Hugging Face Hub: plan, one commit per run, then the release tag.

Only `huggingface_hub` talks to the Hub (no hand-written HTTP). One run per repository:

1. read the head commit (`repo_info`), the tree at that commit (`list_repo_tree(recursive, expand)`)
   and the tags (`list_repo_refs`);
2. `plan()` against that listing (sha256 for LFS files, git blob sha1 for regular files);
3. `create_repo(exist_ok=True)` when the repository does not exist yet;
4. one `create_commit` with the adds/updates (and deletes with `prune`), `parent_commit` = the head
   read in step 1, so a concurrent change is refused by the Hub instead of being overwritten;
5. `create_tag(tag, revision=<the new commit>)`.

Nothing changed -> no commit and 0 bytes (the tag is still created when it is missing). Uploaded LFS
objects survive a failed commit on the Hub, so re-running after an interruption completes the publish.
Variants whose verification is missing, failed or stale are refused (exit 1) unless forced with a reason.
The token is HF_TOKEN or the `hf auth login` token file (zoo.credentials); it is never printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from zoo import __version__
from zoo.errors import CredentialsError, RemoteError, UsageError, VerificationError, ZooError
from zoo.publish.churn import settle_volatile
from zoo.publish.plan import (
    Layout,
    LocalDigest,
    Plan,
    RemoteFile,
    plan,
    remote_files_from_hub,
    variant_repo_id,
)
from zoo.publish.safety import check_destination, is_synthetic, synthetic_reason
from zoo.registry.loader import Registry
from zoo.registry.workspace import Workspace

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from zoo.publish.collection import CollectionPlan

REFUSED_STATES = ("missing", "fail", "stale")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_SUMMARY_MAX = 300  # characters of the commit title; details go to the description


@dataclasses.dataclass(frozen=True)
class VariantCheck:
    """A variant's publish gate: its verification state and why it would be refused."""

    name: str
    state: str  # verification_state(): missing | pass | fail | pending | stale
    reasons: tuple[str, ...] = ()
    metric: str | None = None
    measured: float | None = None
    synthetic: bool = False  # provenance says synthetic weights (zoo demo)
    allow_synthetic: bool = False  # --allow-synthetic was given

    @property
    def refused(self) -> bool:
        return self.state in REFUSED_STATES or (self.synthetic and not self.allow_synthetic)

    def summary(self) -> str:
        if self.metric and isinstance(self.measured, (int, float)):
            return f"{self.state} {self.metric}={self.measured:.4f}"
        return self.state

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "refused": self.refused, "reasons": list(self.reasons),
                "metric": self.metric, "measured": self.measured, "synthetic": self.synthetic}


@dataclasses.dataclass
class RepoResult:
    plan: Plan
    exists: bool  # the repository existed when planning
    tags: dict[str, str]  # tag -> commit oid, as read when planning
    remote_consulted: bool = True
    commit: str | None = None  # the new commit oid (None: no commit made)
    tag_created: bool = False
    anonymous: bool = False  # read without HF_TOKEN (a private repository looks missing)

    def tag_conflict(self, tag: str | None) -> str | None:
        """The commit an existing `tag` points at when publishing would have to move it (never done)."""
        if not tag or tag not in self.tags:
            return None
        target = self.tags[tag]
        return target if (self.plan.changed or target != self.plan.head) else None

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "exists": self.exists, "remote_consulted": self.remote_consulted,
                "commit": self.commit, "tag_created": self.tag_created, "anonymous": self.anonymous}


@dataclasses.dataclass
class PublishResult:
    repos: list[RepoResult]
    checks: dict[str, VariantCheck]
    dry_run: bool
    tag: str | None = None
    force: str | None = None
    collection: CollectionPlan | None = None  # the Hub Collection of the per-variant repositories
    # what the real run would stop with (dry run only): the same error, so the same message and exit code
    error: ZooError | None = None

    @property
    def refused(self) -> list[VariantCheck]:
        return [c for c in self.checks.values() if c.refused]

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0

    @property
    def bytes(self) -> int:
        return sum(r.plan.bytes for r in self.repos)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "tag": self.tag,
            "force": self.force,
            "bytes": self.bytes,
            "exit_code": self.exit_code,
            "error": None if self.error is None else self.error.render(),
            "variants": {n: c.to_json() for n, c in self.checks.items()},
            "repos": [r.to_json() for r in self.repos],
            "collection": self.collection.to_json() if self.collection is not None else None,
        }


# ---------------------------------------------------------------------------------------------- checks
def check_variant(workspace: Workspace, name: str, registry: Registry | None = None, *,
                  allow_synthetic: bool = False, digests: dict[Any, LocalDigest] | None = None) -> VariantCheck:
    """The verification gate of one variant: verify.json's state, every publishable file re-hashed against the
    manifest, and (with `registry`) the gate recomputed from the golden files (`zoo.publish.gate`) and whether
    its weights are synthetic (`zoo.publish.safety`). `digests`: the run's file digests, shared with the plan."""
    from zoo.verify.state import read_verify_json, stale_reasons, state_of

    report = read_verify_json(workspace, name)
    state: str = state_of(workspace, name, report)
    data = report or {}
    reasons: list[str] = []
    if state == "missing":
        reasons.append(f"{workspace.variant_dir(name) / 'verify.json'} is missing (never verified)")
    elif state == "stale":
        reasons.extend(stale_reasons(workspace, name, data) or ["verify.json is unreadable or from another schema"])
    elif state == "fail":
        reasons.append("verification failed")
    raw_gate = data.get("gate")
    gate: dict[str, Any] = raw_gate if isinstance(raw_gate, dict) else {}
    measured = gate.get("measured")
    metric = gate.get("metric") if isinstance(gate.get("metric"), str) else None
    value = float(measured) if isinstance(measured, (int, float)) and not isinstance(measured, bool) else None
    # the manifest's digests must still match every file that would be published (whatever verify.json lists)
    problems = _rehash(workspace, name, digests)
    if problems:
        reasons.extend(problems)
        if state not in ("fail", "missing"):
            state = "stale"
    if registry is not None and state in ("pass", "pending"):
        from zoo.publish.gate import recompute_gate

        recomputed = recompute_gate(workspace, registry, name, digests)
        if recomputed.metric is not None:  # report the number measured now, not the one verify.json claims
            metric, value = recomputed.metric, recomputed.measured
        if recomputed.state != "pass" and recomputed.state != state:
            state = recomputed.state
            reasons.extend(recomputed.reasons)
    synthetic = registry is not None and is_synthetic(registry, name)
    if synthetic:
        reasons.append(synthetic_reason(allow_synthetic))
    return VariantCheck(name, state, tuple(reasons), metric, value, synthetic=synthetic,
                        allow_synthetic=allow_synthetic)


def _rehash(workspace: Workspace, name: str, digests: dict[Any, LocalDigest] | None) -> list[str]:
    from zoo._io import read_json_file
    from zoo.errors import ZooError
    from zoo.publish.gate import publishable_files, rehash_problems

    vdir = workspace.variant_dir(name)
    path = vdir / "manifest.json"
    if not path.is_file():
        return []  # the plan reports a missing manifest
    try:
        manifest = read_json_file(path)
        if not isinstance(manifest, dict):
            return [f"{path}: top level must be a JSON object"]
        return rehash_problems(publishable_files(vdir, path, manifest), manifest, digests)
    except ZooError as exc:
        return [exc.message]


def refusal_error(checks: Iterable[VariantCheck], force: str | None) -> VerificationError | None:
    """The error the publish gate stops with (dry run and real run alike), or None.

    --force REASON overrides missing/failed/stale verification; only --allow-synthetic lets
    synthetic weights through.
    """
    checks = list(checks)
    unverified = [] if force is not None else [c for c in checks if c.state in REFUSED_STATES]
    if unverified:
        detail = "; ".join(f"{c.name}: {c.state} ({', '.join(c.reasons) or c.state})" for c in unverified)
        return VerificationError(f"refusing to publish unverified variant(s): {detail}",
                                 hint="run `zoo verify NAME` (or pass --force REASON to publish anyway)")
    synthetic = [c.name for c in checks if c.synthetic and not c.allow_synthetic]
    if synthetic:
        return VerificationError(
            f"refusing to publish {len(synthetic)} variant(s) with synthetic weights: {', '.join(synthetic)}",
            hint="these are zoo demo weights, not trained models; pass --allow-synthetic to publish them anyway")
    return None


def tag_conflict_error(rr: RepoResult, tag: str | None) -> UsageError | None:
    conflict = rr.tag_conflict(tag)
    if not conflict:
        return None
    return UsageError(f"{rr.plan.repo_id}: tag {tag!r} already exists at commit {conflict[:12]}",
                      hint="release under a new tag (tags are never moved)")


def default_names(workspace: Workspace, registry: Registry) -> list[str]:
    """Variants that have a verify.json, in registry order."""
    return [n for n in registry.variants if (workspace.variant_dir(n) / "verify.json").is_file()]


def select_names(workspace: Workspace, registry: Registry, names: Iterable[str], all_: bool) -> list[str]:
    names = list(names)
    if names or all_:
        return [r.name for r in registry.select(names, all_)]
    chosen = default_names(workspace, registry)
    if not chosen:
        raise UsageError("no variant has a verify.json yet", hint="run `zoo verify --all` first, or name variants")
    return chosen


def commit_message(checks: list[VariantCheck], force: str | None) -> tuple[str, str]:
    """(title, description): the variants and their verify results, and the --force reason if any."""
    title = "zoo publish: " + ", ".join(f"{c.name} ({c.summary()})" for c in checks)
    if len(title) > _SUMMARY_MAX:
        title = f"zoo publish: {len(checks)} variants ({', '.join(c.name for c in checks)})"
        if len(title) > _SUMMARY_MAX:
            title = f"zoo publish: {len(checks)} variants"
    lines = [f"- {c.name}: verify {c.summary()}" + (f" ({'; '.join(c.reasons)})" if c.reasons else "")
             for c in checks]
    if force:
        lines.append(f"\nForced publish: {force}")
    lines.append(f"\nPublished by lewm-zoo {__version__}.")
    return title, "\n".join(lines)


# ---------------------------------------------------------------------------------------------- remote
def _offline() -> bool:
    truthy = ("1", "true", "yes", "on")
    return any(os.environ.get(v, "").strip().lower() in truthy for v in ("ZOO_OFFLINE", "HF_HUB_OFFLINE"))


def hub_api(token: str | None) -> HfApi:
    """An HfApi for HF_ENDPOINT (read now, not at import) with the env token or none at all."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from huggingface_hub import HfApi

    from zoo.secrets import install_log_scrubber

    install_log_scrubber()  # the client's log records may quote a server's answer
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    endpoint = os.environ.get("HF_ENDPOINT") or None
    # token=False when none was found: the caller already looked where huggingface_hub looks (zoo.credentials)
    return HfApi(endpoint=endpoint, token=token if token else False, library_name="lewm-zoo",
                 library_version=__version__)


def _transport_errors() -> tuple[type[BaseException], ...]:
    import importlib

    out: list[type[BaseException]] = [OSError]
    for mod in ("httpx2", "httpx"):  # huggingface_hub 2.x runs on httpx2; older releases on httpx
        with contextlib.suppress(ImportError, AttributeError):
            out.append(importlib.import_module(mod).HTTPError)
    return tuple(out)


def _translate(exc: BaseException, repo_id: str, what: str) -> RemoteError | None:
    """The RemoteError for a Hub/HTTP failure (looking through the client's RuntimeError wrappers)."""
    from huggingface_hub.errors import HfHubHTTPError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HfHubHTTPError):
            status = seen.response.status_code if getattr(seen, "response", None) is not None else None
            msg = " ".join((seen.server_message or str(seen).splitlines()[0]).split())
            if status == 412 or "commit has happened since" in msg.lower():
                return RemoteError(f"{repo_id}: {what}: the repository changed since the plan was made ({msg})",
                                   hint="someone else committed concurrently; re-run `zoo publish` to re-plan")
            hint = ("check that HF_TOKEN is valid and has write access" if status in (401, 403)
                    else "re-run `zoo publish` to complete it")
            return RemoteError(f"{repo_id}: {what} failed: HTTP {status}: {msg}", hint=hint)
        if isinstance(seen, _transport_errors()):
            endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
            return RemoteError(f"{repo_id}: {what} failed: cannot reach {endpoint} ({type(seen).__name__}: {seen})",
                               hint="check the network / HF_ENDPOINT, then re-run; to plan without the network "
                               "use ZOO_OFFLINE=1 zoo publish --dry-run")
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.contextmanager
def remote_errors(repo_id: str, what: str) -> Iterator[None]:
    """Hub/HTTP failures -> RemoteError (exit 3) with the service's own message."""
    try:
        yield
    except RemoteError:
        raise
    except Exception as exc:  # anything the client raised: translate Hub/transport failures, re-raise the rest
        err = _translate(exc, repo_id, what)
        if err is not None:
            raise err from None
        first = (str(exc).splitlines() or [""])[0]
        if isinstance(exc, ValueError):  # client-side refusals (e.g. invalid card metadata) carry the reason
            raise RemoteError(f"{repo_id}: {what} refused: {first}",
                              hint="fix the reported file and re-run") from None
        # Anything else comes from inside the client (e.g. a malformed cache file under HF_HOME): one
        # line naming the client and the error, never a traceback.
        raise RemoteError(f"{repo_id}: {what} failed inside huggingface_hub ({type(exc).__name__}: {first})",
                          hint="re-run; if it persists, check HF_HOME's cache files and the huggingface_hub "
                          "version") from None


def read_remote(api: HfApi, repo_id: str) -> tuple[str | None, dict[str, RemoteFile], dict[str, str]]:
    """(head commit or None if the repo does not exist, files at that head, tags -> commit)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    with remote_errors(repo_id, "reading the repository"):
        try:
            info = api.repo_info(repo_id)
        except RepositoryNotFoundError:
            return None, {}, {}
        head = str(info.sha)
        files = remote_files_from_hub(api.list_repo_tree(repo_id, recursive=True, expand=True, revision=head))
        refs = api.list_repo_refs(repo_id)
        tags = {t.name: t.target_commit for t in refs.tags}
    return head, files, tags


# ---------------------------------------------------------------------------------------------- entry points
def _targets(registry: Registry, names: list[str], repo: str | None, per_variant: bool) -> list[tuple[str, list[str]]]:
    base = repo or registry.collection.hub_repo
    out = [(variant_repo_id(base, n), [n]) for n in names] if per_variant else [(base, names)]
    for repo_id, _ in out:
        name = repo_id.partition("/")[2]
        if not _REPO_ID.fullmatch(repo_id) or len(name) > 96 or ".." in repo_id or name.endswith((".git", ".")):
            where = "--repo" if repo else f"{registry.path}: collection.hub_repo"
            raise UsageError(f"{where}: {repo_id!r} is not a valid Hub repository id",
                             hint="use owner/name with letters, digits, '-', '_', '.' (name at most 96 characters)")
    return out


# git check-ref-format rules for a tag name (what the Hub accepts for `create_tag`)
_BAD_TAG = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")


def check_tag(tag: str | None) -> None:
    """Refuse a release tag git (and so the Hub) would reject, before any request is made."""
    if tag is None:
        return
    if (not tag or tag == "@" or len(tag) > 128 or _BAD_TAG.search(tag) or tag.startswith(("/", ".", "-"))
            or tag.endswith(("/", "."))):
        raise UsageError(f"--tag {tag!r}: not a valid git tag name",
                         hint="use letters, digits, '.', '-', '_' and '/', e.g. --tag v1.2.0")


def plan_for_workspace(
    workspace: Workspace,
    registry: Registry,
    names: Iterable[str] = (),
    *,
    all_: bool = False,
    repo: str | None = None,
    prune: bool = False,
    per_variant_repos: bool = True,
    offline: bool | None = None,
    force: str | None = None,
    tag: str | None = None,
    collection: bool = True,
    allow_synthetic: bool = False,
) -> PublishResult:
    """The dry-run: gate checks + the plan of every target repository; never writes anything.

    `offline=True` (or ZOO_OFFLINE / HF_HUB_OFFLINE set) plans against an empty remote without any
    request (what `zoo demo` shows); otherwise the Hub is read anonymously unless HF_TOKEN is set.
    """
    chosen = select_names(workspace, registry, names, all_)
    destinations = _targets(registry, chosen, repo, per_variant_repos)
    check_destination(registry, [rid for rid, _ in destinations])
    digests: dict[Any, LocalDigest] = {}  # each file is read once: the gate's re-hash, then the plan
    checks = {n: check_variant(workspace, n, registry, allow_synthetic=allow_synthetic, digests=digests)
              for n in chosen}
    offline = _offline() if offline is None else offline
    from zoo.credentials import hf_token

    token = None if offline else hf_token()
    api = None if offline else hub_api(token)
    results = []
    layout: Layout = "per-variant" if per_variant_repos else "collection"
    for repo_id, repo_names in destinations:
        head, files, tags = (None, {}, {}) if api is None else read_remote(api, repo_id)
        p = plan(workspace, registry, repo_names, files, repo_id=repo_id, head=head, prune=prune,
                 layout=layout, digests=digests)
        if api is not None:
            p = settle_volatile(api, p)
        results.append(RepoResult(p, head is not None, tags, remote_consulted=api is not None,
                                  anonymous=not token))
    col = _collection_plan(api, registry, chosen, repo, checks) if per_variant_repos and collection else None
    # the dry run predicts the real run: the same refusal (gate first, then a tag that would move)
    error: ZooError | None = refusal_error(checks.values(), force)
    if error is None:
        error = next((e for rr in results if (e := tag_conflict_error(rr, tag)) is not None), None)
    return PublishResult(results, checks, dry_run=True, tag=tag, force=force, collection=col, error=error)


def _collection_plan(api: HfApi | None, registry: Registry, names: list[str], repo: str | None,
                     checks: dict[str, VariantCheck]) -> CollectionPlan:
    from zoo.publish.collection import plan_collection, read_collection

    base = repo or registry.collection.hub_repo
    remote, consulted = read_collection(api, registry, base)
    return plan_collection(registry, names, base, remote, checks, remote_consulted=consulted)


def publish_workspace(
    workspace: Workspace,
    registry: Registry,
    names: Iterable[str] = (),
    *,
    all_: bool = False,
    repo: str | None = None,
    tag: str | None = None,
    dry_run: bool = False,
    prune: bool = False,
    force: str | None = None,
    per_variant_repos: bool = True,
    collection: bool = True,
    allow_synthetic: bool = False,
    progress: Any = None,
) -> PublishResult:
    """`zoo publish`: refuse unverified variants, then commit each repository's plan and tag it.

    Layouts: one repository per variant (`per_variant_repos=True`, the default; grouped in a Hub
    Collection unless `collection=False`) or one aggregate repository (`per_variant_repos=False`).
    The dry run runs the same checks in the same order and returns the error the real run would
    raise in `PublishResult.error` (the CLI exits with it after printing the plan).
    """
    if force is not None and not force.strip():
        raise UsageError("--force needs a reason", hint='e.g. --force "pending measurement, published for review"')
    check_tag(tag)
    if dry_run:
        return plan_for_workspace(workspace, registry, names, all_=all_, repo=repo, prune=prune,
                                  per_variant_repos=per_variant_repos, force=force, tag=tag,
                                  collection=collection, allow_synthetic=allow_synthetic)
    chosen = select_names(workspace, registry, names, all_)
    destinations = _targets(registry, chosen, repo, per_variant_repos)
    check_destination(registry, [rid for rid, _ in destinations])  # before the token: exit 2 with or without
    digests: dict[Any, LocalDigest] = {}  # each file is read once: the gate's re-hash, then the plan
    checks = {n: check_variant(workspace, n, registry, allow_synthetic=allow_synthetic, digests=digests)
              for n in chosen}
    refused = refusal_error(checks.values(), force)
    if refused is not None:
        raise refused
    from zoo.credentials import hf_token

    token = hf_token()  # HF_TOKEN, then the `hf auth login` token file
    if token is None:
        raise CredentialsError("HF_TOKEN is not set and there is no `hf auth login` token; publishing needs a "
                               "Hugging Face write token",
                               hint="log in with `hf auth login` (or export HF_TOKEN=<token with write access>), "
                               "or use --dry-run")
    if _offline():
        raise UsageError("cannot publish while offline (ZOO_OFFLINE / HF_HUB_OFFLINE is set)",
                         hint="unset ZOO_OFFLINE=1 / HF_HUB_OFFLINE=1, or plan offline with --dry-run")
    api = hub_api(token)
    result = PublishResult([], checks, dry_run=False, tag=tag, force=force)
    layout: Layout = "per-variant" if per_variant_repos else "collection"
    # plan everything (and check tags) before the first write
    staged = []
    for repo_id, repo_names in destinations:
        head, files, tags = read_remote(api, repo_id)
        p = plan(workspace, registry, repo_names, files, repo_id=repo_id, head=head, prune=prune,
                 layout=layout, digests=digests)
        p = settle_volatile(api, p)
        rr = RepoResult(p, head is not None, tags)
        conflict = tag_conflict_error(rr, tag)
        if conflict is not None:
            raise conflict
        staged.append(rr)
    col_plan = _collection_plan(api, registry, chosen, repo, checks) if per_variant_repos and collection else None
    for rr in staged:
        _push_one(api, rr, [checks[n] for n in rr.plan.variants], tag, force, progress)
        result.repos.append(rr)
    if col_plan is not None:  # after the repositories: the Hub only lists items that exist
        from zoo.publish.collection import apply_collection

        result.collection = apply_collection(api, col_plan)
    return result


def _add_operations(p: Plan, progress: Any) -> list[Any]:
    """CommitOperationAdd for every upload; with `progress`, each reads through a CountingReader that
    starts counting once the client has hashed it (so the bar follows the upload)."""
    from huggingface_hub import CommitOperationAdd

    if progress is None:
        return [CommitOperationAdd(path_in_repo=f.path,
                                   path_or_fileobj=f.content if f.content is not None else str(f.local))
                for f in p.uploads]
    from zoo.publish.progress import CountingReader

    progress.start(p.repo_id, p.bytes)
    ops = []
    for f in p.uploads:
        reader = CountingReader(f.content if f.content is not None else f.local, progress.advance)
        ops.append(CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=cast("BinaryIO", reader)))
        reader.seek(0)
        reader.counting = True
    return ops


def _push_one(api: HfApi, rr: RepoResult, checks: list[VariantCheck], tag: str | None, force: str | None,
              progress: Any = None) -> None:
    from huggingface_hub import CommitOperationDelete

    p = rr.plan
    head = p.head
    if head is None:
        with remote_errors(p.repo_id, "creating the repository"):
            api.create_repo(p.repo_id, exist_ok=True)
            head = str(api.repo_info(p.repo_id).sha)
    new_head = head
    if p.changed:
        from zoo.publish.gate import check_uploads

        check_uploads(p.uploads)  # still the regular files that were planned (issue 15)
        ops: list[Any] = _add_operations(p, progress)
        ops += [CommitOperationDelete(path_in_repo=path) for path in p.deletes]
        title, description = commit_message(checks, force)
        with remote_errors(p.repo_id, "committing"):
            info = api.create_commit(p.repo_id, ops, commit_message=title, commit_description=description,
                                     parent_commit=head)
        new_head = str(info.oid)
        rr.commit = new_head
    if tag and rr.tags.get(tag) != new_head:
        with remote_errors(p.repo_id, f"creating tag {tag}"):
            api.create_tag(p.repo_id, tag=tag, revision=new_head, tag_message=f"lewm-zoo release {tag}")
        rr.tag_created = True

