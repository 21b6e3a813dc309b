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


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    jobs = workflow["jobs"]
    assert len(jobs) == 1
    (job,) = jobs.values()
    return job["steps"]


def _step_running(workflow: dict[Any, Any], command: str) -> tuple[int, dict[str, Any]]:
    for i, step in enumerate(_steps(workflow)):
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


def test_install_verify_publish_in_order(workflow: dict[Any, Any]) -> None:
    steps = _steps(workflow)
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    i_install, _ = _step_running(workflow, "pip install .")
    i_verify, _ = _step_running(workflow, "zoo verify --all")
    i_publish, publish = _step_running(workflow, "zoo publish --all --tag")
    assert i_install < i_verify < i_publish
    # the release tag is the pushed tag's name, passed through env (no expression inside the script)
    tag_arg = re.search(r"--tag\s+\"?\$\{?(\w+)", publish["run"])
    assert tag_arg is not None
    assert publish["env"][tag_arg.group(1)] == "${{ github.ref_name }}"


def test_secrets_come_from_repository_secrets_and_are_not_echoed(workflow: dict[Any, Any]) -> None:
    _, publish = _step_running(workflow, "zoo publish")
    assert publish["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert publish["env"]["WANDB_API_KEY"] == "${{ secrets.WANDB_API_KEY }}"
    _, verify = _step_running(workflow, "zoo verify")
    assert verify["env"]["WANDB_API_KEY"] == "${{ secrets.WANDB_API_KEY }}"
    for step in _steps(workflow):
        script = step.get("run", "")
        assert "${{" not in script, f"expression interpolated into a shell script: {script!r}"
        assert not re.search(r"\b(echo|printf|env|printenv|set\s+-x)\b", script), script
        assert "HF_TOKEN" not in script and "WANDB_API_KEY" not in script
    # secrets only in step env, never in the workflow-wide env
    assert "secrets." not in str(workflow.get("env", {}))
    assert workflow["permissions"] == {"contents": "read"}
