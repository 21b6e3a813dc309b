"""LQ40 reader and validator (spec §3.10), strict like the ESP32 loader.

Every violation is an ``LQ40Error`` naming the byte offset and the field. Lengths are checked
against the remaining bytes before anything is allocated, and Q4 codes are only decoded on
demand (``LQ40File.q4``), so a hostile file cannot trigger a giant allocation.

Parsing is in two passes: (1) walk the items, whose kinds depend only on the header's layer
counts and mode, checking each item's own consistency (lengths, block counts, bitmap popcount);
(2) derive what the header does not say (meta tokens if absent, action input dim, projector width,
L blocks, bottleneck) and check every item's size against the layout of that config.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import LQ40Error
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.lq40.constants import (
    HEADER_INT_KEYS,
    MAGIC,
    MAX_HEADER_INT,
    MODES,
    PHEAD_SLOTS,
    Q4_BLOCK,
    Q4_BLOCK_BYTES,
    TRAILER_ENTRIES,
)
from zoo.formats.lq40.layout import Item, body_layout
from zoo.quant.int8 import Int8Matrix
from zoo.quant.q4 import Q4Matrix

_U32 = struct.Struct("<I")


@dataclasses.dataclass(frozen=True)
class Section:
    """One item of the file. Offsets are absolute byte offsets into the file.

    ``offset``/``length`` cover the whole item including its u32 headers; ``data_offset`` is where
    the payload starts (F32VEC floats, I8LIN int8 matrix, Q4LIN stored blocks, PHEAD first slot).
    """

    name: str
    kind: str  # "F32VEC" | "Q4LIN" | "I8LIN" | "PHEAD"
    offset: int
    length: int
    data_offset: int
    canonical: str | None = None
    count: int = 0  # F32VEC floats, Q4LIN stored blocks, I8LIN bytes, PHEAD slots
    out_features: int | None = None
    in_features: int | None = None
    total_blocks: int | None = None
    nonzero_count: int | None = None
    bitmap_offset: int | None = None
    blocks_offset: int | None = None
    scales_offset: int | None = None
    trailer: bool = False
    parent: str | None = None  # PHEAD slot vectors: the head's name

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


class _Cursor:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def error(self, offset: int, field: str, message: str, hint: str | None = None) -> LQ40Error:
        return LQ40Error(f"{self.source}: offset {offset}: {field}: {message}", hint=hint)

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def need(self, n: int, field: str, what: str) -> None:
        if n > self.remaining:
            raise self.error(
                self.pos,
                field,
                f"{what} needs {n} bytes but only {self.remaining} remain (file size {len(self.data)})",
                hint="the file is truncated or a length field is corrupt",
            )

    def u32(self, field: str) -> int:
        self.need(4, field, "u32")
        (v,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def skip(self, n: int) -> int:
        start = self.pos
        self.pos += n
        return start


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a repeated key is an error, not "last one wins" (Python) vs "first one
    wins" (the ESP32's strstr lookup), which would make two readers see different models."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_header(cur: _Cursor) -> tuple[dict[str, Any], bytes]:
    if len(cur.data) < 4 or cur.data[:4] != MAGIC:
        raise cur.error(0, "magic", f"expected b'LQ40', found {bytes(cur.data[:4])!r}", hint="not an LQ40 file")
    cur.pos = 4
    n = cur.u32("header.json_length")
    cur.need(n, "header.json", f"JSON header of {n} bytes")
    raw = bytes(cur.data[8 : 8 + n])
    cur.pos = 8 + n
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise cur.error(8, f"header.{exc.args[0]}", "duplicate key",
                        hint="readers disagree on which copy wins (the ESP32 takes the first)") from None
    except RecursionError:
        raise cur.error(8, "header.json", "nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, NaN/Infinity, >4300-digit ints
        raise cur.error(8, "header.json", f"not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise cur.error(8, "header.json", f"must be a JSON object, got {type(header).__name__}")
    mode = header.get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        raise cur.error(8, "header.mode", f"unsupported mode {mode!r}", hint=f"one of: {', '.join(MODES)}")
    for key in (*HEADER_INT_KEYS, "meta_tokens"):
        if key not in header:
            if key == "meta_tokens":
                continue
            raise cur.error(8, f"header.{key}", "required key is missing")
        v = header[key]
        low = 0 if key == "meta_tokens" else 1
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= MAX_HEADER_INT:
            raise cur.error(8, f"header.{key}", f"must be an integer in [{low}, {MAX_HEADER_INT}], got {v!r}")
    if header["image_size"] % header["patch_size"]:
        raise cur.error(8, "header.image_size", "is not a multiple of patch_size")
    return header, raw


def _config_from_header(h: dict[str, Any], **extra: Any) -> LeWMConfig:
    return LeWMConfig(
        encoder_hidden=h["encoder_hidden"],
        encoder_layers=h["encoder_layers"],
        encoder_heads=h["encoder_heads"],
        encoder_inter=h["encoder_inter"],
        meta_tokens=h.get("meta_tokens", 0),
        predictor_hidden=h["predictor_hidden"],
        predictor_layers=h["predictor_layers"],
        predictor_inner_dim=h["predictor_inner_dim"],
        predictor_heads=h["predictor_heads"],
        predictor_inter=h["predictor_inter"],
        latent_dim=h["latent_dim"],
        action_dim=h["action_dim"],
        image_size=h["image_size"],
        patch_size=h["patch_size"],
        channels=h["channels"],
        **extra,
    )


# --- pass 1: walk the items ---------------------------------------------------------------------
def _scan_f32vec(cur: _Cursor, name: str, canonical: str | None, **kw: Any) -> Section:
    start = cur.pos
    n = cur.u32(f"{name}.n")
    cur.need(4 * n, name, f"F32VEC of {n} floats")
    cur.skip(4 * n)
    return Section(name, "F32VEC", start, cur.pos - start, start + 4, canonical, count=n, **kw)


def _scan_q4lin(cur: _Cursor, item: Item) -> Section:
    start, f = cur.pos, item.name
    out_f = cur.u32(f"{f}.out")
    in_f = cur.u32(f"{f}.in")
    total_off = cur.pos
    total = cur.u32(f"{f}.total_blocks")
    nnz_off = cur.pos
    nnz = cur.u32(f"{f}.nonzero_count")
    expect_total = out_f * (-(-in_f // Q4_BLOCK))
    if total != expect_total:
        raise cur.error(total_off, f"{f}.total_blocks", f"{total} != out*ceil(in/32) = {out_f}*ceil({in_f}/32) = {expect_total}")
    if nnz > total:
        raise cur.error(nnz_off, f"{f}.nonzero_count", f"{nnz} exceeds total_blocks {total}")
    nbitmap = -(-total // 8)
    cur.need(nbitmap, f"{f}.bitmap", f"bitmap of {total} blocks")
    bitmap_off = cur.skip(nbitmap)
    bits = np.unpackbits(np.frombuffer(cur.data, np.uint8, nbitmap, bitmap_off), bitorder="little")
    popcount = int(np.count_nonzero(bits[:total]))
    if popcount != nnz:
        raise cur.error(bitmap_off, f"{f}.bitmap", f"popcount {popcount} != nonzero_count {nnz}")
    if np.count_nonzero(bits[total:]):
        raise cur.error(bitmap_off + nbitmap - 1, f"{f}.bitmap", "padding bits after the last block are set")
    cur.need(nnz * Q4_BLOCK_BYTES, f"{f}.blocks", f"{nnz} blocks of {Q4_BLOCK_BYTES} bytes")
    blocks_off = cur.skip(nnz * Q4_BLOCK_BYTES)
    return Section(
        f, "Q4LIN", start, cur.pos - start, blocks_off, item.canonical, count=nnz, out_features=out_f,
        in_features=in_f, total_blocks=total, nonzero_count=nnz, bitmap_offset=bitmap_off, blocks_offset=blocks_off,
    )


def _scan_i8lin(cur: _Cursor, item: Item) -> Section:
    start, f = cur.pos, item.name
    out_f = cur.u32(f"{f}.out")
    in_f = cur.u32(f"{f}.in")
    nb_off = cur.pos
    nbytes = cur.u32(f"{f}.nbytes")
    if nbytes != out_f * in_f:
        raise cur.error(nb_off, f"{f}.nbytes", f"{nbytes} != out*in = {out_f * in_f}")
    cur.need(nbytes, f"{f}.weights", f"INT8 matrix of {nbytes} bytes")
    data_off = cur.skip(nbytes)
    ns_off = cur.pos
    nscales = cur.u32(f"{f}.nscales")
    if nscales != out_f:
        raise cur.error(ns_off, f"{f}.nscales", f"{nscales} != out = {out_f}")
    cur.need(4 * nscales, f"{f}.scales", f"{nscales} f32 scales")
    scales_off = cur.skip(4 * nscales)
    return Section(
        f, "I8LIN", start, cur.pos - start, data_off, item.canonical, count=nbytes, out_features=out_f,
        in_features=in_f, scales_offset=scales_off,
    )


def _scan_phead(cur: _Cursor, item: Item) -> list[Section]:
    start, f = cur.pos, item.name
    nslots = cur.u32(f"{f}.nslots")
    if nslots > PHEAD_SLOTS:
        raise cur.error(start, f"{f}.nslots", f"{nslots} slots, at most {PHEAD_SLOTS} are allowed")
    names = ("net.0", "net.3", "net.4")
    slots: list[Section] = []
    for i in range(nslots):
        for part in ("weight", "bias"):
            slots.append(_scan_f32vec(cur, f"{f}.slot{i}.{part}", f"{item.canonical}.{names[i]}.{part}", parent=f))
    head = Section(f, "PHEAD", start, cur.pos - start, start + 4, item.canonical, count=nslots)
    return [head, *slots]


# --- the parsed file ------------------------------------------------------------------------------
@dataclasses.dataclass
class LQ40File:
    source: str
    data: bytes
    header: dict[str, Any]
    header_json: bytes
    mode: str
    config: LeWMConfig
    sections: list[Section]
    trailer_entries: int

    def __post_init__(self) -> None:
        self._by_name = {s.name: s for s in self.sections}

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def has_meta_tokens_key(self) -> bool:
        return "meta_tokens" in self.header

    def section(self, name: str) -> Section:
        return self._by_name[name]

    def f32(self, name: str) -> np.ndarray:
        s = self._by_name[name]
        return np.frombuffer(self.data, "<f4", s.count, s.data_offset).astype(np.float32)

    def q4(self, name: str) -> Q4Matrix:
        s = self._by_name[name]
        assert s.kind == "Q4LIN" and s.total_blocks is not None and s.bitmap_offset is not None
        nbitmap = -(-s.total_blocks // 8)
        bits = np.unpackbits(np.frombuffer(self.data, np.uint8, nbitmap, s.bitmap_offset), bitorder="little")
        mask = bits[: s.total_blocks].astype(bool)
        blocks = self.data[s.data_offset : s.data_offset + s.count * Q4_BLOCK_BYTES]
        assert s.out_features is not None and s.in_features is not None
        return Q4Matrix.from_stored(s.out_features, s.in_features, mask, blocks)

    def i8(self, name: str) -> Int8Matrix:
        s = self._by_name[name]
        assert s.kind == "I8LIN" and s.out_features is not None and s.in_features is not None
        assert s.scales_offset is not None
        t = np.frombuffer(self.data, np.int8, s.count, s.data_offset).reshape(s.in_features, s.out_features)
        scales = np.frombuffer(self.data, "<f4", s.out_features, s.scales_offset).astype(np.float32)
        return Int8Matrix(s.out_features, s.in_features, np.ascontiguousarray(t.T), scales)

    def phead(self, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
        n = self._by_name[name].count
        return [(self.f32(f"{name}.slot{i}.weight"), self.f32(f"{name}.slot{i}.bias")) for i in range(n)]

    def top_sections(self) -> list[Section]:
        """Body items in file order (PHEAD slot vectors folded into their head)."""
        return [s for s in self.sections if s.parent is None]

    def value(self, s: Section) -> Any:
        if s.kind == "F32VEC":
            return self.f32(s.name)
        if s.kind == "Q4LIN":
            return self.q4(s.name)
        if s.kind == "I8LIN":
            return self.i8(s.name)
        return self.phead(s.name)

    def q4_matrices(self) -> dict[str, Q4Matrix]:
        """LQ40 field name -> Q4Matrix (codes [out, in_padded], scales [out, blocks_per_row])."""
        return {s.name: self.q4(s.name) for s in self.sections if s.kind == "Q4LIN"}

    def to_bytes(self) -> bytes:
        """Serialize again from the decoded values (header as compact sorted JSON)."""
        from zoo.formats.lq40.writer import serialize

        return serialize(self.header, [(s.kind, self.value(s)) for s in self.top_sections()])


def _derive_config(cur: _Cursor, header: dict[str, Any], secs: dict[str, Section], trailer: int) -> LeWMConfig:
    he, n_patches = header["encoder_hidden"], (header["image_size"] // header["patch_size"]) ** 2
    pos = secs["pos_embed"]
    if "meta_tokens" in header:
        m = header["meta_tokens"]
    else:  # older exporter: M from the position table, (1 + M + N) rows
        rows, rem = divmod(pos.count, he)
        m = rows - 1 - n_patches
        if rem or m < 0:
            raise cur.error(pos.offset, "pos_embed", f"{pos.count} floats is not (1+M+{n_patches})*{he} for any M >= 0")
    kinds = []
    for i in range(header["encoder_layers"]):
        q = secs[f"encoder.layer.{i}.q_bias"]
        if q.count not in (0, he):
            raise cur.error(q.offset, q.name, f"length {q.count}, expected {he} (softmax block) or 0 (linear-attention block)")
        kinds.append("A" if q.count else "L")
    conv = secs["action_conv_w"]
    a, rem = divmod(conv.count, header["action_dim"])
    if rem or a == 0:
        raise cur.error(conv.offset, "action_conv_w", f"{conv.count} floats is not action_dim ({header['action_dim']}) * A")
    j = 0
    for head in ("projector", "pred_proj"):
        if secs[head].count > 0 and secs[f"{head}.slot0.bias"].count:
            j = secs[f"{head}.slot0.bias"].count
            break
    d = header["latent_dim"]
    hist, rem = divmod(secs["predictor_pos_embed"].count, d)
    if rem or hist == 0:
        s = secs["predictor_pos_embed"]
        raise cur.error(s.offset, s.name, f"{s.count} floats is not a multiple of latent_dim {d}")
    has_in = trailer >= 1 and secs["input_proj_w"].count > 0
    has_cond = trailer >= 3 and secs["cond_proj_w"].count > 0
    hybrid = m > 0 or "L" in kinds
    return _config_from_header(
        {**header, "meta_tokens": m},
        encoder_type="hybrid" if hybrid else "vit",
        block_pattern="".join(kinds) if hybrid else "",
        action_input_dim=a,
        projector_hidden=j,
        history_size=hist,
        has_input_proj=has_in,
        has_cond_proj=has_cond,
    )


def _check_sizes(cur: _Cursor, cfg: LeWMConfig, mode: str, secs: dict[str, Section]) -> None:
    he = cfg.encoder_hidden
    for item in body_layout(cfg, mode):
        s = secs.get(item.name)
        if s is None:  # trailer entry absent (older file)
            continue
        if item.kind == "F32VEC":
            allowed = {item.numel}
            if item.name == "enc_proj_w":
                allowed = {0, he * he}  # synapse hybrid files carry it; the zoo writes it empty
            elif item.name == "enc_proj_b":
                allowed = {0, he}
            if s.count not in allowed:
                alts = " or ".join(str(x) for x in sorted(allowed))
                raise cur.error(s.offset, s.name, f"length {s.count}, expected {alts} (from the header dimensions)")
        elif item.kind in ("Q4LIN", "I8LIN"):
            if (s.out_features, s.in_features) != item.shape:
                raise cur.error(
                    s.offset, s.name, f"shape [{s.out_features}, {s.in_features}], expected {list(item.shape)}"
                )
        else:
            j, fan_in, d = item.shape
            want = [(j * fan_in, j), (d * j, d), (0, 0)]
            slots = [(secs[f"{s.name}.slot{i}.weight"], secs[f"{s.name}.slot{i}.bias"]) for i in range(s.count)]
            if all(w.count == 0 and b.count == 0 for w, b in slots):
                continue  # empty head (e.g. the original lewm-full.bin)
            for i, (w, b) in enumerate(slots):
                if (w.count, b.count) != want[i]:
                    raise cur.error(
                        w.offset, f"{s.name}.slot{i}", f"lengths ({w.count}, {b.count}), expected {want[i]}"
                    )
            if s.count < 2:
                raise cur.error(s.offset, f"{s.name}.nslots", f"{s.count} slots, a projection head needs 2")


def read_lq40(src: str | os.PathLike[str] | bytes | bytearray | memoryview, *, source: str | None = None) -> LQ40File:
    """Parse and validate an LQ40 file (a path or its bytes)."""
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        name = source or "<bytes>"
    else:
        p = Path(src)
        name = source or str(p)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise LQ40Error(f"{p}: file not found") from None
        except OSError as exc:
            raise LQ40Error(f"{p}: cannot read ({exc.strerror})") from None
    cur = _Cursor(data, name)
    header, raw = _parse_header(cur)
    mode = header["mode"]
    # every non-trailer item takes at least 4 bytes: refuse absurd layer counts before building
    # a per-item skeleton for them (65536 layers would otherwise cost seconds to reject)
    min_items = 4 + 16 * header["encoder_layers"] + 3 + 13 * header["predictor_layers"] + 10
    if 4 * min_items > cur.remaining:
        raise cur.error(
            cur.pos, "header.encoder_layers",
            f"{header['encoder_layers']} encoder + {header['predictor_layers']} predictor layers need at least "
            f"{4 * min_items} body bytes, the file has {cur.remaining}",
            hint="the header does not match the body, or the file is truncated",
        )
    skeleton = body_layout(_config_from_header(header), mode)  # kinds depend only on layer counts + mode
    sections: list[Section] = []
    trailer = 0
    for item in skeleton:
        if item.trailer:
            if cur.remaining == 0:
                break
            trailer += 1
        elif cur.remaining == 0:
            raise cur.error(cur.pos, item.name, f"file ends before this {item.kind}", hint="the file is truncated")
        if item.kind == "F32VEC":
            sections.append(_scan_f32vec(cur, item.name, item.canonical, trailer=item.trailer))
        elif item.kind == "Q4LIN":
            sections.append(_scan_q4lin(cur, item))
        elif item.kind == "I8LIN":
            sections.append(_scan_i8lin(cur, item))
        else:
            sections.extend(_scan_phead(cur, item))
    if cur.remaining:
        raise cur.error(cur.pos, "trailer", f"{cur.remaining} unexpected trailing bytes after {TRAILER_ENTRIES} trailer entries")
    secs = {s.name: s for s in sections}
    cfg = _derive_config(cur, header, secs, trailer)
    _check_sizes(cur, cfg, mode, secs)
    return LQ40File(name, data, header, raw, mode, cfg, sections, trailer)
