"""Model references for `zoo.load`: where a model's numeric file is, and which format it has.

A reference is one of

- ``hf://OWNER/REPO[@REV]/PATH``: a file (or folder) in a Hub repository, fetched with
  ``huggingface_hub.hf_hub_download`` into its usual cache, so ``HF_HOME``, ``HF_ENDPOINT``,
  ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` / stored tokens behave as in every Hub library;
- a file: ``model.lq40`` (any ``*.lq40``), ``ternary.safetensors`` or an f32
  ``lejepa_weights.safetensors`` (with ``config.json`` next to it);
- a directory holding one of those (a variant directory);
- a variant name of the current workspace (its registry says the format; an ``hdl`` variant runs
  the weights its numbers are measured on, its quantized parent's).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from zoo.errors import InputError, RemoteError, UsageError, ZooError
from zoo.verify.engine import CONFIG_FILE, LQ40_FILE, NUMERIC_FILES, TERNARY_FILE, WEIGHTS_FILE

# file names a directory / Hub folder is searched for, in order
MODEL_FILES = (LQ40_FILE, TERNARY_FILE, WEIGHTS_FILE)
HF_PREFIX = "hf://"
_HF_REF = re.compile(r"hf://(?P<owner>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]*)"
                     r"(?:@(?P<rev>[^/]+))?(?:/(?P<path>.*))?")
REF_HINT = ("pass a variant name of this workspace, a variant directory, a model.lq40 / ternary.safetensors / "
            "lejepa_weights.safetensors file, or hf://OWNER/REPO[@REV]/PATH")


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A reference resolved to local files: the numeric file, its format kind and a config.json if any."""

    ref: str
    kind: str  # "safetensors-f32" | "lq40" | "ternary"
    path: Path
    config_path: Path | None
    name: str  # a display name (variant name or file stem)


def kind_of_file(path: Path) -> str | None:
    name = path.name
    if name.endswith(".lq40"):
        return "lq40"
    if name == TERNARY_FILE or name.endswith(".ternary.safetensors"):
        return "ternary"
    if name.endswith(".safetensors"):
        return "safetensors-f32"
    return None


def _from_file(ref: str, path: Path, name: str | None = None) -> Resolved:
    kind = kind_of_file(path)
    if kind is None:
        raise UsageError(f"{path}: not a model file (expected *.lq40, ternary.safetensors or "
                         f"lejepa_weights.safetensors)", hint=REF_HINT)
    if not path.is_file():
        raise InputError(f"{path}: file not found", hint=REF_HINT)
    config = path.parent / CONFIG_FILE
    if kind == "safetensors-f32" and not config.is_file():
        raise InputError(f"{config}: file not found (f32 weights need the config.json next to them)",
                         hint="keep config.json in the same directory as the safetensors file")
    label = name or (path.parent.name if path.name in MODEL_FILES else path.stem) or path.stem
    return Resolved(ref, kind, path, config if config.is_file() else None, label)


def _from_dir(ref: str, directory: Path, name: str | None = None) -> Resolved:
    for fname in MODEL_FILES:
        if (directory / fname).is_file():
            return _from_file(ref, directory / fname, name or directory.name)
    lq40 = sorted(directory.glob("*.lq40"))
    if lq40:
        return _from_file(ref, lq40[0], name or directory.name)
    raise InputError(f"{directory}: no model file ({', '.join(MODEL_FILES)}) in this directory", hint=REF_HINT)


def _from_workspace(ref: str, workspace: Any) -> Resolved | None:
    """A variant name of `workspace` (None when `ref` is not one of its variants)."""
    from zoo.registry import load_registry

    registry = load_registry(workspace.registry_path)
    if ref not in registry.variants:
        return None
    from zoo.verify.run import numerics_source

    rec = registry.variants[ref]
    src = numerics_source(registry, rec)
    if not NUMERIC_FILES.get(src.format.kind):
        raise UsageError(f"{ref}: format {rec.format.kind!r} has no weights a host can run")
    vdir = workspace.variant_dir(src.name)
    path = vdir / NUMERIC_FILES[src.format.kind][0]
    if not path.is_file():
        cmd = f"zoo convert {src.name}" if src.format.kind == "safetensors-f32" else f"zoo quantize {src.name}"
        raise InputError(f"{path}: file not found (variant {ref} is not built)", hint=f"run `{cmd}` first")
    config = vdir / CONFIG_FILE
    if src.format.kind == "ternary":  # older ternary files carry no architecture: the f32 root's config
        config = workspace.variant_dir(registry.f32_root(src).name) / CONFIG_FILE
    return Resolved(ref, src.format.kind, path, config if config.is_file() else None, ref)


def parse_hf_ref(ref: str) -> tuple[str, str | None, str]:
    """``hf://OWNER/REPO[@REV]/PATH`` -> (repo_id, revision or None, path inside the repo, may be '')."""
    m = _HF_REF.fullmatch(ref)
    if m is None:
        raise UsageError(f"{ref}: not a Hub reference of the form hf://OWNER/REPO[@REV]/PATH",
                         hint="e.g. hf://attocode/lewm-models-slim_96d_4e_4p_full/model.lq40")
    path = (m.group("path") or "").strip("/")
    if any(p in ("..", ".") for p in path.split("/")):
        raise UsageError(f"{ref}: the path inside the repository must not contain '.' or '..'")
    return f"{m.group('owner')}/{m.group('repo')}", m.group("rev"), path


