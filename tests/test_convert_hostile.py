"""Second hostile corpus (review of issue 3): resource exhaustion and crafted values that used to escape.

Each case must end in a one-line `CheckpointError`, quickly and in bounded memory; none may run code.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zoo.convert import convert_checkpoint, read_checkpoint
from zoo.convert.synthetic import _zip_bytes, synthetic_state_dict, write_state_dict
from zoo.convert.unpickler import MAX_OPCODES, MAX_TUPLE_KEYS, unpickle
from zoo.errors import CheckpointError
from zoo.registry import Architecture

P2 = b"\x80\x02"
ARCH = Architecture(encoder_kind="hybrid", latent_dim=8, encoder_layers=4, predictor_layers=2, encoder_hidden=8,
                    encoder_heads=4, encoder_inter=32, predictor_hidden=8, predictor_heads=2, predictor_inner_dim=8,
                    predictor_inter=16, projector_hidden=16, action_input_dim=4, meta_tokens=4, block_pattern="ALAL")


def _str(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _global(mod: str, name: str) -> bytes:
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def _refused(data: bytes, match: str, tmp_path: Path, *, seconds: float = 10.0) -> None:
    t0 = time.monotonic()
    with pytest.raises(CheckpointError, match=match) as err:
        unpickle(data)
    assert "\n" not in err.value.render()
    path = tmp_path / "h.ckpt"
    path.write_bytes(_zip_bytes("h", data, [("0", b"\0" * 64)]))
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)
    assert time.monotonic() - t0 < seconds


def test_exponential_tuple_key_is_refused_not_hashed(tmp_path: Path) -> None:
    # t0 = (1,)*40, t(i+1) = (t(i),)*40 via the memo: hashing t7 would visit 40**8 nodes (a hang)
    data = P2 + b"}(" + b"K\x01" * 40 + b"tq\x00"
    for i in range(7):
        data += b"0(" + (b"h" + bytes([i])) * 40 + b"tq" + bytes([i + 1])
    data += b"0h\x07Ns."
    _refused(data, "more than 64 elements", tmp_path, seconds=5)


def test_huge_int_key_is_refused(tmp_path: Path) -> None:
    # ints hash to themselves mod 2**61-1 (collisions at will) and str() of >4300 digits raises ValueError
    n = 1 << 14
    _refused(P2 + b"}\x8b" + struct.pack("<I", n) + b"\x01" * n + b"Ns.", "2\\*\\*61", tmp_path)


def test_tuple_keys_are_counted(tmp_path: Path) -> None:
    keys = b"".join(b"J" + struct.pack("<i", i) + b"N\x86N" for i in range(MAX_TUPLE_KEYS + 1))
    _refused(P2 + b"}(" + keys + b"u.", "tuple dict keys", tmp_path)
    root, _ = unpickle(P2 + b"}(" + keys[: 8 * 10] + b"u.")  # a few are fine
    assert len(root) == 10


def test_opcode_budget_bounds_time_and_memory(tmp_path: Path) -> None:
    # 1-byte EMPTY_DICT opcodes: ~70 bytes of heap each; the budget stops it long before the size limit
    data = P2 + b"}" * (MAX_OPCODES + 10) + b"."
    t0 = time.monotonic()
    with pytest.raises(CheckpointError, match="pickle opcodes"):
        unpickle(data)
    assert time.monotonic() - t0 < 30


def test_text_memo_index_is_32_bit(tmp_path: Path) -> None:
    # protocol-0 PUT with a big decimal index: big ints can be made to collide in the memo dict
    _refused(P2 + b"Np" + str(7 * (2**61 - 1)).encode() + b"\n.", "32-bit", tmp_path)
    root, _ = unpickle(b"(lp0\nI1\nag0\na.")
    assert root[0] == 1 and root[1] is root


def test_error_names_the_byte_offset() -> None:
    with pytest.raises(CheckpointError, match=r"near byte \d+") as err:
        unpickle(P2 + _global("os", "system") + b")R.")
    assert "near byte -1" not in str(err.value)


def _tensor_pickle(count: int, elements: int) -> bytes:
    """`count` stride-0 views, each [elements] float32, of one 16-byte storage."""
    pid = b"(" + _str("storage") + _global("torch", "FloatStorage") + _str("0") + _str("cpu") + b"K\x04tQ"
    view = (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K\x00J" + struct.pack("<i", elements)
            + b"\x85K\x00\x85\x89" + _global("collections", "OrderedDict") + b")RtR")
    return P2 + b"}(" + b"".join(_str(f"w{i}") + view for i in range(count)) + b"u."


def test_stride_zero_views_cannot_multiply_the_output(tmp_path: Path) -> None:
    path = tmp_path / "z.ckpt"
    path.write_bytes(_zip_bytes("z", _tensor_pickle(1, 200_000), [("0", b"\0" * 16)]))
    assert read_checkpoint(path).tensors["w0"].shape == (200_000,)  # one 800 KB view: within the budget
    path.write_bytes(_zip_bytes("z", _tensor_pickle(3, 200_000), [("0", b"\0" * 16)]))
    with pytest.raises(CheckpointError, match="with the tensors before it"):
        read_checkpoint(path)  # ... but together they may not exceed ~4x the archive (+1 MiB)


def test_byteorder_member_cannot_inflate(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/data.pkl", P2 + b"}.")
        zf.writestr("a/byteorder", b"little" + b" " * (1 << 20), compress_type=zipfile.ZIP_DEFLATED)
    path = tmp_path / "bomb.ckpt"
    path.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="byteorder"):
        read_checkpoint(path)


@pytest.mark.parametrize(("name", "value", "match"), [
    ("encoder.proj.0.weight", np.zeros((3000,), np.float32), "expected 2 dimensions"),
    ("encoder.proj.0.weight", np.zeros((), np.float32), "expected 2 dimensions"),
    ("encoder.proj.0.bias", np.zeros((5,), np.float32), r"'encoder.proj.0.bias' has shape \[5\]"),
])
def test_hybrid_bn_fold_checks_shapes_before_broadcasting(tmp_path: Path, name: str, value: np.ndarray,
                                                          match: str) -> None:
    sd = dict(synthetic_state_dict(ARCH))
    sd[name] = value
    path = write_state_dict(tmp_path / "w.pt", sd)
    with pytest.raises(CheckpointError, match=match):
        convert_checkpoint(path, tmp_path / "out")
    assert not (tmp_path / "out" / "lejepa_weights.safetensors").exists()


def test_absurd_layer_index_is_an_unknown_tensor(tmp_path: Path) -> None:
    sd = dict(synthetic_state_dict(ARCH))
    key = next(k for k in sd if k.startswith("encoder.blocks.0."))
    sd[key.replace("blocks.0.", "blocks." + "9" * 5000 + ".")] = sd[key]
    sd[key.replace("blocks.0.", "blocks.\u0661.")] = sd[key]  # ARABIC-INDIC DIGIT ONE: not a layer index
    res = convert_checkpoint(write_state_dict(tmp_path / "w.pt", sd), tmp_path / "out")
    assert len(res.unknown) == 2
