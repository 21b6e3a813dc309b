"""Variant and collection cards: metadata, pending/measured content, determinism, --check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import ModelCard
from test_cards_support import sample_workspace

from zoo._io import sha256_file
from zoo.cards import check_cards, render_card, render_collection_card, write_cards
from zoo.cards.metadata import validate_card_text
from zoo.errors import InputError


@pytest.fixture
def ws_reg(tmp_path: Path):  # type: ignore[no-untyped-def]
    return sample_workspace(tmp_path)


def _meta(text: str) -> dict:  # type: ignore[type-arg]
    return ModelCard(text, ignore_metadata_errors=False).data.to_dict()


def test_every_variant_gets_a_card_with_valid_metadata(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    paths = write_cards(ws, reg, None)
    assert {p.relative_to(ws.cards_dir).as_posix() for p in paths} == {
        *(f"{n}/README.md" for n in reg.variants),
        "README.md",
        "size-vs-cosine.svg",  # the collection card's plot (relative image link)
    }
    for path in (p for p in paths if p.suffix == ".md"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\n") and "\n---\n" in text[4:]
        meta = _meta(text)
        assert meta["license"] == "cc-by-nc-4.0"
        assert meta["library_name"] == "lewm-zoo"
        assert {"world-model", "jepa", "lewm"} <= set(meta["tags"])


def test_derived_variant_metadata_has_base_model_and_measured_results(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    meta = _meta(render_card(ws, reg, "slim_96d_4e_4p_full"))
    # a Hub model id (the parent's per-variant repository), never a folder path inside a repository
    assert meta["base_model"] == "lewm-zoo/lewm-models-slim_96d_4e_4p"
    assert meta["base_model_relation"] == "quantized"
    assert "verified" not in json.dumps(meta)
    assert {"lq40", "lq40-full", "quantized", "esp32"} <= set(meta["tags"])
    (index,) = meta["model-index"]
    assert index["name"] == "slim_96d_4e_4p_full"
    values = {m["name"]: m["value"] for m in index["results"][0]["metrics"]}
    assert values["cosine rollout@20 vs slim_96d_4e_4p"] == pytest.approx(0.9991)
    root = _meta(render_card(ws, reg, "slim_96d_4e_4p"))
    assert "base_model" not in root and "base_model_relation" not in root


def test_measured_card_body(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    text = render_card(ws, reg, "slim_96d_4e_4p_full")
    assert "Status: **verified**" in text
    assert "| rollout@20 (gate) | 0.999100 | 0.05 | pass |" in text
    lq40 = sha256_file(ws.variant_dir("slim_96d_4e_4p_full") / "model.lq40")
    assert f"| `model.lq40` | `{lq40}` |" in text  # the digest verify measured on
    assert "9.8 MB (9812000 bytes)" in text and "| Size (claim) | 9.8 MB |" in text
    assert "wandb://eren23/crucible-lewm/lewm_slim_96d_4e_4p:v0" in text and "run-abc123" in text
    assert "`targets/esp32/weights.h`" in text
    assert "## Benchmarks (this machine)" in text
    assert "| encode (image → latent) | 12.50 | 12.00 | 10 |" in text  # measured next to the claim
    assert "| 20-step rollout | 70.00 | 68.50 | 300 |" in text and "Apple Silicon" in text
    assert "[slim_96d_4e_4p](../slim_96d_4e_4p/README.md)" in text
    assert "from safetensors" not in text and "LQ40 readers" in text
    root = render_card(ws, reg, "slim_96d_4e_4p")
    assert "Conversion tool: lewm-zoo 0.1.0." in root
    assert "Derived: [slim_96d_4e_4p_full](../slim_96d_4e_4p_full/README.md)" in root
    # the Hub user's snippet loads the variant's own file from its per-variant repository (issue 16)
    assert 'zoo.load("hf://lewm-zoo/lewm-models-slim_96d_4e_4p/lejepa_weights.safetensors")' in root
    assert 'zoo.load("hf://lewm-zoo/lewm-models-slim_96d_4e_4p_full/model.lq40")' in text
    assert "from safetensors" not in root and "variants/slim_96d_4e_4p" not in root.split("## How to use")[1].split("###")[0]
    assert "## Intended uses & limitations" in root and "PushT only" in root and "non-commercial" in root


def test_unmeasured_cards_say_not_verified_and_have_no_model_index(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    pending = render_card(ws, reg, "baseline_wanda40_q4")  # policy `pending`, never verified: "not verified"
    assert "**Not verified.**" in pending and "(its verification policy is `pending`" in pending
    assert "| Verification | not verified |" in pending
    assert "model-index" not in _meta(pending)
    unverified = render_card(ws, reg, "baseline_q4_pred")
    assert "**Not verified.**" in unverified and "| Cosine (claim) | 0.9982 |" in unverified
    # FPGA report shown next to the original claims
    assert "## Hardware: FPGA" in unverified and "**passed**" in unverified
    assert "| LUT estimate (% of Arty A7-35T) | 10234 (49.2%) | 12% |" in unverified
    assert "| multipliers eliminated | 96.9% | 98.3% |" in unverified
    assert "Why the LUT numbers differ: The card's 12% is a time-multiplexed" in unverified


def test_stale_verification_is_not_reported_as_measured(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    (ws.variant_dir("slim_96d_4e_4p_full") / "model.lq40").write_bytes(b"LQ40 rebuilt")
    text = render_card(ws, reg, "slim_96d_4e_4p_full")
    assert "**Verification stale.**" in text and "| Verification | stale |" in text
    assert "`model.lq40`. Run `zoo verify" in text
    assert "model-index" not in _meta(text)
    # a changed reference golden makes it stale as well
    (ws.variant_dir("slim_96d_4e_4p_full") / "model.lq40").write_bytes(b"LQ40" + bytes(60))
    assert "| Verification | verified |" in render_card(ws, reg, "slim_96d_4e_4p_full")
    (ws.variant_dir("slim_96d_4e_4p") / "golden.safetensors").write_bytes(b"new reference")
    assert "`../slim_96d_4e_4p/golden.safetensors`" in render_card(ws, reg, "slim_96d_4e_4p_full")


def test_collection_card_sections_and_claims(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    text = render_collection_card(ws, reg)
    for heading in ("## TL;DR", "## Model index", "### slim", "### baseline", "## Benchmarks", "## Format guide",
                    "## Quantization results", "## Pipeline", "## Citation", "## License"):
        assert heading in text, heading
    assert "[slim_96d_4e_4p_full](slim_96d_4e_4p_full/README.md)" in text
    assert "Cosine (claim)" in text and "1 verified" in text
    assert "@article{maes2025lewm" in text


def test_rendering_is_deterministic(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    first = {p: p.read_bytes() for p in write_cards(ws, reg, None)}
    second = {p: p.read_bytes() for p in write_cards(ws, reg, None)}
    assert first == second
    assert render_collection_card(ws, reg) == render_collection_card(ws, reg)


def test_check_cards_reports_out_of_date_files(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    assert len(check_cards(ws, reg)) == len(reg.variants) + 2  # nothing written yet (cards, collection card, its plot)
    write_cards(ws, reg, None)
    assert check_cards(ws, reg) == []
    # a new measurement makes the card out of date
    (ws.variant_dir("baseline_q4_pred") / "bench.json").write_text('{"predict": {"median_ms": 1.0}}')
    assert check_cards(ws, reg) == ["cards/README.md", "cards/baseline_q4_pred/README.md"]
    write_cards(ws, reg, None)
    # a card left behind by a removed variant is reported too
    orphan = ws.cards_dir / "gone" / "README.md"
    orphan.parent.mkdir()
    orphan.write_text("---\nlicense: mit\n---\n")
    assert check_cards(ws, reg) == ["cards/gone/README.md"]


def test_invalid_metadata_is_an_error_and_writes_nothing(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    bad = dataclasses.replace(reg.variants["baseline_q4_pred"], license="my-own-license")
    reg.variants["baseline_q4_pred"] = bad
    with pytest.raises(InputError, match=r"cards/baseline_q4_pred/README.md: field 'license'"):
        write_cards(ws, reg, None)
    assert not ws.cards_dir.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no metadata\n", "missing or not terminated"),
        ("---\nlicense: mit\n# never closed\n", "missing or not terminated"),
        ("---\n---\n# empty\n", "missing or not terminated"),
        ("---\n{}\n---\n# empty\n", "metadata is empty"),
        ("---\nlicense: [unclosed\n---\n", "invalid card metadata"),
        ("---\nlicense: mit\nlibrary_name: x\ntags: [a]\nbase_model_relation: cousin\nbase_model: a/b\n---\n",
         "base_model_relation"),
        ("---\nlicense: mit\nlibrary_name: x\ntags: [a]\nmodel-index:\n- name: m\n  results:\n  - task: {}\n---\n",
         "invalid card metadata"),
        ("---\nlicense: mit\ntags: [a]\n---\n", "library_name"),
        ("---\nlicense: mit\nlibrary_name: x\ntags: [a]\nbase_model: org/repo/sub\nbase_model_relation: quantized\n---\n",
         "not a Hub model id"),
    ],
)
def test_validate_card_text_rejects(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_card_text(text, where="cards/x/README.md")


def test_malformed_verify_json_names_file_and_line(ws_reg) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    (ws.variant_dir("slim_96d_4e_4p_full") / "verify.json").write_text('{\n  "status": pass\n}')
    with pytest.raises(InputError, match=r"verify.json:2:\d+: not valid JSON"):
        render_card(ws, reg, "slim_96d_4e_4p_full")


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("verify.json", '{"metrics": 5}', "field 'metrics' must be an object, got int"),
        ("verify.json", '{"gate": "x"}', "field 'gate' must be an object"),
        ("verify.json", '{"artifacts": ["model.lq40"]}', "field 'artifacts' must be an object"),
        ("verify.json", '{"artifacts": {"model.lq40": 1}}', "field 'artifacts.model.lq40' must be a sha256 string"),
        ("verify.json", "[1]", "top level must be a JSON object"),
        ("bench.json", '{"encode": 3}', "field 'encode' must be an object"),
    ],
)
def test_wrongly_typed_measurement_files_are_located_errors(ws_reg, file: str, content: str, message: str) -> None:  # type: ignore[no-untyped-def]
    ws, reg = ws_reg
    (ws.variant_dir("slim_96d_4e_4p_full") / file).write_text(content)
    with pytest.raises(InputError, match=rf"slim_96d_4e_4p_full/{file}: .*{message}") as err:
        render_card(ws, reg, "slim_96d_4e_4p_full")
    assert err.value.hint


def test_hub_repo_id_matches_publish_naming(ws_reg) -> None:  # type: ignore[no-untyped-def]
    from zoo.cards.data import hub_repo_id
    from zoo.publish.plan import variant_repo_id

    _, reg = ws_reg
    assert hub_repo_id(reg.collection, "x_1") == variant_repo_id(reg.collection.hub_repo, "x_1")


def test_cli_card_and_check(ws_reg, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from zoo.cli import main

    ws, reg = ws_reg
    monkeypatch.setattr("zoo.registry.load_registry", lambda path, **_: reg)
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(ws.root), "card", "--check", "--json"])
    assert res.exit_code == 1, res.output
    assert json.loads(res.stdout)["up_to_date"] is False
    res = runner.invoke(main, ["-C", str(ws.root), "card", "slim_96d_4e_4p", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["written"] == ["cards/slim_96d_4e_4p/README.md", "cards/README.md", "cards/size-vs-cosine.svg"]
    res = runner.invoke(main, ["-C", str(ws.root), "card", "--all"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["-C", str(ws.root), "card", "--check"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["-C", str(ws.root), "card", "nope"])
    assert res.exit_code == 2 and "unknown variant 'nope'" in res.output
    res = runner.invoke(main, ["-C", str(ws.root), "card"])
    assert res.exit_code == 2


def test_cards_for_the_project_registry(tmp_path: Path) -> None:
    """Every variant of the real registry.yaml renders (all pending in an empty workspace)."""
    from zoo.registry import Workspace, load_registry

    source = Path(__file__).resolve().parents[1] / "registry.yaml"
    if not source.is_file():
        pytest.skip("registry.yaml not committed yet")
    (tmp_path / "registry.yaml").write_bytes(source.read_bytes())
    ws = Workspace(tmp_path)
    reg = load_registry(ws.registry_path)
    paths = write_cards(ws, reg, None)
    assert len(paths) == len(reg.variants) + 2  # + the collection card and its size-vs-cosine.svg
    for name, rec in reg.variants.items():
        text = (ws.cards_dir / name / "README.md").read_text(encoding="utf-8")
        meta = _meta(text)
        assert "**Not verified.**" in text and "| Verification | not verified |" in text
        if rec.parent:
            assert meta["base_model"] == f"{reg.collection.hub_repo}-{rec.parent}"
            assert meta["base_model_relation"] == "quantized"
    assert check_cards(ws, reg) == []


def test_card_re_renders_an_existing_site(ws_reg, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`zoo card` keeps cards/site/ in step (once it exists), so `zoo card --check` passes without `zoo site`."""
    from zoo.cli import main

    ws, reg = ws_reg
    monkeypatch.setattr("zoo.registry.load_registry", lambda path, **_: reg)
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(ws.root), "card", "--all", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["site"] is None  # no site yet: none is created
    assert not (ws.cards_dir / "site").exists()
    assert runner.invoke(main, ["-C", str(ws.root), "site"]).exit_code == 0
    verify = ws.variant_dir("slim_96d_4e_4p_full") / "verify.json"
    doc = json.loads(verify.read_text())
    doc["gate"]["measured"] = 0.9977  # a new measurement changes the card and the site's table
    verify.write_text(json.dumps(doc))
    assert check_cards(ws, reg)
    res = runner.invoke(main, ["-C", str(ws.root), "card", "slim_96d_4e_4p_full", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["site"] == "cards/site/index.html"
    assert "0.9977" in (ws.cards_dir / "site" / "index.html").read_text()
    assert check_cards(ws, reg) == []
    assert runner.invoke(main, ["-C", str(ws.root), "card", "--check"]).exit_code == 0
