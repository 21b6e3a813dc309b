"""Target plugin API: discovery (built-ins and an installed third-party package), build_target, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoo.errors import UsageError
from zoo.registry import Architecture, Claims, FormatSpec, VariantRecord, VerificationPolicy, Workspace
from zoo.targets import Artifact, BuildContext, TargetError, accepts, build_target, discover_targets
from zoo.targets.registry import TargetInfo

PLUGIN_PKG = Path(__file__).parent / "fixtures" / "plugin_pkg"


def make_record(name: str = "tiny_q4", kind: str = "lq40", mode: str | None = "q4-pred") -> VariantRecord:
    arch = Architecture(encoder_kind="vit", latent_dim=32, encoder_layers=2, predictor_layers=2)
    return VariantRecord(
        name=name, family="slim", description="tiny", architecture=arch,
        format=FormatSpec(kind=kind, mode=mode), verification=VerificationPolicy(), claims=Claims(),
    )  # fmt: skip


class FakeRegistry:
    def __init__(self, *records: VariantRecord) -> None:
        self.variants = {r.name: r for r in records}

    def get(self, name: str) -> VariantRecord:
        return self.variants[name]


class EchoTarget:
    name = "echo"
    formats = ("lq40:q4-pred",)

    def build(self, ctx: BuildContext) -> list[Artifact]:
        p = ctx.out_dir / "echo.txt"
        p.write_text(ctx.variant.name)
        return [Artifact(p, "report", "echo")]

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        return {"passed": True, "summary": "ok"}


class BrokenTarget(EchoTarget):
    name = "broken"

    def build(self, ctx: BuildContext) -> list[Artifact]:
        raise RuntimeError("boom")


class EscapingTarget(EchoTarget):
    name = "escaping"

    def build(self, ctx: BuildContext) -> list[Artifact]:
        p = ctx.variant_dir / "outside.txt"
        p.write_text("x")
        return [Artifact(p, "report")]


def test_builtin_targets_are_discovered() -> None:
    found = discover_targets()
    assert "esp32" in found
    info = found["esp32"]
    assert info.package == "lewm-zoo"
    row = info.describe()
    assert row["loaded"] and "lq40:full" in row["formats"]


def test_accepts_patterns() -> None:
    assert accepts(EchoTarget(), make_record())
    assert not accepts(EchoTarget(), make_record(mode="full"))
    t = EchoTarget()
    t.formats = ("lq40",)
    assert accepts(t, make_record(mode="full"))
    t.formats = ("lq40:*",)
    assert accepts(t, make_record(mode="wanda20-q4"))
    assert not accepts(t, make_record(kind="safetensors-f32", mode=None))


def test_build_target_records_artifacts_in_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rec = make_record()
    stale = ws.variant_dir(rec.name) / "targets" / "echo" / "stale.bin"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    res = build_target(ws, FakeRegistry(rec), rec, "echo", {}, check=True, target=EchoTarget())  # type: ignore[arg-type]
    assert not stale.exists()
    assert [a["path"] for a in res.artifacts] == ["targets/echo/echo.txt"]
    manifest = json.loads((ws.variant_dir(rec.name) / "manifest.json").read_text())
    entry = manifest["targets"]["echo"]
    art = entry["artifacts"]["targets/echo/echo.txt"]
    assert art["size"] == len(rec.name) and len(art["sha256"]) == 64 and art["kind"] == "report"
    assert entry["check"]["passed"] is True
    assert entry["format"] == "lq40:q4-pred"


def test_build_target_refuses_wrong_format(tmp_path: Path) -> None:
    rec = make_record(mode="full")
    with pytest.raises(UsageError, match="accepts lq40:q4-pred"):
        build_target(Workspace(tmp_path), FakeRegistry(rec), rec, "echo", target=EchoTarget())  # type: ignore[arg-type]


def test_plugin_bugs_become_one_line_errors(tmp_path: Path) -> None:
    rec = make_record()
    with pytest.raises(TargetError, match="RuntimeError: boom"):
        build_target(Workspace(tmp_path), FakeRegistry(rec), rec, "broken", target=BrokenTarget())  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="not a file inside"):
        build_target(Workspace(tmp_path), FakeRegistry(rec), rec, "escaping", target=EscapingTarget())  # type: ignore[arg-type]


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    rec = make_record()
    with pytest.raises(UsageError, match="no such target"):
        build_target(Workspace(tmp_path), FakeRegistry(rec), rec, "nope")  # type: ignore[arg-type]


def test_unloadable_plugin_is_listed_with_its_error() -> None:
    class EP:
        def load(self) -> Any:
            raise ImportError("no module named zz")

    info = TargetInfo("zz", "zz:T", "zz-pkg", "1.0", EP())
    row = info.describe()
    assert row["loaded"] is False and "ImportError" in row["error"]
    with pytest.raises(TargetError, match="failed to load"):
        info.load()


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the third-party fixture package into a temporary target directory."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("pkgsrc")
    src = build / "plugin_pkg"
    import shutil

    shutil.copytree(PLUGIN_PKG, src, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"pip install of the fixture plugin failed: {proc.stderr[-2000:]}")
    return target


def test_third_party_plugin_listed_and_built(
    installed_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_plugin))
    found = discover_targets()
    assert "demo" in found
    assert (found["demo"].package, found["demo"].version) == ("zoo-demo-target", "0.3.1")

    runner = CliRunner()
    from zoo.cli import main

    res = runner.invoke(main, ["targets", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)["targets"]}
    assert rows["demo"]["loaded"] and rows["demo"]["package"] == "zoo-demo-target"

    # build through the CLI against a workspace with one variant
    (tmp_path / "registry.yaml").write_text("# test\n")
    rec = make_record()
    vdir = tmp_path / "variants" / rec.name
    vdir.mkdir(parents=True)
    (vdir / "model.lq40").write_bytes(b"LQ40fake")
    monkeypatch.setattr("zoo.cli._app.AppContext.registry", lambda self: FakeRegistry(rec))
    res = runner.invoke(
        main, ["-C", str(tmp_path), "build", rec.name, "--target", "demo", "--check", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["check"]["passed"] is True
    assert doc["artifacts"][0]["path"] == "targets/demo/summary.txt"
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert manifest["targets"]["demo"]["plugin"] == {"package": "zoo-demo-target", "version": "0.3.1"}
    assert (vdir / "targets" / "demo" / "summary.txt").read_text().startswith(rec.name + " 8 ")


def test_cli_build_unknown_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.yaml").write_text("# test\n")
    rec = make_record()
    monkeypatch.setattr("zoo.cli._app.AppContext.registry", lambda self: FakeRegistry(rec))
    from zoo.cli import main

    res = CliRunner().invoke(main, ["-C", str(tmp_path), "build", rec.name, "--target", "nope"])
    assert res.exit_code == 2  # a choice of the installed targets, with a suggestion for a near miss
    assert "'nope' is not one of 'esp32'" in res.output
    res = CliRunner().invoke(main, ["-C", str(tmp_path), "build", rec.name, "--target", "fgpa"])
    assert res.exit_code == 2 and "Did you mean 'fpga'?" in res.output


class FailingAfterWriteTarget(EchoTarget):
    """Writes a file, then fails: the half-done build must not replace the previous one."""

    name = "echo"

    def build(self, ctx: BuildContext) -> list[Artifact]:
        (ctx.out_dir / "partial.txt").write_text("half")
        raise UsageError("bad option")


class CheckRaisesTarget(EchoTarget):
    def check(self, ctx: BuildContext) -> dict[str, Any]:
        raise UsageError("tool missing")


def test_failed_build_keeps_previous_build_and_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rec = make_record()
    build_target(ws, FakeRegistry(rec), rec, "echo", check=True, target=EchoTarget())  # type: ignore[arg-type]
    vdir = ws.variant_dir(rec.name)
    before = (vdir / "manifest.json").read_bytes()
    with pytest.raises(UsageError, match="bad option"):
        build_target(ws, FakeRegistry(rec), rec, "echo", target=FailingAfterWriteTarget())  # type: ignore[arg-type]
    out = vdir / "targets" / "echo"
    assert sorted(p.name for p in out.iterdir()) == ["echo.txt"]
    assert sorted(p.name for p in (vdir / "targets").iterdir()) == ["echo"]  # no staging left behind
    assert (vdir / "manifest.json").read_bytes() == before


def test_check_that_raises_leaves_an_honest_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rec = make_record()
    build_target(ws, FakeRegistry(rec), rec, "echo", check=True, target=EchoTarget())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="tool missing"):
        build_target(ws, FakeRegistry(rec), rec, "echo", check=True, target=CheckRaisesTarget())  # type: ignore[arg-type]
    entry = json.loads((ws.variant_dir(rec.name) / "manifest.json").read_text())["targets"]["echo"]
    assert "check" not in entry  # the earlier passing check no longer describes these files
    assert list(entry["artifacts"]) == ["targets/echo/echo.txt"]
