"""Issue 17 item 3, no churn: verify.json is rewritten only when a number or digest changes, and a
publish whose only differences are times (measured_at, fetched_at) makes no commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_support import HUB_REPO, commit_bodies, make_workspace, zoo, zoo_json
from servers.hf_hub_server import HfHubServer


def test_republish_with_only_new_times_makes_no_commit(tmp_path: Path, hf_server: HfHubServer) -> None:
    ws = make_workspace(tmp_path / "ws")
    first = zoo_json(ws, "publish", "--single-repo", "--tag", "v1")
    assert first["repos"][0]["commit"]
    # a fresh CI workspace re-measures the same numbers at another time
    for name in ("tiny", "tiny_child"):
        path = ws / "variants" / name / "verify.json"
        doc = json.loads(path.read_text())
        doc["measured_at"] = "2031-05-05T00:00:00Z"
        path.write_text(json.dumps(doc, indent=2))
    dry = zoo_json(ws, "publish", "--single-repo", "--dry-run")
    assert dry["bytes"] == 0 and dry["repos"][0]["updates"] == []
    again = zoo_json(ws, "publish", "--single-repo", "--tag", "v1")
    assert again["bytes"] == 0 and again["repos"][0]["commit"] is None and again["repos"][0]["tag_created"] is False
    assert len(commit_bodies(hf_server)) == 1
    assert b"2031" not in hf_server.files(HUB_REPO)["tiny/verify.json"]
    # a changed number is published
    path = ws / "variants" / "tiny" / "verify.json"
    doc = json.loads(path.read_text())
    doc["gate"]["measured"] = 0.5
    path.write_text(json.dumps(doc, indent=2))
    res = zoo(ws, "publish", "--single-repo", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [f["path"] for f in out["repos"][0]["updates"]] == ["tiny/verify.json"]


def test_verify_keeps_verify_json_when_nothing_changed(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    from verify_support import build_workspace

    from zoo.verify.run import verify_variant

    workspace, registry = build_workspace(tmp_path / "ws")
    rec = registry.get("tiny_tern")
    assert verify_variant(workspace, registry, rec).status == "pass"
    path = workspace.variant_dir("tiny_tern") / "verify.json"
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    doc = json.loads(before)
    assert doc["measured_at"]
    assert verify_variant(workspace, registry, rec).status == "pass"
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


class _Recorder:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, repo_id: str, total: int) -> None:
        self.total = total

    def advance(self, n: int) -> None:
        self.done += n


def test_publish_progress_counts_the_uploaded_bytes(tmp_path: Path, hf_server: HfHubServer) -> None:
    """Issue 17 item 7: the progress hook sees the bytes the client reads while uploading; the files
    arrive intact. (The CLI shows it as a rich bar only on a terminal and never with --json.)"""
    from zoo.publish import publish_workspace
    from zoo.registry import find_workspace, load_registry

    ws_root = make_workspace(tmp_path / "ws")
    ws = find_workspace(ws_root)
    rec = _Recorder()
    result = publish_workspace(ws, load_registry(ws.registry_path), per_variant_repos=False, progress=rec)
    assert rec.total == result.bytes > 0 and rec.done >= rec.total
    files = hf_server.files(HUB_REPO)
    assert files["tiny/lejepa_weights.safetensors"] == (ws_root / "variants/tiny/lejepa_weights.safetensors").read_bytes()
    res = zoo(ws_root, "publish", "--single-repo", "--json")  # not a terminal: no progress output, one JSON document
    assert res.exit_code == 0 and json.loads(res.stdout)["bytes"] == 0
