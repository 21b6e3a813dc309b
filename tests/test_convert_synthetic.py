"""Torch-free synthetic checkpoint writers: layout, determinism, torch.load compatibility, demo sizes."""

from __future__ import annotations

import dataclasses
import struct
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zoo.convert import read_checkpoint
from zoo.convert.convert import check_shapes, detect_config
from zoo.convert.synthetic import (
    object_checkpoint_bytes,
    synthetic_state_dict,
    vit_config_dict,
    write_lightning_checkpoint,
    write_object_checkpoint,
    write_state_dict,
    write_synthetic_checkpoint,
)
from zoo.registry import Architecture

TINY = Architecture(encoder_kind="vit", latent_dim=6, encoder_layers=2, predictor_layers=2, encoder_hidden=8,
                    encoder_heads=2, encoder_inter=32, predictor_hidden=8, predictor_heads=2, predictor_inner_dim=8,
                    predictor_inter=16, projector_hidden=16, action_input_dim=4)
TINY_HYBRID = dataclasses.replace(TINY, encoder_kind="hybrid", latent_dim=8, encoder_layers=4, meta_tokens=4,
                                  block_pattern="ALAL")
DEMO = {
    "slim_96d_4e_4p": Architecture(encoder_kind="vit", latent_dim=96, encoder_layers=4, predictor_layers=4),
    "hybrid_ALAL_64d_4e_4p": Architecture(encoder_kind="hybrid", latent_dim=64, encoder_layers=4, predictor_layers=4,
                                          encoder_hidden=64, encoder_heads=4, encoder_inter=256, predictor_hidden=64,
                                          meta_tokens=4, block_pattern="ALAL"),
    "baseline_192d_6e_6p": Architecture(encoder_kind="vit", latent_dim=192, encoder_layers=6, predictor_layers=6),
}


def test_zip_layout_matches_torch_save(tmp_path: Path) -> None:
    path = write_object_checkpoint(tmp_path / "lewm_tiny_epoch_1_object.ckpt", synthetic_state_dict(TINY, 0))
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        stem = "lewm_tiny_epoch_1_object"
        for member in ("data.pkl", "byteorder", "version", ".format_version", ".storage_alignment",
                       ".data/serialization_id"):
            assert f"{stem}/{member}" in names
        assert zf.read(f"{stem}/byteorder") == b"little" and zf.read(f"{stem}/version") == b"3\n"
        assert zf.read(f"{stem}/data.pkl")[:2] == b"\x80\x02"  # protocol 2
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            if "/data/" in info.filename:
                n, e = struct.unpack_from("<HH", raw, info.header_offset + 26)
                assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename


def test_writers_are_deterministic(tmp_path: Path) -> None:
    sd = synthetic_state_dict(TINY_HYBRID, 4)
    assert object_checkpoint_bytes(sd, stem="x") == object_checkpoint_bytes(synthetic_state_dict(TINY_HYBRID, 4), stem="x")
    a = write_lightning_checkpoint(tmp_path / "a.ckpt", sd).read_bytes()
    b = write_lightning_checkpoint(tmp_path / "b.ckpt", sd).read_bytes()
    assert len(a) == len(b)


def test_roundtrip_through_our_reader(tmp_path: Path) -> None:
    sd = synthetic_state_dict(TINY_HYBRID, 9)
    for writer, kind in ((write_object_checkpoint, "object"), (write_lightning_checkpoint, "lightning"),
                         (write_state_dict, "state_dict")):
        ckpt = read_checkpoint(writer(tmp_path / f"{kind}.ckpt", sd))
        assert ckpt.kind == kind
        assert {k for k in ckpt.tensors if not k.startswith("sigreg.")} == set(sd)
        for k, v in sd.items():
            assert ckpt.tensors[k].dtype == v.dtype and np.array_equal(ckpt.tensors[k], v), k


