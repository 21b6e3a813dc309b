"""A small local runner for a GitHub Actions workflow: runs its jobs in `needs` order, the matrix expanded,
each job in a fresh copy of the repository (a new runner), executing every `run:` step with bash.

Emulated actions: `actions/checkout` (copy the repository), `actions/setup-python` (no-op: the test venv is
on PATH), `actions/cache` (a store shared by all runs, restored on an exact key, saved after a job that
missed), `actions/upload-artifact` / `actions/download-artifact` (directories; the artifact root is the
paths' least common ancestor, as upload-artifact does; `pattern` + `merge-multiple`).
Expressions: `${{ matrix.* }}`, `${{ secrets.* }}`, `${{ github.ref_name }}`, `${{ github.ref }}`,
`${{ hashFiles('f') }}`, and `always()` in `if:`. Steps that install packages or system tools
(`pip install`, `scripts/setup-system.sh`) are skipped: this machine has them from the project's scripts.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import hashlib
import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SKIPPED_RUNS = ("pip install", "setup-system.sh")


@dataclasses.dataclass
class StepLog:
    job: str
    name: str
    status: str  # "ok" | "failed" | "skipped"
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclasses.dataclass
class WorkflowRun:
    steps: list[StepLog]
    artifacts: Path
    uploaded_bytes: dict[str, int]  # artifact name -> bytes
    job_dirs: dict[str, Path]

    def failed(self) -> list[StepLog]:
        return [s for s in self.steps if s.status == "failed"]


class LocalRunner:
    def __init__(self, workflow: Path, repo: Path, work: Path, *, secrets: dict[str, str], ref_name: str,
                 base_env: dict[str, str], cache_store: Path) -> None:
        self.workflow = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        self.repo, self.work, self.secrets, self.ref_name = repo, work, secrets, ref_name
        self.base_env, self.cache_store = base_env, cache_store
        cache_store.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ expressions
    def _expr(self, text: str, matrix: dict[str, Any], cwd: Path) -> str:
        def value(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("matrix."):
                return str(matrix[expr[len("matrix."):]])
            if expr.startswith("secrets."):
                return self.secrets.get(expr[len("secrets."):], "")
            if expr == "github.ref_name":
                return self.ref_name
            if expr == "github.ref":
                return f"refs/tags/{self.ref_name}"
            hf = re.fullmatch(r"hashFiles\('([^']+)'\)", expr)
            if hf:
                h = hashlib.sha256()
                for f in sorted(glob.glob(str(cwd / hf.group(1)))):
                    h.update(Path(f).read_bytes())
                return h.hexdigest()
            raise AssertionError(f"expression not emulated: {expr}")

        return _EXPR.sub(value, text)

    def _env(self, spec: dict[str, Any] | None, matrix: dict[str, Any], cwd: Path) -> dict[str, str]:
        return {k: self._expr(str(v), matrix, cwd) for k, v in (spec or {}).items()}

    # ------------------------------------------------------------------ jobs
    def order(self) -> list[str]:
        jobs = self.workflow["jobs"]
        done: list[str] = []
        while len(done) < len(jobs):
            ready = [n for n, j in jobs.items() if n not in done and all(d in done for d in _needs(j))]
            assert ready, "cycle in needs"
            done.extend(ready)
        return done

    def run(self, label: str) -> WorkflowRun:
        root = self.work / label
        artifacts = root / "artifacts"
        artifacts.mkdir(parents=True)
        logs: list[StepLog] = []
        uploaded: dict[str, int] = {}
        job_dirs: dict[str, Path] = {}
        failed_jobs: set[str] = set()
        for name in self.order():
            job = self.workflow["jobs"][name]
            if any(d in failed_jobs for d in _needs(job)):
                failed_jobs.add(name)
                logs.append(StepLog(name, "(job)", "skipped"))
                continue
            for i, matrix in enumerate(_matrix(job)):
                jdir = root / "jobs" / f"{name}-{i}"
                jdir.mkdir(parents=True)
                job_dirs[f"{name}-{i}"] = jdir
                if not self._run_job(name, job, matrix, jdir, artifacts, logs, uploaded):
                    failed_jobs.add(name)
        return WorkflowRun(logs, artifacts, uploaded, job_dirs)

    def _run_job(self, name: str, job: dict[str, Any], matrix: dict[str, Any], jdir: Path, artifacts: Path,
                 logs: list[StepLog], uploaded: dict[str, int]) -> bool:
        ok = True
        to_save: list[tuple[str, str]] = []
        for step in job["steps"]:
            label = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            cond = str(step.get("if", ""))
            if not ok and "always()" not in cond:
                logs.append(StepLog(name, label, "skipped"))
                continue
            uses = str(step.get("uses", ""))
            with_ = {k: self._expr(str(v), matrix, jdir) for k, v in (step.get("with") or {}).items()}
            if uses.startswith("actions/checkout@"):
                shutil.copytree(self.repo, jdir, dirs_exist_ok=True)
            elif uses.startswith("actions/setup-python@"):
                pass
            elif uses.startswith("actions/cache@"):
                key, path = with_["key"], with_["path"]
                saved = self.cache_store / hashlib.sha256(key.encode()).hexdigest()
                if saved.is_dir():
                    shutil.copytree(saved, jdir / path, dirs_exist_ok=True)
                else:
                    to_save.append((key, path))
            elif uses.startswith("actions/upload-artifact@"):
                uploaded[with_["name"]] = _upload(jdir, with_, artifacts)
            elif uses.startswith("actions/download-artifact@"):
                _download(jdir, with_, artifacts)
            elif "run" in step:
                script = str(step["run"])
                if any(marker in script for marker in SKIPPED_RUNS):
                    logs.append(StepLog(name, label, "skipped"))
                    continue
                env = {**self.base_env, **self._env(self.workflow.get("env"), matrix, jdir),
                       **self._env(job.get("env"), matrix, jdir), **self._env(step.get("env"), matrix, jdir)}
                proc = subprocess.run(["bash", "-e", "-c", script], cwd=jdir, env=env, capture_output=True,
                                      text=True, timeout=900, check=False)
                status = "ok" if proc.returncode == 0 else "failed"
                logs.append(StepLog(name, label, status, proc.returncode, proc.stdout, proc.stderr))
                ok = ok and proc.returncode == 0
                continue
            else:
                raise AssertionError(f"action not emulated: {uses}")
            logs.append(StepLog(name, label, "ok"))
        if ok:
            for key, path in to_save:
                saved = self.cache_store / hashlib.sha256(key.encode()).hexdigest()
                if (jdir / path).is_dir() and not saved.exists():
                    shutil.copytree(jdir / path, saved)
        return ok


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _matrix(job: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if not matrix:
        return [{}]
    keys = sorted(matrix)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(matrix[k] for k in keys))]


def _upload(jdir: Path, with_: dict[str, str], artifacts: Path) -> int:
    matched: list[Path] = []
    for pattern in (ln.strip() for ln in with_["path"].splitlines() if ln.strip()):
        matched += [Path(p) for p in sorted(glob.glob(str(jdir / pattern.rstrip("/"))))]
    if not matched:
        if with_.get("if-no-files-found") == "ignore":
            return 0
        raise AssertionError(f"upload-artifact {with_['name']}: no files match {with_['path']!r}")
    if len(matched) == 1:
        root = matched[0] if matched[0].is_dir() else matched[0].parent
    else:
        root = Path(os.path.commonpath([str(p) for p in matched]))
        if not root.is_dir():
            root = root.parent
    dest = artifacts / with_["name"]
    total = 0
    for src in matched:
        files = [src] if src.is_file() else [f for f in sorted(src.rglob("*")) if f.is_file()]
        for f in files:
            out = dest / f.relative_to(root)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, out)  # follows symlinks (into the checkpoint store), as upload-artifact does
            total += out.stat().st_size
    return total


def _download(jdir: Path, with_: dict[str, str], artifacts: Path) -> None:
    target = jdir / with_.get("path", ".")
    if "name" in with_:
        names = [with_["name"]]
    else:
        names = sorted(p.name for p in artifacts.iterdir() if fnmatch.fnmatch(p.name, with_["pattern"]))
        assert names, f"download-artifact: no artifact matches {with_['pattern']!r}"
        assert with_.get("merge-multiple") == "True" or len(names) == 1
    for name in names:
        src = artifacts / name
        assert src.is_dir(), f"download-artifact: no artifact {name!r}"
        shutil.copytree(src, target, dirs_exist_ok=True)
