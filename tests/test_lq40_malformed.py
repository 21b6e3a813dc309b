"""Every malformed LQ40 gives one LQ40Error naming the byte offset and the field."""

from __future__ import annotations

import contextlib
import json
import struct

import numpy as np
import pytest

from zoo.errors import LQ40Error
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40 import encode_lq40, read_lq40
from zoo.quant.synthetic import synthetic_weights

CFG = LeWMConfig(
    encoder_hidden=16, encoder_layers=1, encoder_heads=2, encoder_inter=32, predictor_hidden=16,
    predictor_layers=1, predictor_inner_dim=32, predictor_heads=1, predictor_inter=40, latent_dim=16,
    action_input_dim=10, projector_hidden=32, image_size=28,
)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    w = synthetic_weights(CFG, 0)
    return {mode: encode_lq40(CFG, w, mode) for mode in ("q4-pred", "full")}


def _header(data: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    n = int.from_bytes(data[4:8], "little")
    return n, json.loads(data[8 : 8 + n])


def _with_header(data: bytes, header: object) -> bytes:
    n, _ = _header(data)
    hb = json.dumps(header, separators=(",", ":")).encode()
    return b"LQ40" + struct.pack("<I", len(hb)) + hb + data[8 + n :]


def _err(data: bytes) -> str:
    with pytest.raises(LQ40Error) as exc:
        read_lq40(data, source="m.lq40")
    msg = exc.value.render()
    assert "\n" not in msg and msg.startswith("m.lq40: ")
    return msg


def test_truncated_everywhere(files: dict[str, bytes]) -> None:
    data = files["full"]
    n, _ = _header(data)
    body_end = len(data) - 28  # the trailer may legally be cut at entry boundaries
    cuts = sorted({*range(0, 8 + n + 40), *np.linspace(8 + n, body_end - 1, 300).astype(int).tolist()})
    for cut in cuts:
        msg = _err(data[:cut])
        assert "offset" in msg


def test_trailer_cut_at_entry_boundaries_is_accepted(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    for k in range(8):
        f = read_lq40(data[: len(data) - 4 * k])
        assert f.trailer_entries == 7 - k
    assert "trailer" in _err(data + b"\x00\x00")  # 2 stray bytes after 7 entries
    assert "unexpected trailing bytes" in _err(data + b"\x00" * 4)


def test_wrong_magic(files: dict[str, bytes]) -> None:
    msg = _err(b"LQ41" + files["q4-pred"][4:])
    assert "offset 0: magic" in msg


def test_json_not_object_and_bad_keys(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    _, h = _header(data)
    assert "must be a JSON object" in _err(_with_header(data, [1, 2]))
    assert "offset 8: header.json" in _err(data[:8] + b"[" + data[9:])
    assert "header.mode" in _err(_with_header(data, {**h, "mode": "q8"}))
    del h["latent_dim"]
    assert "header.latent_dim: required key is missing" in _err(_with_header(data, h))
    _, h = _header(data)
    assert "header.encoder_layers" in _err(_with_header(data, {**h, "encoder_layers": -1}))
    assert "header.encoder_layers" in _err(_with_header(data, {**h, "encoder_layers": 10**12}))
    assert "header.channels" in _err(_with_header(data, {**h, "channels": True}))


def test_huge_json_length(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    msg = _err(data[:4] + struct.pack("<I", 0xFFFFFFFF) + data[8:])
    assert "offset 8: header.json" in msg and "4294967295" in msg


def test_huge_and_negative_f32vec_length(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    n, _ = _header(data)
    off = 8 + n  # patch_proj.n
    for bad in (0xFFFFFFFF, 0x80000000, 0x3FFFFFFF):  # -1 / INT_MIN as i32, huge as u32
        msg = _err(data[:off] + struct.pack("<I", bad) + data[off + 4 :])
        assert f"offset {off + 4}: patch_proj" in msg


def test_wrong_vector_length_is_caught_by_layout(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    f = read_lq40(data)
    s = f.section("patch_proj_bias")  # 16 floats -> claim 15, then the rest is misaligned
    bad = data[: s.offset] + struct.pack("<I", 15) + data[s.offset + 4 : s.offset + 4 + 60] + data[s.offset + 4 + 64 :]
    with pytest.raises(LQ40Error):
        read_lq40(bad)


def test_q4_popcount_mismatch(files: dict[str, bytes]) -> None:
    data = bytearray(files["q4-pred"])
    s = read_lq40(bytes(data)).section("predictor.layer.0.to_qkv")
    data[s.bitmap_offset] ^= 0x01
    msg = _err(bytes(data))
    assert f"offset {s.bitmap_offset}: predictor.layer.0.to_qkv.bitmap: popcount" in msg


def test_q4_block_counts(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    s = read_lq40(data).section("predictor.layer.0.adaln")
    total_off = s.offset + 8
    bad = data[:total_off] + struct.pack("<I", 999) + data[total_off + 4 :]
    assert f"offset {total_off}: predictor.layer.0.adaln.total_blocks" in _err(bad)
    nnz_off = s.offset + 12
    bad = data[:nnz_off] + struct.pack("<I", 0xFFFFFFFF) + data[nnz_off + 4 :]
    assert "nonzero_count" in _err(bad)
    # huge out x in: the bitmap length is checked against the file size before any allocation
    bad = data[: s.offset] + struct.pack("<4I", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0) + data[s.offset + 16 :]
    assert "total_blocks" in _err(bad)
    bad = data[: s.offset] + struct.pack("<4I", 0x10000000, 32, 0x10000000, 0) + data[s.offset + 16 :]
    assert "bitmap" in _err(bad)


def test_i8lin_counts(files: dict[str, bytes]) -> None:
    data = files["full"]
    s = read_lq40(data).section("encoder.layer.0.w_q")
    nb = s.offset + 8
    assert "w_q.nbytes" in _err(data[:nb] + struct.pack("<I", 7) + data[nb + 4 :])
    ns = s.scales_offset - 4
    assert "w_q.nscales" in _err(data[:ns] + struct.pack("<I", 3) + data[ns + 4 :])


def test_phead_slots(files: dict[str, bytes]) -> None:
    data = files["q4-pred"]
    s = read_lq40(data).section("projector")
    assert "projector.nslots" in _err(data[: s.offset] + struct.pack("<I", 4) + data[s.offset + 4 :])


def test_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LQ40Error, match="file not found"):
        read_lq40(tmp_path / "nope.lq40")


def test_random_corruption_never_escapes(files: dict[str, bytes]) -> None:
    rng = np.random.default_rng(0)
    data = files["full"]
    for _ in range(150):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), size=3):
            buf[pos] = int(rng.integers(0, 256))
        with contextlib.suppress(LQ40Error):
            read_lq40(bytes(buf))


def _with_raw_header(data: bytes, text: bytes) -> bytes:
    n, _ = _header(data)
    return b"LQ40" + struct.pack("<I", len(text)) + text + data[8 + n :]


def test_json_nasty_headers(files: dict[str, bytes]) -> None:
    """Non-standard JSON constants, repeated keys, deep nesting, >4300-digit integers: one line each."""
    data = files["q4-pred"]
    n, _ = _header(data)
    raw = data[8 : 8 + n]
    assert "NaN is not JSON" in _err(_with_raw_header(data, raw[:-1] + b',"x":NaN}'))
    assert "Infinity is not JSON" in _err(_with_raw_header(data, raw[:-1] + b',"x":-Infinity}'))
    # same value twice: still refused (Python keeps the last copy, the ESP32's strstr the first)
    msg = _err(_with_raw_header(data, raw[:-1] + b',"channels":3}'))
    assert "offset 8: header.channels: duplicate key" in msg
    assert "nested too deeply" in _err(_with_raw_header(data, b"[" * 100_000 + b"]" * 100_000))
    assert "nested too deeply" in _err(_with_raw_header(data, b'{"a":' * 50_000 + b"1" + b"}" * 50_000))
    assert "offset 8: header.json" in _err(_with_raw_header(data, raw[:-1] + b',"x":' + b"9" * 5000 + b"}"))


def test_absurd_layer_counts_fail_fast(files: dict[str, bytes]) -> None:
    import time

    data = files["q4-pred"]
    _, h = _header(data)
    t0 = time.perf_counter()
    msg = _err(_with_header(data, {**h, "encoder_layers": 65536, "predictor_layers": 65536}))
    assert time.perf_counter() - t0 < 1.0
    assert "header.encoder_layers" in msg and "body bytes" in msg


def test_bitmap_padding_bits_and_nonzero_over_total() -> None:
    import dataclasses

    cfg = dataclasses.replace(CFG, predictor_inter=36)  # mlp_up [36, 16]: 36 blocks, 4 bits of padding
    data = encode_lq40(cfg, synthetic_weights(cfg, 0), "q4-pred")
    s = read_lq40(data).section("predictor.layer.0.mlp_up")
    assert s.total_blocks == 36 and s.bitmap_offset is not None
    # a padding bit set while the real blocks' popcount still matches: only the padding check sees it
    buf = bytearray(data)
    buf[s.bitmap_offset + 4] |= 0x80
    msg = _err(bytes(buf))
    assert f"offset {s.bitmap_offset + 4}: predictor.layer.0.mlp_up.bitmap" in msg and "padding bits" in msg
    buf = bytearray(data)
    struct.pack_into("<I", buf, s.offset + 12, 37)  # nonzero_count > total_blocks
    assert f"offset {s.offset + 12}: predictor.layer.0.mlp_up.nonzero_count" in _err(bytes(buf))


def test_overlapping_lengths(files: dict[str, bytes]) -> None:
    """A length that swallows the next item(s) while staying inside the file is caught by the layout."""
    data = files["q4-pred"]
    f = read_lq40(data)
    s = f.section("patch_proj_bias")
    nxt = f.section("cls_token")
    # claim patch_proj_bias also contains cls_token's u32 + floats: the reader stays in bounds and
    # then finds every following item shifted; the first misread is reported with its offset
    grown = (s.length - 4 + nxt.length) // 4
    bad = data[: s.offset] + struct.pack("<I", grown) + data[s.offset + 4 :]
    msg = _err(bad)
    assert "offset" in msg
    # 4 GB declared vector length: refused before any allocation
    bad = data[: nxt.offset] + struct.pack("<I", 0xFFFFFFFF) + data[nxt.offset + 4 :]
    assert f"offset {nxt.offset + 4}: cls_token" in _err(bad)
