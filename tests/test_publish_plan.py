"""The pure publish plan: layout, digest comparison (LFS sha256 / git blob sha1), prune scope, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from publish_support import EXPECTED, make_workspace

from zoo.errors import InputError, UsageError
from zoo.publish import plan, plan_for_workspace, variant_repo_id
from zoo.publish.plan import RemoteFile, file_digest, git_blob_sha1
from zoo.publish.push import commit_message, select_names
from zoo.registry import Workspace, load_registry


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(make_workspace(tmp_path / "ws"))


def _remote_for(ws: Workspace, lfs: set[str]) -> dict[str, RemoteFile]:
    """What the Hub would report after publishing the workspace as it is now."""
    out = {}
    for path, src in EXPECTED.items():
        data = (ws.root / src).read_bytes()
        if path in lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
            out[path] = RemoteFile(path, len(data), git_blob_sha1(pointer.encode()), hashlib.sha256(data).hexdigest())
        else:
            out[path] = RemoteFile(path, len(data), git_blob_sha1(data))
    return out


def test_digest_matches_git(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"hello\n")
    d = file_digest(f)
    # `git hash-object` of "hello\n"
    assert d.git_sha1 == "ce013625030ba8dba906f756967f9e9ca394464a" == git_blob_sha1(b"hello\n")
    assert d.sha256 == hashlib.sha256(b"hello\n").hexdigest() and d.size == 6


def test_layout_and_deterministic_order(ws: Workspace) -> None:
    reg = load_registry(ws.registry_path)
    p1 = plan(ws, reg, ["tiny_child", "tiny"], {})
    p2 = plan(ws, reg, ["tiny_child", "tiny"], {})
    assert p1 == p2
    assert [f.path for f in p1.files] == sorted(EXPECTED)
    assert all(f.action == "add" for f in p1.files) and p1.repo_id == "test/test"
    assert p1.bytes == sum((ws.root / s).stat().st_size for s in EXPECTED.values())
    # checkpoints and golden files stay local
    assert not any("golden" in f.path or "source/" in f.path for f in p1.files)


def test_unchanged_by_lfs_sha256_and_by_git_blob(ws: Workspace) -> None:
    reg = load_registry(ws.registry_path)
    lfs = {p for p in EXPECTED if p.endswith(".safetensors")}
    remote = _remote_for(ws, lfs)
    p = plan(ws, reg, ["tiny", "tiny_child"], remote)
    assert not p.changed and p.bytes == 0 and len(p.unchanged) == len(EXPECTED)
    # a regular file whose blob differs is an update; an LFS file with another sha256 too
    remote["tiny/config.json"] = RemoteFile("tiny/config.json", 3, git_blob_sha1(b"old"))
    remote["tiny/lejepa_weights.safetensors"] = RemoteFile("tiny/lejepa_weights.safetensors", 1, "0" * 40, "f" * 64)
    p = plan(ws, reg, ["tiny", "tiny_child"], remote)
    assert [f.path for f in p.updates] == ["tiny/config.json", "tiny/lejepa_weights.safetensors"]
    # the git blob id of an LFS pointer is not compared with the content's blob id
    remote = _remote_for(ws, lfs)
    remote["tiny/lejepa_weights.safetensors"] = RemoteFile(
        "tiny/lejepa_weights.safetensors", 1, "0" * 40, remote["tiny/lejepa_weights.safetensors"].lfs_sha256)
    assert not plan(ws, reg, ["tiny", "tiny_child"], remote).changed


def test_prune_scope(ws: Workspace) -> None:
    reg = load_registry(ws.registry_path)
    remote = _remote_for(ws, set())
    for extra in ("tiny/old.lq40", "tiny_child/targets/fpga/top.v", "other/x.bin", ".gitattributes", "NOTES.md"):
        remote[extra] = RemoteFile(extra, 1, "0" * 40)
    kept = plan(ws, reg, ["tiny", "tiny_child"], remote)
    assert kept.deletes == () and kept.extra == ("NOTES.md", "tiny/old.lq40", "tiny_child/targets/fpga/top.v")
    pruned = plan(ws, reg, ["tiny", "tiny_child"], remote, prune=True)
    assert pruned.deletes == ("NOTES.md", "tiny/old.lq40", "tiny_child/targets/fpga/top.v") and pruned.extra == ()
    # publishing only `tiny` never touches tiny_child's folder
    only = plan(ws, reg, ["tiny"], remote, prune=True)
    assert "tiny_child/targets/fpga/top.v" not in only.deletes and "tiny/old.lq40" in only.deletes


def test_per_variant_layout(ws: Workspace) -> None:
    p = plan(ws, None, ["tiny"], {"extra.txt": RemoteFile("extra.txt", 1, "0" * 40)},
             repo_id=variant_repo_id("org/lewm", "tiny"), layout="per-variant", prune=True)
    assert p.repo_id == "org/lewm-tiny"
    assert [f.path for f in p.files] == ["README.md", "config.json", "lejepa_weights.safetensors",
                                         "manifest.json", "verify.json"]
    assert p.deletes == ("extra.txt",)


def test_bad_manifest_paths_and_json(ws: Workspace) -> None:
    mpath = ws.variant_dir("tiny") / "manifest.json"
    data = json.loads(mpath.read_text())
    data["artifacts"]["../../etc/passwd.lq40"] = {"sha256": "0" * 64, "kind": "lq40"}
    mpath.write_text(json.dumps(data))
    with pytest.raises(InputError, match="not a plain relative path"):
        plan(ws, None, ["tiny"], {}, repo_id="a/b")
    mpath.write_text("{not json")
    with pytest.raises(InputError, match=r"manifest\.json: not valid JSON"):
        plan(ws, None, ["tiny"], {}, repo_id="a/b")
    mpath.unlink()
    with pytest.raises(InputError, match=r"manifest\.json: missing"):
        plan(ws, None, ["tiny"], {}, repo_id="a/b")


def test_recorded_artifact_missing_on_disk(ws: Workspace) -> None:
    (ws.variant_dir("tiny_child") / "targets" / "esp32" / "model.h").unlink()
    with pytest.raises(InputError, match=r"artifact .targets/esp32/model\.h. is recorded but"):
        plan(ws, None, ["tiny_child"], {}, repo_id="a/b")


def test_default_names_and_pending(ws: Workspace) -> None:
    reg = load_registry(ws.registry_path)
    assert select_names(ws, reg, [], False) == ["tiny", "tiny_child"]
    (ws.variant_dir("tiny_child") / "verify.json").unlink()
    assert select_names(ws, reg, [], False) == ["tiny"]
    (ws.variant_dir("tiny") / "verify.json").unlink()
    with pytest.raises(UsageError, match=r"no variant has a verify\.json"):
        select_names(ws, reg, [], False)


def test_pending_is_published_and_named_in_message(tmp_path: Path) -> None:
    ws = Workspace(make_workspace(tmp_path / "ws", child_status="pending"))
    reg = load_registry(ws.registry_path)
    result = plan_for_workspace(ws, reg, offline=True)
    assert result.checks["tiny_child"].state == "pending" and not result.refused
    title, description = commit_message(list(result.checks.values()), None)
    assert title == "zoo publish: tiny (pass rollout@20=1.0000), tiny_child (pending rollout@20=1.0000)"
    assert "Forced" not in description
    many = [result.checks["tiny"]] * 40
    assert len(commit_message(many, "why")[0]) <= 300
