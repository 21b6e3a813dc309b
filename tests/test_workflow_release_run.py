"""The release workflow, executed (issue 17 item 2): every `run:` step of .github/workflows/release.yml,
job by job in `needs` order with the verify matrix expanded to its 2 shards, each job in a fresh copy of
the repository, against the loopback W&B and Hub servers (tests/workflow_runner.py emulates checkout,
cache and artifacts). A pending variant whose source is unreachable is skipped; a second release with
nothing changed uploads 0 bytes, makes no commit and moves no tag."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.hf_hub_server import HF_TEST_TOKEN, HfHubServer
from servers.wandb_server import API_KEY, WandbServer
from servers.workspaces import ARCH
from workflow_runner import LocalRunner

from zoo.cli import main

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "release.yml"
HAVE_TOOLS = all(shutil.which(t) for t in ("gcc", "riscv64-unknown-elf-gcc", "qemu-riscv32"))
TAG = "v1.0.0"
HUB_REPO = "test/test"
FILE = "tiny_object.ckpt"

REGISTRY = (
    "schema_version: 1\n"
    f"collection:\n  name: test\n  hub_repo: {HUB_REPO}\n  license: cc-by-nc-4.0\n"
    "variants:\n"
    "  tiny:\n    family: slim\n    description: release test root\n" + ARCH
    + "    provenance:\n      sources:\n"
    f"        - uri: wandb://ent/proj/tiny:latest\n          file: {FILE}\n"
    "      checkpoint_kind: object\n"
    "    format: {kind: safetensors-f32}\n    claims: {source: test}\n"
    "    verification: {status: active, metric: rollout@20, expected_cosine: 1.0, tolerance: 1.0e-6}\n"
    "  tiny_q:\n    family: slim\n    description: LQ40 full of tiny\n    parent: tiny\n"
    "    format: {kind: lq40, mode: full}\n    claims: {source: test}\n"
    "    verification: {status: active, metric: rollout@20, expected_cosine: 0.5, tolerance: 0.5}\n"
    "    targets: [esp32]\n"
    "  tiny_t:\n    family: slim\n    description: ternary of tiny\n    parent: tiny\n"
    "    format: {kind: ternary}\n    claims: {source: test}\n"
    "    verification: {status: pending, metric: rollout@20, expected_cosine: 0.5, tolerance: 0.5}\n"
    "  gone:\n    family: slim\n    description: pending root whose artifact is gone\n" + ARCH
    + "    provenance:\n      sources:\n"
    "        - uri: wandb://ent/proj/gone:latest\n          file: gone_object.ckpt\n"
    "      checkpoint_kind: object\n"
    "    format: {kind: safetensors-f32}\n    claims: {source: test}\n"
    "    verification: {status: pending, metric: rollout@20, expected_cosine: 1.0, tolerance: 1.0e-6}\n"
)


def _file_gets(server: WandbServer) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path.startswith("/files/blob/"))


@pytest.mark.slow
@pytest.mark.riscv
@pytest.mark.skipif(not HAVE_TOOLS, reason="the build job checks esp32: needs gcc, riscv64-unknown-elf-gcc, qemu")
def test_release_workflow_runs_and_a_second_release_changes_nothing(
        tmp_path: Path, wandb_server: WandbServer, hf_server: HfHubServer) -> None:
    pytest.importorskip("yaml")
    from zoo.convert.synthetic import write_synthetic_checkpoint
    from zoo.registry import load_registry

    # the repository as the maintainer committed it: registry.yaml + registry.lock (`zoo lock`)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    arch = load_registry(repo / "registry.yaml").get("tiny").architecture
    ckpt = write_synthetic_checkpoint(tmp_path / "upload" / FILE, arch, seed=7, kind="object")
    wandb_server.add_artifact("ent", "proj", "tiny", {FILE: ckpt.read_bytes()}, run_id="run-tiny")
    runner_cli = CliRunner()
    assert runner_cli.invoke(main, ["-C", str(repo), "pull", "tiny", "--no-convert"]).exit_code == 0
    res = runner_cli.invoke(main, ["-C", str(repo), "lock"])
    assert res.exit_code == 0, res.output
    lock = json.loads((repo / "registry.lock").read_text())
    assert lock["variants"]["gone"]["sources"][0]["unreachable"] is True
    assert lock["variants"]["tiny"]["sources"][0]["sha256"]
    shutil.rmtree(repo / "variants")  # git-ignored: not part of a checkout

    base_env = {k: v for k, v in os.environ.items()
                if k not in ("WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "ZOO_CACHE", "ZOO_LOCKED")}
    base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"
    runner = LocalRunner(WORKFLOW, repo, tmp_path / "runs", secrets={"WANDB_API_KEY": API_KEY, "HF_TOKEN": HF_TEST_TOKEN},
                         ref_name=TAG, base_env=base_env, cache_store=tmp_path / "actions-cache")
    assert runner.order() == ["build", "verify", "merge", "publish"]

    first = runner.run("first")
    assert not first.failed(), "\n".join(f"{s.job}/{s.name}: {s.stderr[-2000:]}" for s in first.failed())
    ran = [(s.job, s.status) for s in first.steps if s.status != "skipped"]
    assert ("publish", "ok") in ran and sum(1 for j, _ in ran if j == "verify") >= 4  # two shards
    shards = [json.loads((first.artifacts / f"verify-report-{i}" / f"verify-shard-{i}.json").read_text())
              for i in (1, 2)]
    assert [s["shard"] for s in shards] == [{"index": 1, "count": 2}, {"index": 2, "count": 2}]
    reports = {v["variant"]: v for s in shards for v in s["variants"]}
    assert reports["gone"]["status"] == "pending" and "skipped: source unreachable" in reports["gone"]["reason"]
    assert reports["tiny_q"]["status"] == "pass" and reports["tiny_q"]["targets"]["esp32"]["state"] == "checked"
    merged = json.loads((first.artifacts / "verify-merged" / "verify-merged.json").read_text())
    assert merged["exit_code"] == 0 and merged["missing_shards"] == []
    published = json.loads((first.job_dirs["publish-0"] / "publish-report.json").read_text())
    repos = {r["repo_id"] for r in published["repos"]}  # one repository per variant (the default layout)
    assert repos == {f"{HUB_REPO}-tiny", f"{HUB_REPO}-tiny_q", f"{HUB_REPO}-tiny_t"}
    assert published["bytes"] > 0 and all(r["commit"] for r in published["repos"])
    files = hf_server.files(f"{HUB_REPO}-tiny_q")
    assert "targets/esp32/model.bin" in files and "model.lq40" in files
    assert ("model", f"{HUB_REPO}-gone") not in hf_server.repos  # skipped, never verified: not published
    hubs = {rid: hf_server.repos[("model", rid)] for rid in repos}
    assert all(h.tags[TAG] == h.branches["main"] for h in hubs.values())
    before = {rid: (h.branches["main"], len(h.commits)) for rid, h in hubs.items()}
    gets = _file_gets(wandb_server)

    # the same release again (fresh runners, the store restored from the cache keyed on the lock)
    second = runner.run("second")
    assert not second.failed(), "\n".join(f"{s.job}/{s.name}: {s.stderr[-2000:]}" for s in second.failed())
    again = json.loads((second.job_dirs["publish-0"] / "publish-report.json").read_text())
    assert again["bytes"] == 0
    assert all(r["commit"] is None and r["tag_created"] is False for r in again["repos"])
    assert again["collection"] is None or again["collection"]["changed"] is False
    assert {rid: (h.branches["main"], len(h.commits)) for rid, h in hubs.items()} == before
    assert all(h.tags[TAG] == h.branches["main"] for h in hubs.values())
    assert _file_gets(wandb_server) == gets  # checkpoints came from the cached store
