"""Golden inputs/outputs: recipe, fixed names, metadata, byte-identical files, workspace + manifest, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from model_weights import random_weights, tiny_config
from safetensors.numpy import save
from servers.workspaces import ARCH

from zoo._io import sha256_file
from zoo.cli import main
from zoo.errors import InputError, UsageError
from zoo.model import LeWM
from zoo.model.golden import (
    ENGINE_VERSION,
    deterministic_vec,
    golden_actions,
    golden_for_variant,
    golden_from_weights,
    gradient_image,
    make_golden,
    read_golden,
)
from zoo.registry import Architecture, Claims, FormatSpec, VariantRecord, VerificationPolicy, Workspace


def _converted_dir(root: Path, kind: str = "vit", seed: int = 1) -> Path:
    cfg = tiny_config(kind)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(cfg.to_json())
    (root / "lejepa_weights.safetensors").write_bytes(save(random_weights(cfg, seed)))
    return root


def test_gradient_image_recipe() -> None:
    img = gradient_image()
    assert img.shape == (3, 224, 224) and img.dtype == np.float32
    y, x = 10, 37
    raw = (y / 224, x / 224, 0.5 + 0.5 * math.sin((x + y) / 448))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for c in range(3):
        assert img[c, y, x] == pytest.approx((raw[c] - mean[c]) / std[c], abs=1e-6)


def test_golden_actions_and_deterministic_vec() -> None:
    a = golden_actions(10)
    assert a.shape == (20, 10)
    assert a[0, 0] == 0 and a[0, 1] == pytest.approx(0.3)
    assert a[10, 0] == pytest.approx(0.5) and np.all(a[:, 2:] == 0)
    v = deterministic_vec(5, 11)
    # u32 wrapping: mixed = 11*1664525 + i*1013904223 mod 2^32, ((mixed % 2001) - 1000) / 1000
    want = [(((11 * 1664525 + i * 1013904223) % 2**32) % 2001 - 1000) / 1000 for i in range(5)]
    np.testing.assert_allclose(v, want, atol=1e-7)
    big = deterministic_vec(3, 2**32 + 11)
    np.testing.assert_array_equal(big, v[:3])


def test_make_golden_names_and_semantics() -> None:
    cfg = tiny_config("slim")
    model = LeWM.from_weights(cfg, random_weights(cfg, 2))
    g = make_golden(model, cfg)
    assert sorted(g) == ["inputs.actions", "inputs.image", "outputs.latent", "outputs.rollout"]
    assert g["outputs.latent"].shape == (cfg.latent_dim,)
    assert g["outputs.rollout"].shape == (20, cfg.latent_dim)
    first = model.predict(g["outputs.latent"][None, None], g["inputs.actions"][None, :1])[0, -1]
    np.testing.assert_allclose(g["outputs.rollout"][0], first, atol=1e-6)


def test_golden_file_byte_identical_and_readable(tmp_path: Path) -> None:
    cfg = tiny_config("hybrid")
    w = random_weights(cfg, 4)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    golden_from_weights(cfg, w, a, {"variant": "x", "weights_sha256": "abc"})
    golden_from_weights(cfg, dict(w), b, {"variant": "x", "weights_sha256": "abc", "semantics": "ignored"})
    assert a.read_bytes() == b.read_bytes()
    tensors, meta = read_golden(a)
    assert meta["semantics"] == "upstream-lewm" and meta["engine_version"] == ENGINE_VERSION
    assert meta["variant"] == "x" and meta["weights_sha256"] == "abc" and "input_recipe" in meta
    assert tensors["inputs.actions"].shape == (20, cfg.action_input_dim)
    from safetensors.numpy import load_file  # the reference reader agrees

    ref = load_file(str(a))
    for k, v in tensors.items():
        np.testing.assert_array_equal(ref[k], v)
    assert not list(tmp_path.glob("*.part"))


def test_read_golden_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_golden(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}")
    with pytest.raises(InputError, match="not a readable"):
        read_golden(bad)
    partial = tmp_path / "p.safetensors"
    partial.write_bytes(save({"inputs.image": np.zeros((3, 2, 2), np.float32)}))
    with pytest.raises(InputError, match=r"inputs\.actions"):
        read_golden(partial)


def _record(name: str, kind: str = "safetensors-f32") -> VariantRecord:
    arch = Architecture(encoder_kind="vit", latent_dim=32, encoder_layers=2, predictor_layers=2)
    return VariantRecord(
        name=name, family="slim", description="t", architecture=arch, format=FormatSpec(kind=kind),
        verification=VerificationPolicy(), claims=Claims(),
    )  # fmt: skip


def test_golden_for_variant_records_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    vdir = _converted_dir(ws.variant_dir("tiny"))
    out = golden_for_variant(ws, None, _record("tiny"))
    assert out == vdir / "golden.safetensors"
    manifest = json.loads((vdir / "manifest.json").read_text())
    rec = manifest["artifacts"]["golden.safetensors"]
    wsha = sha256_file(vdir / "lejepa_weights.safetensors")
    assert rec["kind"] == "golden" and rec["sha256"] == sha256_file(out)
    assert rec["inputs"] == {"tiny/lejepa_weights.safetensors": wsha}
    _, meta = read_golden(out)
    assert meta["variant"] == "tiny" and meta["weights_sha256"] == wsha
    first = out.read_bytes()
    golden_for_variant(ws, None, _record("tiny"))
    assert out.read_bytes() == first
    with pytest.raises(UsageError):
        golden_for_variant(ws, None, _record("tiny", "lq40"))
    with pytest.raises(InputError, match="not found"):
        golden_for_variant(ws, None, _record("absent"))


def test_cli_golden_dir(tmp_path: Path) -> None:
    d = _converted_dir(tmp_path / "conv")
    runner = CliRunner()
    r = runner.invoke(main, ["golden", str(d), "-o", str(tmp_path / "g1.safetensors"), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["semantics"] == "upstream-lewm" and info["sha256"] == sha256_file(tmp_path / "g1.safetensors")
    r2 = runner.invoke(main, ["golden", str(d), "-o", str(tmp_path / "g2.safetensors")])
    assert r2.exit_code == 0
    assert (tmp_path / "g1.safetensors").read_bytes() == (tmp_path / "g2.safetensors").read_bytes()
    r3 = runner.invoke(main, ["golden", str(d)])
    assert r3.exit_code == 2 and "-o FILE" in r3.stderr and "Traceback" not in r3.output
    r4 = runner.invoke(main, ["golden", str(tmp_path)])
    assert r4.exit_code == 2 and "not a converted directory" in r4.stderr


def test_cli_bench_dir_json(tmp_path: Path) -> None:
    d = _converted_dir(tmp_path / "conv", "slim")
    r = CliRunner().invoke(main, ["bench", str(d), "--json", "--repeats", "2", "--warmup", "0"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    for op in ("encode", "predict", "rollout20"):
        assert info[op]["median_ms"] > 0


REGISTRY = f"""\
schema_version: 1
collection: {{name: test, hub_repo: test/test, license: cc-by-nc-4.0}}
variants:
  tiny_f32:
    family: slim
    description: tiny test variant
{ARCH}    provenance:
      sources:
        - {{uri: "file:///nonexistent/tiny.ckpt", file: tiny.ckpt}}
      checkpoint_kind: object
    format: {{kind: safetensors-f32}}
    claims: {{source: test}}
    verification: {{status: active, metric: rollout@20, expected_cosine: 1.0, tolerance: 1.0e-6}}
"""


def test_cli_golden_and_bench_by_name(tmp_path: Path) -> None:
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    vdir = _converted_dir(tmp_path / "variants" / "tiny_f32")
    runner = CliRunner()
    r = runner.invoke(main, ["-C", str(tmp_path), "golden", "tiny_f32", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["path"] == str(vdir / "golden.safetensors")
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert manifest["artifacts"]["golden.safetensors"]["sha256"] == info["sha256"]
    r = runner.invoke(main, ["-C", str(tmp_path), "bench", "tiny_f32", "--repeats", "1", "--warmup", "0"])
    assert r.exit_code == 0, r.output
    assert "rollout20" in r.stdout  # results on stdout
    r = runner.invoke(main, ["-C", str(tmp_path), "golden", "tiny_f3"])
    assert r.exit_code == 2 and "tiny_f3" in r.stderr and "Traceback" not in r.output
