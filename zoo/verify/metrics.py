"""Comparison metrics between a variant's golden outputs and its reference (spec §4.2).

Cosine accumulates the dot product and both squared norms in float64 and returns 0 when
``|a|·|b| < 1e-12`` (the convention of the original comparison tools), cast through float32
so numbers match what those tools printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from zoo.errors import InputError

# Rollout rows are 0-based: row 0 is the 1-step prediction (spec §4.2 "indices 0, 9, 19").
METRIC_ROWS: dict[str, tuple[str, int | None]] = {
    "latent": ("outputs.latent", None),
    "predict@1": ("outputs.rollout", 0),
    "rollout@1": ("outputs.rollout", 0),
    "rollout@10": ("outputs.rollout", 9),
    "rollout@20": ("outputs.rollout", 19),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRIC_ROWS)
DIFF_STEPS: tuple[int, ...] = (1, 5, 10, 15, 20)

Array = npt.NDArray[Any]


def cosine(a: Array, b: Array) -> float:
    """Cosine similarity accumulated in f64; 0 when either vector is (numerically) zero."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"cosine: shape mismatch {x.shape} vs {y.shape}")
    denom = float(np.sqrt(np.dot(x, x))) * float(np.sqrt(np.dot(y, y)))
    if denom < 1e-12:
        return 0.0
    return float(np.float32(float(np.dot(x, y)) / denom))


def cosine_matrix(rows: Array, cols: Array) -> Array:
    """cos(rows[i], cols[j]) for two stacks of vectors, f64 accumulation, same zero rule."""
    r = np.asarray(rows, dtype=np.float64)
    c = np.asarray(cols, dtype=np.float64)
    dots = r @ c.T
    denom = np.sqrt(np.einsum("ij,ij->i", r, r))[:, None] * np.sqrt(np.einsum("ij,ij->i", c, c))[None, :]
    safe = np.where(denom < 1e-12, 1.0, denom)
    out = np.where(denom < 1e-12, 0.0, dots / safe)
    return out.astype(np.float32).astype(np.float64)


def max_abs(a: Array, b: Array) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y)))


def norm(a: Array) -> float:
    x = np.asarray(a, dtype=np.float64).ravel()
    return float(np.sqrt(np.dot(x, x)))


def relative_norm_change(a: Array, ref: Array) -> float:
    """|‖a‖ − ‖ref‖| / ‖ref‖ (0 when ref is zero and a is too; inf when only ref is zero)."""
    na, nr = norm(a), norm(ref)
    if nr < 1e-12:
        return 0.0 if na < 1e-12 else float("inf")
    return abs(na - nr) / nr


def _rows(outputs: Mapping[str, Array], source: str) -> tuple[Array, Array]:
    try:
        latent = np.asarray(outputs["outputs.latent"])
        rollout = np.asarray(outputs["outputs.rollout"])
    except KeyError as exc:
        raise InputError(f"{source}: missing tensor {exc.args[0]!r}", hint="rebuild the golden file") from exc
    if latent.ndim != 1 or rollout.ndim != 2 or rollout.shape[1] != latent.shape[0] or rollout.shape[0] < 20:
        raise InputError(
            f"{source}: golden outputs have shapes latent {list(latent.shape)}, rollout {list(rollout.shape)}; "
            "expected [D] and [20, D]",
            hint="rebuild the golden file",
        )
    return latent, rollout


def compare_outputs(
    outputs: Mapping[str, Array],
    reference: Mapping[str, Array],
    *,
    source: str = "golden",
    reference_source: str = "reference golden",
) -> dict[str, Any]:
    """Every verify metric of `outputs` vs `reference` (both golden-output mappings).

    Returns ``{metric: {"cosine", "max_abs"}, ..., "latent_norm_drift": float}`` where
    ``latent_norm_drift`` is the relative change of the encoder latent's norm vs the reference.
    """
    latent, rollout = _rows(outputs, source)
    ref_latent, ref_rollout = _rows(reference, reference_source)
    if latent.shape != ref_latent.shape:
        raise InputError(
            f"{source}: latent dim {latent.shape[0]} differs from the reference's {ref_latent.shape[0]}",
            hint="a variant can only be compared with an f32 root of the same architecture",
        )
    result: dict[str, Any] = {}
    for name, (tensor, row) in METRIC_ROWS.items():
        if tensor == "outputs.latent":
            a, b = latent, ref_latent
        else:
            assert row is not None
            a, b = rollout[row], ref_rollout[row]
        result[name] = {"cosine": cosine(a, b), "max_abs": max_abs(a, b)}
    result["latent_norm_drift"] = relative_norm_change(latent, ref_latent)
    return result


def rollout_drift(outputs: Mapping[str, Array], *, source: str = "golden") -> float:
    """|‖s_20‖ − ‖z‖| / ‖z‖ of one model's own rollout (spec §4.2, lewm_compare_variants)."""
    latent, rollout = _rows(outputs, source)
    return relative_norm_change(rollout[19], latent)


def diff_outputs(a: Mapping[str, Array], b: Mapping[str, Array], *, source_a: str, source_b: str) -> dict[str, Any]:
    """Cross cosine matrix of two variants' golden outputs over latent and rollout steps 1/5/10/15/20."""
    la, ra = _rows(a, source_a)
    lb, rb = _rows(b, source_b)
    if la.shape != lb.shape:
        raise InputError(
            f"{source_a}: latent dim {la.shape[0]} differs from {source_b}: {lb.shape[0]}",
            hint="zoo diff only compares variants with the same latent size",
        )
    labels = ["latent", *(f"step{k}" for k in DIFF_STEPS)]
    stack_a = np.stack([la, *(ra[k - 1] for k in DIFF_STEPS)])
    stack_b = np.stack([lb, *(rb[k - 1] for k in DIFF_STEPS)])
    mat = cosine_matrix(stack_a, stack_b)
    return {
        "labels": labels,
        "matrix": [[round(float(v), 6) for v in row] for row in mat],
        "diagonal": {lab: cosine(x, y) for lab, x, y in zip(labels, stack_a, stack_b, strict=True)},
        "l2": {lab: float(np.linalg.norm(np.asarray(x, np.float64) - np.asarray(y, np.float64)))
               for lab, x, y in zip(labels, stack_a, stack_b, strict=True)},
        "drift": {"a": rollout_drift(a, source=source_a), "b": rollout_drift(b, source=source_b)},
    }
