"""`zoo.load` and `zoo run` on tiny models: every reference kind, shapes, batches, preprocessing, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from model_weights import random_weights, tiny_config
from servers.hf_hub_server import HfHubServer

import zoo
from zoo.errors import InputError, RemoteError, UsageError, ZooError
from zoo.model.engine import LeWM
from zoo.model.golden import golden_inputs, make_golden
from zoo.model.preprocess import normalize_image
from zoo.verify.engine import read_weights_file

D, A = 16, 10  # tiny "slim" config: latent 16, 10 action dims


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny f32 variant dir plus its LQ40 (full) and ternary quantizations, each in its own dir."""
    from safetensors.numpy import save_file

    from zoo.quant.pipeline import quantize_dir

    root = tmp_path_factory.mktemp("runtime")
    cfg = tiny_config("slim")
    f32 = root / "tiny"
    f32.mkdir()
    (f32 / "config.json").write_text(cfg.to_json())
    save_file(random_weights(cfg, seed=3), str(f32 / "lejepa_weights.safetensors"))
    for name, mode, fname in (("tiny_full", "full", "model.lq40"), ("tiny_ternary", "ternary", "ternary.safetensors")):
        (root / name).mkdir()
        quantize_dir(f32, root / name / fname, mode)
    return {"f32": f32, "lq40": root / "tiny_full", "ternary": root / "tiny_ternary"}


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.mark.parametrize("kind", ["f32", "lq40", "ternary"])
def test_load_runs_exactly_what_verify_measures(models: dict[str, Path], kind: str) -> None:
    model = zoo.load(models[kind])
    assert model.kind == {"f32": "safetensors-f32", "lq40": "lq40", "ternary": "ternary"}[kind]
    assert (model.latent_dim, model.action_dim, model.history) == (D, A, 3)
    # verify's own reader and engine on the same file: identical numbers
    config, weights = read_weights_file(model.kind, model.path, models["f32"] / "config.json")
    golden = make_golden(LeWM.from_weights(config, weights), config)
    image, actions = golden_inputs(config)
    latent = model.encode(image)
    rollout = model.rollout(image, actions)
    assert latent.shape == (D,) and rollout.shape == (20, D)
    np.testing.assert_array_equal(latent, golden["outputs.latent"])
    np.testing.assert_array_equal(rollout, golden["outputs.rollout"])
    np.testing.assert_array_equal(model.rollout(latent, actions), rollout)  # start: latent or image


def test_reference_forms(models: dict[str, Path]) -> None:
    by_dir = zoo.load(str(models["lq40"]))
    by_file = zoo.load(models["lq40"] / "model.lq40")
    f32_file = zoo.load(models["f32"] / "lejepa_weights.safetensors")
    assert by_dir.name == by_file.name == "tiny_full" and f32_file.kind == "safetensors-f32"
    image = np.full((224, 224, 3), 127, np.uint8)
    np.testing.assert_array_equal(by_dir.encode(image), by_file.encode(image))
    assert "tiny_full" in repr(by_dir) and "lq40" in repr(by_dir)


