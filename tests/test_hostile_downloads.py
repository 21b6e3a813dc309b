"""Issue 15 item 4: downloads never write more than the declared size (manifest, registry, Content-Length).

A source serving 3 GB for a declared 100 bytes is cut off the moment the 101st byte would be written; the
pull fails like a digest mismatch (exit 1, one line), and no partial file or cache blob is left behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from servers._http import LoggedRequest
from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer
from servers.wandb_server import WandbServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main
from zoo.sources.local_source import path_to_file_uri, write_mirror_manifest

DECLARED = 100
HUGE = 3 << 30


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _written_bytes(*roots: Path) -> int:
    return sum(p.stat().st_blocks * 512 for r in roots for p in _files_under(r))


def _pull(ws: Path) -> Any:
    return CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"], catch_exceptions=False)


def test_file_mirror_larger_than_declared_is_refused(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    ckpt = mirror / "big.ckpt"
    ckpt.write_bytes(b"x" * DECLARED)
    write_mirror_manifest(mirror, artifact="big")  # declares 100 bytes
    with open(ckpt, "r+b") as fh:  # then the file becomes 3 GB (sparse: nothing is really written)
        fh.truncate(HUGE)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(path_to_file_uri(mirror), "big.ckpt")])
    result = _pull(ws)
    assert result.exit_code == 1, result.output
    assert "digest mismatch" in result.output and f"size expected {DECLARED}" in result.output
    assert "Traceback" not in result.output
    cache = Path(os.environ["ZOO_CACHE"])
    assert _written_bytes(cache, ws) < 64 * 1024  # no partial, no blob; only small manifests/locks
    assert not [p for p in _files_under(cache) if p.stat().st_size > DECLARED and p.name != "CACHEDIR.TAG"]
    assert not (ws / "variants" / "tiny" / "source").exists()


def test_registry_size_caps_a_mirror_too(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "c.ckpt").write_bytes(b"y" * 5000)
    write_mirror_manifest(mirror, artifact="c")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(path_to_file_uri(mirror), "c.ckpt")])
    reg = ws / "registry.yaml"
    reg.write_text(reg.read_text().replace("file: c.ckpt\n", "file: c.ckpt\n          size: 100\n"))
    result = _pull(ws)
    assert result.exit_code == 1, result.output
    assert "size expected 100" in result.output


class _FloodServer(WandbServer):
    """A W&B server whose manifest declares 100 bytes but whose file URL streams 3 GB from a generator."""

    def __init__(self, *, content_length: str | None = None) -> None:
        super().__init__()
        self.content_length = content_length
        self.sent = 0

    def _flood(self) -> Iterator[bytes]:
        chunk = b"z" * (1 << 16)
        while self.sent < HUGE:
            self.sent += len(chunk)
            yield chunk

    def handle(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        if urlsplit(req.path).path.startswith("/files/blob/") and req.method == "GET":
            headers = {"Content-Type": "application/octet-stream"}
            if self.content_length is not None:
                headers["Content-Length"] = self.content_length
            return 200, self._flood(), headers
        return super().handle(req)


@pytest.mark.parametrize("content_length", [None, str(HUGE)], ids=["no-length", "announces-3GB"])
def test_http_source_flooding_past_the_manifest_size_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                content_length: str | None) -> None:
    server = _FloodServer(content_length=content_length)
    server.start()
    try:
        monkeypatch.setenv("WANDB_BASE_URL", server.url)
        monkeypatch.setenv("WANDB_API_KEY", server.api_key)
        server.add_artifact("ent", "proj", "art", {"art.ckpt": b"a" * DECLARED})
        ws = write_pull_workspace(tmp_path / "ws", [source_yaml("wandb://ent/proj/art:latest", "art.ckpt")])
        result = _pull(ws)
    finally:
        server.stop()
    assert result.exit_code == 1, result.output
    assert "digest mismatch" in result.output and f"size expected {DECLARED}" in result.output
    assert len(result.output.strip().splitlines()) <= 2 and "Traceback" not in result.output
    cache = Path(os.environ["ZOO_CACHE"])
    assert not [p for p in _files_under(cache) if p.stat().st_size > DECLARED and p.name != "CACHEDIR.TAG"]
    assert _written_bytes(cache, ws) < 64 * 1024
    assert server.sent < 64 << 20  # the client hung up long before 3 GB


def test_mirror_manifest_negative_size_is_a_located_error(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "c.ckpt").write_bytes(b"c" * 10)
    (mirror / "manifest.json").write_text(json.dumps({"contents": {"c.ckpt": {"size": -1}}}))
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(path_to_file_uri(mirror), "c.ckpt")])
    result = _pull(ws)
    assert result.exit_code == 2, result.output
    assert "size must be a non-negative integer" in result.output


class _FloodHub(HfHubServer):
    """A Hub whose HEAD declares 100 bytes for m.ckpt but whose GET streams 3 GB."""

    sent = 0

    def handle(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        status, payload, headers = super().handle(req)
        if req.method == "GET" and "/resolve/" in req.path and status in (200, 206):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            return 200, self._flood(), headers
        return status, payload, headers

    def _flood(self) -> Iterator[bytes]:
        chunk = b"h" * (1 << 16)
        while self.sent < HUGE:
            self.sent += len(chunk)
            yield chunk


def test_hf_source_flooding_past_the_declared_size_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = _FloodHub()
    server.start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", HF_TEST_TOKEN)
        server.add_files("org/lewm", {"m.ckpt": b"m" * DECLARED})
        ws = write_pull_workspace(tmp_path / "ws", [source_yaml("hf://org/lewm/m.ckpt")])
        result = _pull(ws)
    finally:
        server.stop()
    assert result.exit_code == 1, result.output
    assert f"size expected {DECLARED}" in result.output and "Traceback" not in result.output
    cache = Path(os.environ["ZOO_CACHE"])
    assert not [p for p in _files_under(cache) if p.stat().st_size > DECLARED and p.name != "CACHEDIR.TAG"]
    assert server.sent < 64 << 20
