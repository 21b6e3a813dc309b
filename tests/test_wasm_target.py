"""The wasm target (issue 19): `zoo build NAME --target wasm --check` on the session demo workspace
(node and headless Chromium against the golden vectors), the card/site browser numbers, and the
site's in-page run through `zoo site --serve` in Chromium (Playwright on the system Chromium).

The build + check runs once per module on a private copy of the demo's two slim_96d_4e_4p variants.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.targets.wasm.target import COS_MIN, GOLDEN_MAGIC, chromium_binary, golden_bytes, parse_golden

FULL = "slim_96d_4e_4p_full"
ROOT = "slim_96d_4e_4p"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TOOLS = ("clang", "wasm-ld", "node")


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None] + ([] if chromium_binary() else ["chromium"])
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing} in CI; run scripts/setup-system.sh")
        pytest.skip(f"needs {', '.join(missing)}")


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_targets_lists_wasm() -> None:
    r = _cli("targets", "--json")
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)["targets"]}
    assert rows["wasm"]["loaded"]
    assert "lq40:full" in rows["wasm"]["formats"] and "safetensors-f32" in rows["wasm"]["formats"]


def test_golden_file_round_trip() -> None:
    from types import SimpleNamespace

    g = SimpleNamespace(
        image=np.arange(6, dtype=np.float32), latent=np.ones(3, np.float32), z=np.zeros((2, 3), np.float32),
        a=np.full((2, 2), 0.5, np.float32), predict_thist=np.ones(3, np.float32), rollout_z0=np.ones(3, np.float32),
        rollout_a=np.zeros((4, 2), np.float32), rollout=np.arange(12, dtype=np.float32).reshape(4, 3),
    )  # fmt: skip
    raw = golden_bytes(g)
    assert raw.startswith(GOLDEN_MAGIC) and golden_bytes(g) == raw
    back = parse_golden(raw)
    assert list(back) == ["image", "latent", "predict_z", "predict_a", "predict", "rollout_z0", "rollout_a", "rollout"]
    np.testing.assert_array_equal(back["rollout"], g.rollout.reshape(-1))


@pytest.fixture(scope="module")
def wasm_ws(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo's slim_96d_4e_4p pair with `--target wasm --check` built for the LQ40 child
    and `--target wasm` (no check) for the f32 root."""
    _need_tools()
    dest = tmp_path_factory.mktemp("wasm") / "ws"
    dest.mkdir()
    shutil.copy2(demo_workspace / "registry.yaml", dest / "registry.yaml")
    (dest / "mirror").symlink_to(demo_workspace / "mirror", target_is_directory=True)
    for name in (ROOT, FULL):
        shutil.copytree(demo_workspace / "variants" / name, dest / "variants" / name)
    r = _cli("-C", str(dest), "build", FULL, "--target", "wasm", "--check", "--json")
    assert r.exit_code == 0, r.output
    r = _cli("-C", str(dest), "build", ROOT, "--target", "wasm")
    assert r.exit_code == 0, r.output
    return dest


@pytest.mark.slow
@pytest.mark.chromium
def test_build_check_passes_in_node_and_chromium(wasm_ws: Path) -> None:
    out = wasm_ws / "variants" / FULL / "targets" / "wasm"
    assert {p.name for p in out.iterdir()} == {
        "lewm.wasm", "lewm.js", "model.bin", "golden.bin", "lewm_model.h", "build.json", "report.json"
    }  # fmt: skip
    assert (out / "lewm.wasm").read_bytes()[:4] == b"\0asm"
    assert (out / "model.bin").read_bytes() == (wasm_ws / "variants" / FULL / "model.lq40").read_bytes()
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and report["min_cosine"] >= COS_MIN
    for platform in ("node", "chromium"):
        p = report["platforms"][platform]
        assert p["min_cosine"] >= COS_MIN, (platform, p["cosine"])
        assert set(p["cosine"]) == {"encode", "predict", "rollout"}
        assert all(p["ms"][k] > 0 for k in ("encode", "predict", "rollout"))
        assert len(p["cosine_per_step"]) == 20
    assert report["claims"]["encode_ms"] == 2000.0
    manifest = json.loads((wasm_ws / "variants" / FULL / "manifest.json").read_text())
    entry = manifest["targets"]["wasm"]
    assert entry["check"]["passed"] and "variants" not in json.dumps(entry["artifacts"])  # relative paths
    assert "targets/wasm/report.json" in entry["artifacts"]

    # the f32 root builds too: an LQ40 container in mode "f32" the same C reference reads
    root = wasm_ws / "variants" / ROOT / "targets" / "wasm"
    blob = (root / "model.bin").read_bytes()
    (jlen,) = np.frombuffer(blob[4:8], "<u4")
    assert blob[:4] == b"LQ40" and json.loads(blob[8 : 8 + int(jlen)])["mode"] == "f32"
    assert (root / "lewm.wasm").is_file()


