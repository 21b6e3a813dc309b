"""registry.yaml: the shipped file, located errors, cross-record checks, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.errors import RegistryError, UsageError
from zoo.registry import architecture_to_config, check_registry, find_workspace, load_registry

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "registry.yaml"

EXPECTED = {
    "slim_48d_2e_2p", "slim_64d_3e_3p", "slim_96d_2e_3p", "slim_96d_4e_4p", "slim_128d_4e_4p", "slim_192d_4e_4p",
    "hybrid_ALAL_64d_4e_4p", "baseline_192d_6e_6p",
    "slim_48d_2e_2p_full", "slim_64d_3e_3p_full", "slim_96d_2e_3p_full", "slim_96d_4e_4p_full",
    "slim_128d_4e_4p_full", "slim_192d_4e_4p_full", "hybrid_ALAL_64d_4e_4p_full",
    "baseline_full", "baseline_q4_pred", "baseline_wanda20_q4", "baseline_wanda40_q4", "baseline_q4_full",
    "baseline_ternary", "baseline_hardwired",
}


def test_shipped_registry_is_valid_and_complete() -> None:
    problems, _ = check_registry(SHIPPED)
    assert problems == []
    reg = load_registry(SHIPPED)
    assert set(reg.variants) == EXPECTED
    assert len(reg) == 22
    assert reg.collection.license == "cc-by-nc-4.0"


def test_records_resolve_parents_and_architecture() -> None:
    reg = load_registry(SHIPPED)
    hw = reg.get("baseline_hardwired")
    assert hw.parent == "baseline_q4_pred"
    assert reg.f32_root(hw).name == "baseline_192d_6e_6p"
    assert hw.architecture == reg.get("baseline_192d_6e_6p").architecture
    assert reg.provenance_of(hw) is not None
    hybrid = reg.get("hybrid_ALAL_64d_4e_4p")
    cfg = architecture_to_config(hybrid.architecture)
    assert cfg.encoder_type == "hybrid" and cfg.meta_tokens == 4 and cfg.encoder_heads == 4
    assert cfg.layer_kinds() == ["A", "L", "A", "L"]
    slim = architecture_to_config(reg.get("slim_96d_4e_4p").architecture)
    assert slim.has_input_proj and slim.latent_dim == 96
    assert reg.get("slim_48d_2e_2p").verification.status == "active"
    assert reg.get("slim_48d_2e_2p_full").verification.status == "pending"
    src = reg.get("slim_96d_4e_4p").provenance.sources[0]  # type: ignore[union-attr]
    assert src.uri == "wandb://eren23/crucible-lewm/lewm_slim_96d_4e_4p_epoch_1:latest"


def test_unknown_variant_suggests_close_name() -> None:
    reg = load_registry(SHIPPED)
    with pytest.raises(UsageError, match="did you mean slim_96d_4e_4p"):
        reg.get("slim_96d")


def _bad_registry(tmp_path: Path) -> Path:
    text = SHIPPED.read_text()
    text = text.replace("      latent_dim: 48\n", "      latent_dim: forty-eight\n", 1)
    text = text.replace("    parent: baseline_192d_6e_6p\n", "    parent: baseline_192d\n", 1)
    start = text.index("  slim_48d_2e_2p:\n")
    end = text.index("  slim_64d_3e_3p:\n")
    text = text + "\n" + text[start:end]
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    return path


def test_three_problems_are_located(tmp_path: Path) -> None:
    path = _bad_registry(tmp_path)
    problems, _ = check_registry(path)
    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    assert "latent_dim: expected integer" in joined
    assert "unknown variant 'baseline_192d'; did you mean baseline_192d_6e_6p?" in joined
    assert "duplicate key 'slim_48d_2e_2p'" in joined
    for line in problems:
        file, lineno, col, _ = line.split(":", 3)
        assert file.endswith("registry.yaml") and int(lineno) > 0 and int(col) > 0
    with pytest.raises(RegistryError) as exc:
        load_registry(path)
    assert len(exc.value.problems) == 3


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["-C", str(ROOT), "registry", "check"])
    assert ok.exit_code == 0, ok.output
    bad = _bad_registry(tmp_path)
    res = runner.invoke(main, ["registry", "check", str(bad)])
    assert res.exit_code == 2
    assert res.output.count("registry.yaml:") >= 3
    res = runner.invoke(main, ["registry", "check", str(bad), "--json"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and len(doc["problems"]) == 3


def test_cycle_and_self_parent_and_arch_mismatch(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    # make baseline_q4_pred's parent baseline_hardwired (cycle q4_pred <-> hardwired)
    text = text.replace(
        "  baseline_q4_pred:\n    family: baseline\n",
        "  baseline_q4_pred:\n    family: baseline\n",
    )
    i = text.index("  baseline_q4_pred:\n")
    j = text.index("    parent: baseline_192d_6e_6p\n", i)
    text = text[:j] + "    parent: baseline_hardwired\n" + text[j + len("    parent: baseline_192d_6e_6p\n"):]
    # a derived variant that declares a different latent dim than its parent
    k = text.index("  slim_96d_4e_4p_full:\n")
    m = text.index("    parent: slim_96d_4e_4p\n", k) + len("    parent: slim_96d_4e_4p\n")
    text = text[:m] + "    architecture:\n      encoder_kind: vit\n      latent_dim: 64\n      encoder_layers: 4\n      predictor_layers: 4\n" + text[m:]
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    problems, _ = check_registry(path)
    joined = "\n".join(problems)
    assert "parent cycle" in joined
    assert "latent_dim: 64 disagrees with parent 'slim_96d_4e_4p' (96)" in joined


def test_syntax_error_is_located(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("schema_version: 1\ncollection: {name: x\nvariants: {}\n")
    problems, data = check_registry(path)
    assert data is None and len(problems) == 1
    assert "YAML syntax error" in problems[0] and problems[0].startswith(str(path))


def test_workspace_found_upwards_and_with_C(tmp_path: Path) -> None:
    shutil.copy(SHIPPED, tmp_path / "registry.yaml")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(deep).root == tmp_path
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(deep), "list", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert len(doc["variants"]) == 22
    assert {v["status"] for v in doc["variants"]} == {"not verified"}
    assert {v["stage"] for v in doc["variants"]} == {"absent"}
    empty = tmp_path.parent / (tmp_path.name + "_empty")
    empty.mkdir()
    res = runner.invoke(main, ["-C", str(empty), "list"])
    assert res.exit_code == 2 and "no registry.yaml found" in res.output


def test_show_unknown_and_known(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(ROOT), "show", "slim_96d"])
    assert res.exit_code == 2
    assert "error: unknown variant 'slim_96d'; did you mean slim_96d_4e_4p?" in res.output
    res = runner.invoke(main, ["-C", str(ROOT), "show", "baseline_wanda40_q4", "--json"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["format"]["mode"] == "wanda40-q4" and doc["f32_root"] == "baseline_192d_6e_6p"


def test_yaml_tags_are_inert_and_located(tmp_path: Path) -> None:
    text = SHIPPED.read_text().replace("      latent_dim: 48\n", "      latent_dim: !!python/object:os.system x\n", 1)
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    problems, _ = check_registry(path)
    # refused where it stands (nothing is constructed from a tag)
    assert len(problems) == 1 and ":46:19: YAML tag" in problems[0] and "python/object:os.system" in problems[0]
