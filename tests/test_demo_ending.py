"""`zoo demo` ending (publish dry-run plan + site link) and the packaged registry fallback for wheels."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

import zoo
from zoo.cli.demo_cmds import publish_plan_rows
from zoo.demo.build import PACKAGED_REGISTRY, real_registry_path
from zoo.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_checkout_uses_the_repository_registry() -> None:
    assert real_registry_path() == REPO_ROOT / "registry.yaml"


def test_installed_wheel_falls_back_to_the_packaged_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "site-packages" / "zoo"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    monkeypatch.setattr(zoo, "__file__", str(pkg / "__init__.py"))
    with pytest.raises(UsageError, match="not installed"):
        real_registry_path()
    (pkg / PACKAGED_REGISTRY).write_text((REPO_ROOT / "registry.yaml").read_text())
    assert real_registry_path() == pkg / PACKAGED_REGISTRY
    # a stray registry.yaml next to site-packages (no pyproject: not a checkout) is not taken for the project's
    (tmp_path / "site-packages" / "registry.yaml").write_text("collection: {}\n")
    assert real_registry_path() == pkg / PACKAGED_REGISTRY


def test_wheel_ships_the_registry_from_the_one_source() -> None:
    cfg = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    force = cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["registry.yaml"] == f"zoo/{PACKAGED_REGISTRY.as_posix()}"
    assert not (REPO_ROOT / "zoo" / PACKAGED_REGISTRY).exists()  # no second copy in the source tree


def _file(variant: str | None, size: int) -> SimpleNamespace:
    return SimpleNamespace(variant=variant, size=size)


def test_publish_plan_rows_group_files_by_variant() -> None:
    plan = SimpleNamespace(adds=[_file("a", 10), _file("a", 5), _file(None, 3)], updates=[_file("b", 7)])
    checks = {"a": SimpleNamespace(state="pass", refused=False), "b": SimpleNamespace(state="pending", refused=False),
              "c": SimpleNamespace(state="fail", refused=True)}
    result = SimpleNamespace(repos=[SimpleNamespace(plan=plan)], checks=checks)
    assert publish_plan_rows(result) == [("a", "pass", 2, 15), ("b", "pending", 1, 7), ("c", "fail (refused)", 0, 0),
                                         ("(collection)", "-", 1, 3)]


@pytest.mark.slow
def test_demo_ends_with_publish_plan_and_site_link(demo_run) -> None:  # type: ignore[no-untyped-def]
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    out = demo_run.output
    assert "publish --dry-run plan" in out and "total" in out and "nothing was uploaded" in demo_run.stdout
    # no accidents (issue 17): the demo plans for a placeholder namespace and never suggests publishing
    assert "local-demo/lewm-models-demo" in out and "attocode/lewm-models" not in out.replace("attocode/*", "")
    assert "zoo publish --all" not in out
    assert "hub_repo: local-demo/lewm-models-demo" in (demo_run.workspace / "registry.yaml").read_text()
    last = [ln for ln in demo_run.stdout.splitlines() if ln.strip()][-1]
    m = re.fullmatch(r"open (file://\S+/cards/site/index\.html)", last.strip())
    assert m, last
    assert (demo_run.workspace / "cards" / "site" / "index.html").is_file()


@pytest.mark.slow
def test_demo_esp32_build_shows_on_the_card(demo_workspace: Path) -> None:
    from click.testing import CliRunner

    from zoo.cli import main

    runner = CliRunner()
    r = runner.invoke(main, ["-C", str(demo_workspace), "build", "slim_96d_4e_4p_full", "--target", "esp32"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["-C", str(demo_workspace), "card", "slim_96d_4e_4p_full"])
    assert r.exit_code == 0, r.output
    text = (demo_workspace / "cards" / "slim_96d_4e_4p_full" / "README.md").read_text()
    assert "## Hardware: ESP32-P4" in text and "`targets/esp32/model.bin` | firmware-blob" in text
    assert "| flash (model blob) |" in text and "**fits**" in text


@pytest.mark.slow
def test_demo_cards_read_as_hub_metadata(demo_workspace: Path) -> None:
    """On the demo: every card parses as Hub metadata, derived cards name a repository id as
    base_model and report verify.json's measured cosines (never `verified: true`), variants with a
    `pending` policy say "measured", and the committed-cards check is clean."""
    import json
    import re

    from click.testing import CliRunner
    from huggingface_hub import ModelCard

    from zoo.cards.metadata import validate_card_text
    from zoo.cli import main
    from zoo.registry import load_registry

    reg = load_registry(demo_workspace / "registry.yaml")
    r = CliRunner().invoke(main, ["-C", str(demo_workspace), "card", "--all"])
    assert r.exit_code == 0, r.output
    for name, rec in reg.variants.items():
        text = (demo_workspace / "cards" / name / "README.md").read_text(encoding="utf-8")
        meta = validate_card_text(text, where=name)
        assert "verified" not in text.split("\n---\n", 1)[0]
        verify = json.loads((demo_workspace / "variants" / name / "verify.json").read_text())
        results = ModelCard(text).data.eval_results or []
        measured = {m: v["cosine"] for m, v in verify["metrics"].items() if isinstance(v, dict)}
        assert {round(measured[e.metric_name.split()[1]], 6) for e in results} == {e.metric_value for e in results}
        if rec.parent:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", meta["base_model"])
            assert meta["base_model"].endswith(f"-{rec.parent}") and meta["base_model_relation"] == "quantized"
        if rec.verification.status == "pending":  # measured and reported, not gated
            assert "**Measured, not gated.**" in text and "| Verification | measured |" in text
    # --check also compares cards/site/ (it exists after the demo), so the site is rendered again too
    r = CliRunner().invoke(main, ["-C", str(demo_workspace), "site"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["-C", str(demo_workspace), "card", "--check"])
    assert r.exit_code == 0, r.output