def _register_stand_ins(class_names: list[str]) -> None:
    """Make every class the checkpoint names importable as a bare nn.Module (or plain object for configs)."""
    import torch

    for qual in class_names:
        module, name = qual.rsplit(".", 1)
        try:
            mod = __import__(module, fromlist=[name])
            if hasattr(mod, name):
                continue
        except ImportError:
            pass
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
        base: type = object if name.endswith("Config") else torch.nn.Module
        setattr(sys.modules[module], name, type(name, (base,), {"__module__": module}))


@pytest.fixture
def _isolated_modules() -> Iterator[None]:
    """Stand-in modules registered by a test are removed afterwards (other tests install their own)."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("jepa", "module", "hybrid_lewm_upstream", "stable_pretraining", "stable_worldmodel"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("arch", [TINY, TINY_HYBRID], ids=["vit", "hybrid"])
@pytest.mark.usefixtures("_isolated_modules")
def test_torch_load_reads_synthetic_checkpoints_identically(tmp_path: Path, arch: Architecture) -> None:
    torch = pytest.importorskip("torch")
    sd = synthetic_state_dict(arch, 1)
    obj_path = write_object_checkpoint(tmp_path / "m_object.ckpt", sd, config=vit_config_dict(arch))
    _register_stand_ins(read_checkpoint(obj_path).stubbed_classes)
    model = torch.load(obj_path, weights_only=False)
    assert type(model).__module__ == "jepa" and type(model).__name__ == "JEPA"
    ref = model.state_dict()
    assert set(ref) == set(sd)
    for k, v in sd.items():
        assert np.array_equal(ref[k].numpy(), v), k
    light = torch.load(write_lightning_checkpoint(tmp_path / "m_weights.ckpt", sd), weights_only=True)
    assert all(np.array_equal(light["state_dict"][f"model.{k}"].numpy(), v) for k, v in sd.items())
    plain = torch.load(write_state_dict(tmp_path / "weights.pt", sd), weights_only=True)
    assert all(np.array_equal(plain[k].numpy(), v) for k, v in sd.items())


@pytest.mark.parametrize("name", sorted(DEMO))
def test_demo_variants_have_real_sizes(name: str) -> None:
    arch = DEMO[name]
    sd = synthetic_state_dict(arch, 0)
    shapes = {}
    for k, v in sd.items():
        assert np.isfinite(v).all(), k
        shapes[k] = v.shape
    # raw names go through the converter's mapping, then must fit spec §1.2 shapes exactly
    from zoo.convert.tensor_map import fold_encoder_proj_bn, map_names

    mapped = map_names(sd, split_rows=lambda v, a, b: v[a:b], where=name)
    tensors = dict(mapped.tensors)
    fold_encoder_proj_bn(tensors, where=name)
    cfg, _ = detect_config({k: tuple(v.shape) for k, v in tensors.items()}, hybrid=mapped.hybrid, where=name)
    check_shapes({k: tuple(v.shape) for k, v in tensors.items()}, cfg, where=name)
    assert cfg.latent_dim == arch.latent_dim and cfg.encoder_layers == arch.encoder_layers
    params = sum(v.size for k, v in tensors.items() if "running" not in k)
    if name == "baseline_192d_6e_6p":
        assert 15.2e6 < params < 15.5e6  # spec: ~15.4 M parameters
    if name == "hybrid_ALAL_64d_4e_4p":
        assert cfg.block_pattern == "ALAL" and cfg.meta_tokens == 4


def test_write_synthetic_checkpoint_kinds(tmp_path: Path) -> None:
    for kind in ("object", "lightning", "state_dict"):
        ckpt = read_checkpoint(write_synthetic_checkpoint(tmp_path / f"{kind}.ckpt", TINY, 3, kind=kind))
        assert ckpt.kind == kind
    with pytest.raises(ValueError, match="unknown checkpoint kind"):
        write_synthetic_checkpoint(tmp_path / "x.ckpt", TINY, kind="tar")
