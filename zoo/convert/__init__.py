"""Torch-free checkpoint conversion: restricted unpickler -> canonical safetensors + config.json.

The names below are imported on first access (PEP 562), so that light submodules such as
`zoo.convert.hashing` can be imported without loading the converter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo.convert.convert import (
        CONFIG_FILE,
        CONVERTER_VERSION,
        SAFETENSORS_FILE,
        ConversionResult,
        convert_checkpoint,
        convert_variant,
    )
    from zoo.convert.extract import Checkpoint, read_checkpoint

_WHERE = {
    "CONFIG_FILE": "zoo.convert.convert",
    "CONVERTER_VERSION": "zoo.convert.convert",
    "SAFETENSORS_FILE": "zoo.convert.convert",
    "ConversionResult": "zoo.convert.convert",
    "convert_checkpoint": "zoo.convert.convert",
    "convert_variant": "zoo.convert.convert",
    "Checkpoint": "zoo.convert.extract",
    "read_checkpoint": "zoo.convert.extract",
}

__all__ = [
    "CONFIG_FILE",
    "CONVERTER_VERSION",
    "SAFETENSORS_FILE",
    "Checkpoint",
    "ConversionResult",
    "convert_checkpoint",
    "convert_variant",
    "read_checkpoint",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo.convert' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
