"""NumPy LeWM engine (trained-model semantics, spec §1.9): encode, predict, rollout, golden outputs."""

from zoo.model.engine import CONFIG_FILE, WEIGHTS_FILE, LeWM, load_converted, read_safetensors
from zoo.model.weights import expected_shapes, validate_weights

ENGINE_VERSION = "0.1.0"
SEMANTICS = "upstream-lewm"

__all__ = [
    "CONFIG_FILE",
    "ENGINE_VERSION",
    "SEMANTICS",
    "WEIGHTS_FILE",
    "LeWM",
    "expected_shapes",
    "load_converted",
    "read_safetensors",
    "validate_weights",
]
