"""WANDA pruning of the predictor matrices (spec §3.6), before Q4 quantization.

Importance of weight ``W[r, j]`` is ``|W[r, j]| * ||X_j||_2`` where ``X_j`` is input feature ``j``
over calibration tokens. Per output row the ``floor(cols * sparsity)`` least important weights
are zeroed; the sort is stable ascending, so ties go to the lower column index.

Two flavours: ``magnitude`` (all-ones norms: what the original wanda20/40 files are) and
``calibrated`` (norms measured by running the numpy engine on calibration inputs, see
``zoo.quant.calibrate``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from zoo.formats.lewm_config import LeWMConfig
from zoo.quant.base import F32

FLAVOURS = ("magnitude", "calibrated")
WANDA_MODES = {"wanda20-q4": 0.2, "wanda40-q4": 0.4}

# the five Q4 matrices of every predictor layer, in LQ40 file order
PREDICTOR_MATRIX_SUFFIXES = (
    "adaLN_modulation.1.weight",
    "attn.to_qkv.weight",
    "attn.to_out.0.weight",
    "mlp.net.1.weight",
    "mlp.net.4.weight",
)


def predictor_matrix_names(config: LeWMConfig) -> list[str]:
    return [
        f"predictor.transformer.layers.{layer}.{suffix}"
        for layer in range(config.predictor_layers)
        for suffix in PREDICTOR_MATRIX_SUFFIXES
    ]


def wanda_prune(weight: npt.ArrayLike, sparsity: float, norms: npt.ArrayLike | None = None) -> F32:
    """Return a copy of ``weight`` [out, in] with ``floor(in * sparsity)`` entries per row zeroed."""
    w = np.array(weight, dtype=np.float32, copy=True)
    if w.ndim != 2:
        raise ValueError(f"wanda: expected a 2-D matrix, got shape {w.shape}")
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"wanda: sparsity must be in [0, 1), got {sparsity}")
    cols = w.shape[1]
    k = int(np.floor(cols * sparsity))
    if k == 0:
        return w
    if norms is None:
        metric = np.abs(w)
    else:
        n = np.asarray(norms, dtype=np.float32).reshape(-1)
        if n.shape[0] != cols:
            raise ValueError(f"wanda: {n.shape[0]} activation norms for a matrix with {cols} columns")
        metric = np.abs(w) * n[None, :]
    drop = np.argsort(metric, axis=1, kind="stable")[:, :k]
    np.put_along_axis(w, drop, np.float32(0), axis=1)
    return w


def prune_predictor(
    weights: Mapping[str, np.ndarray],
    config: LeWMConfig,
    sparsity: float,
    norms: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Pruned copies of the 5·Lp predictor matrices (other tensors are not returned)."""
    out: dict[str, np.ndarray] = {}
    for name in predictor_matrix_names(config):
        col_norms = None if norms is None else norms.get(name)
        if norms is not None and col_norms is None:
            raise ValueError(f"wanda: calibrated norms are missing for {name}")
        out[name] = wanda_prune(weights[name], sparsity, col_norms)
    return out
