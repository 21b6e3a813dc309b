"""`zoo build --check` output: any target's check tables are rendered (rich, stderr), `--json` is the
plain report, and files the check writes into the target dir are recorded in the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.cli.build_cmds import check_tables
from zoo.registry import Architecture, Claims, FormatSpec, VariantRecord, VerificationPolicy
from zoo.targets import Artifact, BuildContext, TargetInfo

TABLE = {"title": "synth [v1]", "columns": ["quantity", "measured", "claim"],
         "rows": [["multipliers for weights", "0", "0"], ["LUT estimate", "61039 (293.5%)", "12%"]]}  # fmt: skip
EXTRA = {"title": "memory", "columns": ["quantity", "measured"], "rows": [["flash", "12 MiB"], ["short row"]]}


class TableTarget:
    name = "tabular"
    formats = ("lq40:q4-pred",)

    def build(self, ctx: BuildContext) -> list[Artifact]:
        p = ctx.out_dir / "design.txt"
        p.write_text("design\n")
        return [Artifact(p, "design")]

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        (ctx.out_dir / "report.json").write_text('{"ok": true}\n')
        return {"passed": True, "summary": "all good", "table": TABLE, "tables": [EXTRA, "not a table"]}


class FakeRegistry:
    def __init__(self, rec: VariantRecord) -> None:
        self.rec = rec

    def get(self, name: str) -> VariantRecord:
        return self.rec


def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[VariantRecord, Path]:
    (tmp_path / "registry.yaml").write_text("# test\n")
    rec = VariantRecord(
        name="tiny_q4", family="slim", description="tiny",
        architecture=Architecture(encoder_kind="vit", latent_dim=32, encoder_layers=2, predictor_layers=2),
        format=FormatSpec(kind="lq40", mode="q4-pred"), verification=VerificationPolicy(), claims=Claims(),
    )  # fmt: skip
    vdir = tmp_path / "variants" / rec.name
    vdir.mkdir(parents=True)
    monkeypatch.setattr("zoo.cli._app.AppContext.registry", lambda self: FakeRegistry(rec))
    monkeypatch.setattr("zoo.targets.registry.get_target", lambda name: TableTarget())
    # `--target` is a choice of the installed targets: make the test target one of them
    info = TargetInfo("tabular", "tests:TableTarget", "tests", "0")
    monkeypatch.setattr("zoo.targets.registry.discover_targets", lambda: {"tabular": info})
    return rec, vdir


def test_check_tables_picks_table_and_tables() -> None:
    assert check_tables({"table": TABLE, "tables": [EXTRA, "x", {"title": "no columns"}]}) == [TABLE, EXTRA]
    assert check_tables({"passed": True}) == []


def test_build_check_prints_tables_and_records_check_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, vdir = _workspace(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["-C", str(tmp_path), "build", rec.name, "--target", "tabular", "--check"])
    assert res.exit_code == 0, res.output
    err = res.output  # tables on stdout (plain text when piped), their titles on stderr
    assert "synth [v1]" in err  # markup-looking text is printed literally
    for cell in ("quantity", "claim", "multipliers for weights", "61039 (293.5%)", "12%", "memory", "12 MiB",
                 "short row", "check: PASS all good"):
        assert cell in err, cell
    assert res.stdout.index("LUT estimate") < res.stdout.index("flash") < res.stdout.index("check: PASS")
    arts = json.loads((vdir / "manifest.json").read_text())["targets"]["tabular"]["artifacts"]
    assert sorted(arts) == ["targets/tabular/design.txt", "targets/tabular/report.json"]
    assert arts["targets/tabular/report.json"]["kind"] == "check-report"
    assert arts["targets/tabular/design.txt"]["kind"] == "design"


def test_build_check_json_is_the_plain_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, _vdir = _workspace(tmp_path, monkeypatch)
    res = CliRunner().invoke(
        main, ["-C", str(tmp_path), "build", rec.name, "--target", "tabular", "--check", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["check"]["table"] == TABLE
    assert [a["path"] for a in doc["artifacts"]] == ["targets/tabular/design.txt", "targets/tabular/report.json"]
    assert "synth [v1]" not in res.stderr  # with --json no table is drawn


def test_build_without_check_records_only_build_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, vdir = _workspace(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["-C", str(tmp_path), "build", rec.name, "--target", "tabular"])
    assert res.exit_code == 0, res.output
    assert "synth [v1]" not in res.output
    arts = json.loads((vdir / "manifest.json").read_text())["targets"]["tabular"]["artifacts"]
    assert sorted(arts) == ["targets/tabular/design.txt"]
