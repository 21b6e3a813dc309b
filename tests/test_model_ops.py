"""Kernel accuracy: erf/GELU against math.erf, SiLU, ELU+1, LayerNorm, softmax (float32)."""

from __future__ import annotations

import math

import numpy as np

from zoo.model.ops import elu_plus_one, erf, gelu, layer_norm, silu, softmax_


def test_erf_and_gelu_accuracy() -> None:
    x = np.linspace(-30, 30, 60001, dtype=np.float32)
    x64 = x.astype(np.float64)
    ref_erf = np.array([math.erf(v) for v in x64])
    ref_gelu = 0.5 * x64 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x64]))
    assert np.abs(erf(x) - ref_erf).max() < 5e-7
    assert np.abs(gelu(x) - ref_gelu).max() < 5e-7
    assert gelu(x).dtype == np.float32


def test_silu_elu_layernorm_softmax() -> None:
    x = np.linspace(-100, 100, 2001, dtype=np.float32)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(silu(x), x64 / (1 + np.exp(-x64)), atol=1e-6)
    np.testing.assert_allclose(elu_plus_one(x), np.where(x64 > 0, x64 + 1, np.exp(np.minimum(x64, 0))), rtol=1e-6, atol=1e-30)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 7, 33)).astype(np.float32)
    w, b = rng.standard_normal(33).astype(np.float32), rng.standard_normal(33).astype(np.float32)
    a64 = a.astype(np.float64)
    ref = (a64 - a64.mean(-1, keepdims=True)) / np.sqrt(a64.var(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(layer_norm(a, w, b, 1e-5), ref, atol=2e-5)
    s = softmax_(a.copy())
    e = np.exp(a64 - a64.max(-1, keepdims=True))
    np.testing.assert_allclose(s, e / e.sum(-1, keepdims=True), atol=1e-6)