def _hf_download(repo_id: str, filename: str, revision: str | None, ref: str) -> Path:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from huggingface_hub import hf_hub_download

    from zoo.secrets import install_log_scrubber

    install_log_scrubber()  # the client's log records (retries, errors) may quote a server's answer

    try:
        # endpoint and cache read now (huggingface_hub fixes its defaults at import), with the client's
        # own precedence: HF_HUB_CACHE, else HF_HOME/hub, else its default (~/.cache/huggingface/hub)
        return Path(hf_hub_download(repo_id, filename, revision=revision,
                                    endpoint=os.environ.get("HF_ENDPOINT") or None, cache_dir=_hub_cache()))
    except Exception as exc:  # the client raises many types: map them to one line
        raise _hub_error(exc, ref, repo_id, filename, revision) from None


def _hub_cache() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return None


def _hub_error(exc: BaseException, ref: str, repo_id: str, filename: str, revision: str | None) -> ZooError:
    from huggingface_hub import errors as hf

    if isinstance(exc, hf.RepositoryNotFoundError):
        return UsageError(f"{ref}: repository {repo_id} not found on the Hub (or private)",
                          hint="check the name, or set HF_TOKEN for a private repository")
    if isinstance(exc, hf.RevisionNotFoundError):
        return UsageError(f"{ref}: revision {revision!r} not found in {repo_id}", hint="check the tag/branch/commit")
    if isinstance(exc, hf.EntryNotFoundError) and not isinstance(exc, hf.LocalEntryNotFoundError):
        return UsageError(f"{ref}: {filename} not found in {repo_id}", hint="check the path inside the repository")
    if isinstance(exc, hf.LocalEntryNotFoundError):
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        why = "HF_HUB_OFFLINE is set" if offline else "the Hub cannot be reached"
        return RemoteError(f"{ref}: {filename} is not in the local Hub cache and {why}",
                           hint="download it once online" + (", or unset HF_HUB_OFFLINE" if offline
                                                             else "; check the network / HF_ENDPOINT"))
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if getattr(exc, "response", None) is not None else None
        msg = " ".join((exc.server_message or str(exc).splitlines()[0]).split())
        return RemoteError(f"{ref}: downloading {filename} failed: HTTP {status}: {msg}",
                           hint="check HF_TOKEN / HF_ENDPOINT and re-run")
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return RemoteError(f"{ref}: downloading {filename} failed ({type(exc).__name__}: {first})",
                       hint="check the network / HF_ENDPOINT and re-run")


def _not_found(exc: ZooError) -> bool:
    return isinstance(exc, UsageError) and " not found in " in exc.message and "revision" not in exc.message


def _from_hub(ref: str) -> Resolved:
    repo_id, revision, path = parse_hf_ref(ref)
    folder, _, last = path.rpartition("/")
    if last and kind_of_file(Path(last)) is not None:
        candidates = [path]
    else:  # a folder (or the repository root): the model file is looked for by name
        folder = path
        candidates = [f"{folder}/{n}" if folder else n for n in MODEL_FILES]
    local: Path | None = None
    for i, candidate in enumerate(candidates):
        try:
            local = _hf_download(repo_id, candidate, revision, ref)
            break
        except ZooError as exc:
            if i + 1 < len(candidates) and _not_found(exc):
                continue
            if len(candidates) > 1 and _not_found(exc):
                raise UsageError(f"{ref}: no model file ({', '.join(MODEL_FILES)}) in "
                                 f"{repo_id}/{folder or '(root)'}", hint=REF_HINT) from None
            raise
    assert local is not None
    kind = kind_of_file(local)
    assert kind is not None
    config: Path | None = None
    if kind in ("safetensors-f32", "ternary"):
        cfg_name = f"{folder}/{CONFIG_FILE}" if folder else CONFIG_FILE
        try:
            config = _hf_download(repo_id, cfg_name, revision, ref)
        except ZooError as exc:
            if kind == "safetensors-f32" or not _not_found(exc):
                raise  # f32 weights cannot run without their config.json
    label = (folder.rsplit("/", 1)[-1] if folder else repo_id.split("/")[1]) or local.stem
    return Resolved(ref, kind, local, config, label)


def resolve(ref: str | os.PathLike[str], workspace: Any = None) -> Resolved:
    """Resolve a reference (see the module docstring); one-line ZooError when it names nothing usable."""
    try:
        text = os.fspath(ref)
    except TypeError:
        raise UsageError(f"model reference {ref!r} is not a string or path", hint=REF_HINT) from None
    if not isinstance(text, str) or not text.strip():
        raise UsageError("empty model reference", hint=REF_HINT)
    if text.startswith(HF_PREFIX):
        return _from_hub(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return _from_dir(text, path)
    if path.is_file() or kind_of_file(path) is not None:  # a model file name never is a variant name
        return _from_file(text, path)
    if workspace is None:
        from zoo.registry import find_workspace

        try:
            workspace = find_workspace(None)
        except ZooError:
            workspace = None
    if workspace is not None and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text):
        found = _from_workspace(text, workspace)
        if found is not None:
            return found
        from zoo.registry import load_registry, unknown_variant_message

        names = load_registry(workspace.registry_path).variants
        raise UsageError(f"{text}: {unknown_variant_message(text, names)}", hint=REF_HINT)
    where = f" (no workspace found from {Path.cwd()})" if workspace is None else ""
    raise UsageError(f"{text}: no such file, directory or variant{where}", hint=REF_HINT)
