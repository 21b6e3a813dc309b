"""`zoo demo`: synthetic mirror + demo workspace, offline, deterministic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from zoo._io import sha256_file
from zoo.demo import STEPS, Step, run_demo
from zoo.demo.build import DEMO_ROOTS
from zoo.registry import load_registry

if TYPE_CHECKING:
    from conftest import DemoRun


def _first_steps(n: int) -> list[Step]:
    return STEPS[:n]


def test_demo_mirror_workspace_and_pull_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # file:// mirrors need no network; nothing else may be tried
    _ctx, results = run_demo(tmp_path / "demo", steps=_first_steps(3))
    assert [r.status for r in results] == ["done", "done", "done"]
    reg = load_registry(tmp_path / "demo" / "registry.yaml")
    assert set(DEMO_ROOTS) <= set(reg.variants)
    assert {reg.f32_root(r).name for r in reg.variants.values()} == set(DEMO_ROOTS)
    assert len(reg.variants) > len(DEMO_ROOTS)  # derived formats came along
    for root in DEMO_ROOTS:
        rec = reg.get(root)
        assert rec.provenance is not None
        src = rec.provenance.sources[0]
        assert src.uri.startswith("file:mirror/") and src.sha256  # relative: the demo can be moved and "synthetic" in (rec.provenance.notes or "")
        vdir = tmp_path / "demo" / "variants" / root
        manifest = json.loads((vdir / "manifest.json").read_text())
        assert manifest["source"]["served_by"] == src.uri
        assert manifest["artifacts"][f"source/{src.file}"]["sha256"] == src.sha256
        assert (vdir / "lejepa_weights.safetensors").is_file() and (vdir / "config.json").is_file()
    before = (tmp_path / "demo" / "registry.yaml").read_bytes()
    ctx2, _ = run_demo(tmp_path / "demo", steps=_first_steps(3))
    assert all(o.fetch.cached for o in ctx2.pulled)  # second run: cache hits
    assert (tmp_path / "demo" / "registry.yaml").read_bytes() == before


def test_demo_mirror_is_deterministic(tmp_path: Path) -> None:
    a, _ = run_demo(tmp_path / "a", steps=_first_steps(1))
    b, _ = run_demo(tmp_path / "b", steps=_first_steps(1))
    assert [sha256_file(m.directory / m.file) for m in a.mirror] == [sha256_file(m.directory / m.file) for m in b.mirror]


@pytest.mark.slow
def test_zoo_demo_end_to_end(demo_run: DemoRun) -> None:
    assert demo_run.exit_code == 0, demo_run.output[-2000:]
    assert "verify" in demo_run.stdout and "pass" in demo_run.stdout  # results on stdout
    ws = demo_run.workspace
    for name in load_registry(ws / "registry.yaml").variants:
        assert (ws / "variants" / name / "verify.json").is_file(), name
