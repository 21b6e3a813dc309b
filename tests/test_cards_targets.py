"""Cards show built hardware targets (ESP32 artifacts + memory report), bench.json and the repo's own cards."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_cards_support import sample_workspace

from zoo.cards import render_card, render_collection_card
from zoo.cli import main
from zoo.model.bench import bench_document

REPO_ROOT = Path(__file__).resolve().parent.parent

ESP32_ARTIFACTS = {
    "targets/esp32/model.bin": {"kind": "firmware-blob", "size": 12_125_918, "sha256": "ab" * 32,
                                "description": "LQ40 full blob embedded in flash"},
    "targets/esp32/lewm_ref.c": {"kind": "c-source", "size": 19_141, "sha256": "cd" * 32,
                                 "description": "portable C99 reference"},
    "targets/esp32/memory.json": {"kind": "report", "size": 365, "sha256": "ef" * 32,
                                  "description": "flash and RAM against ESP32-P4 limits"},
}
MEMORY = {
    "variant": "slim_96d_4e_4p_full", "mode": "full", "fits": True,
    "flash_bytes": 12_125_918, "flash_limit_bytes": 16_711_680,
    "ram_scratch_bytes": 1_220_400, "psram_bytes": 8_910_648, "psram_limit_bytes": 33_554_432,
    "psram_breakdown": {"scratch": 1_220_400, "f32_copies": 5_814_200, "int8_retransposed": 1_769_472,
                        "q4_row_tables": 106_576},
}


def _with_esp32_build(tmp_path: Path, *, check: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    ws, reg = sample_workspace(tmp_path)
    vdir = ws.variant_dir("slim_96d_4e_4p_full")
    manifest = json.loads((vdir / "manifest.json").read_text())
    entry: dict = {"artifacts": ESP32_ARTIFACTS, "format": "lq40:full",  # type: ignore[type-arg]
                   "plugin": {"package": "lewm-zoo", "version": "0.1.0"}}
    if check is not None:
        entry["check"] = check
    manifest["targets"] = {"esp32": entry}
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    (vdir / "targets" / "esp32").mkdir(parents=True)
    (vdir / "targets" / "esp32" / "memory.json").write_text(json.dumps(MEMORY))
    return ws, reg


def test_card_lists_esp32_artifacts_and_memory_report(tmp_path: Path) -> None:
    ws, reg = _with_esp32_build(tmp_path)
    text = render_card(ws, reg, "slim_96d_4e_4p_full")
    assert "## Hardware: ESP32-P4" in text and "(3 files, 12.1 MB)" in text
    assert "| `targets/esp32/model.bin` | firmware-blob | 12.1 MB (12,125,918 B) |" in text
    assert "| `targets/esp32/lewm_ref.c` | c-source | 19.1 kB (19,141 B) |" in text
    assert "LQ40 full blob embedded in flash" in text
    assert "**fits** the ESP32-P4 flash partition and PSRAM" in text
    assert "| flash (model blob) | 12,125,918 B (12.1 MB) | 16,711,680 B (16.7 MB) | 72.6% |" in text
    assert "| scratch RAM (activations) | 1,220,400 B (1.2 MB) | part of PSRAM | 3.6% |" in text
    assert "| PSRAM at load (total) | 8,910,648 B (8.9 MB) | 33,554,432 B (33.6 MB) | 26.6% |" in text
    assert "Not checked yet" in text and "- `esp32`: built (3 files)." in text
    col = render_collection_card(ws, reg)
    assert "### ESP32-P4 builds" in col and "| 3 (12.1 MB) | 12,125,918 B (12.1 MB) |" in col


def test_card_shows_esp32_check_result(tmp_path: Path) -> None:
    ws, reg = _with_esp32_build(tmp_path, check={"passed": True, "summary": "host and rv32 cos >= 0.9999"})
    text = render_card(ws, reg, "slim_96d_4e_4p_full")
    assert "check passed" in text and "host and rv32 cos >= 0.9999" in text


def test_unmeasured_card_shows_claimed_timings_only(tmp_path: Path) -> None:
    ws, reg = sample_workspace(tmp_path)
    text = render_card(ws, reg, "slim_96d_4e_4p")
    assert "Not measured by the zoo yet (`zoo bench slim_96d_4e_4p --save`)" in text
    assert "| 20-step rollout | 360 |" in text and "Apple Silicon" in text
    assert "Benchmarks (this machine)" in render_collection_card(ws, reg)


def test_bench_document_keys_are_fixed() -> None:
    result = {"batch": 1, "repeats": 3, "warmup": 1, "threads": "1",
              **{op: {"median_ms": 1.23456789, "min_ms": 1.0} for op in ("encode", "predict", "rollout20")}}
    doc = bench_document("x", result)
    assert set(doc) == {"schema_version", "variant", "engine", "engine_version", "batch", "repeats", "warmup",
                        "threads", "machine", "encode", "predict", "rollout20"}
    assert doc["encode"] == {"median_ms": 1.2346, "min_ms": 1.0}
    assert bench_document("x", result) == doc


def test_committed_repo_cards_are_up_to_date() -> None:
    """CI guard: `zoo -C <repo> card --check` must pass for the committed cards/ (regenerate + commit)."""
    r = CliRunner().invoke(main, ["-C", str(REPO_ROOT), "card", "--check"])
    assert r.exit_code == 0, r.output + (r.stderr if r.stderr_bytes else "")


def test_bench_save_refuses_a_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    r = CliRunner().invoke(main, ["bench", str(tmp_path), "--save"])
    assert r.exit_code == 2 and "--save needs a registry variant NAME" in r.output
