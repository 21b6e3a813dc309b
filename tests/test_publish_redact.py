"""A variant pulled from a local file:// mirror: no local path reaches the Hub or the cards."""

from __future__ import annotations

import json
from pathlib import Path

from publish_support import HUB_REPO, make_workspace, zoo, zoo_json
from servers.hf_hub_server import HfHubServer

from zoo.cards.redact import redact_json, redact_text, redacted_json_bytes
from zoo.publish import plan
from zoo.publish.plan import RemoteFile, git_blob_sha1
from zoo.registry import Workspace, load_registry


def test_redact_text_rule() -> None:
    assert redact_text("file:///home/me/mirrors/slim") == "file://.../slim"
    assert redact_text("file://localhost/a/b/tiny.ckpt?x=1#f") == "file://.../tiny.ckpt"
    assert redact_text("file:///a/dir/") == "file://.../dir" and redact_text("file:///") == "file://..."
    assert redact_text("`file:///tmp/x/m`: skipped") == "`file://.../m`: skipped"
    for kept in ("wandb://e/p/a:v0", "hf://org/repo/w.pt", "no uri here", "file://.../slim"):
        assert redact_text(kept) == kept  # other schemes untouched; idempotent
    doc = {"source": {"uri": "file:///t/m", "aliases": ["file:///t/n"]}, "inputs": {"file:///t/c.ckpt": "ab"}, "n": 1}
    assert redact_json(doc) == {"source": {"uri": "file://.../m", "aliases": ["file://.../n"]},
                                "inputs": {"file://.../c.ckpt": "ab"}, "n": 1}


def _mirror_workspace(tmp_path: Path) -> tuple[Path, str]:
    """make_workspace, but `tiny` was pulled from a mirror under tmp_path (as `zoo pull` records it)."""
    root = make_workspace(tmp_path / "ws")
    mirror = f"file://{tmp_path}/mirrors/tiny"
    reg = root / "registry.yaml"
    reg.write_text(reg.read_text().replace("file:///nonexistent/tiny.ckpt", mirror))
    mpath = root / "variants" / "tiny" / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["source"] = {"uri": mirror, "served_by": mirror, "requested": mirror, "kind": "file", "file": "tiny.ckpt",
                     "sha256": doc["artifacts"]["source/tiny.ckpt"]["sha256"], "size": 4, "resolved_version": "v0",
                     "aliases": [], "details": {"artifact": "tiny"}, "fetched_at": "2026-01-01T00:00:00Z"}
    doc["artifacts"]["source/tiny.ckpt"]["inputs"] = {mirror: doc["source"]["sha256"]}
    mpath.write_text(json.dumps(doc, indent=2, sort_keys=True))
    return root, str(tmp_path)


def test_plan_digests_the_redacted_manifest(tmp_path: Path) -> None:
    root, secret = _mirror_workspace(tmp_path)
    ws = Workspace(root)
    manifest = ws.variant_dir("tiny") / "manifest.json"
    clean = redacted_json_bytes(manifest)
    assert clean is not None and secret.encode() not in clean and b"file://.../tiny" in clean
    assert redacted_json_bytes(ws.variant_dir("tiny_child") / "manifest.json") is None  # no local path: as is
    reg = load_registry(ws.registry_path)
    first = {f.path: f for f in plan(ws, reg, ["tiny"], {}).files}["tiny/manifest.json"]
    assert first.content == clean and first.size == len(clean)
    remote = {"tiny/manifest.json": RemoteFile("tiny/manifest.json", len(clean), git_blob_sha1(clean))}
    again = {f.path: f for f in plan(ws, reg, ["tiny"], remote).files}["tiny/manifest.json"]
    assert again.action == "unchanged"
    per_variant = {f.path: f for f in plan(ws, reg, ["tiny"], {}, repo_id="o/r", layout="per-variant").files}
    assert per_variant["manifest.json"].content == clean


def test_no_local_path_is_uploaded_or_carded(tmp_path: Path, hf_server: HfHubServer) -> None:
    root, secret = _mirror_workspace(tmp_path)
    assert zoo(root, "card", "--all").exit_code == 0
    assert zoo(root, "site").exit_code == 0
    rendered = [p for p in (root / "cards").rglob("*") if p.is_file()]
    assert any("file://.../tiny" in p.read_text() for p in rendered if p.name == "README.md")
    for path in rendered:
        assert secret not in path.read_text(), path
    first = zoo_json(root, "publish", "--single-repo")
    files = hf_server.files(HUB_REPO)
    assert "tiny/manifest.json" in files and b"file://.../tiny" in files["tiny/manifest.json"]
    for path, data in files.items():
        assert secret.encode() not in data, path
    assert secret in (root / "variants" / "tiny" / "manifest.json").read_text()  # the local manifest keeps the real path
    assert first["bytes"] > 0
    second = zoo_json(root, "publish", "--single-repo")
    assert second["bytes"] == 0 and second["repos"][0]["commit"] is None