@pytest.mark.slow
@pytest.mark.chromium
def test_card_and_site_show_browser_numbers(wasm_ws: Path) -> None:
    r = _cli("-C", str(wasm_ws), "card", "--all")
    assert r.exit_code == 0, r.output
    card = (wasm_ws / "cards" / FULL / "README.md").read_text()
    section = card[card.index("## Browser: WebAssembly") :]
    assert "**passed**" in section and "~2,000 ms" in section and "~600 ms" in section
    assert re.search(r"\| encode \(224×224 image\) \| [0-9,.]+ ms \| [0-9,.]+ ms \| ~2,000 ms \| [0-9.,]+× faster \|", section)
    collection = (wasm_ws / "cards" / "README.md").read_text()
    assert "### Browser (WebAssembly) builds" in collection and "](size-vs-cosine.svg)" in collection
    svg = (wasm_ws / "cards" / "size-vs-cosine.svg").read_text()
    assert svg.startswith("<svg") and "<circle" in svg
    r = _cli("-C", str(wasm_ws), "site")
    assert r.exit_code == 0, r.output
    page = (wasm_ws / "cards" / "site" / "variants" / f"{FULL}.html").read_text()
    assert 'id="wasm-run"' in page and 'data-base="../../../variants/slim_96d_4e_4p_full/targets/wasm/"' in page
    assert "<svg" in page and "Browser: WebAssembly" in page
    assert _cli("-C", str(wasm_ws), "card", "--check").exit_code == 0


@pytest.mark.slow
@pytest.mark.chromium
def test_site_serve_runs_the_model_in_the_page(wasm_ws: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    assert _cli("-C", str(wasm_ws), "site").exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "-C", str(wasm_ws), "site", "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen = []
        m = None
        while m is None and len(seen) < 50:  # the URL line, after any warning the interpreter prints
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
        assert m, "".join(seen)
        index_url = m.group(0)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_binary(), args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(index_url)
                assert page.locator("#tradeoff svg circle").count() >= 2
                page.goto(index_url.replace("index.html", f"variants/{FULL}.html"))
                assert page.is_hidden("#wasm-file-note")  # served over http: no file:// warning
                page.click("#wasm-run-button")
                page.wait_for_selector("#wasm-status[data-state=pass], #wasm-status[data-state=fail], "
                                       "#wasm-status[data-state=error]", timeout=180_000)  # fmt: skip
                status = page.text_content("#wasm-status")
                cosine = float(page.get_attribute("#wasm-status", "data-cosine") or "nan")
                assert cosine >= COS_MIN, status
                assert page.locator("#wasm-result tbody tr").count() == 3
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "site-wasm-run.png"), full_page=True)
                # from file:// the page says why it cannot run
                page.goto((wasm_ws / "cards" / "site" / "variants" / f"{FULL}.html").as_uri())
                assert page.is_visible("#wasm-file-note")
                assert not errors
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


def _tiny(tmp_path: Path, kind: str, fmt: str) -> tuple[Any, Any]:
    """A one-variant workspace with a tiny random model as LQ40 `fmt` or as safetensors-f32 (`fmt` "f32")."""
    from dataclasses import replace

    from model_weights import random_weights, tiny_config
    from safetensors.numpy import save_file
    from test_esp32_target import _record

    from zoo.formats.lq40 import encode_lq40
    from zoo.registry import FormatSpec, Workspace

    cfg = tiny_config(kind)
    weights = random_weights(cfg, seed=5)
    ws = Workspace(tmp_path)
    rec = _record(f"tiny_{kind}_{fmt}", kind, "full" if fmt == "f32" else fmt)
    vdir = ws.variant_dir(rec.name)
    vdir.mkdir(parents=True)
    if fmt == "f32":
        rec = replace(rec, format=FormatSpec(kind="safetensors-f32"))
        (vdir / "config.json").write_text(cfg.to_json())
        save_file({k: np.ascontiguousarray(v, np.float32) for k, v in weights.items()}, str(vdir / "lejepa_weights.safetensors"))
    else:
        (vdir / "model.lq40").write_bytes(encode_lq40(cfg, weights, fmt))
    return ws, rec


@pytest.mark.slow
@pytest.mark.parametrize("kind,fmt", [("vit", "q4-pred"), ("hybrid", "full"), ("slim", "wanda40-q4"), ("hybrid", "q4-full"), ("slim", "f32")])
def test_tiny_models_match_the_golden_vectors_in_node(tmp_path: Path, kind: str, fmt: str) -> None:
    if any(shutil.which(t) is None for t in TOOLS):
        pytest.skip(f"needs {', '.join(TOOLS)}")
    from zoo.targets import build_target
    from zoo.targets.wasm.target import run_node

    ws, rec = _tiny(tmp_path, kind, fmt)
    build_target(ws, None, rec, "wasm")  # type: ignore[arg-type]
    out = ws.variant_dir(rec.name) / "targets" / "wasm"
    first = (out / "lewm.wasm").read_bytes()
    result = run_node(out)
    assert result["min_cosine"] >= COS_MIN, result["cosine"]
    assert set(result["cosine"]) == {"encode", "predict", "rollout"}
    build_target(ws, None, rec, "wasm")  # type: ignore[arg-type]
    assert (out / "lewm.wasm").read_bytes() == first  # deterministic build


def test_wasm_errors_are_one_line(tmp_path: Path) -> None:
    from zoo.errors import InputError, UsageError
    from zoo.targets import build_target

    ws, rec = _tiny(tmp_path, "slim", "q4-pred")
    with pytest.raises(UsageError, match="unknown"):
        build_target(ws, None, rec, "wasm", {"simd": "off"})  # type: ignore[arg-type]
    (ws.variant_dir(rec.name) / "model.lq40").unlink()
    with pytest.raises(InputError, match=r"model\.lq40: file not found"):
        build_target(ws, None, rec, "wasm")  # type: ignore[arg-type]