def test_images_batches_and_preprocessing(models: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    model = zoo.load(models["f32"])
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    z = model.encode(img)
    np.testing.assert_array_equal(z, model.engine.encode(normalize_image(img)[None])[0])
    np.testing.assert_array_equal(model.encode(Image.fromarray(img)), z)
    Image.fromarray(img).save(tmp_path / "frame.png")
    np.testing.assert_array_equal(model.encode(tmp_path / "frame.png"), z)
    np.testing.assert_array_equal(model.encode(str(tmp_path / "frame.png")), z)
    # batches: a list or a [B, H, W, 3] array -> [B, D]
    batch = model.encode([img, img[::-1].copy()])
    assert batch.shape == (2, D)
    np.testing.assert_allclose(batch[0], z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.encode(np.stack([img, img[::-1]])), batch, rtol=1e-5, atol=1e-6)
    # other sizes are resized (shorter side 224, centre crop), like upstream's Resize(224)
    small = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    assert model.encode(small).shape == (D,)
    assert model.encode(small.astype(np.float32) / 255).shape == (D,)
    expected = np.asarray(Image.fromarray(small).resize((299, 224), Image.Resampling.BILINEAR).crop((37, 0, 261, 224)))
    np.testing.assert_array_equal(model.preprocess(small), normalize_image(expected)[None])


def test_predict_and_rollout_shapes(models: dict[str, Path]) -> None:
    model = zoo.load(models["ternary"])
    rng = np.random.default_rng(1)
    z = rng.standard_normal((3, D)).astype(np.float32)
    a = rng.standard_normal((3, A)).astype(np.float32)
    assert model.predict(z, a).shape == (3, D)
    assert model.predict(z[None].repeat(2, 0), a[None].repeat(2, 0)).shape == (2, 3, D)
    acts = model.default_actions(8)
    assert acts.shape == (8, A)
    assert model.rollout(z[0], acts).shape == (8, D)
    assert model.rollout(z[0], acts, steps=5).shape == (5, D)
    np.testing.assert_array_equal(model.rollout(z[0], acts, steps=5), model.rollout(z[0], acts)[:5])
    both = model.rollout(z[:2], acts)  # a batch of start latents shares [T, A] actions
    np.testing.assert_array_equal(model.rollout([z[0], z[1]], acts), both)
    assert both.shape == (2, 8, D)
    np.testing.assert_allclose(both[1], model.rollout(z[1], acts), rtol=1e-5, atol=1e-6)
    assert model.rollout([np.zeros((224, 224, 3), np.uint8)] * 2, acts[None].repeat(2, 0)).shape == (2, 8, D)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.encode(np.zeros((224, 224), np.uint8)), r"shape \[224, 224\] is not an HxWx3"),
        (lambda m: m.encode(np.zeros((224, 224, 3), np.int32)), "dtype int32"),
        (lambda m: m.predict(np.zeros((3, D + 1)), np.zeros((3, A))), r"latents: shape \[3, 17\]"),
        (lambda m: m.predict(np.zeros((5, D)), np.zeros((5, A))), "predictor takes 1..3"),
        (lambda m: m.rollout(np.zeros(D), np.zeros((4, A + 2))), r"actions: shape \[4, 12\]"),
        (lambda m: m.rollout(np.zeros(D), np.zeros((4, A)), steps=9), "steps 9 must be within 0..4"),
        (lambda m: m.rollout(np.full(D, np.nan), np.zeros((4, A))), "NaN"),
        (lambda m: m.encode([]), "empty list"),
    ],
)
def test_wrong_shapes_are_one_line_input_errors(models: dict[str, Path], call, match: str) -> None:  # type: ignore[no-untyped-def]
    model = zoo.load(models["f32"])
    with pytest.raises(InputError, match=match) as info:
        call(model)
    assert "\n" not in str(info.value)


def test_bad_references(models: dict[str, Path], tmp_path: Path) -> None:
    cases: list[tuple[object, type[ZooError], str]] = [
        (tmp_path / "nope", UsageError, "no such file, directory or variant"),
        (tmp_path / "nope.lq40", InputError, "file not found"),
        (tmp_path, InputError, "no model file"),
        ("hf://only-owner", UsageError, "not a Hub reference"),
        ("hf://o/r/../x.lq40", UsageError, "must not contain"),
        ("", UsageError, "empty model reference"),
        (123, UsageError, "not a string or path"),
    ]
    for ref, err, match in cases:
        with pytest.raises(err, match=match) as info:
            zoo.load(ref)  # type: ignore[arg-type]
        assert "\n" not in str(info.value)
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "lejepa_weights.safetensors").write_bytes((models["f32"] / "lejepa_weights.safetensors").read_bytes())
    with pytest.raises(InputError, match=r"need the config\.json next to them"):
        zoo.load(lone / "lejepa_weights.safetensors")
    (lone / "bad.lq40").write_bytes(b"LQ40\x00")
    with pytest.raises(InputError, match=r"bad\.lq40"):
        zoo.load(lone / "bad.lq40")


def test_ternary_without_embedded_config_uses_the_sibling_config(models: dict[str, Path], tmp_path: Path) -> None:
    from zoo.quant.ternary import ternary_file_bytes
    from zoo.verify.engine import _read_with_metadata

    tensors, meta = _read_with_metadata(models["ternary"] / "ternary.safetensors")
    assert json.loads(meta["config"])["latent_dim"] == D  # the file runs on its own
    old = tmp_path / "old"
    old.mkdir()
    (old / "ternary.safetensors").write_bytes(ternary_file_bytes(tensors, {k: v for k, v in meta.items() if k != "config"}))
    with pytest.raises(InputError, match="no architecture"):
        zoo.load(old)
    (old / "config.json").write_text((models["f32"] / "config.json").read_text())
    image = np.zeros((224, 224, 3), np.uint8)
    np.testing.assert_array_equal(zoo.load(old).encode(image), zoo.load(models["ternary"]).encode(image))


