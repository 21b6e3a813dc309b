"""Schema of the registry-truth fields (issue 14): `architecture.uncertain`, claim kinds, target options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from zoo.errors import RegistryError
from zoo.registry import Architecture, check_registry, load_registry
from zoo.registry.loader import registry_schema
from zoo.registry.records import COSINE_KINDS, MEASURABLE_FIELDS, SIZE_KINDS

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "registry.yaml"
BASE = "  baseline_192d_6e_6p:\n"


def _edited(tmp_path: Path, old: str, new: str, *, after: str = BASE) -> tuple[Path, int]:
    """The shipped registry with the first `old` after `after` replaced; returns (path, line of the edit)."""
    text = SHIPPED.read_text(encoding="utf-8")
    at = text.index(old, text.index(after))
    text = text[:at] + new + text[at + len(old):]
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text[:at].count("\n") + 1


def test_schema_and_records_agree_on_the_measurable_fields() -> None:
    arch = registry_schema()["$defs"]["architecture"]["properties"]
    assert tuple(arch["uncertain"]["items"]["enum"]) == MEASURABLE_FIELDS
    claims = registry_schema()["$defs"]["claims"]["properties"]
    assert set(claims["size_kind"]["enum"]) - {None} == set(SIZE_KINDS)
    assert set(claims["cosine_kind"]["enum"]) - {None} == set(COSINE_KINDS)


def test_shipped_baseline_depth_is_uncertain_and_slim_projector_is_1024() -> None:
    reg = load_registry(SHIPPED)
    base = reg.get("baseline_192d_6e_6p")
    assert base.architecture.uncertain == ("encoder_layers",)
    assert reg.get("baseline_full").architecture.uncertain == ("encoder_layers",)  # derived records inherit
    for rec in reg:
        if rec.family == "slim":
            assert rec.architecture.projector_hidden == 1024, rec.name
        else:
            assert rec.architecture.projector_hidden == 2048, rec.name
    slim = reg.get("slim_96d_4e_4p")
    assert "train_lewm_slim.py" in (slim.provenance.notes or "") and "126-127" in (slim.provenance.notes or "")
    # the line a mismatch message names is the field's own line in the f32 root
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    line = reg.get("slim_96d_4e_4p_full").architecture_line("projector_hidden")
    assert line is not None and lines[line - 1].strip() == "projector_hidden: 1024"
    assert "encoder_layers: 6" in lines[base.architecture_line("encoder_layers") - 1]


def test_every_shipped_claim_says_what_kind_of_number_it_is() -> None:
    for rec in load_registry(SHIPPED):
        c = rec.claims
        if c.size_text or c.size_bytes is not None:
            assert c.size_kind in SIZE_KINDS, rec.name
        if c.cosine is not None:
            assert c.cosine_kind in COSINE_KINDS, rec.name
    reg = load_registry(SHIPPED)
    assert reg.get("baseline_192d_6e_6p").claims.size_kind == "formula"
    assert reg.get("slim_96d_4e_4p").claims.size_kind == "formula"
    assert reg.get("hybrid_ALAL_64d_4e_4p_full").claims.size_kind == "mib"
    assert reg.get("slim_96d_4e_4p_full").claims.cosine_kind == "other-config"
    assert reg.get("slim_96d_4e_4p_full").claims.size_kind == "file"


def test_misspelt_uncertain_field_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path, line = _edited(tmp_path, "uncertain: [encoder_layers]", "uncertain: [encoder_layer]")
    problems, _ = check_registry(path)
    assert len(problems) == 1, problems
    assert re.match(rf".*registry\.yaml:{line}:\d+: variants\.baseline_192d_6e_6p\.architecture\.uncertain\[0\]: "
                    r'"encoder_layer" is not allowed \(hint: did you mean encoder_layers\?', problems[0]), problems[0]
    with pytest.raises(RegistryError, match="did you mean encoder_layers"):
        load_registry(path)


def test_heads_and_kind_cannot_be_uncertain(tmp_path: Path) -> None:
    path, _ = _edited(tmp_path, "uncertain: [encoder_layers]", "uncertain: [encoder_heads, encoder_kind]")
    problems, _ = check_registry(path)
    assert len(problems) == 2, problems
    assert "'encoder_heads' cannot be uncertain: shapes cannot tell head counts" in problems[0]
    assert "'encoder_kind' cannot be uncertain: it is not a measurement" in problems[1]


def test_uncertain_must_be_a_unique_list(tmp_path: Path) -> None:
    path, _ = _edited(tmp_path, "uncertain: [encoder_layers]", "uncertain: [encoder_layers, encoder_layers]")
    problems, _ = check_registry(path)
    assert len(problems) == 1 and "non-unique" in problems[0], problems
    path, _ = _edited(tmp_path, "uncertain: [encoder_layers]", "uncertain: encoder_layers")
    problems, _ = check_registry(path)
    assert len(problems) == 1 and "expected array" in problems[0], problems


def test_unknown_claim_kind_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path, line = _edited(tmp_path, "size_kind: formula", "size_kind: formulae")
    problems, _ = check_registry(path)
    assert len(problems) == 1 and f"registry.yaml:{line}:" in problems[0], problems
    assert "did you mean formula?" in problems[0]


def test_target_options_are_checked(tmp_path: Path) -> None:
    after = "  baseline_full:\n"
    path, line = _edited(tmp_path, "esp32: {flash_mb: 32}", "esp32: {flash_mb: 64}", after=after)
    problems, _ = check_registry(path)
    assert len(problems) == 1 and f"registry.yaml:{line}:" in problems[0] and "64 is not allowed" in problems[0]
    path, _ = _edited(tmp_path, "esp32: {flash_mb: 32}", "esp32: {flash_gb: 32}", after=after)
    problems, _ = check_registry(path)
    assert len(problems) == 1 and "unknown field 'flash_gb'" in problems[0], problems
    path, line = _edited(tmp_path, "    targets: [esp32]\n", "    targets: []\n", after=after)
    problems, _ = check_registry(path)
    assert len(problems) == 1 and "options for a target the record does not declare" in problems[0], problems
    assert load_registry(SHIPPED).get("baseline_full").target_options == {"esp32": {"flash_mb": 32}}


def _lq40_bytes(cfg: object, mode: str) -> int:
    """LQ40 file size from the layout (spec §3.1-3.3), every Q4 block stored: an upper bound of the real file."""
    import math

    from zoo.formats.lq40.layout import body_layout

    total = 8 + 400  # magic + length + a generous header
    for item in body_layout(cfg, mode):
        if item.kind == "F32VEC":
            total += 4 + 4 * item.numel
        elif item.kind == "Q4LIN":
            out, inp = item.shape
            blocks = out * math.ceil(inp / 32)
            total += 16 + math.ceil(blocks / 8) + 20 * blocks
        elif item.kind == "I8LIN":
            out, inp = item.shape
            total += 12 + out * inp + 4 + 4 * out
        else:  # PHEAD (j, in, d): two linear slots + an empty third
            j, inp, d = item.shape
            total += 4 + (8 + 4 * (j * inp + j)) + (8 + 4 * (d * j + d)) + 8
    return total


def test_declared_esp32_targets_fit_their_flash_by_layout_arithmetic() -> None:
    """Every record declaring esp32 fits its module's app partition at the depth the evidence favours
    (12 encoder layers where the depth is uncertain), from the LQ40 layout, without building anything."""
    import dataclasses

    from zoo.registry import architecture_to_config
    from zoo.targets.esp32.codegen import flash_partition_bytes

    reg = load_registry(SHIPPED)
    sizes = {}
    for rec in reg:
        cfg = architecture_to_config(rec.architecture)
        if "encoder_layers" in rec.architecture.uncertain:
            cfg = dataclasses.replace(cfg, encoder_layers=max(cfg.encoder_layers, 12))
        if rec.format.kind != "lq40":
            continue
        sizes[rec.name] = size = _lq40_bytes(cfg, rec.format.mode or "")
        if "esp32" in rec.targets:
            limit = flash_partition_bytes(int(rec.target_options.get("esp32", {}).get("flash_mb", 16)))
            assert size <= limit, (rec.name, size, limit)
    # the demo measured 9,758,430 B (the card's file, exactly) and 19,987,291 B (12-layer baseline_full)
    assert abs(sizes["slim_96d_4e_4p_full"] - 9_758_430) < 1000
    assert 16 * 2**20 < sizes["baseline_full"] < 21e6
    assert sizes["baseline_q4_pred"] > flash_partition_bytes(32)  # why q4/wanda declare no esp32


# -- conversion of uncertain fields (tiny committed checkpoints) -----------------------------------------
FIX = ROOT / "tests" / "fixtures" / "convert"


def _tiny_arch(**changes: Any) -> Architecture:
    import dataclasses

    arch = Architecture(encoder_kind="vit", latent_dim=6, encoder_layers=2, predictor_layers=2, encoder_hidden=8,
                        encoder_heads=2, encoder_inter=32, predictor_hidden=8, predictor_heads=2,
                        predictor_inner_dim=8, predictor_inter=16, projector_hidden=16, action_input_dim=4)
    return dataclasses.replace(arch, **changes)


def test_uncertain_field_takes_the_checkpoint_value_and_records_both(tmp_path: Path) -> None:
    import json

    from zoo.convert import convert_checkpoint
    from zoo.registry import architecture_to_config

    arch = _tiny_arch(encoder_layers=6, uncertain=("encoder_layers",))
    res = convert_checkpoint(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path, expected=architecture_to_config(arch),
                             uncertain=arch.uncertain, registry_lines={"encoder_layers": "registry.yaml:42"},
                             variant="tiny")
    assert res.config.encoder_layers == 2
    assert res.uncertain == {"encoder_layers": {"declared": 6, "measured": 2}}
    warned = [w for w in res.warnings if "encoder_layers" in w]
    assert warned == ["tiny: encoder_layers: registry declares 6 (uncertain at registry.yaml:42), checkpoint has 2; "
                      "using 2"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["encoder_layers"] == 2 and cfg["uncertain_fields"]["encoder_layers"] == {"declared": 6, "measured": 2}
    from zoo.formats.lewm_config import LeWMConfig

    assert LeWMConfig.from_file(tmp_path / "config.json") == res.config  # readers ignore the record
    # agreeing uncertain field: recorded, no warning
    same = _tiny_arch(uncertain=("encoder_layers",))
    res = convert_checkpoint(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path / "b",
                             expected=architecture_to_config(same), uncertain=same.uncertain)
    assert res.uncertain == {"encoder_layers": {"declared": 2, "measured": 2}}
    assert not [w for w in res.warnings if "uncertain" in w]


def test_certain_field_mismatch_still_refuses_with_the_registry_line(tmp_path: Path) -> None:
    from zoo.convert import convert_checkpoint
    from zoo.errors import CheckpointError
    from zoo.registry import architecture_to_config

    arch = _tiny_arch(encoder_layers=6, projector_hidden=32, uncertain=("encoder_layers",))
    with pytest.raises(CheckpointError) as exc:
        convert_checkpoint(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path, expected=architecture_to_config(arch),
                           uncertain=arch.uncertain, registry_lines={"projector_hidden": "registry.yaml:57"})
    msg = exc.value.render()
    assert "\n" not in msg and "projector_hidden=16 (registry says 32 at registry.yaml:57)" in msg
    assert "encoder_layers" not in msg  # the uncertain one is not an error
    assert not (tmp_path / "config.json").exists()


def test_registry_edited_after_conversion_is_checked_again(tmp_path: Path) -> None:
    """An up-to-date conversion is re-checked against the record: a certain field edited wrong is the same
    one-line error (with the line); marking a field uncertain converts again and records it."""
    from zoo.convert import convert_variant
    from zoo.convert.synthetic import synthetic_state_dict, write_lightning_checkpoint
    from zoo.errors import CheckpointError
    from zoo.registry import Workspace

    name = "hybrid_ALAL_64d_4e_4p"
    text = SHIPPED.read_text(encoding="utf-8")
    (tmp_path / "registry.yaml").write_text(text, encoding="utf-8")
    reg = load_registry(tmp_path / "registry.yaml")
    rec = reg.get(name)
    ws = Workspace(tmp_path)
    assert rec.provenance is not None and rec.provenance.sources[0].file
    src = ws.variant_dir(name) / "source" / rec.provenance.sources[0].file
    write_lightning_checkpoint(src, synthetic_state_dict(rec.architecture, seed=3))
    assert not convert_variant(ws, reg, rec).up_to_date
    assert convert_variant(ws, reg, rec).up_to_date

    at = text.index("projector_hidden: 2048", text.index(f"  {name}:\n"))
    line = text[:at].count("\n") + 1
    wrong = text[:at] + "projector_hidden: 1024" + text[at + len("projector_hidden: 2048"):]
    (tmp_path / "registry.yaml").write_text(wrong, encoding="utf-8")
    reg = load_registry(tmp_path / "registry.yaml")
    with pytest.raises(CheckpointError) as exc:
        convert_variant(ws, reg, reg.get(name))
    assert f"projector_hidden=2048 (registry says 1024 at {tmp_path / 'registry.yaml'}:{line})" in exc.value.render()

    end = wrong.index("      action_input_dim: 10\n", at) + len("      action_input_dim: 10\n")
    unsure = wrong[:end] + "      uncertain: [projector_hidden]\n" + wrong[end:]
    (tmp_path / "registry.yaml").write_text(unsure, encoding="utf-8")
    reg = load_registry(tmp_path / "registry.yaml")
    assert reg.get(name).architecture.uncertain == ("projector_hidden",)
    res = convert_variant(ws, reg, reg.get(name))
    assert not res.up_to_date and res.uncertain == {"projector_hidden": {"declared": 1024, "measured": 2048}}
    assert any("checkpoint has 2048; using 2048" in w for w in res.warnings)
    assert convert_variant(ws, reg, reg.get(name)).up_to_date


def test_misspelt_marker_itself_gets_a_suggestion(tmp_path: Path) -> None:
    path, line = _edited(tmp_path, "uncertain: [encoder_layers]", "uncertian: [encoder_layers]")
    problems, _ = check_registry(path)
    assert len(problems) == 1 and f"registry.yaml:{line}:7: " in problems[0], problems
    assert "unknown field 'uncertian' (hint: did you mean uncertain?" in problems[0]
