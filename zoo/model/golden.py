"""Golden inputs and outputs of a variant (spec §4.1), stored as one deterministic safetensors file.

Tensor names are fixed (docs/CONVENTIONS.md): ``inputs.image`` [3,224,224] (the gradient test image,
ImageNet-normalised, CHW), ``inputs.actions`` [20, A] (sin/cos sequence padded with zeros),
``outputs.latent`` [D] (encode of the image) and ``outputs.rollout`` [20, D] (the history-3
rollout from the image's latent; row 0 is the 1-step prediction). Metadata: ``semantics``,
``engine_version``, ``input_recipe`` plus the caller's keys (``variant``, ``weights_sha256``).

The file is serialised here (sorted header JSON, no timestamps), so two runs on the same
weights give byte-identical files.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zoo._io import atomic_write_bytes, sha256_file
from zoo.errors import InputError, UsageError
from zoo.formats.lewm_config import LeWMConfig
from zoo.model import ENGINE_VERSION, SEMANTICS
from zoo.model.engine import CONFIG_FILE, WEIGHTS_FILE, LeWM, read_safetensors
from zoo.model.preprocess import IMAGENET_MEAN, IMAGENET_STD

F32 = NDArray[np.float32]

GOLDEN_FILE = "golden.safetensors"
GOLDEN_STEPS = 20
INPUT_RECIPE = (
    "image: gradient R=y/S G=x/S B=0.5+0.5*sin((x+y)/(2S)), S=224, ImageNet mean/std, CHW f32; "
    "actions: 20 steps a[i,0]=0.5*sin(pi*i/20) a[i,1]=0.3*cos(pi*i/20), other dims 0; "
    "rollout: history 3 from encode(image), frame k paired with action k (spec 4.1)"
)
TENSOR_NAMES = ("inputs.actions", "inputs.image", "outputs.latent", "outputs.rollout")
_FIXED_META = ("semantics", "engine_version", "input_recipe")

__all__ = [
    "ENGINE_VERSION",
    "GOLDEN_FILE",
    "INPUT_RECIPE",
    "SEMANTICS",
    "deterministic_vec",
    "golden_actions",
    "golden_for_variant",
    "golden_from_weights",
    "golden_inputs",
    "gradient_image",
    "make_golden",
    "read_golden",
    "write_golden",
]


def gradient_image(size: int = 224) -> F32:
    """The synapse gradient test image, ImageNet-normalised, CHW [3, size, size] float32."""
    y, x = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    raw = np.stack([y / size, x / size, 0.5 + 0.5 * np.sin((x + y) / (2.0 * size))])
    mean = np.asarray(IMAGENET_MEAN)[:, None, None]
    std = np.asarray(IMAGENET_STD)[:, None, None]
    return np.ascontiguousarray((raw - mean) / std, dtype=np.float32)


def golden_actions(action_dim: int, steps: int = GOLDEN_STEPS) -> F32:
    """[steps, action_dim]: a[i,0] = 0.5 sin(pi i/20), a[i,1] = 0.3 cos(pi i/20), zeros elsewhere."""
    if action_dim < 2:
        raise InputError(f"action_input_dim {action_dim} < 2: the golden action recipe needs two dimensions")
    i = np.arange(steps, dtype=np.float64)
    out = np.zeros((steps, action_dim), dtype=np.float64)
    out[:, 0] = 0.5 * np.sin(math.pi * i / 20.0)
    out[:, 1] = 0.3 * np.cos(math.pi * i / 20.0)
    return out.astype(np.float32)


def deterministic_vec(length: int, seed: int) -> F32:
    """synapse/ESP32 `fill_deterministic_vector`: u32 wrapping ``seed*1664525 + i*1013904223``, then
    ``((mixed mod 2001) - 1000) / 1000`` (values in [-1, 1])."""
    idx = np.arange(length, dtype=np.uint64)
    mixed = (np.uint64(seed % 2**32) * np.uint64(1664525) + idx * np.uint64(1013904223)) & np.uint64(0xFFFFFFFF)
    return (((mixed % np.uint64(2001)).astype(np.int64) - 1000) / 1000.0).astype(np.float32)


def golden_inputs(config: LeWMConfig) -> tuple[F32, F32]:
    """(image [3,S,S], actions [20, A]) for a config."""
    return gradient_image(config.image_size), golden_actions(config.action_input_dim)


def make_golden(model: LeWM, config: LeWMConfig | None = None) -> dict[str, F32]:
    """Run the golden inputs through `model`: the four fixed tensors (see the module docstring)."""
    cfg = config or model.config
    image, actions = golden_inputs(cfg)
    latent = model.encode(image[None])
    rollout = model.rollout(latent, actions[None])
    out = {
        "inputs.image": image,
        "inputs.actions": actions,
        "outputs.latent": latent[0],
        "outputs.rollout": rollout[0],
    }
    for name in ("outputs.latent", "outputs.rollout"):
        if not np.all(np.isfinite(out[name])):
            raise InputError(f"golden: {name} has non-finite values", hint="the weights are broken (NaN/inf)")
    return out


def _serialize(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """safetensors bytes with a sorted, compact header (deterministic; readable by `safetensors`)."""
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def golden_metadata(metadata: Mapping[str, Any] | None = None) -> dict[str, str]:
    meta = {k: str(v) for k, v in (metadata or {}).items() if k not in _FIXED_META}
    meta.update(semantics=SEMANTICS, engine_version=ENGINE_VERSION, input_recipe=INPUT_RECIPE)
    return meta


def write_golden(
    path: str | Path, model: LeWM, config: LeWMConfig | None = None, metadata: Mapping[str, Any] | None = None
) -> dict[str, F32]:
    """Compute the golden tensors and write them atomically to `path`; returns the tensors."""
    tensors = make_golden(model, config)
    atomic_write_bytes(path, _serialize(tensors, golden_metadata(metadata)))
    return tensors


def golden_from_weights(
    config: LeWMConfig,
    weights: Mapping[str, np.ndarray],
    out_path: str | Path,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, F32]:
    """Golden file for any canonical weight mapping (f32, or dequantized LQ40/ternary)."""
    model = LeWM.from_weights(config, weights, source=str(metadata.get("variant", "weights")) if metadata else "weights")
    return write_golden(out_path, model, config, metadata)


def read_golden(path: str | Path) -> tuple[dict[str, F32], dict[str, str]]:
    """(tensors, metadata) of a golden file; checks the fixed names are present."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found", hint="run `zoo golden` first")
    try:
        from safetensors import safe_open

        with safe_open(str(p), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: np.asarray(fh.get_tensor(k), dtype=np.float32) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several error types for a damaged header
        raise InputError(f"{p}: not a readable golden safetensors file ({exc})", hint="delete it and rebuild") from None
    missing = [n for n in TENSOR_NAMES if n not in tensors]
    if missing:
        raise InputError(f"{p}: golden tensor '{missing[0]}' is missing", hint="rebuild it with `zoo golden`")
    return tensors, meta


def golden_for_directory(directory: str | Path, out_path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """`zoo golden DIR -o FILE`: golden of a converted directory (config.json + lejepa_weights.safetensors)."""
    d = Path(directory)
    config = LeWMConfig.from_file(d / CONFIG_FILE)
    wpath = d / WEIGHTS_FILE
    weights = read_safetensors(wpath)
    meta = {"variant": d.name, "weights_sha256": sha256_file(wpath), **(metadata or {})}
    model = LeWM.from_weights(config, weights, source=str(wpath))
    write_golden(out_path, model, config, meta)
    return Path(out_path)


def golden_for_variant(workspace: Any, registry: Any, record: Any) -> Path:
    """Write `variants/<name>/golden.safetensors` of an f32 variant and record it in the manifest."""
    from zoo.store.manifest import update_manifest

    if record.format.kind != "safetensors-f32":
        raise UsageError(
            f"{record.name}: golden_for_variant handles safetensors-f32 variants, this one is {record.format.kind}",
            hint="derived variants get their golden file from `zoo verify`",
        )
    vdir = Path(workspace.variant_dir(record.name))
    wpath = vdir / WEIGHTS_FILE
    if not wpath.is_file():
        raise InputError(f"{wpath}: file not found", hint=f"run `zoo convert {record.name}` first")
    digest = sha256_file(wpath)
    out = vdir / GOLDEN_FILE
    golden_for_directory(vdir, out, {"variant": record.name, "weights_sha256": digest})
    with update_manifest(vdir) as manifest:
        manifest.record_artifact(
            GOLDEN_FILE,
            kind="golden",
            produced_by=f"zoo golden (engine {ENGINE_VERSION})",
            inputs={f"{record.name}/{WEIGHTS_FILE}": digest},
        )
    return out
