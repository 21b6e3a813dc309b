"""Shared, generic test fixtures.

- every test runs with HOME and all tool caches in a temp dir and without real credentials
  (the autouse `_isolated_env`), so nothing touches the user's cache or a real service;
- `wandb_server` / `hf_server`: the loopback servers of tests/servers, started and stopped per test,
  with WANDB_BASE_URL/WANDB_API_KEY or HF_ENDPOINT/HF_TOKEN pointing at them;
- `demo_run` / `demo_workspace` (session): `zoo demo` run once per session in a temp dir with its own
  ZOO_CACHE; tests that only add files (e.g. `zoo build` into targets/) may use the workspace directly,
  tests that corrupt or rewrite its files must work on their own copy (`demo_copy`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# huggingface_hub reads these at import time: set them before any test imports it.
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer
from servers.wandb_server import API_KEY, WandbServer

_SECRET_OR_MODE_VARS = ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_MODE", "WANDB_ENTITY", "WANDB_PROJECT",
                        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "ZOO_OFFLINE")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    for var in _SECRET_OR_MODE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("ZOO_CACHE", str(home / "zoo-cache"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("WANDB_CACHE_DIR", str(home / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / "wandb-config"))
    monkeypatch.setenv("WANDB_DIR", str(home / "wandb"))
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("ZOO_HTTP_RETRIES", "0")


@pytest.fixture
def wandb_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[WandbServer]:
    server = WandbServer()
    server.start()
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", API_KEY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hf_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HfHubServer]:
    server = HfHubServer()
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", HF_TEST_TOKEN)
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass(frozen=True)
class DemoRun:
    """One `zoo demo DIR` run: the workspace, the exit code and what it printed."""

    workspace: Path
    exit_code: int
    stdout: str  # results (tables as plain aligned text, the closing summary)
    stderr: str  # progress, notes, table titles, errors
    output: str = ""  # both, interleaved as written


def _isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    for var in _SECRET_OR_MODE_VARS:
        mp.delenv(var, raising=False)
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    mp.setenv("ZOO_CACHE", str(home / "zoo-cache"))
    mp.setenv("HF_HOME", str(home / "hf"))
    mp.setenv("WANDB_DIR", str(home / "wandb"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`zoo demo` once per session (the function-scoped env isolation does not apply here, so the
    same isolation is set up for the duration of the run)."""
    from click.testing import CliRunner

    from zoo.cli import main

    root = tmp_path_factory.mktemp("demo-session")
    workspace = root / "demo"
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, root / "home")
        result = CliRunner().invoke(main, ["demo", str(workspace)], catch_exceptions=False)
    return DemoRun(workspace, result.exit_code, result.stdout, result.stderr, result.output)


@pytest.fixture(scope="session")
def demo_workspace(demo_run: DemoRun) -> Path:
    """Path of the session's demo workspace (fails the test when `zoo demo` failed)."""
    if demo_run.exit_code != 0:
        pytest.fail(f"zoo demo exited {demo_run.exit_code}:\n{demo_run.output[-3000:]}")
    return demo_run.workspace


@pytest.fixture
def demo_copy(demo_workspace: Path, tmp_path: Path) -> Callable[..., Path]:
    """`demo_copy(*variants)` -> a private copy of the demo workspace under tmp_path, for tests that
    corrupt or rewrite files: registry.yaml, cards/ and the named variant dirs (all when none are
    named) are copied; the read-only mirror/ is a symlink (registry URIs keep pointing at it)."""

    def copy(*variants: str) -> Path:
        dest = tmp_path / "demo-copy"
        dest.mkdir()
        shutil.copy2(demo_workspace / "registry.yaml", dest / "registry.yaml")
        if (demo_workspace / "cards").is_dir():
            shutil.copytree(demo_workspace / "cards", dest / "cards")
        (dest / "mirror").symlink_to(demo_workspace / "mirror", target_is_directory=True)
        names = variants or tuple(sorted(p.name for p in (demo_workspace / "variants").iterdir()))
        for name in names:
            shutil.copytree(demo_workspace / "variants" / name, dest / "variants" / name)
        return dest

    return copy
