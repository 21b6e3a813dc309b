"""`config.json` of a converted LeWM variant (spec §1.3), as one frozen dataclass.

The field names and meanings of spec §1.3 are kept so synapse-style readers still work;
the zoo adds a few fields that shapes alone cannot tell (block pattern, projector width,
action input dim, which semantics the weights follow).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.errors import InputError


@dataclasses.dataclass(frozen=True)
class LeWMConfig:
    encoder_type: str = "vit"  # "vit" | "hybrid"
    encoder_hidden: int = 192  # He
    encoder_layers: int = 6  # Le
    encoder_heads: int = 3
    encoder_inter: int = 768  # Ie
    meta_tokens: int = 0  # M (hybrid: 4)
    block_pattern: str = ""  # hybrid only: one letter per encoder layer, "A" softmax / "L" linear attention
    predictor_hidden: int = 192  # Hp
    predictor_layers: int = 6  # Lp
    predictor_inner_dim: int = 1024
    predictor_heads: int = 16
    predictor_inter: int = 2048  # Ip
    latent_dim: int = 192  # D
    action_dim: int = 10  # spec §1.3: Conv1d output channels (smoothed dim)
    action_input_dim: int = 10  # A: Conv1d input channels (frameskip x raw action dim)
    projector_hidden: int = 2048  # J
    history_size: int = 3
    has_input_proj: bool = False
    has_cond_proj: bool = False
    image_size: int = 224
    patch_size: int = 14
    channels: int = 3

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def encoder_seq_len(self) -> int:
        return 1 + self.meta_tokens + self.num_patches

    def layer_kinds(self) -> list[str]:
        """Per encoder layer 'A' (softmax) or 'L' (linear attention); all 'A' for ViT."""
        if self.encoder_type != "hybrid" or not self.block_pattern:
            return ["A"] * self.encoder_layers
        pat = self.block_pattern
        return [pat[i % len(pat)] for i in range(self.encoder_layers)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Deterministic text: sorted keys, indent 2, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config.json") -> LeWMConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue  # tolerate extra keys written by other converters
            expected = known[key].type
            if expected in ("int", int) and (not isinstance(value, int) or isinstance(value, bool)):
                raise InputError(f"{source}: field '{key}' must be an integer, got {value!r}")
            if expected in ("bool", bool) and not isinstance(value, bool):
                raise InputError(f"{source}: field '{key}' must be true/false, got {value!r}")
            if expected in ("str", str) and not isinstance(value, str):
                raise InputError(f"{source}: field '{key}' must be a string, got {value!r}")
            kwargs[key] = value
        cfg = cls(**kwargs)
        if cfg.encoder_type not in ("vit", "hybrid"):
            raise InputError(f"{source}: field 'encoder_type' must be 'vit' or 'hybrid', got {cfg.encoder_type!r}")
        _check_dims(cfg, source)
        return cfg

    @classmethod
    def from_file(cls, path: str | Path) -> LeWMConfig:
        p = Path(path)
        from zoo._io import read_json_file

        try:
            data = read_json_file(p)  # bounded size and depth; one-line InputError otherwise
        except FileNotFoundError as exc:
            raise InputError(f"{p}: file not found", hint="run `zoo convert` first") from exc
        except OSError as exc:
            raise InputError(f"{p}: cannot read ({exc.strerror})") from None
        if not isinstance(data, dict):
            raise InputError(f"{p}: top level must be a JSON object")
        return cls.from_dict(data, source=str(p))


MAX_CONFIG_DIM = 1 << 20  # widths, counts and sizes; real LeWM configs stay below 1 << 12


def _check_dims(cfg: LeWMConfig, source: str) -> None:
    """Sizes the engine divides by or allocates from: positive, bounded, heads dividing their width (issue 15:
    zero heads raised ZeroDivisionError in `zoo golden|bench|quantize DIR`)."""
    hint = "fix config.json (or re-run `zoo convert`)"
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        low = 0 if f.name == "meta_tokens" else 1
        if not low <= value <= MAX_CONFIG_DIM:
            raise InputError(f"{source}: field '{f.name}' must be between {low} and {MAX_CONFIG_DIM}, got {value}",
                             hint=hint)
    for width, heads in (("encoder_hidden", "encoder_heads"), ("predictor_inner_dim", "predictor_heads")):
        if getattr(cfg, width) % getattr(cfg, heads):
            raise InputError(f"{source}: field '{heads}' ({getattr(cfg, heads)}) does not divide "
                             f"'{width}' ({getattr(cfg, width)})", hint=hint)
    if cfg.patch_size > cfg.image_size:
        raise InputError(f"{source}: field 'patch_size' ({cfg.patch_size}) is larger than 'image_size' "
                         f"({cfg.image_size})", hint=hint)
    if cfg.encoder_type == "hybrid" and set(cfg.block_pattern) - {"A", "L"}:
        raise InputError(f"{source}: field 'block_pattern' {cfg.block_pattern[:40]!r} may only hold 'A' and 'L'",
                         hint=hint)
