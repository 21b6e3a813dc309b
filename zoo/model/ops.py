"""Vectorised float32 numpy kernels used by the LeWM engine.

All functions take and return float32 arrays; temporaries are reused in place where that
saves allocations on the 257-token encoder activations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

# Abramowitz & Stegun 7.1.26 rational approximation of erf (max abs error 1.5e-7, below
# float32 resolution of values near 1). numpy has no erf and scipy is not a dependency.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _erfc_poly(t: F32, a: tuple[np.float32, ...]) -> F32:
    """t (a1 + t (a2 + t (a3 + t (a4 + t a5)))), Horner in place on a new array (A&S 7.1.26)."""
    a5, a4, a3, a2, a1 = a
    poly = t * a5
    for coef in (a4, a3, a2, a1):
        poly += coef
        poly *= t
    return poly


def erf(x: F32) -> F32:
    """Elementwise erf of a float32 array (A&S 7.1.26, |error| <= 1.5e-7)."""
    ax = np.minimum(np.abs(x), np.float32(10.0))  # erf(10) == 1 in float32; avoids denormal exp()
    t = ax * _ERF_P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = _erfc_poly(t, _ERF_A)
    np.square(ax, out=ax)
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    poly *= ax
    np.subtract(1.0, poly, out=poly)
    np.copysign(poly, x, out=poly)
    return poly


# GELU as relu(x) - 0.5 |x| erfc(|x|/sqrt 2), with erfc from the same A&S 7.1.26 fit; constants folded.
_GELU_P = np.float32(0.3275911 / np.sqrt(2.0))
_GELU_A = tuple(np.float32(0.5 * a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
# Beyond |x| = 10 the erfc term is < 1e-22: clamping keeps exp() out of the (slow) denormal range.
_GELU_CLAMP = np.float32(10.0)


def gelu(x: F32) -> F32:
    """Exact (erf) GELU 0.5 x (1 + erf(x / sqrt 2)), |error| <= 4e-7 for |x| < 10. Returns a new array."""
    ax = np.abs(x)
    np.minimum(ax, _GELU_CLAMP, out=ax)
    t = ax * _GELU_P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = _erfc_poly(t, _GELU_A)
    e = np.square(ax)
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    poly *= e
    poly *= ax
    out = np.maximum(x, np.float32(0.0))
    out -= poly
    return out


def silu(x: F32) -> F32:
    """x * sigmoid(x), computed as x / (1 + exp(-x)) (no overflow warnings in float32 for |x| < 88)."""
    d = np.negative(x)
    np.clip(d, -80.0, 80.0, out=d)
    np.exp(d, out=d)
    d += 1.0
    return np.divide(x, d, out=d)


def elu_plus_one(x: F32) -> F32:
    """phi(x) = ELU(x) + 1 = x + 1 for x > 0, exp(x) otherwise (the linear-attention feature map)."""
    return np.where(x > 0, x + np.float32(1.0), np.exp(np.minimum(x, np.float32(0.0))))


def layer_norm(x: F32, weight: F32 | None, bias: F32 | None, eps: float) -> F32:
    """LayerNorm over the last axis with biased variance, like torch. Returns a new array."""
    mu = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    xc = x - mu
    var = np.square(xc).mean(axis=-1, keepdims=True, dtype=np.float32)
    var += np.float32(eps)
    np.sqrt(var, out=var)
    xc /= var
    if weight is not None:
        xc *= weight
    if bias is not None:
        xc += bias
    return xc


def softmax_(scores: F32) -> F32:
    """Softmax over the last axis, in place."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    denom = scores.sum(axis=-1, keepdims=True)
    np.reciprocal(denom, out=denom)
    scores *= denom
    return scores
