"""Torch-free checkpoint conversion: restricted unpickler -> canonical safetensors + config.json."""

from zoo.convert.convert import (
    CONFIG_FILE,
    CONVERTER_VERSION,
    SAFETENSORS_FILE,
    ConversionResult,
    convert_checkpoint,
    convert_variant,
)
from zoo.convert.extract import Checkpoint, read_checkpoint

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
