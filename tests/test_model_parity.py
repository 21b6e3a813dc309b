"""numpy engine vs the PyTorch reference on identical random weights (max abs error 1e-5, f32)."""

from __future__ import annotations

import numpy as np
import pytest
from model_weights import random_weights, tiny_config

from zoo.model import LeWM

torch = pytest.importorskip("torch")
from torch_reference import build_reference  # noqa: E402

pytestmark = pytest.mark.torch
TOL = 1e-5


@pytest.fixture(scope="module", params=["vit", "slim", "hybrid"])
def pair(request: pytest.FixtureRequest) -> tuple[LeWM, object, object]:
    cfg = tiny_config(request.param)
    w = random_weights(cfg, seed=3)
    torch.set_num_threads(1)
    return LeWM.from_weights(cfg, w), build_reference(cfg, w), cfg


def _inputs(cfg, b: int = 2, t: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    img = rng.standard_normal((b, 3, cfg.image_size, cfg.image_size)).astype(np.float32)
    act = rng.standard_normal((b, t, cfg.action_input_dim)).astype(np.float32)
    return img, act


def test_encode_parity(pair) -> None:
    model, ref, cfg = pair
    img, _ = _inputs(cfg)
    got = model.encode(img)
    want = ref.encode(torch.from_numpy(img)).numpy()
    assert got.shape == (2, cfg.latent_dim) and got.dtype == np.float32
    assert np.abs(got - want).max() < TOL
    assert np.abs(want).max() > 0.1  # non-trivial outputs


def test_hidden_states_parity(pair) -> None:
    model, ref, cfg = pair
    img, _ = _inputs(cfg, b=1)
    got = model.encoder_hidden_states(img)
    with torch.no_grad():
        want = ref.encoder(torch.from_numpy(img)).numpy()
    assert np.abs(got - want).max() < TOL


@pytest.mark.parametrize("t", [1, 2, 3])
def test_predict_parity(pair, t: int) -> None:
    model, ref, cfg = pair
    rng = np.random.default_rng(t)
    emb = rng.standard_normal((2, t, cfg.latent_dim)).astype(np.float32)
    act = rng.standard_normal((2, t, cfg.action_input_dim)).astype(np.float32)
    got = model.predict(emb, act)
    want = ref.predict(torch.from_numpy(emb), torch.from_numpy(act)).numpy()
    assert got.shape == (2, t, cfg.latent_dim)
    assert np.abs(got - want).max() < TOL


def test_rollout_parity_20_steps(pair) -> None:
    model, ref, cfg = pair
    img, act = _inputs(cfg)
    got = model.rollout(img, act)
    want = ref.rollout(torch.from_numpy(img), torch.from_numpy(act)).numpy()
    assert got.shape == (2, 20, cfg.latent_dim)
    assert np.abs(got - want).max() < TOL
    # batch rows are independent
    one = model.rollout(img[1:], act[1:])
    assert np.abs(one[0] - got[1]).max() < TOL


def test_rollout_from_latents_matches_predict(pair) -> None:
    model, _, cfg = pair
    rng = np.random.default_rng(5)
    z0 = rng.standard_normal((1, cfg.latent_dim)).astype(np.float32)
    act = rng.standard_normal((1, 4, cfg.action_input_dim)).astype(np.float32)
    roll = model.rollout(z0, act)
    first = model.predict(z0[:, None], act[:, :1])[:, -1]
    np.testing.assert_allclose(roll[:, 0], first, atol=1e-6)
    second = model.predict(np.stack([z0, roll[:, 0]], axis=1), act[:, :2])[:, -1]
    np.testing.assert_allclose(roll[:, 1], second, atol=1e-6)
    fourth = model.predict(roll[:, :3], act[:, 1:4])[:, -1]
    np.testing.assert_allclose(roll[:, 3], fourth, atol=1e-6)
