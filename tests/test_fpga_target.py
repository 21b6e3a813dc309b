"""FPGA target plugin end to end on a tiny workspace: build (f32 root -> Q4 slice) and check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from zoo.errors import InputError, UsageError
from zoo.registry import Registry, Workspace
from zoo.registry.records import (
    Architecture,
    Claims,
    CollectionSettings,
    FormatSpec,
    VariantRecord,
    VerificationPolicy,
)
from zoo.targets.base import BuildContext, Target
from zoo.targets.fpga import REPORT_FILE, FpgaTarget
from zoo.targets.registry import build_target

TENSOR = "predictor.transformer.layers.0.attn.to_qkv.weight"
HAS_HDL = all(shutil.which(t) for t in ("iverilog", "vvp", "yosys"))


def _record(name: str, kind: str, *, parent: str | None = None, mode: str | None = None, options=None) -> VariantRecord:
    return VariantRecord(
        name=name,
        family="baseline",
        description=name,
        architecture=Architecture(encoder_kind="vit", latent_dim=64, encoder_layers=1, predictor_layers=1),
        format=FormatSpec(kind=kind, mode=mode, options=options or {}),
        verification=VerificationPolicy(),
        claims=Claims(),
        parent=parent,
    )


def make_workspace(tmp: Path, *, options=None, parent_mode: str = "q4-pred") -> tuple[Workspace, Registry]:
    ws = Workspace(tmp)
    records = [
        _record("root", "safetensors-f32"),
        _record("q4", "lq40", parent="root", mode=parent_mode),
        _record("hw", "hdl", parent="q4", options=options or {"layer": 0, "matrix": "to_qkv", "rows": [0, 4]}),
    ]
    reg = Registry(tmp / "registry.yaml", CollectionSettings("c", "org/c", "cc-by-nc-4.0"), {r.name: r for r in records})
    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.05, size=(48, 64)).astype(np.float32)
    weight[1, 32:] = 0.0  # an all-zero block
    ws.variant_dir("root").mkdir(parents=True)
    save_file({TENSOR: weight}, str(ws.variant_dir("root") / "lejepa_weights.safetensors"))
    return ws, reg


def ctx_for(ws: Workspace, reg: Registry, name: str = "hw", **options) -> BuildContext:
    out = ws.variant_dir(name) / "targets" / "fpga"
    out.mkdir(parents=True, exist_ok=True)
    return BuildContext(ws, reg, reg.get(name), out, options)


def test_plugin_shape() -> None:
    target = FpgaTarget()
    assert isinstance(target, Target)
    assert target.name == "fpga" and "hdl" in target.formats


def test_build_writes_deterministic_artifacts(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path)
    ctx = ctx_for(ws, reg)
    arts = FpgaTarget().build(ctx)
    kinds = {a.kind for a in arts}
    assert {"verilog", "verilog-testbench", "golden-inputs", "golden-outputs", "design-metadata"} <= kinds
    first = {a.path.name: a.path.read_bytes() for a in arts}
    FpgaTarget().build(ctx)
    assert first == {a.path.name: a.path.read_bytes() for a in arts}
    design = json.loads((ctx.out_dir / "design.json").read_text())
    assert design["slice"]["rows"] == [0, 4] and design["slice"]["matrix_rows"] == 48
    assert design["counts"]["pruned_blocks"] == 1
    assert design["error_vs_f32"]["vs_f32_dequant_real_inputs"]["cosine"] > 0.9999
    assert "Q8.8" in (ctx.out_dir / "hardwired.v").read_text()


def test_build_input_errors(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path, options={"rows": [40, 60]})
    with pytest.raises(UsageError, match="out of range"):
        FpgaTarget().build(ctx_for(ws, reg))
    with pytest.raises(UsageError, match="unknown"):
        FpgaTarget().build(ctx_for(ws, reg, matrix="bogus"))
    with pytest.raises(InputError, match="no tensor"):
        FpgaTarget().build(ctx_for(ws, reg, layer="3", rows="0:4"))
    (ws.variant_dir("root") / "lejepa_weights.safetensors").unlink()
    with pytest.raises(InputError, match="zoo convert root"):
        FpgaTarget().build(ctx_for(ws, reg, rows="0:4"))


def test_wanda_parent_needs_its_lq40(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path, parent_mode="wanda20-q4")
    with pytest.raises(InputError, match="zoo quantize q4"):
        FpgaTarget().build(ctx_for(ws, reg))


def test_check_without_build_is_an_input_error(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path)
    with pytest.raises(InputError, match=r"design\.json: missing"):
        FpgaTarget().check(ctx_for(ws, reg))


@pytest.mark.hdl
@pytest.mark.skipif(not HAS_HDL, reason="needs iverilog, vvp and yosys")
def test_build_and_check_through_the_driver(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path)
    result = build_target(ws, reg, reg.get("hw"), "fpga", {"vectors": "4"}, check=True, target=FpgaTarget())
    report = result.check
    assert report is not None and report["passed"], report["summary"]
    assert report["simulation"]["bit_exact"] and report["simulation"]["vectors"] == 10
    assert report["measured"]["multipliers_for_weights"] == 0
    assert report["measured"]["multipliers_for_scales"] == 7  # 4 rows x 2 blocks, one all-zero block
    assert report["measured"]["bram"] == 0
    assert report["claims"]["multipliers_eliminated_pct"] == 98.3
    assert report["table"]["columns"][0] == "quantity" and len(report["table"]["rows"]) >= 8
    on_disk = json.loads((result.out_dir / REPORT_FILE).read_text())
    assert on_disk == json.loads(json.dumps(report))


@pytest.mark.hdl
@pytest.mark.skipif(not HAS_HDL, reason="needs iverilog, vvp and yosys")
def test_check_detects_a_wrong_reference(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path)
    ctx = ctx_for(ws, reg, vectors="2")
    FpgaTarget().build(ctx)
    exp = ctx.out_dir / "vectors_expected.hex"
    lines = exp.read_text().splitlines()
    last = lines[-1]
    lines[-1] = last[:-1] + ("0" if last[-1] != "0" else "1")
    exp.write_text("\n".join(lines) + "\n")
    report = FpgaTarget().check(ctx)
    assert not report["passed"] and not report["simulation"]["bit_exact"]
    assert report["simulation"]["mismatched_vectors"] == ["random_1"]


def test_lq40_parent_and_f32_root_give_the_same_logic(tmp_path: Path) -> None:
    """For a plain Q4 parent, reading its LQ40 and quantizing the f32 root must agree bit for bit."""
    from zoo.formats.lq40 import write_lq40
    from zoo.quant.synthetic import synthetic_weights
    from zoo.registry.records import architecture_to_config

    ws, reg = make_workspace(tmp_path)
    arch = Architecture(
        encoder_kind="vit", latent_dim=16, encoder_layers=1, predictor_layers=1, encoder_hidden=16, encoder_heads=2,
        encoder_inter=32, predictor_hidden=64, predictor_heads=2, predictor_inner_dim=64, predictor_inter=128,
        projector_hidden=32,
    )
    cfg = architecture_to_config(arch)
    weights = synthetic_weights(cfg, seed=4)
    save_file({TENSOR: weights[TENSOR]}, str(ws.variant_dir("root") / "lejepa_weights.safetensors"))
    ctx = ctx_for(ws, reg, rows="8:12")
    FpgaTarget().build(ctx)
    from_root = (ctx.out_dir / "vectors_expected.hex").read_text()
    assert json.loads((ctx.out_dir / "design.json").read_text())["source"]["file"] == "lejepa_weights.safetensors"

    ws.variant_dir("q4").mkdir(parents=True)
    write_lq40(ws.variant_dir("q4") / "model.lq40", cfg, weights, "q4-pred")
    FpgaTarget().build(ctx)
    design = json.loads((ctx.out_dir / "design.json").read_text())
    assert design["source"]["kind"] == "lq40" and design["source"]["field"]
    assert (ctx.out_dir / "vectors_expected.hex").read_text() == from_root


def test_check_with_a_damaged_design_file(tmp_path: Path) -> None:
    ws, reg = make_workspace(tmp_path)
    ctx = ctx_for(ws, reg)
    FpgaTarget().build(ctx)
    design = json.loads((ctx.out_dir / "design.json").read_text())
    del design["fixed_point"]
    (ctx.out_dir / "design.json").write_text(json.dumps(design))
    with pytest.raises(InputError, match="field 'fixed_point' missing"):
        FpgaTarget().check(ctx)
    (ctx.out_dir / "design.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        FpgaTarget().check(ctx)


def _q4_parent_workspace(tmp_path: Path) -> tuple[Workspace, Registry, Path]:
    from zoo.formats.lq40 import write_lq40
    from zoo.quant.synthetic import synthetic_weights
    from zoo.registry.records import architecture_to_config

    ws, reg = make_workspace(tmp_path)
    arch = Architecture(
        encoder_kind="vit", latent_dim=16, encoder_layers=1, predictor_layers=1, encoder_hidden=16, encoder_heads=2,
        encoder_inter=32, predictor_hidden=64, predictor_heads=2, predictor_inner_dim=64, predictor_inter=128,
        projector_hidden=32,
    )  # fmt: skip
    cfg = architecture_to_config(arch)
    ws.variant_dir("q4").mkdir(parents=True)
    lq40 = ws.variant_dir("q4") / "model.lq40"
    write_lq40(lq40, cfg, synthetic_weights(cfg, seed=4), "q4-pred")
    return ws, reg, lq40


@pytest.mark.parametrize("damage", ["truncate", "magic", "length", "empty"])
def test_corrupt_lq40_parent_is_a_one_line_error_and_keeps_the_last_build(tmp_path: Path, damage: str) -> None:
    from zoo.errors import LQ40Error

    ws, reg, lq40 = _q4_parent_workspace(tmp_path)
    build_target(ws, reg, reg.get("hw"), "fpga")
    out = ws.variant_dir("hw") / "targets" / "fpga"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    manifest = (ws.variant_dir("hw") / "manifest.json").read_bytes()
    data = bytearray(lq40.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "magic":
        data[:4] = b"LQ4X"
    elif damage == "length":  # first F32VEC count after the JSON header blown up
        jlen = int.from_bytes(data[4:8], "little")
        data[8 + jlen : 12 + jlen] = (2**30).to_bytes(4, "little")
    else:
        data = bytearray()
    lq40.write_bytes(bytes(data))
    with pytest.raises(LQ40Error) as info:
        build_target(ws, reg, reg.get("hw"), "fpga")
    message = info.value.message
    assert str(lq40) in message and "offset" in message and "\n" not in message
    assert info.value.exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert (ws.variant_dir("hw") / "manifest.json").read_bytes() == manifest


def test_check_without_hdl_tools_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.targets.fpga.tools import MissingToolError

    ws, reg = make_workspace(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match=r"iverilog: not found on PATH") as info:
        build_target(ws, reg, reg.get("hw"), "fpga", check=True)
    assert info.value.exit_code == 2 and "apt-get install" in (info.value.hint or "")
    entry = json.loads((ws.variant_dir("hw") / "manifest.json").read_text())["targets"]["fpga"]
    assert "check" not in entry and "targets/fpga/hardwired.v" in entry["artifacts"]