def test_hub_references_through_the_hf_cache(models: dict[str, Path], hf_server: HfHubServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"model.lq40": (models["lq40"] / "model.lq40").read_bytes(),
             "f32/lejepa_weights.safetensors": (models["f32"] / "lejepa_weights.safetensors").read_bytes(),
             "f32/config.json": (models["f32"] / "config.json").read_bytes()}
    first = hf_server.add_files("org/tiny", files)
    image = np.zeros((224, 224, 3), np.uint8)
    want = zoo.load(models["lq40"]).encode(image)
    for ref in ("hf://org/tiny/model.lq40", "hf://org/tiny", f"hf://org/tiny@{first}/model.lq40"):
        np.testing.assert_array_equal(zoo.load(ref).encode(image), want)
    f32 = zoo.load("hf://org/tiny/f32")  # a folder: the model file is found by name, config.json next to it
    assert f32.kind == "safetensors-f32" and f32.name == "f32"
    cached = zoo.load("hf://org/tiny/model.lq40").path
    assert str(cached).startswith(os.environ["HF_HOME"])  # huggingface_hub's own cache under HF_HOME
    for ref, err, match in [("hf://org/missing/model.lq40", UsageError, "repository org/missing not found"),
                            ("hf://org/tiny/other.lq40", UsageError, "other.lq40 not found in org/tiny"),
                            ("hf://org/tiny@v9/model.lq40", UsageError, "revision 'v9' not found"),
                            ("hf://org/tiny/nothing", UsageError, "no model file")]:
        with pytest.raises(err, match=match) as info:
            zoo.load(ref)
        assert "\n" not in str(info.value)
    # offline (HF_HUB_OFFLINE): cached files still load, uncached ones are a one-line error
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    np.testing.assert_array_equal(zoo.load("hf://org/tiny/model.lq40").encode(image), want)
    with pytest.raises(RemoteError, match="not in the local Hub cache"):
        zoo.load("hf://org/tiny@main/f32/lejepa_weights.safetensors".replace("@main", "@" + "0" * 40))


def _run(*args: str) -> object:
    from zoo.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_zoo_run(models: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    res = _run("run", str(models["lq40"]), "--image", str(tmp_path / "x.png"), "--json")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    doc = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert doc["latent"]["shape"] == [D] and doc["rollout"]["shape"] == [20, D]
    assert len(doc["rollout"]["step_norms"]) == 20 and doc["model"]["format"] == "lq40"
    np.save(tmp_path / "a.npy", np.zeros((6, A), np.float32))
    np.savetxt(tmp_path / "a.csv", np.ones((4, A)), delimiter=",")
    res = _run("run", str(models["f32"]), "--image", str(tmp_path / "x.png"), "--actions", str(tmp_path / "a.npy"),
               "--steps", "5", "--out", str(tmp_path / "r.npy"))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "latent [16] norm" in res.output and "rollout [5, 16]" in res.output  # type: ignore[attr-defined]
    assert np.load(tmp_path / "r.npy").shape == (5, D)
    res = _run("run", str(models["f32"]), "--image", str(tmp_path / "x.png"), "--actions", str(tmp_path / "a.csv"),
               "--json")
    assert json.loads(res.stdout)["rollout"]["shape"] == [4, D]  # type: ignore[attr-defined]


def test_zoo_run_errors_are_one_line_exit_2(models: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    from PIL import Image

    Image.new("RGB", (10, 10)).save(tmp_path / "ok.png")
    np.save(tmp_path / "wide.npy", np.zeros((3, A + 1), np.float32))
    cases = [
        (["--image", str(tmp_path / "missing.png")], "missing.png: image file not found"),
        (["--image", str(tmp_path / "bad.png")], "bad.png: not a readable image"),
        (["--image", str(tmp_path / "ok.png"), "--actions", str(tmp_path / "wide.npy")], "is not [T, 10]"),
        (["--image", str(tmp_path / "ok.png"), "--actions", str(tmp_path / "nope.csv")], "actions file not found"),
        (["--image", str(tmp_path / "ok.png"), "--out", str(tmp_path / "r.txt")], "must end in .npy"),
    ]
    for extra, message in cases:
        res = _run("run", str(models["f32"]), *extra)
        out = res.output  # type: ignore[attr-defined]
        assert res.exit_code == 2, out  # type: ignore[attr-defined]
        assert message in out and len(out.strip().splitlines()) == 1 and "Traceback" not in out
    assert not (tmp_path / "r.txt").exists()


def test_import_zoo_stays_light() -> None:
    code = ("import sys, zoo; heavy = [m for m in ('numpy', 'huggingface_hub', 'PIL', 'safetensors') "
            "if m in sys.modules]; print(heavy); assert callable(zoo.load) and 'numpy' in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
