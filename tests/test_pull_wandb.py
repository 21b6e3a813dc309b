"""`zoo pull` with the real wandb client against the loopback W&B server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.wandb_server import API_KEY, WandbServer
from servers.workspaces import source_yaml, write_pull_workspace

from zoo._io import sha256_bytes
from zoo.cli import main

URI = "wandb://ent/proj/art:latest"
FILE = "art_object.ckpt"


def _payload(version: int) -> bytes:
    return (f"checkpoint v{version} ".encode() * 40000)[: 400000 + version]


@pytest.fixture
def wb(wandb_server: WandbServer) -> WandbServer:
    for v in range(4):  # v0..v3; `latest` -> v3
        wandb_server.add_artifact("ent", "proj", "art", {FILE: _payload(v), "notes.txt": b"hi"}, run_id=f"run{v}")
    return wandb_server


def pull(ws: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["-C", str(ws), "pull", *args, "--no-convert"], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def blobs() -> list[Path]:
    root = Path(os.environ["ZOO_CACHE"]) / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def file_gets(server: WandbServer) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path.startswith("/files/blob/"))


def test_pull_resolves_latest_to_v3_and_records_provenance(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, out, err = pull(ws, "tiny", "--json")
    assert code == 0, err
    doc = json.loads(out)["pulled"][0]
    assert doc["version"] == "v3" and doc["served_by"] == URI and doc["cached"] is False
    vdir = ws / "variants" / "tiny"
    assert (vdir / "source" / FILE).read_bytes() == _payload(3)
    manifest = json.loads((vdir / "manifest.json").read_text())
    src = manifest["source"]
    assert src["resolved_version"] == "v3" and src["run_id"] == "run3" and src["uri"] == URI
    assert src["sha256"] == sha256_bytes(_payload(3)) and src["size"] == len(_payload(3)) and src["fetched_at"]
    assert manifest["artifacts"][f"source/{FILE}"]["kind"] == "checkpoint"
    assert [r.operation for r in wb.requests if r.operation][:1] == ["Viewer"]


def test_pull_twice_downloads_once_and_second_is_offline(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    assert pull(ws, "tiny")[0] == 0
    n = len(wb.requests)
    code, out, err = pull(ws, "tiny_child", "--json")  # derived variant pulls its f32 root
    assert code == 0, err
    doc = json.loads(out)["pulled"][0]
    assert doc["cached"] is True and doc["root"] == "tiny"
    assert len(wb.requests) == n  # no network call at all
    assert file_gets(wb) == 1 and len(blobs()) == 1


def test_wrong_digest_is_rejected_and_cache_untouched(tmp_path: Path, wb: WandbServer) -> None:
    wb.corrupt_digest("art", FILE)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 1
    assert "digest mismatch" in err and "Traceback" not in err
    assert blobs() == []
    assert not (ws / "variants" / "tiny" / "source" / FILE).exists()
    assert not (ws / "variants" / "tiny" / "manifest.json").exists()


def test_registry_sha256_mismatch_is_rejected(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE, sha256="0" * 64)])
    code, _, err = pull(ws, "tiny")
    assert code == 1 and "sha256 (registry)" in err
    assert blobs() == []


def test_interrupted_download_exits_3_leaves_nothing_and_resumes(tmp_path: Path, wb: WandbServer) -> None:
    wb.fail("/files/blob/", truncate=True)  # headers + half the body, then the connection drops
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 3, err
    assert "download failed" in err and "Traceback" not in err
    assert not (ws / "variants" / "tiny" / "source").exists() or not any((ws / "variants" / "tiny" / "source").iterdir())
    assert blobs() == []
    code, _, err = pull(ws, "tiny")
    assert code == 0, err
    assert (ws / "variants" / "tiny" / "source" / FILE).read_bytes() == _payload(3)
    ranges = [r.headers.get("range") for r in wb.requests if r.path.startswith("/files/blob/")]
    assert ranges[-1] is not None and ranges[-1].startswith("bytes=")  # resumed, not restarted


def test_server_500_exits_3_with_the_service_message_then_retry_succeeds(tmp_path: Path, wb: WandbServer) -> None:
    wb.fail("/files/blob/", status=500, message="storage backend unavailable")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 3 and "storage backend unavailable" in err
    assert pull(ws, "tiny")[0] == 0


@pytest.mark.parametrize("status", [500, 403, 200])
def test_graphql_error_reports_the_service_message_at_once(tmp_path: Path, wb: WandbServer, status: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A GraphQL `errors` answer (any status, 200 included) on every operation: the service's words, fast."""
    monkeypatch.setenv("ZOO_WANDB_TIMEOUT", "3")
    wb.fail_graphql(f"database is down for maintenance (key {API_KEY})", status=status)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    start = time.monotonic()
    code, _, err = pull(ws, "tiny")
    assert time.monotonic() - start < 2.5  # no waiting out the client's retries
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert "database is down for maintenance" in err and (f"HTTP {status}" in err or status == 200)
    assert "service process" not in err and API_KEY not in err and "Traceback" not in err


