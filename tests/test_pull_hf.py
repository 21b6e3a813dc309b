"""`zoo pull` of hf:// sources with the real huggingface_hub client against the loopback Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.hf_hub_server import HfHubServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo._io import sha256_bytes
from zoo.cli import main


def pull(ws: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["-C", str(ws), "pull", *args, "--no-convert"], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_hf_pull_pins_the_revision(tmp_path: Path, hf_server: HfHubServer) -> None:
    old = hf_server.add_files("org/lewm", {"m.ckpt": b"old" * 1000})
    hf_server.repos[("model", "org/lewm")].tags["v1"] = old
    hf_server.add_files("org/lewm", {"m.ckpt": b"new" * 1000})
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm@v1/m.ckpt")])
    code, out, err = pull(ws, "tiny", "--json")
    assert code == 0, err
    doc = json.loads(out)["pulled"][0]
    assert doc["version"] == old and doc["sha256"] == sha256_bytes(b"old" * 1000)
    assert (ws / "variants" / "tiny" / "source" / "m.ckpt").read_bytes() == b"old" * 1000
    src = json.loads((ws / "variants" / "tiny" / "manifest.json").read_text())["source"]
    assert src["kind"] == "hf" and src["resolved_version"] == old
    # the resolved commit (not the tag) was used for the bytes
    assert any(f"/resolve/{old}/m.ckpt" in p for p in hf_server.paths("GET"))
    n = len(hf_server.requests)
    assert pull(ws, "tiny")[0] == 0 and len(hf_server.requests) == n  # cache hit: no request


def test_hf_private_repo_without_token_names_hf_token(tmp_path: Path, hf_server: HfHubServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    hf_server.create_repo("org/secret", private=True)
    hf_server.add_files("org/secret", {"m.ckpt": b"x" * 100})
    monkeypatch.delenv("HF_TOKEN")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/secret/m.ckpt")])
    code, _, err = pull(ws, "tiny")
    assert code == 2 and "HF_TOKEN" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_hf_missing_file_exits_3(tmp_path: Path, hf_server: HfHubServer) -> None:
    hf_server.add_files("org/lewm", {"m.ckpt": b"x" * 100})
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm/nope.ckpt")])
    code, _, err = pull(ws, "tiny")
    assert code == 3 and "nope.ckpt" in err


def test_hf_hub_offline_env_is_cache_only(tmp_path: Path, hf_server: HfHubServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hf_server.add_files("org/lewm", {"m.ckpt": b"x" * 100})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm/m.ckpt")])
    code, _, err = pull(ws, "tiny")
    assert code == 3 and "not in the cache" in err
    assert hf_server.requests == []
