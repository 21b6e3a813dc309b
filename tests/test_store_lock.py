"""`zoo lock` / `zoo pull --locked` against the loopback W&B server (issue 17 item 1): the lock pins
`latest` to a version and digests; a moved `latest` makes `zoo lock --check` exit 1 and
`zoo pull --locked` refuse it with one line naming the variant, the pinned and the found version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.hf_hub_server import HfHubServer
from servers.wandb_server import WandbServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main

URI = "wandb://ent/proj/art:latest"
FILE = "art_object.ckpt"


def _payload(version: int) -> bytes:
    return (f"checkpoint v{version} ".encode() * 4000)[: 40000 + version]


def _zoo(ws: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["-C", str(ws), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.output


@pytest.fixture
def wb(wandb_server: WandbServer) -> WandbServer:
    for v in range(2):  # v0, v1; `latest` -> v1
        wandb_server.add_artifact("ent", "proj", "art", {FILE: _payload(v)}, run_id=f"run{v}")
    return wandb_server


def test_lock_pins_latest_and_catches_a_moved_alias(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, out = _zoo(ws, "lock")
    assert code == 0, out
    lock_text = (ws / "registry.lock").read_text()
    lock = json.loads(lock_text)
    (entry,) = lock["variants"]["tiny"]["sources"]
    assert entry["uri"] == URI and entry["version"] == "v1" and entry["file"] == FILE
    assert entry["size"] == len(_payload(1)) and entry["md5"]
    assert list(lock["variants"]) == ["tiny"]  # derived variants have no sources of their own
    # deterministic: a second lock rewrites nothing
    assert _zoo(ws, "lock")[0] == 0 and (ws / "registry.lock").read_text() == lock_text
    assert _zoo(ws, "lock", "--check")[0] == 0
    assert _zoo(ws, "pull", "tiny", "--locked", "--no-convert")[0] == 0

    # someone uploads a new version: `latest` moves to v2
    wb.add_artifact("ent", "proj", "art", {FILE: _payload(2)}, run_id="run2")
    code, stdout, out = _zoo(ws, "lock", "--check", "--json")
    assert code == 1, out
    assert json.loads(stdout)["stale"] is True
    assert "pinned version v1, found v2" in out
    # a fresh workspace pulling locked refuses the drift: one line, variant + pinned + found
    ws2 = write_pull_workspace(tmp_path / "ws2", [source_yaml(URI, FILE)])
    (ws2 / "registry.lock").write_text(lock_text)
    code, _, out = _zoo(ws2, "pull", "tiny", "--locked", "--no-convert")
    assert code == 1, out
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "tiny" in errors[0] and "pinned version v1, found v2" in errors[0]
    assert not (ws2 / "variants" / "tiny" / "source" / FILE).exists()
    # unlocked pulls follow latest; `zoo lock` pins the new version and the check passes again
    assert _zoo(ws, "lock")[0] == 0 and json.loads((ws / "registry.lock").read_text())[
        "variants"]["tiny"]["sources"][0]["version"] == "v2"
    assert _zoo(ws, "lock", "--check")[0] == 0


def test_locked_pull_refuses_a_cached_checkpoint_that_is_not_pinned(tmp_path: Path, wb: WandbServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    assert _zoo(ws, "pull", "tiny", "--no-convert")[0] == 0  # v1 in the cache and the manifest
    assert _zoo(ws, "lock")[0] == 0
    wb.add_artifact("ent", "proj", "art", {FILE: _payload(2)}, run_id="run2")
    assert _zoo(ws, "lock")[0] == 0  # pins v2
    monkeypatch.setenv("ZOO_LOCKED", "1")  # what the release workflow sets
    code, stdout, out = _zoo(ws, "pull", "tiny", "--no-convert", "--json")
    assert code == 0, out
    doc = json.loads(stdout)["pulled"][0]
    assert doc["cached"] is False and doc["version"] == "v2"  # the cached v1 is not what the lock pins


def test_missing_lock_is_a_usage_error(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, out = _zoo(ws, "pull", "tiny", "--locked", "--no-convert")
    assert code == 2 and "registry.lock" in out and "zoo lock" in out
    code, _, out = _zoo(ws, "lock", "--check")
    assert code == 2 and "zoo lock" in out


def test_lock_pins_the_hub_commit_of_a_moving_revision(tmp_path: Path, hf_server: HfHubServer) -> None:
    first = hf_server.add_files("org/lewm", {"m.ckpt": b"old" * 1000})
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm@main/m.ckpt", "m.ckpt")])
    assert _zoo(ws, "lock")[0] == 0
    (entry,) = json.loads((ws / "registry.lock").read_text())["variants"]["tiny"]["sources"]
    assert entry["kind"] == "hf" and entry["version"] == first
    assert entry["sha256"] == hashlib.sha256(b"old" * 1000).hexdigest()
    second = hf_server.add_files("org/lewm", {"m.ckpt": b"new" * 1000})  # main moves
    code, _, out = _zoo(ws, "lock", "--check")
    assert code == 1 and f"pinned version {first}, found {second}" in out
    code, _, out = _zoo(ws, "pull", "tiny", "--locked", "--no-convert")
    assert code == 1 and f"pinned version {first}, found {second}" in out