def test_graphql_500_after_login_reports_the_service_message(tmp_path: Path, wb: WandbServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The artifact lookup keeps failing with 500 after a good login: the client gives up with its generic
    text after ZOO_WANDB_TIMEOUT; the zoo asks the service itself and reports its message."""
    monkeypatch.setenv("ZOO_WANDB_TIMEOUT", "1")
    for op in ("ArtifactMembershipByName", "ArtifactByName"):
        wb.fail_graphql("artifact index unavailable", status=500, operation=op)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    start = time.monotonic()
    code, _, err = pull(ws, "tiny")
    assert time.monotonic() - start < 4
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert "HTTP 500: artifact index unavailable" in err and "service process" not in err


def test_transient_graphql_500_is_retried(tmp_path: Path, wb: WandbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_HTTP_RETRIES", "1")
    wb.fail_graphql("hiccup", status=500, operation="Viewer", times=1)
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 0, err
    assert [r.status for r in wb.requests if r.operation == "Viewer"][:2] == [500, 200]


def test_missing_api_key_is_one_line(tmp_path: Path, wb: WandbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 2
    assert "WANDB_API_KEY" in err and len(err.strip().splitlines()) == 1
    assert wb.requests == []


def test_wrong_api_key_exits_3(tmp_path: Path, wb: WandbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("ZOO_WANDB_TIMEOUT", "5")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 3 and "Traceback" not in err
    assert "refused the credentials" in err and "user is not logged in" in err
    assert "x" * 40 not in err  # never print the secret


def test_offline_uses_cache_only_and_says_what_is_missing(tmp_path: Path, wb: WandbServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny", "--offline")
    assert code == 3 and "not in the cache" in err and URI in err
    assert wb.requests == []
    assert pull(ws, "tiny")[0] == 0
    n = len(wb.requests)
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert pull(ws, "tiny", "--refresh")[0] == 3  # a refresh needs the network
    assert pull(ws, "tiny")[0] == 0  # the cache serves
    assert len(wb.requests) == n


def test_unsafe_remote_name_is_refused(tmp_path: Path, wb: WandbServer) -> None:
    wb.add_artifact("ent", "proj", "evil", {"../../escape.ckpt": b"x"})
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml("wandb://ent/proj/evil:latest")])
    code, _, err = pull(ws, "tiny")
    assert code == 2 and "unsafe file name" in err
    assert not list(tmp_path.rglob("escape.ckpt"))


def test_mirror_serves_when_primary_lacks_credentials(tmp_path: Path, wb: WandbServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.sources.local_source import path_to_file_uri, write_mirror_manifest

    mirror = tmp_path / "mirror" / "art"
    mirror.mkdir(parents=True)
    (mirror / FILE).write_bytes(_payload(1))
    write_mirror_manifest(mirror, artifact="art", version="v1")
    monkeypatch.delenv("WANDB_API_KEY")
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE), source_yaml(path_to_file_uri(mirror), FILE)])
    code, out, err = pull(ws, "tiny", "--json")
    assert code == 0, err
    doc = json.loads(out)["pulled"][0]
    assert doc["served_by"].startswith("file://") and doc["version"] == "v1"
    assert any("WANDB_API_KEY" in s for s in doc["skipped"])


@pytest.mark.slow
def test_two_concurrent_pulls_download_once(tmp_path: Path, wb: WandbServer) -> None:
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    cmd = [sys.executable, "-m", "zoo", "-C", str(ws), "pull", "tiny", "--no-convert", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1].decode()[-500:] for r in results]
    assert file_gets(wb) == 1
    assert (ws / "variants" / "tiny" / "source" / FILE).read_bytes() == _payload(3)
    assert len(blobs()) == 1


def test_damaged_partial_is_restarted_not_failed(tmp_path: Path, wb: WandbServer) -> None:
    """A kept partial whose bytes do not match the remote file: the resumed pull starts over by itself."""
    from zoo.store.cache import Store, download_key

    store = Store()
    part = store.partial_path(download_key(URI, "v3", FILE))
    part.write_bytes(b"\x00" * (len(_payload(3)) // 2))  # right length to resume from, wrong bytes
    ws = write_pull_workspace(tmp_path / "ws", [source_yaml(URI, FILE)])
    code, _, err = pull(ws, "tiny")
    assert code == 0, err
    assert (ws / "variants" / "tiny" / "source" / FILE).read_bytes() == _payload(3)
    ranges = [r.headers.get("range") for r in wb.requests if r.path.startswith("/files/blob/")]
    assert ranges[0] is not None and ranges[-1] is None  # tried to resume, then restarted from byte 0
    assert not part.exists() and len(blobs()) == 1
