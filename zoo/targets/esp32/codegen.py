"""Generated C for the esp32 target: lewm_model.h (config + blob offsets), lewm_golden.h (golden
vectors as C arrays), model_blob.S (embeds model.bin), and the memory report.

Golden outputs come from the zoo's numpy engine (`zoo.model.LeWM`) run on the weights
dequantized from the very blob the C code reads, so the C reference and the engine see the
same numbers and must agree to float32 rounding (cosine >= 0.9999).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig
from zoo.targets.esp32.layout import F32Vec, I8Lin, Lq40Layout, Q4Lin

F32 = NDArray[np.float32]

# ESP32-P4 limits (spec §5.1): factory app partition 0xFF0000 bytes, 32 MB PSRAM.
FLASH_PARTITION_BYTES = 0xFF0000
# ESP32-P4 modules ship with 16 or 32 MB of flash. synapse's partition table gives the factory app
# partition everything after the first 64 KiB (bootloader, partition table): 16 MB -> 0xFF0000, so a
# 32 MB module's is 0x1FF0000 (esp32 option flash_mb=32).
FLASH_SIZES_MB = (16, 32)
FLASH_RESERVED_BYTES = 0x10000


def flash_partition_bytes(flash_mb: int = 16) -> int:
    """App partition bytes of a module with `flash_mb` MB of flash (16 -> FLASH_PARTITION_BYTES)."""
    if flash_mb == 16:
        return FLASH_PARTITION_BYTES
    return flash_mb * 1024 * 1024 - FLASH_RESERVED_BYTES
PSRAM_BYTES = 32 * 1024 * 1024
COS_MIN = 0.9999
ROLLOUT_STEPS = 20
NONE = 0xFFFFFFFF
BN_EPS = 1e-5

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------ config and dimensions


@dataclasses.dataclass(frozen=True)
class Dims:
    d: int
    a: int
    ad: int
    he: int
    le: int
    nhe: int
    ie: int
    hp: int
    lp: int
    nhp: int
    inner: int
    ip: int
    je: int
    jp: int
    m: int
    ch: int
    patch: int
    img: int
    hist: int
    has_input_proj: bool
    linear_layers: tuple[bool, ...]

    @property
    def grid(self) -> int:
        return self.img // self.patch

    @property
    def npatch(self) -> int:
        return self.grid**2

    @property
    def seq(self) -> int:
        return 1 + self.m + self.npatch

    @property
    def rowbuf(self) -> int:
        widths = (
            self.hp,
            self.inner,
            self.ip,
            self.d,
            4 * self.d,
            self.ad,
            self.a,
            self.jp,
            self.je,
            self.he,
            self.ie,
        )
        return 32 * math.ceil(max(widths) / 32)

    def pred_scratch(self) -> int:
        return (
            self.hist
            * (5 * self.hp + 6 * self.hp + 4 * self.inner + max(self.ip, 4 * self.d) + 2 * self.d + self.ad)
            + self.jp
            + self.rowbuf
        )

    def enc_scratch(self) -> int:
        hd = self.he // self.nhe
        return (
            2 * self.seq * self.he
            + max(4 * self.seq * self.he, self.seq * self.ie)
            + max(self.seq, hd * hd + hd)
            + self.ch * self.patch * self.patch
            + self.je
            + self.he
            + self.rowbuf
        )

    def scratch_floats(self, with_encoder: bool) -> int:
        return max(self.pred_scratch(), self.enc_scratch() if with_encoder else 0)


def dims_of(lay: Lq40Layout) -> Dims:
    c = lay.config
    d = c["latent_dim"]
    linear = tuple(lay.f32(f"enc.{i}.q_b").count == 0 for i in range(c["encoder_layers"]))
    return Dims(
        d=d, a=lay.action_input_dim, ad=c["action_dim"], he=c["encoder_hidden"], le=c["encoder_layers"],
        nhe=c["encoder_heads"], ie=c["encoder_inter"], hp=c["predictor_hidden"], lp=c["predictor_layers"],
        nhp=c["predictor_heads"], inner=c["predictor_inner_dim"], ip=c["predictor_inter"],
        je=lay.f32("projector.0.b").count, jp=lay.f32("pred_proj.0.b").count, m=c["meta_tokens"],
        ch=c["channels"], patch=c["patch_size"], img=c["image_size"], hist=lay.f32("pred.pos").count // d,
        has_input_proj=lay.f32("input_proj_w").count > 0, linear_layers=linear,
    )  # fmt: skip


def engine_config(lay: Lq40Layout, encoder_kind: str | None = None) -> LeWMConfig:
    """The LeWMConfig the blob implies (hybrid when it has meta tokens or linear-attention blocks)."""
    dm = dims_of(lay)
    hybrid = encoder_kind == "hybrid" or dm.m > 0 or any(dm.linear_layers)
    pattern = "".join("L" if lin else "A" for lin in dm.linear_layers) if hybrid else ""
    return LeWMConfig(
        encoder_type="hybrid" if hybrid else "vit", encoder_hidden=dm.he, encoder_layers=dm.le,
        encoder_heads=dm.nhe, encoder_inter=dm.ie, meta_tokens=dm.m, block_pattern=pattern,
        predictor_hidden=dm.hp, predictor_layers=dm.lp, predictor_inner_dim=dm.inner, predictor_heads=dm.nhp,
        predictor_inter=dm.ip, latent_dim=dm.d, action_dim=dm.ad, action_input_dim=dm.a,
        projector_hidden=dm.jp, history_size=dm.hist, has_input_proj=dm.has_input_proj,
        has_cond_proj=dm.has_input_proj, image_size=dm.img, patch_size=dm.patch, channels=dm.ch,
    )  # fmt: skip


# ------------------------------------------------------------------ dequantization


def _f32(data: bytes, v: F32Vec) -> F32:
    return np.frombuffer(data, dtype="<f4", count=v.count, offset=v.offset).astype(np.float32)


def dequant_q4(data: bytes, q: Q4Lin) -> F32:
    """[out, in] float32 from a Q4LIN (blocks of 32, low nibble = even element, value (n-8)*scale)."""
    bpr = (q.inp + 31) // 32
    bits = np.unpackbits(
        np.frombuffer(data, np.uint8, (q.total_blocks + 7) // 8, q.bitmap), bitorder="little"
    )
    present = bits[: q.total_blocks].astype(bool)
    raw = np.frombuffer(data, np.uint8, 20 * q.nonzero, q.blocks).reshape(q.nonzero, 20)
    scales = raw[:, :4].copy().view("<f4").astype(np.float32)  # [nnz, 1]
    nib = raw[:, 4:]
    vals = np.empty((q.nonzero, 32), np.float32)
    vals[:, 0::2] = (nib & 15).astype(np.float32) - 8.0
    vals[:, 1::2] = (nib >> 4).astype(np.float32) - 8.0
    vals *= scales
    full = np.zeros((q.total_blocks, 32), np.float32)
    full[present] = vals
    return full.reshape(q.out, bpr * 32)[:, : q.inp]


def dequant_i8(data: bytes, m: I8Lin) -> F32:
    q = np.frombuffer(data, np.int8, m.out * m.inp, m.weights).reshape(m.inp, m.out)
    s = np.frombuffer(data, "<f4", m.out, m.scales).astype(np.float32)
    return (q.T.astype(np.float32) * s[:, None]).astype(np.float32)


def blob_weights(lay: Lq40Layout, data: bytes) -> dict[str, F32]:
    """Canonical (spec §1.2) tensors dequantized from the blob; projector BN is identity (folded)."""
    dm = dims_of(lay)
    t = lay.tensors

    def mat(name: str, out: int, inp: int) -> F32:
        v = t[name]
        if isinstance(v, Q4Lin):
            return dequant_q4(data, v)
        if isinstance(v, I8Lin):
            return dequant_i8(data, v)
        return _f32(data, v).reshape(out, inp)

    def vec(name: str) -> F32:
        v = t[name]
        assert isinstance(v, F32Vec)
        return _f32(data, v)

    w: dict[str, F32] = {}
    he, pd = dm.he, dm.patch
    w["encoder.embeddings.patch_embeddings.projection.weight"] = vec("enc.patch_w").reshape(he, dm.ch, pd, pd)
    w["encoder.embeddings.patch_embeddings.projection.bias"] = vec("enc.patch_b")
    w["encoder.embeddings.cls_token"] = vec("enc.cls").reshape(1, 1, he)
    w["encoder.embeddings.position_embeddings"] = vec("enc.pos").reshape(1, dm.seq, he)
    if dm.m:
        w["encoder.meta_token"] = vec("meta_token").reshape(1, dm.m, he)
    for i in range(dm.le):
        p, e = f"encoder.encoder.layer.{i}", f"enc.{i}."
        w[f"{p}.layernorm_before.weight"] = vec(e + "ln1_w")
        w[f"{p}.layernorm_before.bias"] = vec(e + "ln1_b")
        for short, full in (("q", "query"), ("k", "key"), ("v", "value")):
            w[f"{p}.attention.attention.{full}.weight"] = mat(e + short, he, he)
            if not dm.linear_layers[i]:
                w[f"{p}.attention.attention.{full}.bias"] = vec(e + short + "_b")
        w[f"{p}.attention.output.dense.weight"] = mat(e + "o", he, he)
        w[f"{p}.attention.output.dense.bias"] = vec(e + "o_b")
        w[f"{p}.layernorm_after.weight"] = vec(e + "ln2_w")
        w[f"{p}.layernorm_after.bias"] = vec(e + "ln2_b")
        w[f"{p}.intermediate.dense.weight"] = mat(e + "up", dm.ie, he)
        w[f"{p}.intermediate.dense.bias"] = vec(e + "up_b")
        w[f"{p}.output.dense.weight"] = mat(e + "down", he, dm.ie)
        w[f"{p}.output.dense.bias"] = vec(e + "down_b")
    w["encoder.layernorm.weight"] = vec("enc.norm_w")
    w["encoder.layernorm.bias"] = vec("enc.norm_b")
    for head, width, j in (("projector", he, dm.je), ("pred_proj", dm.hp, dm.jp)):
        w[f"{head}.net.0.weight"] = vec(f"{head}.0.w").reshape(j, width)
        w[f"{head}.net.0.bias"] = vec(f"{head}.0.b")
        w[f"{head}.net.1.weight"] = np.ones(j, np.float32)
        w[f"{head}.net.1.bias"] = np.zeros(j, np.float32)
        w[f"{head}.net.1.running_mean"] = np.zeros(j, np.float32)
        w[f"{head}.net.1.running_var"] = np.full(j, 1.0 - BN_EPS, np.float32)
        w[f"{head}.net.3.weight"] = vec(f"{head}.1.w").reshape(dm.d, j)
        w[f"{head}.net.3.bias"] = vec(f"{head}.1.b")
    w["action_encoder.patch_embed.weight"] = vec("action_conv_w").reshape(dm.ad, dm.a, 1)
    w["action_encoder.patch_embed.bias"] = vec("action_conv_b")
    w["action_encoder.embed.0.weight"] = vec("action_mlp1_w").reshape(4 * dm.d, dm.ad)
    w["action_encoder.embed.0.bias"] = vec("action_mlp1_b")
    w["action_encoder.embed.2.weight"] = vec("action_mlp2_w").reshape(dm.d, 4 * dm.d)
    w["action_encoder.embed.2.bias"] = vec("action_mlp2_b")
    w["predictor.pos_embedding"] = vec("pred.pos").reshape(1, dm.hist, dm.d)
    pt = "predictor.transformer"
    if dm.has_input_proj:
        for proj in ("input_proj", "cond_proj"):
            w[f"{pt}.{proj}.weight"] = vec(proj + "_w").reshape(dm.hp, dm.d)
            w[f"{pt}.{proj}.bias"] = vec(proj + "_b")
    for i in range(dm.lp):
        p, e = f"{pt}.layers.{i}", f"pred.{i}."
        w[f"{p}.adaLN_modulation.1.weight"] = mat(e + "adaln", 6 * dm.hp, dm.hp)
        w[f"{p}.adaLN_modulation.1.bias"] = vec(e + "adaln_b")
        w[f"{p}.attn.norm.weight"] = vec(e + "attn_norm_w")
        w[f"{p}.attn.norm.bias"] = vec(e + "attn_norm_b")
        w[f"{p}.attn.to_qkv.weight"] = mat(e + "qkv", 3 * dm.inner, dm.hp)
        w[f"{p}.attn.to_out.0.weight"] = mat(e + "out", dm.hp, dm.inner)
        w[f"{p}.attn.to_out.0.bias"] = vec(e + "out_b")
        w[f"{p}.mlp.net.0.weight"] = vec(e + "mlp_norm_w")
        w[f"{p}.mlp.net.0.bias"] = vec(e + "mlp_norm_b")
        w[f"{p}.mlp.net.1.weight"] = mat(e + "up", dm.ip, dm.hp)
        w[f"{p}.mlp.net.1.bias"] = vec(e + "up_b")
        w[f"{p}.mlp.net.4.weight"] = mat(e + "down", dm.hp, dm.ip)
        w[f"{p}.mlp.net.4.bias"] = vec(e + "down_b")
    w[f"{pt}.norm.weight"] = vec("pred.norm_w")
    w[f"{pt}.norm.bias"] = vec("pred.norm_b")
    return w


# ------------------------------------------------------------------ golden vectors


def deterministic_vec(n: int, seed: int) -> F32:
    """Spec §4.1: mixed = seed*1664525 + idx*1013904223 (mod 2^32); v = ((mixed mod 2001) - 1000)/1000."""
    idx = np.arange(n, dtype=np.uint64)
    mixed = (np.uint64(seed) * np.uint64(1664525) + idx * np.uint64(1013904223)) % np.uint64(1 << 32)
    return (((mixed % np.uint64(2001)).astype(np.int64) - 1000) / 1000.0).astype(np.float32)


def gradient_image(size: int, channels: int = 3) -> F32:
    """Spec §4.1 gradient test image, ImageNet-normalised, as [C, H, W]."""
    y, x = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    raw = np.stack([y / 224.0, x / 224.0, 0.5 + 0.5 * np.sin((x + y) / 448.0)])[:channels]
    mean = np.asarray(IMAGENET_MEAN[:channels])[:, None, None]
    std = np.asarray(IMAGENET_STD[:channels])[:, None, None]
    return ((raw - mean) / std).astype(np.float32)


def golden_actions(steps: int, a: int) -> F32:
    """Spec §4.1 20-step action sequence: a[0] = 0.5 sin(pi i/20), a[1] = 0.3 cos(pi i/20), rest 0."""
    i = np.arange(steps, dtype=np.float64)
    out = np.zeros((steps, a), np.float32)
    out[:, 0] = 0.5 * np.sin(np.pi * i / 20.0)
    if a > 1:
        out[:, 1] = 0.3 * np.cos(np.pi * i / 20.0)
    return out


@dataclasses.dataclass
class Golden:
    gemv_x: F32
    gemv_y: F32
    z: F32  # [hist, D]
    a: F32  # [hist, A]
    predict_t1: F32
    predict_thist: F32
    rollout_z0: F32
    rollout_a: F32  # [steps, A]
    rollout: F32  # [steps, D]
    image: F32 | None
    latent: F32 | None

    def expected(self) -> dict[str, F32]:
        out = {
            "gemv": self.gemv_y,
            "predict@T1": self.predict_t1,
            "predict@Thist": self.predict_thist,
            "rollout": self.rollout.reshape(-1),
        }
        if self.latent is not None:
            out["encode"] = self.latent
        return out


def compute_golden(lay: Lq40Layout, data: bytes, *, encoder: bool, encoder_kind: str | None = None) -> Golden:
    from zoo.model.engine import LeWM

    dm = dims_of(lay)
    cfg = engine_config(lay, encoder_kind)
    weights = blob_weights(lay, data)
    model = LeWM.from_weights(cfg, weights, source=str(lay.path))
    w_ada = weights["predictor.transformer.layers.0.adaLN_modulation.1.weight"]
    gemv_x = deterministic_vec(dm.hp, 5)
    gemv_y = (w_ada.astype(np.float64) @ gemv_x.astype(np.float64)).astype(np.float32)
    z = np.stack([deterministic_vec(dm.d, 11 + k) for k in range(dm.hist)])
    a = np.stack([deterministic_vec(dm.a, 101 + 17 * k) for k in range(dm.hist)])
    p1 = model.predict(z[None, :1], a[None, :1])[0, -1]
    ph = model.predict(z[None], a[None])[0, -1]
    image = latent = None
    if encoder:
        image = gradient_image(dm.img, dm.ch)
        latent = model.encode(image[None])[0]
        z0 = latent
    else:
        z0 = deterministic_vec(dm.d, 11)
    ra = golden_actions(ROLLOUT_STEPS, dm.a)
    roll = model.rollout(z0[None], ra[None])[0]
    for name, arr in (("predict", ph), ("rollout", roll), ("latent", latent)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise InputError(f"{lay.path}: the numpy engine gives non-finite {name} outputs for this blob")
    return Golden(gemv_x, gemv_y, z, a, p1, ph, z0.astype(np.float32), ra, roll, image, latent)


# ------------------------------------------------------------------ memory report


def memory_report(lay: Lq40Layout, *, encoder: bool, flash_mb: int = 16) -> dict[str, Any]:
    """Flash (the blob) and RAM: the C reference's scratch plus what the ESP32 firmware copies to
    PSRAM at load (every F32VEC, re-transposed INT8 matrices padded to 16, per-row Q4 prefix tables)."""
    dm = dims_of(lay)
    scratch = 4 * dm.scratch_floats(encoder)
    f32_copies = sum(4 * v.count for v in lay.tensors.values() if isinstance(v, F32Vec))
    i8_copies = sum(v.out * 16 * math.ceil(v.inp / 16) for v in lay.tensors.values() if isinstance(v, I8Lin))
    q4_tables = sum(4 * (v.out + 1) for v in lay.tensors.values() if isinstance(v, Q4Lin))
    psram = scratch + f32_copies + i8_copies + q4_tables
    return {
        "flash_bytes": lay.size,
        "flash_limit_bytes": flash_partition_bytes(flash_mb),
        "flash_mb": flash_mb,
        "ram_scratch_bytes": scratch,
        "psram_bytes": psram,
        "psram_limit_bytes": PSRAM_BYTES,
        "psram_breakdown": {
            "scratch": scratch,
            "f32_copies": f32_copies,
            "int8_retransposed": i8_copies,
            "q4_row_tables": q4_tables,
        },
        "fits": lay.size <= flash_partition_bytes(flash_mb) and psram <= PSRAM_BYTES,
    }


def check_fits(report: dict[str, Any], variant: str) -> None:
    problems = []
    if report["flash_bytes"] > report["flash_limit_bytes"]:
        problems.append(
            f"blob {report['flash_bytes']:,} B > flash partition {report['flash_limit_bytes']:,} B "
            f"({report['flash_limit_bytes']:#X}, {report.get('flash_mb', 16)} MB module)"
        )
    if report["psram_bytes"] > report["psram_limit_bytes"]:
        problems.append(f"RAM {report['psram_bytes']:,} B > PSRAM {report['psram_limit_bytes']:,} B")
    if problems:
        raise InputError(
            f"{variant}: does not fit the ESP32-P4: " + "; ".join(problems),
            hint="pick a smaller variant or a Q4/full-mode quantization of it"
            + ("; for a 32 MB-flash ESP32-P4 module pass --option flash_mb=32 (registry: target_options)"
               if report.get("flash_mb", 16) < 32 and report["flash_bytes"] > report["flash_limit_bytes"] else ""),
        )


# ------------------------------------------------------------------ C text


def _c_floats(arr: np.ndarray, per_line: int = 6) -> str:
    flat = np.asarray(arr, np.float32).reshape(-1)
    if flat.size == 0:
        return "0.0f"
    text = np.char.add(np.char.mod("%.8e", flat.astype(np.float64)), "f")
    lines = [", ".join(text[i : i + per_line]) for i in range(0, flat.size, per_line)]
    return ",\n    ".join(lines)


def _q4(q: Q4Lin) -> str:
    return f"{{{q.out}u, {q.inp}u, {q.total_blocks}u, {q.nonzero}u, {q.bitmap}u, {q.blocks}u}}"


def _pmat(v: F32Vec | I8Lin | Q4Lin, out: int, inp: int) -> str:
    """A predictor matrix: Q4LIN, or (wasm f32 builds) float32 [out][in] marked by bitmap = NONE."""
    if isinstance(v, Q4Lin):
        return _q4(v)
    if isinstance(v, F32Vec):
        return f"{{{out}u, {inp}u, 0u, 0u, {NONE}u, {v.offset}u}}"
    raise InputError(f"predictor matrix stored as INT8 is not supported by the C reference ({v})")


def _mat(v: F32Vec | I8Lin | Q4Lin, out: int, inp: int) -> str:
    if isinstance(v, I8Lin):
        return f"{{1u, {v.out}u, {v.inp}u, {v.weights}u, {v.scales}u}}"
    if isinstance(v, F32Vec):
        return f"{{0u, {out}u, {inp}u, {v.offset}u, {NONE}u}}"
    return f"{{2u, {v.out}u, {v.inp}u, {v.bitmap}u, {v.blocks}u}}"  # Q4 (q4-full): bitmap, blocks


def _off(v: Any) -> str:
    return f"{v.offset}u" if isinstance(v, F32Vec) and v.count else f"{NONE}u"


def model_header(lay: Lq40Layout, variant: str, *, encoder: bool) -> str:
    dm = dims_of(lay)
    t = lay.tensors
    enc_eps = "1e-5f" if engine_config(lay).encoder_type == "hybrid" else "1e-12f"
    lines = [
        f"/* lewm_model.h - generated by lewm-zoo for variant {variant} (LQ40 mode {lay.mode}). Do not edit. */",
        "#ifndef LEWM_MODEL_H",
        "#define LEWM_MODEL_H",
        "",
        f"#define LEWM_BLOB_SIZE {lay.size}u /* bytes of model.bin */",
        f'#define LEWM_MODE "{lay.mode}"',
        f"#define LEWM_MODE_FULL {int(lay.mode == 'full')}",
        f"#define LEWM_HAS_ENCODER {int(encoder)}",
        f"#define LEWM_HAS_INPUT_PROJ {int(dm.has_input_proj)}",
        f"#define LEWM_COS_MIN {COS_MIN}f",
        "",
        "/* configuration */",
    ]
    macros = {
        "D": dm.d, "A": dm.a, "AD": dm.ad, "HE": dm.he, "LE": dm.le, "NHE": dm.nhe, "IE": dm.ie,
        "HP": dm.hp, "LP": dm.lp, "NHP": dm.nhp, "INNER": dm.inner, "IP": dm.ip, "JE": dm.je, "JP": dm.jp,
        "M": dm.m, "CH": dm.ch, "PATCH": dm.patch, "IMG": dm.img, "GRID": dm.grid, "NPATCH": dm.npatch,
        "SEQ": dm.seq, "HIST": dm.hist, "ROWBUF": dm.rowbuf, "SCRATCH_FLOATS": dm.scratch_floats(encoder),
    }  # fmt: skip
    lines += [f"#define LEWM_{k} {v}" for k, v in macros.items()]
    lines += [f"#define LEWM_ENC_LN_EPS {enc_eps}", "", "/* byte offsets of f32 data inside the blob */"]
    offs = {
        "PRED_POS": "pred.pos", "PRED_NORM_W": "pred.norm_w", "PRED_NORM_B": "pred.norm_b",
        "ACT_CONV_W": "action_conv_w", "ACT_CONV_B": "action_conv_b", "ACT1_W": "action_mlp1_w",
        "ACT1_B": "action_mlp1_b", "ACT2_W": "action_mlp2_w", "ACT2_B": "action_mlp2_b",
        "PP0_W": "pred_proj.0.w", "PP0_B": "pred_proj.0.b", "PP1_W": "pred_proj.1.w", "PP1_B": "pred_proj.1.b",
        "PJ0_W": "projector.0.w", "PJ0_B": "projector.0.b", "PJ1_W": "projector.1.w", "PJ1_B": "projector.1.b",
        "IN_W": "input_proj_w", "IN_B": "input_proj_b", "COND_W": "cond_proj_w", "COND_B": "cond_proj_b",
        "ENC_PATCH_W": "enc.patch_w", "ENC_PATCH_B": "enc.patch_b", "ENC_CLS": "enc.cls", "ENC_POS": "enc.pos",
        "ENC_META": "meta_token", "ENC_NORM_W": "enc.norm_w", "ENC_NORM_B": "enc.norm_b",
    }  # fmt: skip
    lines += [f"#define LEWM_OFF_{k} {_off(t[v])}" for k, v in offs.items()]

    def f(name: str) -> str:
        return _off(t[name])

    hp, inner, ip = dm.hp, dm.inner, dm.ip
    rows = []
    for i in range(dm.lp):
        e = f"pred.{i}."
        rows.append(
            f"    {{{_pmat(t[e + 'adaln'], 6 * hp, hp)}, {f(e + 'adaln_b')}, {_pmat(t[e + 'qkv'], 3 * inner, hp)}, "
            f"{_pmat(t[e + 'out'], hp, inner)}, "
            f"{f(e + 'out_b')}, {f(e + 'attn_norm_w')}, {f(e + 'attn_norm_b')}, {f(e + 'mlp_norm_w')}, "
            f"{f(e + 'mlp_norm_b')}, {_pmat(t[e + 'up'], ip, hp)}, {f(e + 'up_b')}, {_pmat(t[e + 'down'], hp, ip)}, "
            f"{f(e + 'down_b')}}}"
        )
    lines += ["", "/* predictor layers (lewm_pred_layer_t, field order as in lewm_ref.h) */"]
    lines.append("#define LEWM_PRED_LAYERS_INIT { \\\n" + ", \\\n".join(rows) + " \\\n}")
    if encoder:
        rows = []
        he, ie = dm.he, dm.ie
        for i in range(dm.le):
            e = f"enc.{i}."
            rows.append(
                f"    {{{int(dm.linear_layers[i])}u, {f(e + 'ln1_w')}, {f(e + 'ln1_b')}, "
                f"{_mat(t[e + 'q'], he, he)}, {f(e + 'q_b')}, {_mat(t[e + 'k'], he, he)}, {f(e + 'k_b')}, "
                f"{_mat(t[e + 'v'], he, he)}, {f(e + 'v_b')}, {_mat(t[e + 'o'], he, he)}, {f(e + 'o_b')}, "
                f"{f(e + 'ln2_w')}, {f(e + 'ln2_b')}, {_mat(t[e + 'up'], ie, he)}, {f(e + 'up_b')}, "
                f"{_mat(t[e + 'down'], he, ie)}, {f(e + 'down_b')}}}"
            )
        lines += ["", "/* encoder layers (lewm_enc_layer_t) */"]
        lines.append("#define LEWM_ENC_LAYERS_INIT { \\\n" + ", \\\n".join(rows) + " \\\n}")
    lines += ["", "#endif", ""]
    return "\n".join(lines)


def golden_header(lay: Lq40Layout, g: Golden, variant: str) -> str:
    dm = dims_of(lay)
    q = lay.tensors["pred.0.adaln"]
    assert isinstance(q, Q4Lin)
    max_out = max(6 * dm.hp, dm.d)
    parts = [
        f"/* lewm_golden.h - golden vectors for variant {variant}, computed by the lewm-zoo numpy engine",
        " * on the weights dequantized from model.bin. Generated; do not edit. */",
        "#ifndef LEWM_GOLDEN_H",
        "#define LEWM_GOLDEN_H",
        "",
        f"#define LEWM_ROLLOUT_STEPS {ROLLOUT_STEPS}",
        f"#define LEWM_GOLDEN_MAX_OUT {max_out}",
        f"#define LEWM_GOLDEN_HAS_ENCODE {int(g.latent is not None)}",
        "",
        "/* Q4 GEMV check: predictor layer 0 adaLN matrix times a deterministic vector */",
        f"static const lewm_q4_t lewm_golden_gemv_w = {_q4(q)};",
    ]

    def arr(name: str, values: np.ndarray) -> None:
        parts.append(
            f"static const float {name}[{np.asarray(values).size}] = {{\n    {_c_floats(values)}\n}};"
        )

    arr("lewm_golden_gemv_x", g.gemv_x)
    arr("lewm_golden_gemv_y", g.gemv_y)
    arr("lewm_golden_z", g.z)
    arr("lewm_golden_a", g.a)
    arr("lewm_golden_predict_t1", g.predict_t1)
    arr("lewm_golden_predict_thist", g.predict_thist)
    arr("lewm_golden_rollout_z0", g.rollout_z0)
    arr("lewm_golden_rollout_a", g.rollout_a)
    arr("lewm_golden_rollout", g.rollout)
    if g.image is not None and g.latent is not None:
        arr("lewm_golden_image", g.image)
        arr("lewm_golden_latent", g.latent)
    parts += ["", "#endif", ""]
    return "\n".join(parts)


BLOB_ASM = """/* model_blob.S - embeds model.bin like ESP-IDF's target_add_binary_data (generated). */
    .section .rodata
    .balign 16
    .globl _binary_model_bin_start
    .globl _binary_model_bin_end
_binary_model_bin_start:
    .incbin "model.bin"
_binary_model_bin_end:
    .byte 0
#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",@progbits
#endif
"""
