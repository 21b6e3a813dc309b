"""Newer torch serialization: `_rebuild_tensor_v3` tensors (uint16/32/64, float8_*) read bit for bit, and
dtypes numpy cannot hold (complex32, ...) refused with a clear "unsupported dtype" error, not "corrupt"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zoo.convert import convert_checkpoint, read_checkpoint
from zoo.convert.synthetic import synthetic_state_dict
from zoo.errors import CheckpointError
from zoo.registry import Architecture, architecture_to_config

torch = pytest.importorskip("torch")

V3_DTYPES = ["uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
             "float8_e8m0fnu"]

TINY_VIT_ARCH = Architecture(encoder_kind="vit", latent_dim=6, encoder_layers=2, predictor_layers=2, encoder_hidden=8,
                             encoder_heads=2, encoder_inter=32, predictor_hidden=8, predictor_heads=2,
                             predictor_inner_dim=8, predictor_inter=16, projector_hidden=16, action_input_dim=4)


def _all_bit_patterns(dtype: Any) -> Any:
    """Every bit pattern of a 1-byte dtype, or a spread of patterns (incl. the extremes) for wider ones."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    if itemsize == 1:
        raw = torch.arange(256, dtype=torch.int16).to(torch.uint8)
    else:
        gen = np.random.default_rng(itemsize)
        raw = torch.from_numpy(gen.integers(0, 256, size=itemsize * 64, dtype=np.uint8))
        raw[:itemsize] = 0
        raw[itemsize : 2 * itemsize] = 255
    return raw.view(dtype)


def _same_bits(ours: np.ndarray, ref: Any) -> None:
    assert tuple(ours.shape) == tuple(ref.shape)
    ref_bytes = ref.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    assert np.ascontiguousarray(ours).tobytes() == ref_bytes


