"""`zoo quantize` (PATH and NAME forms), manifest records, calibrated WANDA, cosine vs f32."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from zoo.cli import main
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40 import lq40_to_weights, read_lq40
from zoo.quant.calibrate import NormAccumulator, capture_predictor_inputs
from zoo.quant.pipeline import quantize_variant
from zoo.quant.synthetic import synthetic_weights
from zoo.registry.records import FormatSpec
from zoo.registry.workspace import Workspace

CFG = LeWMConfig(
    encoder_hidden=32, encoder_layers=2, encoder_heads=2, encoder_inter=128, predictor_hidden=32,
    predictor_layers=2, predictor_inner_dim=64, predictor_heads=1, predictor_inter=96, latent_dim=16,
    action_input_dim=10, projector_hidden=64, image_size=56, has_input_proj=True, has_cond_proj=True,
)


def _converted(d: Path, cfg: LeWMConfig = CFG, seed: int = 0) -> dict[str, np.ndarray]:
    d.mkdir(parents=True, exist_ok=True)
    w = synthetic_weights(cfg, seed)
    save_file(w, str(d / "lejepa_weights.safetensors"))
    (d / "config.json").write_text(cfg.to_json())
    return w


def test_cli_path_form(tmp_path: Path) -> None:
    _converted(tmp_path / "conv")
    out = tmp_path / "m.lq40"
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "conv"), "--mode", "q4-pred", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["results"][0]["mode"] == "q4-pred" and out.is_file()
    assert read_lq40(out).config == CFG
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "conv"), "--mode", "q8", "-o", str(out)])
    assert r.exit_code == 2 and "'q8' is not one of 'full', 'q4-pred'" in r.output  # a click.Choice
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "conv"), "--mode", "q4pred", "-o", str(out)])
    assert r.exit_code == 2 and "Did you mean 'q4-pred'?" in r.output
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "conv"), "--mode", "ternary", "-o", str(tmp_path / "t.safetensors")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["quantize", str(tmp_path), "--mode", "full", "-o", str(out)])
    assert r.exit_code == 2 and "lejepa_weights.safetensors: file not found" in r.output
    # --wanda only means something for a wanda mode of a PATH; it is never silently ignored
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "conv"), "--mode", "full", "--wanda", "calibrated", "-o", str(out)])
    assert r.exit_code == 2 and "--wanda applies to the wanda20-q4/wanda40-q4 modes" in r.output
    r = CliRunner().invoke(main, ["quantize", "some_variant", "--wanda", "calibrated"])
    assert r.exit_code == 2 and "take them from registry.yaml" in r.output


@dataclasses.dataclass
class _Rec:
    name: str
    format: FormatSpec
    parent: str | None = None


class _Registry:
    def __init__(self, recs: list[_Rec]) -> None:
        self.v = {r.name: r for r in recs}

    def parent_of(self, rec: _Rec) -> _Rec | None:
        return self.v[rec.parent] if rec.parent else None

    def f32_root(self, rec: _Rec) -> _Rec:
        while rec.parent:
            rec = self.v[rec.parent]
        return rec


def test_quantize_variant_records_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    _converted(ws.variant_dir("base"))
    base = _Rec("base", FormatSpec("safetensors-f32"))
    q = _Rec("base_w20", FormatSpec("lq40", "wanda20-q4", {"wanda": "calibrated"}), "base")
    t = _Rec("base_tern", FormatSpec("ternary"), "base")
    reg = _Registry([base, q, t])
    res = quantize_variant(ws, reg, q)
    assert res.path == ws.variant_dir("base_w20") / "model.lq40" and res.wanda == "calibrated"
    man = json.loads((ws.variant_dir("base_w20") / "manifest.json").read_text())
    art = man["artifacts"]["model.lq40"]
    assert art["kind"] == "lq40" and list(art["inputs"]) == ["base/lejepa_weights.safetensors"]
    assert art["sha256"] == res.sha256
    res_t = quantize_variant(ws, reg, t)
    assert res_t.path.name == "ternary.safetensors"
    # deterministic: a second run gives the same bytes
    assert quantize_variant(ws, reg, q).sha256 == res.sha256


def test_norm_accumulator() -> None:
    acc = NormAccumulator()
    acc.add("a", np.array([[3.0, 0.0], [4.0, 1.0]]))
    acc.add("a", np.array([[[0.0, 0.0]]]))
    np.testing.assert_allclose(acc.norms()["a"], [5.0, 1.0])
    assert acc.rows["a"] == 3


def test_capture_restores_engine_weights() -> None:
    from zoo.model import LeWM

    w = synthetic_weights(CFG, 1)
    model = LeWM.from_weights(CFG, w)
    z = np.zeros((1, CFG.latent_dim), np.float32)
    a = np.zeros((1, 2, CFG.action_input_dim), np.float32)
    before = model.rollout(z, a)
    norms = capture_predictor_inputs(model, lambda m: m.rollout(z, a))
    assert len(norms) == 5 * CFG.predictor_layers
    assert norms["predictor.transformer.layers.0.mlp.net.4.weight"].shape == (CFG.predictor_inter,)
    np.testing.assert_array_equal(model.rollout(z, a), before)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


@pytest.mark.parametrize("mode", ["full", "q4-pred"])
def test_cosine_vs_f32_on_golden_inputs(mode: str) -> None:
    from zoo.formats.lq40 import encode_lq40
    from zoo.model import LeWM
    from zoo.model.golden import golden_inputs

    cfg = dataclasses.replace(CFG, image_size=224)
    w = synthetic_weights(cfg, 2)
    image, actions = golden_inputs(cfg)
    ref = LeWM.from_weights(cfg, w)
    qcfg, qw = lq40_to_weights(read_lq40(encode_lq40(cfg, w, mode)))
    q = LeWM.from_weights(qcfg, qw)
    z_ref, z_q = ref.encode(image[None]), q.encode(image[None])
    assert _cos(z_ref, z_q) >= 0.99
    step_ref = ref.rollout(image[None], actions[None, :1])
    step_q = q.rollout(image[None], actions[None, :1])
    assert _cos(step_ref, step_q) >= 0.99  # 1-step prediction
