"""Issue 17 "no accidents": a demo/synthetic workspace never reaches the real collection, synthetic
weights need --allow-synthetic, and a dry run stops exactly where the real run stops (same line,
same exit code), against the loopback Hub with a valid token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_support import HUB_REPO, make_workspace, write_requests, zoo
from servers.hf_hub_server import HfHubServer


def _synthetic(ws: Path, hub_repo: str = HUB_REPO) -> Path:
    reg = ws / "registry.yaml"
    text = reg.read_text(encoding="utf-8")
    text = text.replace("      checkpoint_kind: object\n", "      checkpoint_kind: object\n      training_status: synthetic\n")
    reg.write_text(text.replace("hub_repo: test/test", f"hub_repo: {hub_repo}"), encoding="utf-8")
    return ws


def _error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--per-variant-repos",), ("--allow-synthetic",),
                                   ("--force", "because")])
def test_demo_workspace_cannot_publish_to_the_real_collection(tmp_path: Path, hf_server: HfHubServer,
                                                              extra: tuple[str, ...]) -> None:
    ws = _synthetic(make_workspace(tmp_path / "ws"), "attocode/lewm-models")
    res = zoo(ws, "publish", "--all", *extra)  # HF_TOKEN is set (write token of the loopback Hub)
    assert res.exit_code == 2, res.output
    line = _error_line(res.output)
    assert "attocode/lewm-models" in line and "synthetic" in line and "--repo" in line
    assert hf_server.requests == []  # refused before any request
    # --repo into the real namespace is refused the same way
    res = zoo(ws, "publish", "--all", "--repo", "attocode/other", *extra)
    assert res.exit_code == 2 and "attocode/other" in _error_line(res.output)


def test_synthetic_variants_need_allow_synthetic(tmp_path: Path, hf_server: HfHubServer) -> None:
    ws = _synthetic(make_workspace(tmp_path / "ws"))
    dry = zoo(ws, "publish", "--all", "--dry-run")
    real = zoo(ws, "publish", "--all")
    assert dry.exit_code == real.exit_code == 1, (dry.output, real.output)
    assert _error_line(dry.output) == _error_line(real.output)
    assert "synthetic weights: tiny, tiny_child" in _error_line(real.output)
    assert write_requests(hf_server) == []
    res = zoo(ws, "publish", "--all", "--allow-synthetic", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["repos"][0]["commit"] and out["variants"]["tiny"]["synthetic"] is True


@pytest.mark.parametrize("state", ["stale", "fail", "missing"])
def test_dry_run_predicts_the_real_refusal(tmp_path: Path, hf_server: HfHubServer, state: str) -> None:
    ws = make_workspace(tmp_path / "ws", child_status="fail" if state == "fail" else "pass")
    if state == "stale":
        (ws / "variants" / "tiny_child" / "ternary.safetensors").write_bytes(b"retrained")
    if state == "missing":
        (ws / "variants" / "tiny_child" / "verify.json").unlink()
    args = ("publish", "--all") if state == "missing" else ("publish",)
    dry = zoo(ws, *args, "--dry-run")
    real = zoo(ws, *args)
    assert dry.exit_code == real.exit_code == 1
    assert _error_line(dry.output) == _error_line(real.output)
    assert "upload nothing" in dry.output
    dry_json = zoo(ws, *args, "--dry-run", "--json")
    assert dry_json.exit_code == 1 and json.loads(dry_json.stdout)["exit_code"] == 1
    assert write_requests(hf_server) == []


def test_offline_real_run_names_zoo_offline(tmp_path: Path, hf_server: HfHubServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path / "ws")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    res = zoo(ws, "publish")
    assert res.exit_code == 2 and "ZOO_OFFLINE=1" in res.output and "--dry-run" in res.output


@pytest.mark.slow
def test_the_demo_workspace_cannot_publish_to_the_real_collection(demo_copy, hf_server: HfHubServer) -> None:  # type: ignore[no-untyped-def]
    ws = demo_copy("slim_96d_4e_4p")
    reg = ws / "registry.yaml"
    assert "hub_repo: local-demo/lewm-models-demo" in reg.read_text()
    for args in (("--repo", "attocode/lewm-models"), ("--repo", "attocode/lewm-models", "--dry-run"),
                 ("--repo", "attocode/lewm-models", "--allow-synthetic")):
        res = zoo(ws, "publish", "slim_96d_4e_4p", *args)
        assert res.exit_code == 2, res.output
        assert "attocode/lewm-models" in _error_line(res.output)
    reg.write_text(reg.read_text().replace("hub_repo: local-demo/lewm-models-demo", "hub_repo: attocode/lewm-models"))
    res = zoo(ws, "publish", "slim_96d_4e_4p")
    assert res.exit_code == 2 and "attocode/lewm-models" in _error_line(res.output)
    assert hf_server.requests == []