def _v3_used(path: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return any(b"_rebuild_tensor_v3" in zf.read(n) for n in zf.namelist() if n.endswith("data.pkl"))


@pytest.mark.parametrize("name", V3_DTYPES)
def test_v3_dtype_reads_bit_for_bit(tmp_path: Path, name: str) -> None:
    dtype = getattr(torch, name)
    flat = _all_bit_patterns(dtype)
    sd = {
        "flat": flat,
        "matrix": flat[: (flat.numel() // 8) * 8].reshape(8, -1),
        "transposed": flat[:48].reshape(6, 8).t(),  # a strided view of the same storage
        "offset_view": flat[5:13],
        "scalar": flat[3].clone(),
        "empty": flat[:0].clone(),
        "param": torch.nn.Parameter(flat[:16].clone(), requires_grad=False),
    }
    path = tmp_path / f"{name}.pt"
    torch.save(sd, path)
    assert _v3_used(path)
    ref = torch.load(path, weights_only=True)
    ckpt = read_checkpoint(path)
    assert set(ckpt.entries) == set(ref)
    for key, t in ref.items():
        ours = ckpt.entries[key].array
        _same_bits(ours, t)
        assert ckpt.entries[key].dtype.itemsize == t.element_size(), key
    assert ckpt.entries["param"].is_parameter
    assert not any(s.startswith("torch.") and s.split(".")[1] == name for s in ckpt.stubbed_classes)
    # the views share one storage, as in torch
    assert ckpt.entries["flat"].storage is ckpt.entries["offset_view"].storage


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                                  "float8_e8m0fnu"])
def test_float8_values_widen_like_torch(tmp_path: Path, name: str) -> None:
    t = _all_bit_patterns(getattr(torch, name))
    torch.save({"w": t}, tmp_path / "f8.pt")
    ours = read_checkpoint(tmp_path / "f8.pt").entries["w"].array.astype(np.float32)
    np.testing.assert_array_equal(ours, t.float().numpy())  # NaNs compare equal here; same positions required


def test_uint_values_match_torch(tmp_path: Path) -> None:
    sd = {n: torch.tensor([0, 1, 2**bits - 1, 2**(bits - 1)], dtype=getattr(torch, n)) if bits < 64
          else torch.tensor([0, 1, 2**63 - 1], dtype=torch.uint64)
          for n, bits in (("uint16", 16), ("uint32", 32), ("uint64", 64))}
    torch.save(sd, tmp_path / "u.pt")
    entries = read_checkpoint(tmp_path / "u.pt").entries
    assert [entries[k].array.dtype.str for k in ("uint16", "uint32", "uint64")] == ["<u2", "<u4", "<u8"]
    for k, t in sd.items():
        assert entries[k].array.tolist() == [int(x) for x in t.tolist()], k


def test_mixed_checkpoint_keeps_legacy_path(tmp_path: Path) -> None:
    sd = {"f32": torch.arange(6, dtype=torch.float32).reshape(2, 3), "u16": torch.arange(4).to(torch.uint16),
          "bf16": torch.ones(3, dtype=torch.bfloat16)}
    torch.save(sd, tmp_path / "m.pt")
    entries = read_checkpoint(tmp_path / "m.pt").entries
    assert entries["f32"].code == "<f4" and entries["u16"].code == "<u2" and entries["bf16"].code == "bfloat16"
    for k, t in sd.items():
        _same_bits(entries[k].array, t)


def test_module_pickle_with_float8_parameter(tmp_path: Path) -> None:
    lin = torch.nn.Linear(4, 3)
    lin.weight = torch.nn.Parameter(lin.weight.detach().to(torch.float8_e4m3fn), requires_grad=False)
    torch.save(torch.nn.Sequential(lin), tmp_path / "obj.ckpt")
    ckpt = read_checkpoint(tmp_path / "obj.ckpt")
    assert ckpt.kind == "object"
    _same_bits(ckpt.entries["0.weight"].array, lin.weight.detach())
    _same_bits(ckpt.entries["0.bias"].array, lin.bias.detach())


def test_float8_weights_convert_to_f32(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    sd = synthetic_state_dict(TINY_VIT_ARCH, seed=3)
    tsd = {k: torch.from_numpy(v.copy()) for k, v in sd.items()}
    tsd = {k: (v.to(torch.float8_e5m2) if i % 2 and v.dtype == torch.float32 else v) for i, (k, v) in enumerate(tsd.items())}
    torch.save(tsd, tmp_path / "w.pt")
    res = convert_checkpoint(tmp_path / "w.pt", tmp_path / "o", expected=architecture_to_config(TINY_VIT_ARCH))
    out = load_file(str(res.safetensors_path))
    widened = {k: v.float().numpy() for k, v in tsd.items() if v.is_floating_point()}
    for k, v in out.items():
        if k in widened:
            assert v.dtype == np.float32 and np.array_equal(v, widened[k]), k


@pytest.mark.parametrize(("name", "make"), [
    ("complex32", lambda: torch.zeros(3, dtype=torch.complex32)),
    ("bits16", lambda: torch.zeros(3, dtype=torch.int16).view(torch.bits16)),
])
def test_unrepresentable_dtype_is_refused_clearly(tmp_path: Path, name: str, make: Any) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ComplexHalf support is experimental"
        bad = make()
    try:
        torch.save({"ok": torch.ones(2), "encoder.w": bad}, tmp_path / "c.pt")
    except Exception:  # pragma: no cover - a torch that cannot save it has nothing for us to refuse
        pytest.skip(f"this torch cannot save {name}")
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(tmp_path / "c.pt")
    text = str(err.value)
    assert f"unsupported tensor dtype torch.{name} (tensor 'encoder.w')" in text
    assert str(tmp_path / "c.pt") in text and "\n" not in text
    assert "convert the tensor to float32 with torch first" in text
    assert "corrupt or hostile" not in text


def test_unknown_future_torch_dtype_is_refused_clearly(tmp_path: Path) -> None:
    """A dtype global this reader has never heard of (a newer torch) gets the same clear refusal."""
    import zipfile

    torch.save({"w": torch.arange(4).to(torch.uint16)}, tmp_path / "u.pt")
    src = zipfile.ZipFile(tmp_path / "u.pt")
    with zipfile.ZipFile(tmp_path / "future.pt", "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"torch\nuint16\n", b"torch\nuint96\n")
            out.writestr(info, data)
    with pytest.raises(CheckpointError, match=r"unsupported tensor dtype torch\.uint96 \(tensor 'w'\)") as err:
        read_checkpoint(tmp_path / "future.pt")
    assert "corrupt or hostile" not in str(err.value)


def test_v3_view_still_bounds_checked(tmp_path: Path) -> None:
    """The reinterpreted storage keeps the byte length: a view past it is refused as before."""
    import zipfile

    torch.save({"w": torch.arange(4).to(torch.uint32)}, tmp_path / "u.pt")
    src = zipfile.ZipFile(tmp_path / "u.pt")
    with zipfile.ZipFile(tmp_path / "big.pt", "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):  # size (4,) -> (5,): BININT1 4 in the size tuple
                assert data.count(b"K\x04\x85") == 1
                data = data.replace(b"K\x04\x85", b"K\x05\x85")
            out.writestr(info, data)
    with pytest.raises(CheckpointError, match="reaches past storage"):
        read_checkpoint(tmp_path / "big.pt")
