"""Restricted unpickler: bit-exact tensors, legacy formats, a hostile-pickle corpus and fuzzing."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.convert import read_checkpoint
from zoo.convert.synthetic import _zip_bytes
from zoo.convert.unpickler import StubObject, unpickle
from zoo.errors import CheckpointError

FIX = Path(__file__).parent / "fixtures" / "convert"
EXPECTED = json.loads((FIX / "expected.json").read_text())


# -- bit-exact reading ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_tensors_match_torch_digests(name: str) -> None:
    ckpt = read_checkpoint(FIX / name)
    assert set(ckpt.tensors) == set(EXPECTED[name])
    for key, exp in EXPECTED[name].items():
        arr = ckpt.tensors[key]
        assert list(arr.shape) == exp["shape"], key
        assert hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest() == exp["sha256"], key


def test_kinds_and_stubs() -> None:
    assert read_checkpoint(FIX / "tiny_vit_epoch_1_object.ckpt").kind == "object"
    assert read_checkpoint(FIX / "tiny_vit_weights.ckpt").kind == "lightning"
    assert read_checkpoint(FIX / "tiny_vit_weights.pt").kind == "state_dict"
    obj = read_checkpoint(FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt")
    assert obj.root_class == "jepa.JEPA"
    assert "module.ARPredictor" in obj.stubbed_classes
    assert "torch.nn.modules.activation.MultiheadAttention" in obj.stubbed_classes


def test_dtypes_views_and_shared_storage() -> None:
    ckpt = read_checkpoint(FIX / "dtypes.pt")
    t = ckpt.tensors
    assert t["bf16"].dtype.name == "bfloat16"
    assert t["f16"].dtype == np.float16 and t["i8"].dtype == np.int8 and t["bool"].dtype == np.bool_
    assert t["scalar"].shape == () and float(t["scalar"]) == 3.5
    np.testing.assert_array_equal(t["transposed"], t["base"].T)
    np.testing.assert_array_equal(t["col_view"], t["base"][:, 1])
    assert t["empty"].shape == (0, 3)
    assert ["base", "col_view", "row_view", "transposed"] in ckpt.shared
    assert ckpt.entries["param"].is_parameter
    # zero-copy: a contiguous f32 tensor is a view over the file mapping
    assert not t["base"].flags.owndata and not t["base"].flags.writeable


def test_matches_torch_load_bit_for_bit() -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(FIX.parent))
    from make_checkpoints import install_stand_ins  # type: ignore[import-not-found]

    install_stand_ins()
    for name in sorted(EXPECTED):
        obj = torch.load(FIX / name, weights_only=False)
        if isinstance(obj, torch.nn.Module):
            ref = obj.state_dict()
        elif "state_dict" in obj:
            ref = {k.removeprefix("model."): v for k, v in obj["state_dict"].items()}
        else:
            ref = obj
        ours = read_checkpoint(FIX / name).tensors
        assert set(ref) == set(ours), name
        for key, tensor in ref.items():
            t = tensor.detach()
            if t.dtype == torch.bfloat16:
                mine = ours[key].view(np.uint16)
                theirs = t.view(torch.int16).numpy().view(np.uint16)
            else:
                mine, theirs = ours[key], t.numpy()
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, key
            assert np.array_equal(mine, theirs, equal_nan=True), key


# -- formats that are refused ------------------------------------------------------------------
def test_legacy_non_zip_format(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"unsupported checkpoint format .*legacy non-zip"):
        read_checkpoint(FIX / "legacy_format.pt")


def test_legacy_tar_format(tmp_path: Path) -> None:
    path = tmp_path / "old.tar"
    with tarfile.open(path, "w") as tf:
        data = b"\x80\x02}q\x00."
        info = tarfile.TarInfo("pickle")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(CheckpointError, match="legacy tar"):
        read_checkpoint(path)


@pytest.mark.parametrize(("content", "match"), [
    (b"", "not a PyTorch zip"),
    (b"hello world", "not a PyTorch zip"),
    (b"PK\x03\x04garbage", "not a readable zip"),
])
def test_not_a_checkpoint(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="file not found"):
        read_checkpoint(tmp_path / "nope.ckpt")


# -- hostile corpus ----------------------------------------------------------------------------
def _str(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _global(mod: str, name: str) -> bytes:
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def _hostile(sentinel: Path) -> dict[str, tuple[bytes, bool]]:
    """name -> (pickle bytes, whether plain pickle.loads really executes it)."""
    s = str(sentinel)
    touch = f"touch {s}"
    p2 = b"\x80\x02"
    return {
        "os_system": (p2 + _global("os", "system") + _str(touch) + b"\x85R.", True),
        "posix_system": (p2 + _global("posix", "system") + _str(touch) + b"\x85R.", True),
        "subprocess_popen": (p2 + _global("subprocess", "Popen") + b"](" + _str("touch") + _str(s) + b"e\x85R.", True),
        "eval": (p2 + _global("builtins", "eval") + _str(f"open({s!r}, 'w')") + b"\x85R.", True),
        "exec": (p2 + _global("builtins", "exec") + _str(f"open({s!r}, 'w')") + b"\x85R.", True),
        "getattr_chain": (
            p2 + _global("builtins", "getattr") + _global("builtins", "__import__") + _str("os") + b"\x85R"
            + _str("system") + b"\x86R" + _str(touch) + b"\x85R.", True),
        "importlib": (p2 + _global("importlib", "import_module") + _str("os") + b"\x85R.", False),
        "inst_opcode": (b"(" + _str(touch) + b"ios\nsystem\n.", True),
        "obj_opcode": (b"(" + _global("os", "system") + _str(touch) + b"o.", True),
        "newobj_popen": (p2 + _global("subprocess", "Popen") + b"](" + _str("touch") + _str(s) + b"e\x85\x81.", False),  # __new__ only: refused, though not live
        # not on the deny-list: stubbed, so it must stay inert
        "stubbed_pipepager": (p2 + _global("pydoc", "pipepager") + _str("") + _str(touch) + b"\x86R.", True),
        # BUILD gadget: a (dict, slotstate) state whose slot names __setstate__
        "build_setstate_gadget": (
            p2 + _global("argparse", "Namespace") + b")\x81" + b"N}" + _str("__setstate__") + _global("os", "system")
            + b"s\x86b" + _str(touch) + b"b.", True),
        "ext_opcode": (p2 + b"\x82\x01.", False),
        "stack_global": (b"\x80\x04" + _str("os") + _str("system") + b"\x93" + _str(touch) + b"\x85R.", True),
    }


def _run_hostile(data: bytes, tmp_path: Path) -> None:
    """Feed a hostile pickle both directly and as data.pkl of a zip checkpoint."""
    with pytest.raises(CheckpointError):
        root, _ = unpickle(data)
        raise CheckpointError(f"no tensors in {type(root).__name__}")
    path = tmp_path / "hostile.ckpt"
    path.write_bytes(_zip_bytes("hostile", data, []))
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)
    assert "\n" not in err.value.render()


def test_hostile_corpus_never_executes(tmp_path: Path) -> None:
    corpus = _hostile(tmp_path / "SENTINEL")
    for name, (data, _) in corpus.items():
        _run_hostile(data, tmp_path)
        assert not (tmp_path / "SENTINEL").exists(), f"{name} executed!"


def test_hostile_corpus_is_live_under_plain_pickle(tmp_path: Path) -> None:
    """Control: the same bytes DO execute under the standard unpickler (in one throwaway subprocess)."""
    names = [name for name, (_, live) in _hostile(tmp_path / "x").items() if live]
    blobs = [_hostile(tmp_path / f"S_{name}")[name][0] for name in names]
    code = (
        "import pickle, struct, sys\n"
        "data = sys.stdin.buffer.read()\n"
        "while data:\n"
        "    (n,) = struct.unpack('<I', data[:4]); blob, data = data[4:4 + n], data[4 + n:]\n"
        "    try:\n"
        "        pickle.loads(blob)\n"
        "    except Exception:\n"
        "        pass\n"
    )
    payload = b"".join(struct.pack("<I", len(b)) + b for b in blobs)
    subprocess.run([sys.executable, "-c", code], input=payload, timeout=60, check=False, capture_output=True,
                   cwd=tmp_path)
    not_live = [name for name in names if not (tmp_path / f"S_{name}").exists()]
    assert not not_live, f"payloads that did not execute under plain pickle: {not_live}"


def test_denied_globals_have_clear_message(tmp_path: Path) -> None:
    data = _hostile(tmp_path / "S")["os_system"][0]
    with pytest.raises(CheckpointError, match=r"refusing dangerous global os\.system"):
        unpickle(data)


def test_stubs_record_but_never_call(tmp_path: Path) -> None:
    data = _hostile(tmp_path / "S")["stubbed_pipepager"][0]
    root, stubbed = unpickle(data)
    assert isinstance(root, StubObject) and root.cls.qualname == "pydoc.pipepager"
    assert stubbed == {"pydoc.pipepager"}


def test_recursion_bomb_as_dict_key() -> None:
    deep = b"\x80\x02}" + b"N" + b"\x85" * 200_000 + b"Ns."
    with pytest.raises(CheckpointError, match="nested"):
        unpickle(deep)


def test_recursion_bomb_as_value_is_harmless(tmp_path: Path) -> None:
    deep = b"\x80\x02N" + b"\x85" * 200_000 + b"."
    path = tmp_path / "deep.ckpt"
    path.write_bytes(_zip_bytes("deep", deep, []))
    with pytest.raises(CheckpointError, match="top-level object"):
        read_checkpoint(path)


def _tensor_pickle(numel: int, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0, key: str = "0") -> bytes:
    def ints(t: tuple[int, ...]) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", v) if v < 2**31 else b"\x8a\x08" + struct.pack("<q", v)
                                for v in t) + b"t"

    pid = b"(" + _str("storage") + _global("torch", "FloatStorage") + _str(key) + _str("cpu") + (
        b"\x8a\x08" + struct.pack("<q", numel)) + b"tQ"
    return (b"\x80\x02}" + _str("w") + _global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid
            + b"J" + struct.pack("<i", offset) + ints(size) + ints(stride) + b"\x89" + _global("collections", "OrderedDict")
            + b")RtRs.")


@pytest.mark.parametrize(("numel", "size", "stride", "offset", "key", "match"), [
    (2**40, (4,), (1,), 0, "0", "more than the archive"),
    (4, (10**9, 10**9), (0, 0), 0, "0", "far beyond"),
    (4, (5,), (1,), 0, "0", "reaches past storage"),
    (4, (2,), (1,), 3, "0", "reaches past storage"),
    (64, (4,), (1,), 0, "0", "holds 16 bytes"),
    (4, (4,), (1,), 0, "99", "no data/99 member"),
    (4, (4,), (1,), 0, "../x", "malformed storage key"),
])
def test_storage_and_view_bounds(tmp_path: Path, numel: int, size: tuple[int, ...], stride: tuple[int, ...],
                                 offset: int, key: str, match: str) -> None:
    path = tmp_path / "b.ckpt"
    path.write_bytes(_zip_bytes("b", _tensor_pickle(numel, size, stride, offset, key), [("0", b"\0" * 16)]))
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)


def test_valid_handmade_tensor_pickle(tmp_path: Path) -> None:
    path = tmp_path / "ok.ckpt"
    data = np.arange(4, dtype="<f4").tobytes()
    path.write_bytes(_zip_bytes("ok", _tensor_pickle(4, (2, 2), (1, 2)), [("0", data)]))
    np.testing.assert_array_equal(read_checkpoint(path).tensors["w"], [[0, 2], [1, 3]])


# -- fuzzing ------------------------------------------------------------------------------------
_SEEDS = [(FIX / "dtypes.pt").read_bytes(), (FIX / "tiny_vit_epoch_1_object.ckpt").read_bytes()]


def _pkl_of(blob: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = zf.namelist()
        pkl = zf.read(next(n for n in names if n.endswith("data.pkl")))
        storages = [(n.split("/data/")[1], zf.read(n)) for n in names if "/data/" in n]
    return pkl, storages


_PARSED = [_pkl_of(b) for b in _SEEDS]


def _expect_only_checkpoint_error(path: Path) -> None:
    try:
        read_checkpoint(path)
    except CheckpointError as exc:
        assert exc.render() and "\n" not in exc.render()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 1), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                                                 max_size=8), cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_fuzz_pickle_mutations(tmp_path: Path, which: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    pkl, storages = _PARSED[which]
    buf = bytearray(pkl)
    for pos, val in edits:
        buf[pos % len(buf)] = val
    if cut is not None:
        buf = buf[: cut % (len(buf) + 1)]
    path = tmp_path / "fuzz.ckpt"
    path.write_bytes(_zip_bytes("fuzz", bytes(buf), storages))
    _expect_only_checkpoint_error(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_fuzz_file_mutations(tmp_path: Path, edits: list[tuple[int, int]], cut: int | None) -> None:
    buf = bytearray(_SEEDS[0])
    for pos, val in edits:
        buf[pos % len(buf)] = val
    if cut is not None:
        buf = buf[: cut % (len(buf) + 1)]
    path = tmp_path / "fuzz.ckpt"
    path.write_bytes(bytes(buf))
    _expect_only_checkpoint_error(path)


def test_plain_pickle_module_not_used_for_loading() -> None:
    # sanity: our unpickler is the pure-Python one with its own table (the C one cannot be restricted per opcode)
    from zoo.convert.unpickler import RestrictedUnpickler

    assert RestrictedUnpickler.dispatch[pickle.REDUCE[0]] is not pickle._Unpickler.dispatch[pickle.REDUCE[0]]
