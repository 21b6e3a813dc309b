"""The release layout: one Hub repository per variant, grouped in a Hub Collection (issue 16).

Real huggingface_hub client (collections API) against the loopback Hub's collection routes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from publish_support import HUB_REPO, commit_bodies, make_workspace, write_requests, zoo, zoo_json
from servers.hf_hub_server import HfHubServer

# the publish command of these tests; a flag other developers add (e.g. a safety opt-in) goes here
PUBLISH = ("publish",)
REPOS = ["test/test-tiny", "test/test-tiny_child"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _collection(server: HfHubServer):  # type: ignore[no-untyped-def]
    col = server.collection("test", "test")
    assert col is not None, sorted(server.collections)
    return col


def test_default_layout_is_per_variant_repos_plus_a_collection(ws: Path, hf_server: HfHubServer) -> None:
    out = zoo_json(ws, *PUBLISH)
    assert [r["repo_id"] for r in out["repos"]] == REPOS
    assert ("model", HUB_REPO) not in hf_server.repos  # no aggregate repository by default
    col = _collection(hf_server)
    assert [it.item_id for it in col.items] == REPOS and all(it.item_type == "model" for it in col.items)
    assert col.description == "test"  # the collection text (registry description, else its name)
    assert "; verify pass rollout@20=" in (col.items[0].note or "")  # the gate result of publish_support
    assert out["collection"]["slug"] == col.slug and out["collection"]["applied"] is True
    assert [i["action"] for i in out["collection"]["items"]] == ["add", "add"]


def test_publishing_twice_changes_nothing(ws: Path, hf_server: HfHubServer) -> None:
    zoo_json(ws, *PUBLISH)
    col = _collection(hf_server)
    updates, commits = col.updates, hf_server.commit_count
    hf_server.requests.clear()
    again = zoo_json(ws, *PUBLISH)
    assert all(r["commit"] is None for r in again["repos"]) and again["bytes"] == 0
    assert again["collection"]["changed"] is False
    assert [i["action"] for i in again["collection"]["items"]] == ["unchanged", "unchanged"]
    assert col.updates == updates and hf_server.commit_count == commits and commit_bodies(hf_server) == []
    assert write_requests(hf_server) == []  # only reads: no commit, no collection request that writes


def test_collection_is_reordered_and_described_idempotently(ws: Path, hf_server: HfHubServer) -> None:
    zoo_json(ws, *PUBLISH)
    col = _collection(hf_server)
    col.items.reverse()  # someone reordered it by hand and changed the description
    col.description = "edited on the Hub"
    dry = zoo_json(ws, *PUBLISH, "--dry-run")
    assert dry["collection"]["description_action"] == "update"
    assert {i["action"] for i in dry["collection"]["items"]} == {"move"}
    assert [it.item_id for it in col.items] == REPOS[::-1]  # the dry run wrote nothing
    zoo_json(ws, *PUBLISH)
    assert [it.item_id for it in col.items] == REPOS and col.description != "edited on the Hub"
    updates = col.updates
    zoo_json(ws, *PUBLISH)
    assert col.updates == updates


def test_dry_run_shows_the_collection_changes(ws: Path, hf_server: HfHubServer) -> None:
    res = zoo(ws, *PUBLISH, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "new collection" in res.output and "test/test-tiny_child" in res.output and "add" in res.output
    assert hf_server.collections == {} and write_requests(hf_server) == []
    offline = zoo_json(ws, *PUBLISH, "--dry-run", "--no-collection")
    assert offline["collection"] is None


def test_single_repo_layout_has_no_collection(ws: Path, hf_server: HfHubServer) -> None:
    out = zoo_json(ws, "publish", "--single-repo")
    assert [r["repo_id"] for r in out["repos"]] == [HUB_REPO] and out["collection"] is None
    assert hf_server.collections == {}


def test_collection_failure_is_one_line_exit_3(ws: Path, hf_server: HfHubServer) -> None:
    hf_server.fail(lambda method, path: method == "POST" and path == "/api/collections", status=403,
                   message="collections are read-only today")
    res = zoo(ws, *PUBLISH)
    assert res.exit_code == 3, res.output
    assert "collection" in res.output and "read-only today" in res.output and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1].startswith("error: ")
