"""Credentials the way the clients find them (issue 17 item 6): the `hf auth login` token file and the
`wandb login` netrc entry work without env variables; messages say how to log in; never printed."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from publish_support import make_workspace, zoo, zoo_json
from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer
from servers.wandb_server import API_KEY, WandbServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main

URI = "wandb://ent/proj/art:latest"
FILE = "art_object.ckpt"


def test_publish_uses_the_hf_auth_login_token_file(tmp_path: Path, hf_server: HfHubServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    monkeypatch.delenv("HF_TOKEN")
    res = zoo(ws, "publish")
    assert res.exit_code == 2 and "HF_TOKEN is not set" in res.output and "hf auth login" in res.output
    token_file = Path(os.environ["HF_HOME"]) / "token"  # where `hf auth login` stores it
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(HF_TEST_TOKEN)
    out = zoo_json(ws, "publish")
    assert out["repos"][0]["commit"]
    for args in (["publish", "--dry-run"], ["publish", "--json"]):
        assert HF_TEST_TOKEN not in zoo(ws, *args).output


def test_pull_uses_the_wandb_login_netrc_entry(tmp_path: Path, wandb_server: WandbServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    wandb_server.add_artifact("ent", "proj", "art", {FILE: b"ckpt-bytes" * 1000}, run_id="r0")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    monkeypatch.delenv("WANDB_API_KEY")
    r = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert r.exit_code == 2 and "wandb login" in r.output and API_KEY not in r.output
    netrc = Path(os.environ["HOME"]) / ".netrc"  # what `wandb login` writes
    netrc.write_text(f"machine {urlsplit(wandb_server.url).netloc}\n  login user\n  password {API_KEY}\n")
    netrc.chmod(0o600)
    r = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert r.exit_code == 0, r.output
    assert API_KEY not in r.output
