"""Issue 17 item 5 / issue 14: declared targets gate verification. A declared target that is missing,
stale (its input weights changed) or failed its check makes the variant fail `zoo verify`, with the
`zoo build` command to run; `zoo build --all` / `zoo build NAME` build every declared target."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoo.cli import main

HW = ("baseline_192d_6e_6p", "baseline_q4_pred", "baseline_hardwired")


def _zoo(ws: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["-C", str(ws), *args])


def _verify(ws: Path, name: str) -> tuple[int, dict[str, Any], str]:
    res = _zoo(ws, "verify", name, "--json")
    return res.exit_code, json.loads(res.stdout)["variants"][0], res.output


def _edit_manifest(ws: Path, name: str, edit: Any) -> None:
    path = ws / "variants" / name / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@pytest.mark.slow
def test_hardwired_fails_until_its_hdl_is_built(demo_copy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # publish --dry-run plans without the network
    ws = demo_copy(*HW)
    code, report, _ = _verify(ws, "baseline_hardwired")
    assert code == 0 and report["status"] == "pass", report  # the demo built the declared fpga target
    assert report["targets"]["fpga"]["state"] in ("built", "checked")
    # never built: remove the build and its manifest entry
    shutil.rmtree(ws / "variants" / "baseline_hardwired" / "targets")
    _edit_manifest(ws, "baseline_hardwired", lambda d: d["targets"].pop("fpga"))
    code, report, _ = _verify(ws, "baseline_hardwired")
    assert code == 1 and report["status"] == "fail"
    assert "declared target fpga is missing" in report["reason"]
    assert "`zoo build baseline_hardwired --target fpga`" in report["reason"]
    assert json.loads((ws / "variants" / "baseline_hardwired" / "verify.json").read_text())["status"] == "fail"
    # publish refuses it (the dry run says so with the real run's exit code)
    res = _zoo(ws, "publish", "baseline_hardwired", "--dry-run", "--allow-synthetic")
    assert res.exit_code == 1 and "baseline_hardwired: fail" in res.output
    # `zoo build NAME` builds its declared targets; verify passes again
    res = _zoo(ws, "build", "baseline_hardwired", "--json")
    assert res.exit_code == 0, res.output
    (build,) = json.loads(res.stdout)["builds"]
    assert build["target"] == "fpga" and build["error"] is None
    code, report, _ = _verify(ws, "baseline_hardwired")
    assert code == 0 and report["targets"]["fpga"]["state"] == "built"


@pytest.mark.slow
def test_stale_and_failed_targets_fail_verification(demo_copy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    ws = demo_copy(*HW)
    assert _verify(ws, "baseline_hardwired")[0] == 0

    def other_inputs(d: dict[str, Any]) -> None:
        inputs = d["targets"]["fpga"]["inputs"]
        key = next(iter(inputs))
        inputs[key] = "0" * 64

    _edit_manifest(ws, "baseline_hardwired", other_inputs)
    code, report, _ = _verify(ws, "baseline_hardwired")
    assert code == 1 and "declared target fpga is stale" in report["reason"]
    assert "baseline_q4_pred/model.lq40 changed since the build" in report["reason"]
    assert _zoo(ws, "build", "baseline_hardwired", "--target", "fpga").exit_code == 0
    assert _verify(ws, "baseline_hardwired")[0] == 0
    # a verified target that changes afterwards makes verify.json stale (publish refuses it)
    (ws / "variants" / "baseline_hardwired" / "targets" / "fpga" / "hardwired.v").write_text("// edited\n")
    res = _zoo(ws, "publish", "baseline_hardwired", "--dry-run", "--allow-synthetic")
    assert res.exit_code == 1 and "target fpga" in res.output and "stale" in res.output
    assert _zoo(ws, "build", "baseline_hardwired", "--target", "fpga").exit_code == 0
    _edit_manifest(ws, "baseline_hardwired",
                   lambda d: d["targets"]["fpga"].update(check={"passed": False, "summary": "sim mismatch"}))
    code, report, _ = _verify(ws, "baseline_hardwired")
    assert code == 1 and "declared target fpga is failed (check failed: sim mismatch)" in report["reason"]


@pytest.mark.slow
def test_build_all_builds_every_declared_target(demo_copy: Any) -> None:
    ws = demo_copy()
    res = _zoo(ws, "build", "--all", "--json")
    assert res.exit_code == 0, res.output
    builds = json.loads(res.stdout)["builds"]
    from zoo.registry import load_registry

    declared = sorted((r.name, t) for r in load_registry(ws / "registry.yaml").variants.values() for t in r.targets)
    assert sorted((b["variant"], b["target"]) for b in builds) == declared
    assert {("baseline_hardwired", "fpga"), ("slim_96d_4e_4p_full", "esp32")} <= set(declared)
    assert all(b["error"] is None and b["artifacts"] for b in builds)
    res = _zoo(ws, "build")
    assert res.exit_code == 2 and "--all" in res.output


@pytest.mark.slow
def test_demo_skips_a_target_whose_toolchain_is_missing(demo_copy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`zoo demo` on a machine without clang/wasm-ld: the wasm build is skipped with the tool message, the
    demo's verify does not gate on it, and `zoo verify` afterwards names the `zoo build` to run."""
    from zoo.demo.run import DemoContext, step_targets, step_verify
    from zoo.errors import UsageError
    from zoo.registry import find_workspace, load_registry
    from zoo.targets.wasm import target as wasm_target

    ws = demo_copy("slim_96d_4e_4p")
    shutil.rmtree(ws / "variants" / "slim_96d_4e_4p" / "targets", ignore_errors=True)
    _edit_manifest(ws, "slim_96d_4e_4p", lambda d: d.get("targets", {}).pop("wasm", None))

    def no_clang(tools: tuple[str, ...], what: str) -> None:
        raise UsageError(f"wasm {what} needs clang, wasm-ld on PATH", hint="install them with scripts/setup-system.sh")

    monkeypatch.setattr(wasm_target, "_need", no_clang)
    workspace = find_workspace(ws)
    ctx = DemoContext(directory=ws, workspace=workspace, registry=load_registry(workspace.registry_path),
                      names=["slim_96d_4e_4p"])
    detail = step_targets(ctx)
    assert "1 skipped, their toolchain is missing" in detail and "clang" in detail
    step_verify(ctx)
    (report,) = ctx.reports
    assert report.status == "pass" and "not built here" in report.targets["wasm"]["reason"]
    code, report_json, _ = _verify(ws, "slim_96d_4e_4p")
    assert code == 1 and "`zoo build slim_96d_4e_4p --target wasm`" in report_json["reason"]
