"""Validation of an engine weight mapping against the canonical table of `zoo.formats.tensors`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.tensors import ENC, IGNORED_PREFIXES, PRED, expected_shapes, has_bottleneck

__all__ = ["ENC", "IGNORED_PREFIXES", "PRED", "expected_shapes", "has_bottleneck", "validate_weights"]

def _check_config(config: LeWMConfig, source: str) -> None:
    if config.image_size % config.patch_size:
        raise InputError(f"{source}: image_size {config.image_size} is not a multiple of patch_size {config.patch_size}")
    if config.encoder_hidden % config.encoder_heads:
        raise InputError(
            f"{source}: encoder_hidden {config.encoder_hidden} is not divisible by encoder_heads {config.encoder_heads}"
        )
    if config.predictor_inner_dim % config.predictor_heads:
        raise InputError(
            f"{source}: predictor_inner_dim {config.predictor_inner_dim} is not divisible by "
            f"predictor_heads {config.predictor_heads}"
        )
    if config.encoder_type == "hybrid" and config.block_pattern.strip("AL"):
        raise InputError(f"{source}: block_pattern {config.block_pattern!r} may only contain 'A' and 'L'")


def validate_weights(
    config: LeWMConfig, weights: Mapping[str, np.ndarray], *, source: str = "weights"
) -> dict[str, NDArray[np.float32]]:
    """Check names, shapes and dtypes against the config; return contiguous float32 copies.

    Unknown extra keys are tolerated (converted files carry SIGReg buffers, router weights,
    the unused hybrid `encoder.proj`), except keys in the encoder/predictor namespaces that
    the config does not expect (they mean config and weights disagree, e.g. a layer count).
    """
    _check_config(config, source)
    shapes = expected_shapes(config)
    out: dict[str, NDArray[np.float32]] = {}
    for name, shape in shapes.items():
        if name not in weights:
            raise InputError(
                f"{source}: tensor '{name}' is missing (expected shape {list(shape)})",
                hint="the config.json does not match the weights, or the file was not converted by `zoo convert`",
            )
        arr = np.asarray(weights[name])
        if tuple(arr.shape) != shape:
            raise InputError(
                f"{source}: tensor '{name}' has shape {list(arr.shape)}, config implies {list(shape)}",
                hint="the config.json does not match the weights",
            )
        if arr.dtype.kind != "f" and "float" not in arr.dtype.name:
            raise InputError(f"{source}: tensor '{name}' has dtype {arr.dtype}, expected a float type")
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
    for name in weights:
        if name in shapes or name.startswith(IGNORED_PREFIXES):
            continue
        if name.startswith((ENC + ".", PRED + ".")) or name in ("encoder.meta_token",):
            raise InputError(
                f"{source}: tensor '{name}' is not expected by the config",
                hint="the config.json does not match the weights (layer count, block pattern or bottleneck)",
            )
    return out
