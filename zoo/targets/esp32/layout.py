"""Byte offsets of every tensor inside an LQ40 blob (spec §3), for the generated C header.

The firmware embeds the LQ40 file unchanged; C code points into it with the offsets computed
here, so it never parses the JSON or walks the body at run time. This walker validates the same
things the ESP32 loader does (spec §3.1, §3.10) and reports problems as `LQ40Error` with the byte
offset and the field.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import Any

from zoo.errors import LQ40Error

MAGIC = b"LQ40"
Q4_MODES = ("q4-pred", "wanda20-q4", "wanda40-q4")
# "f32": the wasm target's model file for float32 variants (every matrix float32, q4-pred order)
# "q4-full" (zoo extension, Q4 encoder matrices too): read by the wasm target
MODES = ("full", *Q4_MODES, "q4-full", "f32")
REQUIRED_KEYS = (
    "action_dim", "channels", "encoder_heads", "encoder_hidden", "encoder_inter", "encoder_layers",
    "image_size", "latent_dim", "patch_size", "predictor_heads", "predictor_hidden",
    "predictor_inner_dim", "predictor_inter", "predictor_layers",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class F32Vec:
    offset: int  # byte offset of the first float (after the u32 count)
    count: int


@dataclasses.dataclass(frozen=True)
class Q4Lin:
    out: int
    inp: int
    total_blocks: int
    nonzero: int
    bitmap: int  # byte offset of the bitmap
    blocks: int  # byte offset of the first 20-byte block


@dataclasses.dataclass(frozen=True)
class I8Lin:
    out: int
    inp: int
    weights: int  # byte offset of the int8 [in][out] matrix
    scales: int  # byte offset of the out f32 scales


@dataclasses.dataclass
class Lq40Layout:
    path: Path
    size: int
    config: dict[str, Any]
    mode: str
    tensors: dict[str, F32Vec | Q4Lin | I8Lin]  # in file order

    def f32(self, name: str) -> F32Vec:
        t = self.tensors[name]
        assert isinstance(t, F32Vec)
        return t

    @property
    def action_input_dim(self) -> int:
        """A: the Conv1d input width, from action_conv_w [10*A] (spec §1.2)."""
        return self.f32("action_conv_w").count // self.config["action_dim"]

    @property
    def projector_hidden(self) -> int:
        return self.f32("pred_proj.0.b").count


class _Walker:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.off = 0

    def fail(self, at: int, field: str, what: str) -> LQ40Error:
        return LQ40Error(f"{self.path}: byte {at}: {field}: {what}", hint="rebuild it with `zoo quantize`")

    def need(self, n: int, field: str) -> None:
        if self.off + n > len(self.data):
            raise self.fail(self.off, field, f"needs {n} bytes, file ends at {len(self.data)}")

    def u32(self, field: str) -> int:
        self.need(4, field)
        (v,) = struct.unpack_from("<I", self.data, self.off)
        self.off += 4
        return int(v)

    def f32vec(self, field: str, expect: tuple[int, ...] | None = None) -> F32Vec:
        at = self.off
        n = self.u32(field)
        if expect is not None and n not in expect:
            raise self.fail(at, field, f"length {n}, expected {' or '.join(map(str, expect))}")
        self.need(4 * n, field)
        vec = F32Vec(self.off, n)
        self.off += 4 * n
        return vec

    def q4lin(self, field: str, out: int, inp: int) -> Q4Lin:
        at = self.off
        o, i, total, nnz = (self.u32(field) for _ in range(4))
        if (o, i) != (out, inp):
            raise self.fail(at, field, f"shape [{o}, {i}], expected [{out}, {inp}]")
        bpr = (inp + 31) // 32
        if total != out * bpr:
            raise self.fail(at + 8, field, f"total_blocks {total} != out*ceil(in/32) = {out * bpr}")
        nbytes = (total + 7) // 8
        self.need(nbytes, field + ".bitmap")
        bitmap_off = self.off
        bits = int.from_bytes(self.data[bitmap_off : bitmap_off + nbytes], "little").bit_count()
        if bits != nnz:
            raise self.fail(at + 12, field, f"nonzero_count {nnz} != bitmap popcount {bits}")
        self.off += nbytes
        self.need(20 * nnz, field + ".blocks")
        blocks_off = self.off
        self.off += 20 * nnz
        return Q4Lin(out, inp, total, nnz, bitmap_off, blocks_off)

    def i8lin(self, field: str, out: int, inp: int) -> I8Lin:
        at = self.off
        o, i, nbytes = (self.u32(field) for _ in range(3))
        if (o, i) != (out, inp) or nbytes != out * inp:
            raise self.fail(at, field, f"shape [{o}, {i}] with {nbytes} bytes, expected [{out}, {inp}]")
        self.need(nbytes, field)
        w_off = self.off
        self.off += nbytes
        scales = self.f32vec(field + ".scales", (out,))
        return I8Lin(out, inp, w_off, scales.offset)


def read_layout(path: str | Path) -> Lq40Layout:
    """Walk an LQ40 file and return every tensor's offset (raises LQ40Error on any violation)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise LQ40Error(f"{p}: file not found", hint="run `zoo quantize` for this variant first") from exc
    w = _Walker(data, p)
    w.need(8, "header")
    if data[:4] != MAGIC:
        raise w.fail(0, "magic", f"{data[:4]!r}, expected b'LQ40'")
    w.off = 4
    jlen = w.u32("json_length")
    w.need(jlen, "json")
    try:
        cfg = json.loads(data[8 : 8 + jlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise w.fail(8, "json", f"not valid JSON ({exc})") from exc
    if not isinstance(cfg, dict):
        raise w.fail(8, "json", "not a JSON object")
    for key in REQUIRED_KEYS:
        # Every dimension divides or sizes something below; zero would crash the walk, not explain it.
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] <= 0:
            raise w.fail(8, f"json.{key}", f"missing or not a positive integer ({cfg.get(key)!r})")
    for hidden, heads in (("encoder_hidden", "encoder_heads"), ("predictor_inner_dim", "predictor_heads")):
        if cfg[hidden] % cfg[heads]:
            raise w.fail(8, f"json.{heads}", f"{cfg[heads]} does not divide {hidden} {cfg[hidden]}")
    mode = cfg.get("mode")
    if mode not in MODES:
        raise w.fail(8, "json.mode", f"{mode!r}, the esp32 target reads {', '.join(MODES)}")
    cfg.setdefault("meta_tokens", 0)
    if not isinstance(cfg["meta_tokens"], int) or isinstance(cfg["meta_tokens"], bool) or cfg["meta_tokens"] < 0:
        raise w.fail(8, "json.meta_tokens", f"not a non-negative integer ({cfg['meta_tokens']!r})")
    w.off = 8 + jlen

    he, le, ie = cfg["encoder_hidden"], cfg["encoder_layers"], cfg["encoder_inter"]
    hp, lp, ip = cfg["predictor_hidden"], cfg["predictor_layers"], cfg["predictor_inter"]
    inner, d, m = cfg["predictor_inner_dim"], cfg["latent_dim"], cfg["meta_tokens"]
    c, ps, img = cfg["channels"], cfg["patch_size"], cfg["image_size"]
    if ps <= 0 or img % ps:
        raise w.fail(8, "json.patch_size", f"{ps} does not divide image_size {img}")
    npatch = (img // ps) ** 2
    t: dict[str, F32Vec | Q4Lin | I8Lin] = {}

    t["enc.patch_w"] = w.f32vec("patch_proj", (he * c * ps * ps,))
    t["enc.patch_b"] = w.f32vec("patch_proj_bias", (he,))
    t["enc.cls"] = w.f32vec("cls_token", (he,))
    t["enc.pos"] = w.f32vec("pos_embed", ((1 + m + npatch) * he,))

    def enc_mat(field: str, out: int, inp: int) -> F32Vec | I8Lin | Q4Lin:
        if mode == "q4-full":
            return w.q4lin(field, out, inp)
        return w.i8lin(field, out, inp) if mode == "full" else w.f32vec(field, (out * inp,))

    for i in range(le):
        pre = f"enc.{i}."
        t[pre + "ln1_w"] = w.f32vec(pre + "attn_norm_w", (he,))
        t[pre + "ln1_b"] = w.f32vec(pre + "attn_norm_b", (he,))
        t[pre + "q"] = enc_mat(pre + "w_q", he, he)
        t[pre + "q_b"] = w.f32vec(pre + "q_bias", (he, 0))
        t[pre + "k"] = enc_mat(pre + "w_k", he, he)
        t[pre + "k_b"] = w.f32vec(pre + "k_bias", (he, 0))
        t[pre + "v"] = enc_mat(pre + "w_v", he, he)
        t[pre + "v_b"] = w.f32vec(pre + "v_bias", (he, 0))
        t[pre + "o"] = enc_mat(pre + "w_o", he, he)
        t[pre + "o_b"] = w.f32vec(pre + "o_bias", (he,))
        t[pre + "ln2_w"] = w.f32vec(pre + "ffn_norm_w", (he,))
        t[pre + "ln2_b"] = w.f32vec(pre + "ffn_norm_b", (he,))
        t[pre + "up"] = enc_mat(pre + "ffn_up", ie, he)
        t[pre + "up_b"] = w.f32vec(pre + "ffn_up_bias", (ie,))
        t[pre + "down"] = enc_mat(pre + "ffn_down", he, ie)
        t[pre + "down_b"] = w.f32vec(pre + "ffn_down_bias", (he,))
    t["enc.norm_w"] = w.f32vec("final_norm_w", (he,))
    t["enc.norm_b"] = w.f32vec("final_norm_b", (he,))

    def fv(name: str) -> F32Vec:
        v = t[name]
        assert isinstance(v, F32Vec)
        return v

    t["pred.pos"] = w.f32vec("predictor_pos_embed")
    if fv("pred.pos").count % d or fv("pred.pos").count == 0:
        raise w.fail(
            fv("pred.pos").offset - 4,
            "predictor_pos_embed",
            f"length {fv('pred.pos').count} not a multiple of D={d}",
        )
    def pred_mat(field: str, out: int, inp: int) -> F32Vec | Q4Lin:
        return w.f32vec(field, (out * inp,)) if mode == "f32" else w.q4lin(field, out, inp)

    for i in range(lp):
        pre = f"pred.{i}."
        t[pre + "adaln"] = pred_mat(pre + "adaLN", 6 * hp, hp)
        t[pre + "adaln_b"] = w.f32vec(pre + "adaln_bias", (6 * hp,))
        t[pre + "qkv"] = pred_mat(pre + "to_qkv", 3 * inner, hp)
        t[pre + "out"] = pred_mat(pre + "attn_out", hp, inner)
        t[pre + "out_b"] = w.f32vec(pre + "attn_out_bias", (hp,))
        t[pre + "attn_norm_w"] = w.f32vec(pre + "attn_norm_w", (hp,))
        t[pre + "attn_norm_b"] = w.f32vec(pre + "attn_norm_b", (hp,))
        t[pre + "mlp_norm_w"] = w.f32vec(pre + "mlp_norm_w", (hp,))
        t[pre + "mlp_norm_b"] = w.f32vec(pre + "mlp_norm_b", (hp,))
        t[pre + "up"] = pred_mat(pre + "mlp_up", ip, hp)
        t[pre + "up_b"] = w.f32vec(pre + "mlp_up_bias", (ip,))
        t[pre + "down"] = pred_mat(pre + "mlp_down", hp, ip)
        t[pre + "down_b"] = w.f32vec(pre + "mlp_down_bias", (hp,))
    t["pred.norm_w"] = w.f32vec("predictor_norm_w", (hp,))
    t["pred.norm_b"] = w.f32vec("predictor_norm_b", (hp,))
    ad = cfg["action_dim"]
    t["action_conv_w"] = w.f32vec("action_conv_w")
    if fv("action_conv_w").count % max(ad, 1) or fv("action_conv_w").count == 0:
        raise w.fail(
            fv("action_conv_w").offset - 4, "action_conv_w", f"length not a multiple of action_dim={ad}"
        )
    t["action_conv_b"] = w.f32vec("action_conv_b", (ad,))
    t["action_mlp1_w"] = w.f32vec("action_mlp1_w", (4 * d * ad,))
    t["action_mlp1_b"] = w.f32vec("action_mlp1_b", (4 * d,))
    t["action_mlp2_w"] = w.f32vec("action_mlp2_w", (d * 4 * d,))
    t["action_mlp2_b"] = w.f32vec("action_mlp2_b", (d,))
    for head, width in (("projector", he), ("pred_proj", hp)):
        at = w.off
        nslots = w.u32(head + ".nslots")
        if nslots < 2:
            raise w.fail(at, head + ".nslots", f"{nslots}, expected at least 2")
        for s in range(nslots):
            t[f"{head}.{s}.w"] = w.f32vec(f"{head}.slot{s}.weight")
            t[f"{head}.{s}.b"] = w.f32vec(f"{head}.slot{s}.bias")
        j = fv(f"{head}.0.b").count
        if fv(f"{head}.0.w").count != j * width or j == 0:
            raise w.fail(at, head + ".slot0", f"weight {fv(f'{head}.0.w').count} floats, expected J*{width}")
        if fv(f"{head}.1.b").count != d or fv(f"{head}.1.w").count != d * j:
            raise w.fail(at, head + ".slot1", f"shape does not match [D={d}, J={j}]")
        for s in range(2, nslots):
            if fv(f"{head}.{s}.w").count:
                raise w.fail(at, f"{head}.slot{s}", "third projection slot is not empty (unsupported)")
    trailer = (
        ("input_proj_w", hp * d), ("input_proj_b", hp), ("cond_proj_w", hp * d), ("cond_proj_b", hp),
        ("meta_token", m * he), ("enc_proj_w", he * he), ("enc_proj_b", he),
    )  # fmt: skip
    for name, n in trailer:
        if w.off >= len(data):
            t[name] = F32Vec(w.off, 0)
            continue
        t[name] = w.f32vec(name, (n, 0))
    if w.off != len(data):
        raise w.fail(w.off, "trailer", f"{len(data) - w.off} unexpected bytes after the last section")
    if (d != hp) and (fv("input_proj_w").count == 0 or fv("cond_proj_w").count == 0):
        raise w.fail(
            w.off, "input_proj_w", f"latent_dim {d} != predictor_hidden {hp} but input/cond_proj are missing"
        )
    return Lq40Layout(p, len(data), cfg, mode, t)
