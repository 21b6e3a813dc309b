"""`zoo publish` with the real huggingface_hub client against the loopback Hub server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from publish_support import EXPECTED, HUB_REPO, commit_bodies, make_workspace, write_requests, zoo, zoo_json
from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _file_ops(body: list[dict]) -> list[tuple[str, str]]:
    return sorted((ln["key"], ln["value"]["path"]) for ln in body if ln["key"] != "header")


def test_first_publish_uploads_everything_then_nothing(ws: Path, hf_server: HfHubServer) -> None:
    first = zoo_json(ws, "publish", "--single-repo")
    repo = first["repos"][0]
    assert [f["path"] for f in repo["adds"]] == sorted(EXPECTED)
    assert repo["bytes"] == sum((ws / src).stat().st_size for src in EXPECTED.values()) == first["bytes"]
    files = hf_server.files(HUB_REPO)
    assert set(files) == set(EXPECTED) | {".gitattributes"}
    for path, src in EXPECTED.items():
        assert files[path] == (ws / src).read_bytes(), path
    # exactly one commit, LFS for the safetensors, naming the variants and their verify results
    (body,) = commit_bodies(hf_server)
    header = body[0]["value"]
    assert "tiny (pass rollout@20=1.0000)" in header["summary"] and "tiny_child" in header["summary"]
    assert ("lfsFile", "tiny/lejepa_weights.safetensors") in _file_ops(body)
    assert repo["commit"] == hf_server.repos[("model", HUB_REPO)].branches["main"]

    hf_server.requests.clear()
    second = zoo_json(ws, "publish", "--single-repo")
    assert second["bytes"] == 0 and second["repos"][0]["commit"] is None
    assert second["repos"][0]["unchanged"] == len(EXPECTED)
    assert write_requests(hf_server) == []  # no commit, no upload, not even a preupload


def test_changing_one_card_uploads_exactly_that_file(ws: Path, hf_server: HfHubServer) -> None:
    zoo_json(ws, "publish", "--single-repo")
    card = ws / "cards" / "tiny_child" / "README.md"
    card.write_text(card.read_text() + "\nmore text\n")
    hf_server.requests.clear()
    out = zoo_json(ws, "publish", "--single-repo")
    repo = out["repos"][0]
    assert [f["path"] for f in repo["updates"]] == ["tiny_child/README.md"] and repo["adds"] == []
    assert repo["bytes"] == card.stat().st_size
    (body,) = commit_bodies(hf_server)
    assert _file_ops(body) == [("file", "tiny_child/README.md")]
    assert not [r for r in hf_server.requests if r.method == "PUT"]
    assert hf_server.files(HUB_REPO)["tiny_child/README.md"] == card.read_bytes()


def test_deletion_only_with_prune(ws: Path, hf_server: HfHubServer) -> None:
    zoo_json(ws, "publish", "--single-repo")
    hf_server.add_files(HUB_REPO, {"tiny/old.lq40": b"old", "LICENSE.txt": b"x", "other/keep.txt": b"k"})
    out = zoo_json(ws, "publish", "--single-repo")
    assert out["repos"][0]["deletes"] == [] and out["repos"][0]["commit"] is None
    assert out["repos"][0]["kept_remote_only"] == ["LICENSE.txt", "tiny/old.lq40"]
    assert "tiny/old.lq40" in hf_server.files(HUB_REPO)

    dry = zoo_json(ws, "publish", "--single-repo", "--prune", "--dry-run")
    assert dry["repos"][0]["deletes"] == ["LICENSE.txt", "tiny/old.lq40"]
    assert "tiny/old.lq40" in hf_server.files(HUB_REPO)

    out = zoo_json(ws, "publish", "--single-repo", "--prune")
    assert out["repos"][0]["deletes"] == ["LICENSE.txt", "tiny/old.lq40"]
    files = hf_server.files(HUB_REPO)
    assert "tiny/old.lq40" not in files and "LICENSE.txt" not in files
    # outside the published variants' folders, and .gitattributes, are never pruned
    assert "other/keep.txt" in files and ".gitattributes" in files
    (_, body) = commit_bodies(hf_server)[-2:]
    assert _file_ops(body) == [("deletedFile", "LICENSE.txt"), ("deletedFile", "tiny/old.lq40")]


def test_tag_points_at_the_last_commit(ws: Path, hf_server: HfHubServer) -> None:
    zoo_json(ws, "publish", "--single-repo", "--tag", "v0.1")
    repo = hf_server.repos[("model", HUB_REPO)]
    assert repo.tags["v0.1"] == repo.branches["main"]
    (ws / "cards" / "tiny" / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# tiny v2\n")
    out = zoo_json(ws, "publish", "--single-repo", "--tag", "v0.2")
    assert repo.tags["v0.2"] == repo.branches["main"] == out["repos"][0]["commit"] != repo.tags["v0.1"]
    # same tag again with nothing changed: idempotent, exit 0, nothing written
    hf_server.requests.clear()
    again = zoo_json(ws, "publish", "--single-repo", "--tag", "v0.2")
    assert again["repos"][0]["tag_created"] is False and write_requests(hf_server) == []
    # nothing changed but the tag is missing: tag only, no commit
    tagged = zoo_json(ws, "publish", "--single-repo", "--tag", "v0.3")
    assert tagged["repos"][0]["commit"] is None and repo.tags["v0.3"] == repo.branches["main"]
    assert len(commit_bodies(hf_server)) == 0
    # an existing tag is never moved (the dry-run says so too)
    (ws / "cards" / "tiny" / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# tiny v3\n")
    dry = zoo(ws, "publish", "--single-repo", "--tag", "v0.1", "--dry-run")
    assert dry.exit_code == 2 and "tag v0.1 already exists" in dry.output
    res = zoo(ws, "publish", "--single-repo", "--tag", "v0.1")
    assert res.exit_code == 2 and "tag 'v0.1' already exists" in res.output
    # the dry run stops with the same line as the real run
    assert "error: " + res.output.split("error: ", 1)[1].strip() in dry.output
    assert len(commit_bodies(hf_server)) == 0


def test_interrupted_upload_exits_3_and_rerun_completes(ws: Path, hf_server: HfHubServer) -> None:
    # 507 is a server error the client does not retry (500 would be retried with seconds of backoff)
    hf_server.fail(lambda m, p: m == "PUT" and p.startswith("/lfs-upload/"), status=507,
                   message="insufficient storage")
    res = zoo(ws, "publish", "--single-repo", "--tag", "v1")
    assert res.exit_code == 3, res.output
    assert "error: test/test: committing failed: HTTP 507" in res.output and "Traceback" not in res.output
    repo = hf_server.repos[("model", HUB_REPO)]
    assert set(hf_server.files(HUB_REPO)) == {".gitattributes"} and repo.tags == {}
    out = zoo_json(ws, "publish", "--single-repo", "--tag", "v1")
    assert set(hf_server.files(HUB_REPO)) == set(EXPECTED) | {".gitattributes"}
    assert repo.tags["v1"] == repo.branches["main"] == out["repos"][0]["commit"]


def test_lost_commit_response_rerun_completes(ws: Path, hf_server: HfHubServer) -> None:
    # the loopback server applies the commit, then answers 500 (a response lost on the way back)
    hf_server.fail("/commit/", status=500)
    res = zoo(ws, "publish", "--single-repo", "--tag", "v1")
    assert res.exit_code == 3 and "committing failed: HTTP 500" in res.output
    repo = hf_server.repos[("model", HUB_REPO)]
    assert repo.tags == {}
    hf_server.requests.clear()
    out = zoo_json(ws, "publish", "--single-repo", "--tag", "v1")
    # the re-run sees the files already there: no second commit, only the missing tag
    assert out["repos"][0]["commit"] is None and out["bytes"] == 0
    assert write_requests(hf_server) == [f"POST /api/models/{HUB_REPO}/tag/{repo.branches['main']}"]
    assert repo.tags["v1"] == repo.branches["main"]


def test_concurrent_change_is_detected(ws: Path, hf_server: HfHubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo_json(ws, "publish", "--single-repo")
    (ws / "cards" / "tiny" / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# changed\n")
    import zoo.publish.push as push

    real_plan = push.plan

    def plan_then_someone_commits(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real_plan(*args, **kwargs)
        hf_server.add_files(HUB_REPO, {"notes.txt": b"concurrent"})
        return result

    monkeypatch.setattr(push, "plan", plan_then_someone_commits)
    res = zoo(ws, "publish", "--single-repo")
    assert res.exit_code == 3
    assert "changed since the plan was made" in res.output and "re-run" in res.output
    assert b"changed" not in hf_server.files(HUB_REPO)["tiny/README.md"]


@pytest.mark.parametrize("state", ["fail", "stale", "missing"])
def test_unverified_variant_is_refused(tmp_path: Path, hf_server: HfHubServer, state: str) -> None:
    ws = make_workspace(tmp_path / "ws", child_status="fail" if state == "fail" else "pass")
    if state == "stale":
        (ws / "variants" / "tiny_child" / "ternary.safetensors").write_bytes(b"retrained")
    if state == "missing":
        (ws / "variants" / "tiny_child" / "verify.json").unlink()
    res = zoo(ws, "publish", "--single-repo", "--all")
    assert res.exit_code == 1, res.output
    assert "refusing to publish unverified variant(s): tiny_child" in res.output
    reason = {"fail": "verification failed", "stale": "ternary.safetensors changed since it was verified",
              "missing": "never verified"}[state]
    assert reason in res.output and "tiny:" not in res.output
    assert write_requests(hf_server) == []
    # --force with a reason publishes, and the reason is in the commit message
    out = zoo_json(ws, "publish", "--single-repo", "--all", "--force", "hotfix for the demo")
    assert out["force"] == "hotfix for the demo" and out["repos"][0]["commit"]
    (body,) = commit_bodies(hf_server)
    assert "Forced publish: hotfix for the demo" in body[0]["value"]["description"]
    assert f"tiny_child: verify {state}" in body[0]["value"]["description"]


def test_manifest_digest_mismatch_is_stale(ws: Path, hf_server: HfHubServer) -> None:
    (ws / "variants" / "tiny" / "config.json").write_text('{"latent_dim": 64}')
    res = zoo(ws, "publish", "--single-repo")
    assert res.exit_code == 1 and "config.json changed since it was recorded in manifest.json" in res.output


def test_dry_run_makes_no_write_call(ws: Path, hf_server: HfHubServer) -> None:
    out = zoo_json(ws, "publish", "--single-repo", "--dry-run")
    assert out["dry_run"] is True and len(out["repos"][0]["adds"]) == len(EXPECTED)
    assert out["repos"][0]["exists"] is False
    assert not [r for r in hf_server.requests if r.method in ("POST", "PUT", "DELETE")]
    assert hf_server.repos == {}
    # human output: the plan on stdout (plain text when piped), nothing but titles on stderr
    res = zoo(ws, "publish", "--single-repo", "--dry-run")
    assert res.exit_code == 0
    assert "tiny/lejepa_weights.safetensors" in res.stdout and "11 add" in res.stdout
    assert not [r for r in hf_server.requests if r.method in ("POST", "PUT", "DELETE")]


def test_dry_run_without_token_and_refusals_shown(tmp_path: Path, hf_server: HfHubServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws", child_status="fail")
    monkeypatch.delenv("HF_TOKEN")
    res = zoo(ws, "publish", "--single-repo", "--dry-run", "--json")
    assert res.exit_code == 1, res.output  # what the real run exits with
    out = json.loads(res.stdout)
    assert out["variants"]["tiny_child"]["refused"] is True and out["exit_code"] == 1
    assert all("authorization" not in r.headers for r in hf_server.requests)


def test_missing_token_is_refused(ws: Path, hf_server: HfHubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN")
    res = zoo(ws, "publish", "--single-repo")
    assert res.exit_code == 2 and "HF_TOKEN is not set" in res.output
    assert hf_server.requests == []


def test_token_never_printed(ws: Path, hf_server: HfHubServer) -> None:
    for args in (["publish"], ["publish", "--json"], ["publish", "--dry-run"]):
        res = zoo(ws, *args)
        assert HF_TEST_TOKEN not in res.output
    hf_server.fail("/commit/", status=403, message=f"bad token {HF_TEST_TOKEN[:3]}")
    (ws / "cards" / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# new\n")
    res = zoo(ws, "publish", "--single-repo")
    assert res.exit_code == 3 and HF_TEST_TOKEN not in res.output and "HF_TOKEN" in res.output


def test_per_variant_repos(ws: Path, hf_server: HfHubServer) -> None:
    out = zoo_json(ws, "publish", "--per-variant-repos", "--tag", "v1")
    assert [r["repo_id"] for r in out["repos"]] == ["test/test-tiny", "test/test-tiny_child"]
    files = hf_server.files("test/test-tiny_child")
    assert set(files) == {".gitattributes", "README.md", "manifest.json", "targets/esp32/model.h",
                          "ternary.safetensors", "verify.json"}
    assert files["README.md"] == (ws / "cards" / "tiny_child" / "README.md").read_bytes()
    for rid in ("test/test-tiny", "test/test-tiny_child"):
        repo = hf_server.repos[("model", rid)]
        assert repo.tags["v1"] == repo.branches["main"]
    assert ("model", HUB_REPO) not in hf_server.repos


def test_repo_option_and_names(ws: Path, hf_server: HfHubServer) -> None:
    out = zoo_json(ws, "publish", "--single-repo", "tiny", "--repo", "org/other")
    assert out["repos"][0]["repo_id"] == "org/other"
    assert sorted(hf_server.files("org/other")) == sorted(
        [".gitattributes", "README.md"] + [p for p in EXPECTED if p.startswith("tiny/")])
    res = zoo(ws, "publish", "--single-repo", "tinny")
    assert res.exit_code == 2 and "tinny" in res.output


def test_remote_error_message_and_unreachable(ws: Path, hf_server: HfHubServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hf_server.fail("/api/models/test/test", status=503, times=100, message="maintenance window")
    res = zoo(ws, "publish", "--single-repo", "--dry-run")
    assert res.exit_code == 3, res.output
    assert "test/test: reading the repository failed: HTTP 503: maintenance window" in res.output
    assert "Traceback" not in res.output
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    res = zoo(ws, "publish", "--single-repo", "--dry-run")
    assert res.exit_code == 3 and "cannot reach" in res.output and "Traceback" not in res.output
    assert "ZOO_OFFLINE=1" in res.output


def test_offline_dry_run_plans_against_empty_remote(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    out = zoo_json(ws, "publish", "--single-repo", "--dry-run")
    assert out["repos"][0]["remote_consulted"] is False and len(out["repos"][0]["adds"]) == len(EXPECTED)
    monkeypatch.setenv("HF_TOKEN", HF_TEST_TOKEN)
    res = zoo(ws, "publish", "--single-repo")
    assert res.exit_code == 2 and "offline" in res.output


def test_missing_card_is_input_error(ws: Path, hf_server: HfHubServer) -> None:
    (ws / "cards" / "tiny" / "README.md").unlink()
    res = zoo(ws, "publish", "--single-repo", "--dry-run")
    assert res.exit_code == 2 and "cards/tiny/README.md" in res.output and "zoo card tiny" in res.output


def test_real_pipeline_workspace(tmp_path: Path, hf_server: HfHubServer) -> None:
    """verify + cards from the real stages (tests/verify_support.py), then publish and re-publish."""
    pytest.importorskip("safetensors")
    from verify_support import build_workspace

    from zoo.cards.render import write_cards
    from zoo.verify.run import verify_variant

    workspace, registry = build_workspace(tmp_path / "real")
    for name in ("tiny_f32", "tiny_tern", "tiny_q4", "tiny_tern_strict"):
        verify_variant(workspace, registry, registry.get(name))
    write_cards(workspace, registry)
    res = zoo(workspace.root, "publish", "--single-repo")  # default: every variant with a verify.json, incl. the failed one
    assert res.exit_code == 1 and "tiny_tern_strict: fail" in res.output
    out = zoo_json(workspace.root, "publish", "--single-repo", "tiny_f32", "tiny_tern", "tiny_q4", "--tag", "v1")
    files = hf_server.files(HUB_REPO)
    assert files["tiny_q4/model.lq40"] == (workspace.variant_dir("tiny_q4") / "model.lq40").read_bytes()
    assert files["README.md"] == (workspace.cards_dir / "README.md").read_bytes()
    assert {"tiny_f32/config.json", "tiny_f32/lejepa_weights.safetensors", "tiny_tern/ternary.safetensors",
            "tiny_tern/verify.json", "tiny_tern/manifest.json", "tiny_tern/README.md"} <= set(files)
    assert not any(p.endswith("golden.safetensors") for p in files)
    assert out["repos"][0]["commit"] == hf_server.repos[("model", HUB_REPO)].tags["v1"]
    again = zoo_json(workspace.root, "publish", "--single-repo", "tiny_f32", "tiny_tern", "tiny_q4")
    assert again["bytes"] == 0 and again["repos"][0]["commit"] is None


def test_invalid_repo_id_is_usage_error(ws: Path, hf_server: HfHubServer) -> None:
    for bad in ("no-slash", "org/bad name", "org/x..y", "-org/x"):
        res = zoo(ws, "publish", "--single-repo", "--dry-run", "--repo", bad)
        assert res.exit_code == 2 and "--repo" in res.output and "not a valid Hub repository id" in res.output
    assert hf_server.requests == []


def test_invalid_tag_is_usage_error_before_any_request(ws: Path, hf_server: HfHubServer) -> None:
    for bad in ("bad tag", "v1..2", "v1.lock", "-v1", "v1:2", ""):
        for extra in ((), ("--dry-run",)):
            res = zoo(ws, "publish", "--single-repo", "--tag", bad, *extra)
            assert res.exit_code == 2 and "not a valid git tag name" in res.output, (bad, res.output)
    assert hf_server.requests == []
    out = zoo_json(ws, "publish", "--single-repo", "--tag", "release/v1.0_rc.1")
    assert hf_server.repos[("model", HUB_REPO)].tags["release/v1.0_rc.1"] == out["repos"][0]["commit"]


def test_unexpected_client_error_is_one_line(ws: Path, hf_server: HfHubServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception from inside huggingface_hub that is not an HTTP error (seen: a malformed cache file
    under HF_HOME) is exit 3 with one line, not a traceback."""
    from huggingface_hub import HfApi

    def broken(self: HfApi, *args: object, **kwargs: object) -> None:
        raise AttributeError("'list' object has no attribute 'get'")

    monkeypatch.setattr(HfApi, "repo_info", broken)
    res = zoo(ws, "publish", "--single-repo", "--dry-run")
    assert res.exit_code == 3 and "Traceback" not in res.output
    assert "test/test: reading the repository failed inside huggingface_hub (AttributeError:" in res.output
