""".github/workflows/release.yml: schema-valid (check-jsonschema's vendored GitHub workflow schema, offline)
and structurally what a release needs: tag trigger, install, verify, publish with the tag, secrets via env."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("check_jsonschema")

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "release.yml"


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _all_steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def _step_running(workflow: dict[Any, Any], command: str, job: str | None = None) -> tuple[int, dict[str, Any]]:
    for name, spec in workflow["jobs"].items():
        if job is not None and name != job:
            continue
        for i, step in enumerate(spec["steps"]):
            if command in step.get("run", ""):
                return i, step
    raise AssertionError(f"no step runs {command!r}")


def test_schema_valid() -> None:
    res = _check(WORKFLOW)
    assert res.returncode == 0, res.stdout + res.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = WORKFLOW.read_text(encoding="utf-8").replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest")
    bad = tmp_path / "release.yml"
    bad.write_text(broken, encoding="utf-8")
    res = _check(bad)
    assert res.returncode != 0


def test_triggered_by_version_tags_only(workflow: dict[Any, Any]) -> None:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert set(on) == {"push"}
    assert on["push"] == {"tags": ["v*"]}


def test_jobs_build_verify_shards_merge_publish(workflow: dict[Any, Any]) -> None:
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "verify", "merge", "publish"}
    assert jobs["verify"]["needs"] == "build"
    assert jobs["verify"]["strategy"]["matrix"]["shard"] == [1, 2]
    assert jobs["merge"]["needs"] == "verify"
    assert set(jobs["publish"]["needs"]) == {"build", "verify", "merge"}
    assert jobs["publish"]["environment"] == "release"  # protected environment around the write token
    for name, job in jobs.items():
        uses = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("actions/checkout@") for u in uses), name
        setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
        assert str(setup["with"]["python-version"]) == "3.11"
        i_install, _ = _step_running(workflow, "pip install .", name)
        assert all(i_install < i for i, s in enumerate(job["steps"]) if "zoo " in s.get("run", ""))
    _, shard = _step_running(workflow, "zoo verify --all --shard", "verify")
    assert shard["env"]["SHARD"] == "${{ matrix.shard }}" and "--json" in shard["run"]
    _step_running(workflow, "zoo verify --merge", "merge")
    _step_running(workflow, "zoo build --all --check", "build")
    _step_running(workflow, "./scripts/setup-system.sh", "build")  # the build job installs its tools
    _step_running(workflow, "zoo lock --check", "build")
    # the checkpoint store is cached, keyed on the lock; pulls are locked
    caches = [s for _, s in _all_steps(workflow) if s.get("uses", "").startswith("actions/cache@")]
    assert caches and all(c["with"]["key"] == "zoo-store-${{ hashFiles('registry.lock') }}" for c in caches)
    assert workflow["env"]["ZOO_LOCKED"] == "1"
    _, publish = _step_running(workflow, "zoo publish --tag", "publish")
    tag_arg = re.search(r"--tag\s+\"?\$\{?(\w+)", publish["run"])
    assert tag_arg is not None
    assert publish["env"][tag_arg.group(1)] == "${{ github.ref_name }}"


def test_secrets_come_from_repository_secrets_and_are_not_echoed(workflow: dict[Any, Any]) -> None:
    _, publish = _step_running(workflow, "zoo publish", "publish")
    # the publish job receives only HF_TOKEN (and the tag), never the W&B key
    assert publish["env"] == {"HF_TOKEN": "${{ secrets.HF_TOKEN }}", "RELEASE_TAG": "${{ github.ref_name }}"}
    assert "WANDB_API_KEY" not in str(workflow["jobs"]["publish"])
    assert "HF_TOKEN" not in str({k: v for k, v in workflow["jobs"].items() if k != "publish"})
    _, verify = _step_running(workflow, "zoo verify --all", "verify")
    assert verify["env"]["WANDB_API_KEY"] == "${{ secrets.WANDB_API_KEY }}"
    for _, step in _all_steps(workflow):
        script = step.get("run", "")
        assert "${{" not in script, f"expression interpolated into a shell script: {script!r}"
        assert not re.search(r"\b(echo|printf|env|printenv|set\s+-x)\b", script), script
        assert "HF_TOKEN" not in script and "WANDB_API_KEY" not in script
    # secrets only in step env, never in the workflow-wide or job-wide env
    assert "secrets." not in str(workflow.get("env", {}))
    assert all("secrets." not in str(job.get("env", {})) for job in workflow["jobs"].values())
    assert workflow["permissions"] == {"contents": "read"}
