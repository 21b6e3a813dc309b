"""Activation norms for calibrated WANDA: ``||X_j||_2`` of every predictor Linear's input column.

Collection is split in two so each part can be tested alone:

- ``NormAccumulator``: sums squares per input column over any number of batches/tokens;
- ``capture_predictor_inputs``: runs a callable on a ``zoo.model.LeWM`` while the predictor's
  weight matrices are replaced by taps that record their left operand (``x @ w``). It relies on
  the engine keeping each predictor Linear as an ``[in, out]`` array used as ``x @ w`` (attributes
  ``_w_ada`` (all layers' adaLN fused), ``_pred_layers[i].{w_qkv, w_out, w_up, w_down}``); if the
  engine changes shape, a clear error says so instead of silently collecting nothing.

``calibration_norms`` ties them together with deterministic calibration inputs (the golden
gradient image plus seeded perturbations, golden actions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from zoo.formats.lewm_config import LeWMConfig
from zoo.quant.wanda import PREDICTOR_MATRIX_SUFFIXES

_PRED = "predictor.transformer.layers"


class NormAccumulator:
    """Per-name running sum of squares per input column (float64)."""

    def __init__(self) -> None:
        self._sumsq: dict[str, np.ndarray] = {}
        self.rows: dict[str, int] = {}

    def add(self, name: str, x: np.ndarray) -> None:
        a = np.asarray(x, dtype=np.float64)
        a = a.reshape(-1, a.shape[-1])
        sq = np.einsum("ij,ij->j", a, a)
        if name in self._sumsq:
            self._sumsq[name] += sq
        else:
            self._sumsq[name] = sq
        self.rows[name] = self.rows.get(name, 0) + a.shape[0]

    def norms(self) -> dict[str, np.ndarray]:
        return {k: np.sqrt(v).astype(np.float32) for k, v in sorted(self._sumsq.items())}


class _Tap:
    """Stands in for a weight matrix in ``x @ w``; records ``x`` and returns the real product."""

    __array_ufunc__ = None  # makes ndarray.__matmul__ defer to __rmatmul__

    def __init__(self, weight: np.ndarray, names: list[str], acc: NormAccumulator) -> None:
        self.weight = weight
        self.names = names
        self.acc = acc
        self.shape = weight.shape
        self.dtype = weight.dtype

    def __rmatmul__(self, x: np.ndarray) -> np.ndarray:
        for name in self.names:
            self.acc.add(name, x)
        return np.asarray(x) @ self.weight


def capture_predictor_inputs(model: Any, run: Callable[[Any], object]) -> dict[str, np.ndarray]:
    """Run ``run(model)`` and return the column norms of every predictor matrix's input."""
    from zoo.errors import UsageError

    layers = getattr(model, "_pred_layers", None)
    if layers is None or not hasattr(model, "_w_ada"):
        raise UsageError("calibrated WANDA: this zoo.model engine has no predictor taps", hint="use --wanda magnitude")
    acc = NormAccumulator()
    saved: list[tuple[Any, str, Any]] = []
    ada_names = [f"{_PRED}.{i}.{PREDICTOR_MATRIX_SUFFIXES[0]}" for i in range(len(layers))]
    try:
        saved.append((model, "_w_ada", model._w_ada))
        model._w_ada = _Tap(model._w_ada, ada_names, acc)
        for i, layer in enumerate(layers):
            for attr, suffix in zip(("w_qkv", "w_out", "w_up", "w_down"), PREDICTOR_MATRIX_SUFFIXES[1:], strict=True):
                saved.append((layer, attr, getattr(layer, attr)))
                setattr(layer, attr, _Tap(getattr(layer, attr), [f"{_PRED}.{i}.{suffix}"], acc))
        run(model)
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
    norms = acc.norms()
    missing = [n for i in range(len(layers)) for n in (f"{_PRED}.{i}.{s}" for s in PREDICTOR_MATRIX_SUFFIXES) if n not in norms]
    if missing:
        raise UsageError(f"calibrated WANDA: no activations reached {missing[0]}", hint="use --wanda magnitude")
    return norms


def calibration_inputs(config: LeWMConfig, n_images: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic calibration batch: the golden image plus seeded noisy copies, golden actions."""
    from zoo.model.golden import golden_inputs

    image, actions = golden_inputs(config)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 0.5, (n_images - 1, *image.shape)).astype(np.float32)
    images = np.concatenate([image[None], image[None] + noise]).astype(np.float32)
    acts = np.repeat(actions[None], n_images, axis=0)
    acts[1:] += rng.normal(0.0, 0.2, acts[1:].shape).astype(np.float32)
    return images, acts


def calibration_norms(
    config: LeWMConfig, weights: Mapping[str, np.ndarray], *, n_images: int = 4, steps: int = 8
) -> dict[str, np.ndarray]:
    """Norms for ``write_lq40(..., wanda=...)``: run a rollout of the f32 model on calibration inputs."""
    from zoo.model import LeWM

    images, actions = calibration_inputs(config, n_images)
    model = LeWM.from_weights(config, dict(weights))
    return capture_predictor_inputs(model, lambda m: m.rollout(images, actions[:, :steps]))
