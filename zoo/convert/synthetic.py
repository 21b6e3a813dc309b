"""Torch-free writers of crucible-format checkpoints, and seeded synthetic LeWM weights.

`write_object_checkpoint` produces what `torch.save(jepa_module)` writes: a zip (entries stored,
`data/N` 64-byte aligned) with `<stem>/data.pkl` (pickle protocol 2) describing a module tree
(`jepa.JEPA`, `module.ARPredictor`, transformers ViT classes, `torch.nn.modules.*`) whose
`_parameters` / `_buffers` hold `_rebuild_parameter(_rebuild_tensor_v2(...))` calls over
`('storage', torch.FloatStorage, key, 'cpu', numel)` persistent ids. `write_lightning_checkpoint`
writes the Lightning dict (`state_dict` with `model.` prefix, `sigreg.*`, optimizer state),
`write_state_dict` a plain state_dict (`weights.pt`). Output is byte-deterministic.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from zoo._io import atomic_write_bytes

_STORAGE_NAMES = {
    "float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage", "bfloat16": "BFloat16Storage",
    "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage", "int8": "CharStorage",
    "uint8": "ByteStorage", "bool": "BoolStorage",
}
_BUFFER_LEAVES = ("running_mean", "running_var", "num_batches_tracked")


# -- a tiny protocol-2 pickle emitter ------------------------------------------------------------
@dataclass(frozen=True)
class Global:
    module: str
    name: str


@dataclass(eq=False)
class Call:
    func: Global
    args: tuple[Any, ...]


@dataclass(eq=False)
class NewObj:
    cls: Global
    state: dict[str, Any]


@dataclass(eq=False)
class OrderedDictOf:
    items: list[tuple[Any, Any]] = field(default_factory=list)


@dataclass(eq=False)
class TensorRef:
    key: str
    array: np.ndarray[Any, Any]
    parameter: bool


class _Emitter:
    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.memo: dict[Any, int] = {}

    def _put(self, key: Any) -> None:
        idx = len(self.memo)
        self.memo[key] = idx
        self.out.write(b"q" + bytes([idx]) if idx < 256 else b"r" + struct.pack("<I", idx))

    def _get(self, key: Any) -> bool:
        idx = self.memo.get(key)
        if idx is None:
            return False
        self.out.write(b"h" + bytes([idx]) if idx < 256 else b"j" + struct.pack("<I", idx))
        return True

    def dump(self, obj: Any) -> bytes:
        self.out.write(b"\x80\x02")
        self.save(obj)
        self.out.write(b".")
        return self.out.getvalue()

    def save(self, obj: Any) -> None:
        w = self.out.write
        if obj is None:
            w(b"N")
        elif obj is True:
            w(b"\x88")
        elif obj is False:
            w(b"\x89")
        elif isinstance(obj, int):
            if 0 <= obj < 256:
                w(b"K" + bytes([obj]))
            elif 0 <= obj < 65536:
                w(b"M" + struct.pack("<H", obj))
            elif -(2**31) <= obj < 2**31:
                w(b"J" + struct.pack("<i", obj))
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                w(b"\x8a" + bytes([len(raw)]) + raw)
        elif isinstance(obj, float):
            w(b"G" + struct.pack(">d", obj))
        elif isinstance(obj, str):
            data = obj.encode("utf-8")
            w(b"X" + struct.pack("<I", len(data)) + data)
        elif isinstance(obj, Global):
            if not self._get(("g", obj)):
                w(b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
                self._put(("g", obj))
        elif isinstance(obj, tuple):
            if not obj:
                w(b")")
            elif len(obj) <= 3:
                for item in obj:
                    self.save(item)
                w(b"\x85\x86\x87"[len(obj) - 1 : len(obj)])
            else:
                w(b"(")
                for item in obj:
                    self.save(item)
                w(b"t")
        elif isinstance(obj, list):
            w(b"]")
            if obj:
                w(b"(")
                for item in obj:
                    self.save(item)
                w(b"e")
        elif isinstance(obj, dict):
            w(b"}")
            self._items(list(obj.items()))
        elif isinstance(obj, OrderedDictOf):
            self.save(Global("collections", "OrderedDict"))
            w(b")R")
            self._items(obj.items)
        elif isinstance(obj, set):
            self.save(Global("__builtin__", "set"))
            self.save((sorted(obj),))
            w(b"R")
        elif isinstance(obj, Call):
            self.save(obj.func)
            self.save(obj.args)
            w(b"R")
        elif isinstance(obj, NewObj):
            if self._get(("o", id(obj))):
                return
            self.save(obj.cls)
            w(b")\x81")
            self._put(("o", id(obj)))
            self.save(obj.state)
            w(b"b")
        elif isinstance(obj, TensorRef):
            self._tensor(obj)
        else:
            raise TypeError(f"cannot emit {type(obj).__name__}")

    def _items(self, items: list[tuple[Any, Any]]) -> None:
        if not items:
            return
        self.out.write(b"(")
        for k, v in items:
            self.save(k)
            self.save(v)
        self.out.write(b"u")

    def _tensor(self, t: TensorRef) -> None:
        w = self.out.write
        if t.parameter:
            self.save(Global("torch._utils", "_rebuild_parameter"))
        self.save(Global("torch._utils", "_rebuild_tensor_v2"))
        w(b"(")
        # persistent id tuple ('storage', torch.XStorage, key, 'cpu', numel) then BINPERSID
        w(b"(")
        self.save("storage")
        self.save(Global("torch", _STORAGE_NAMES[t.array.dtype.name]))
        self.save(t.key)
        self.save("cpu")
        self.save(int(t.array.size))
        w(b"tQ")
        self.save(0)
        shape = tuple(int(x) for x in t.array.shape)
        stride = []
        acc = 1
        for s in reversed(shape):
            stride.append(acc)
            acc *= s
        self.save(shape)
        self.save(tuple(reversed(stride)))
        self.save(False)
        self.save(OrderedDictOf())
        w(b"tR")
        if t.parameter:
            # _rebuild_parameter(tensor, requires_grad, OrderedDict()): the tensor is already on the stack
            w(b"\x88")
            self.save(OrderedDictOf())
            w(b"\x87R")


# -- zip container -----------------------------------------------------------------------------
def _zip_bytes(stem: str, pickle_bytes: bytes, storages: list[tuple[str, bytes]]) -> bytes:
    """torch.save's container: entries stored, data/N aligned to 64 bytes via a padding extra field."""
    buf = io.BytesIO()
    members: list[tuple[str, bytes]] = [(f"{stem}/data.pkl", pickle_bytes), (f"{stem}/.format_version", b"1"),
                                        (f"{stem}/.storage_alignment", b"64"), (f"{stem}/byteorder", b"little")]
    members += [(f"{stem}/data/{key}", data) for key, data in storages]
    serial = hashlib.sha256(pickle_bytes + b"".join(d for _, d in storages[:4])).hexdigest()
    members += [(f"{stem}/version", b"3\n"), (f"{stem}/.data/serialization_id", str(int(serial[:16], 16)).encode())]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o600 << 16
            pos = buf.tell()
            base = pos + 30 + len(name.encode())
            pad = (-(base + 4)) % 64
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            zf.writestr(info, data)
    return buf.getvalue()


class _Storages:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def ref(self, array: np.ndarray[Any, Any], parameter: bool) -> TensorRef:
        key = str(len(self.items))
        arr = np.asarray(array)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        if arr.dtype.name not in _STORAGE_NAMES:
            raise TypeError(f"unsupported dtype {arr.dtype}")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        self.items.append((key, arr.tobytes()))
        return TensorRef(key, arr, parameter)


# -- module tree -----------------------------------------------------------------------------
_HF = "transformers.models.vit.modeling_vit"
_NN = "torch.nn.modules"
# (path regex, class) for the module tree of a LeWM JEPA; first match wins
_MODULE_CLASSES: tuple[tuple[str, Global], ...] = (
    (r"", Global("jepa", "JEPA")),
    (r"encoder", Global(_HF, "ViTModel")),
    (r"encoder\.embeddings", Global(_HF, "ViTEmbeddings")),
    (r"encoder\.embeddings\.patch_embeddings", Global(_HF, "ViTPatchEmbeddings")),
    (r"encoder\.encoder", Global(_HF, "ViTEncoder")),
    (r"encoder\.encoder\.layers?\.\d+", Global(_HF, "ViTLayer")),
    (r"encoder\.encoder\.layers?\.\d+\.attention", Global(_HF, "ViTAttention")),
    (r"encoder\.encoder\.layers?\.\d+\.attention\.attention", Global(_HF, "ViTSelfAttention")),
    (r"encoder\.encoder\.layers?\.\d+\.attention\.output", Global(_HF, "ViTSelfOutput")),
    (r"encoder\.encoder\.layers?\.\d+\.intermediate", Global(_HF, "ViTIntermediate")),
    (r"encoder\.encoder\.layers?\.\d+\.output", Global(_HF, "ViTOutput")),
    (r"encoder\.encoder\.layers?\.\d+\.mlp", Global(_HF, "ViTMLP")),
    (r"encoder\.blocks\.\d+", Global("hybrid_lewm_upstream", "HybridBlock")),
    (r"encoder\.blocks\.\d+\.attn", Global("hybrid_lewm_upstream", "BlockAttention")),
    (r"encoder\.patch_embed", Global("hybrid_lewm_upstream", "PatchEmbed")),
    (r"predictor", Global("module", "ARPredictor")),
    (r"predictor\.transformer", Global("module", "Transformer")),
    (r"predictor\.transformer\.layers\.\d+", Global("module", "ConditionalBlock")),
    (r"predictor\.transformer\.layers\.\d+\.attn", Global("module", "Attention")),
    (r"predictor\.transformer\.layers\.\d+\.mlp", Global("module", "FeedForward")),
    (r"action_encoder", Global("module", "Embedder")),
    (r"(projector|pred_proj)", Global("module", "MLP")),
)


def _module_class(path: str, children: Mapping[str, Any], leaves: Mapping[str, np.ndarray[Any, Any]],
                  hybrid: bool) -> Global:
    if path == "encoder" and hybrid:
        return Global("hybrid_lewm_upstream", "HybridViTEncoder")
    for rx, cls in _MODULE_CLASSES:
        if re.fullmatch(rx, path):
            return cls
    if children and all(k.isdigit() for k in children):
        last = path.rsplit(".", 1)[-1]
        return Global(f"{_NN}.container", "ModuleList" if last in ("layer", "layers", "blocks") else "Sequential")
    w = leaves.get("weight")
    if "running_mean" in leaves:
        return Global(f"{_NN}.batchnorm", "BatchNorm1d")
    if w is not None and w.ndim == 4:
        return Global(f"{_NN}.conv", "Conv2d")
    if w is not None and w.ndim == 3:
        return Global(f"{_NN}.conv", "Conv1d")
    if w is not None and w.ndim == 2:
        return Global(f"{_NN}.linear", "Linear")
    if w is not None and w.ndim == 1:
        return Global(f"{_NN}.normalization", "LayerNorm")
    if "in_proj_weight" in leaves:
        return Global(f"{_NN}.activation", "MultiheadAttention")
    return Global(f"{_NN}.module", "Module")


def _module_state(params: list[tuple[str, Any]], buffers: list[tuple[str, Any]],
                  modules: list[tuple[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"training": False, "_parameters": OrderedDictOf(params),
                             "_buffers": OrderedDictOf(buffers), "_non_persistent_buffers_set": set()}
    for hook in ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
                 "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
                 "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
                 "_load_state_dict_post_hooks"):
        state[hook] = OrderedDictOf()
    state["_is_full_backward_hook"] = None
    state["_modules"] = OrderedDictOf(modules)
    state.update(extra)
    return state


def _build_tree(state_dict: Mapping[str, np.ndarray[Any, Any]], storages: _Storages, config: dict[str, Any]) -> NewObj:
    tree: dict[str, Any] = {}
    for name, arr in state_dict.items():
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"'{name}' nests under a tensor")
        node[parts[-1]] = arr
    hybrid = any(k.startswith("encoder.blocks.") for k in state_dict)

    def build(path: str, node: dict[str, Any]) -> NewObj:
        leaves = {k: v for k, v in node.items() if isinstance(v, np.ndarray)}
        children = {k: v for k, v in node.items() if isinstance(v, dict)}
        cls = _module_class(path, children, leaves, hybrid)
        params = [(k, storages.ref(v, True)) for k, v in leaves.items() if k not in _BUFFER_LEAVES]
        buffers = [(k, storages.ref(v, False)) for k, v in leaves.items() if k in _BUFFER_LEAVES]
        mods = [(k, build(f"{path}.{k}" if path else k, v)) for k, v in children.items()]
        extra: dict[str, Any] = {}
        w = leaves.get("weight")
        if cls.name == "Linear" and w is not None:
            extra = {"in_features": int(w.shape[1]), "out_features": int(w.shape[0])}
        elif cls.name == "LayerNorm" and w is not None:
            extra = {"normalized_shape": (int(w.shape[0]),), "eps": 1e-5, "elementwise_affine": True}
        elif cls.name == "BatchNorm1d" and w is not None:
            extra = {"num_features": int(w.shape[0]), "eps": 1e-5, "momentum": 0.1, "affine": True,
                     "track_running_stats": True}
        elif cls.name == "ViTModel":
            extra = {"config": NewObj(Global("transformers.models.vit.configuration_vit", "ViTConfig"), dict(config))}
        return NewObj(cls, _module_state(params, buffers, mods, extra))

    return build("", tree)


def object_checkpoint_bytes(state_dict: Mapping[str, np.ndarray[Any, Any]], *, stem: str = "archive",
                            config: Mapping[str, Any] | None = None) -> bytes:
    storages = _Storages()
    root = _build_tree(state_dict, storages, dict(config or {}))
    return _zip_bytes(stem, _Emitter().dump(root), storages.items)


def write_object_checkpoint(path: str | Path, state_dict: Mapping[str, np.ndarray[Any, Any]],
                            *, config: Mapping[str, Any] | None = None) -> Path:
    """Write `torch.save(jepa_module)`-format bytes for a raw upstream-named state dict."""
    p = Path(path)
    atomic_write_bytes(p, object_checkpoint_bytes(state_dict, stem=p.stem, config=config))
    return p


def write_state_dict(path: str | Path, state_dict: Mapping[str, np.ndarray[Any, Any]]) -> Path:
    """A plain `torch.save(model.state_dict())` file (`weights.pt`)."""
    p = Path(path)
    storages = _Storages()
    root = OrderedDictOf([(k, storages.ref(v, False)) for k, v in state_dict.items()])
    atomic_write_bytes(p, _zip_bytes(p.stem, _Emitter().dump(root), storages.items))
    return p


def write_lightning_checkpoint(path: str | Path, state_dict: Mapping[str, np.ndarray[Any, Any]],
                               *, epoch: int = 0, hyper_parameters: Mapping[str, Any] | None = None) -> Path:
    """A Lightning `ModelCheckpoint` dict: `model.`-prefixed state_dict + sigreg + optimizer state."""
    p = Path(path)
    storages = _Storages()
    sd = [(f"model.{k}", storages.ref(v, False)) for k, v in state_dict.items()]
    knots = np.linspace(0.0, 3.0, 17, dtype=np.float32)
    sd += [("sigreg.t", storages.ref(knots, False)), ("sigreg.phi", storages.ref(np.exp(-knots**2 / 2), False)),
           ("sigreg.weights", storages.ref(np.full(17, 1 / 17, dtype=np.float32), False))]
    first = next(iter(state_dict.values()))
    opt_state = {0: {"step": storages.ref(np.array(10.0, dtype=np.float32), False),
                     "exp_avg": storages.ref(np.zeros_like(first), False),
                     "exp_avg_sq": storages.ref(np.zeros_like(first), False)}}
    root = {
        "epoch": epoch,
        "global_step": 10 * (epoch + 1),
        "pytorch-lightning_version": "2.6.6",
        "state_dict": OrderedDictOf(sd),
        "loops": {},
        "callbacks": {},
        "optimizer_states": [{"state": opt_state, "param_groups": [{"lr": 5e-5, "weight_decay": 1e-3,
                                                                    "params": list(range(len(state_dict)))}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(hyper_parameters or {}),
    }
    atomic_write_bytes(p, _zip_bytes(p.stem, _Emitter().dump(root), storages.items))
    return p


# -- synthetic weights ------------------------------------------------------------------------
def synthetic_state_dict(arch: Any, seed: int = 0, *, naming: str = "hf4") -> dict[str, np.ndarray[Any, Any]]:
    """Seeded random weights at the real sizes with upstream raw names.

    `arch` is a `zoo.registry.records.Architecture`. ViT encoders use transformers 4.x names
    (`naming="hf5"` gives the 5.x names); hybrid encoders use `encoder.blocks.N...` with fused
    in_proj for A blocks and bias-free q/k/v for L blocks. Linear/conv weights ~ N(0, 1/(3*fan_in))
    (the spread of torch's default init, so latents depend clearly on the image), embeddings N(0, 0.02),
    biases small, norms weight ~1 / bias ~0, BatchNorm running_var in [0.5, 1.5].
    """
    rng = np.random.default_rng(seed)
    sd: dict[str, np.ndarray[Any, Any]] = {}

    def normal(*shape: int, std: float = 0.02) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def linear(name: str, out: int, inp: int, bias: bool = True) -> None:
        sd[f"{name}.weight"] = normal(out, inp, std=float(1.0 / np.sqrt(3.0 * inp)))
        if bias:
            sd[f"{name}.bias"] = normal(out, std=0.01)

    def norm(name: str, n: int) -> None:
        sd[f"{name}.weight"] = (1.0 + normal(n, std=0.02)).astype(np.float32)
        sd[f"{name}.bias"] = normal(n, std=0.01)

    def batchnorm(name: str, n: int) -> None:
        norm(name, n)
        sd[f"{name}.running_mean"] = normal(n, std=0.02)
        sd[f"{name}.running_var"] = rng.uniform(0.5, 1.5, n).astype(np.float32)
        sd[f"{name}.num_batches_tracked"] = np.array(1000, dtype=np.int64)

    he, d, hp = arch.encoder_hidden, arch.latent_dim, arch.predictor_hidden
    ie, j, inner, ip = arch.encoder_inter, arch.projector_hidden, arch.predictor_inner_dim, arch.predictor_inter
    m = arch.meta_tokens
    seq = 1 + m + 256
    hybrid = arch.encoder_kind == "hybrid"
    if hybrid:
        sd["encoder.cls_token"] = normal(1, 1, he)
        sd["encoder.pos_embed"] = normal(1, seq, he)
        if m:
            sd["encoder.meta_token"] = normal(1, m, he)
        sd["encoder.patch_embed.proj.weight"] = normal(he, 3, 14, 14, std=float(1.0 / np.sqrt(3.0 * 588)))
        sd["encoder.patch_embed.proj.bias"] = normal(he, std=0.01)
        pattern = arch.block_pattern or "A"
        for i in range(arch.encoder_layers):
            pre = f"encoder.blocks.{i}"
            norm(f"{pre}.norm1", he)
            if pattern[i % len(pattern)] == "A":
                sd[f"{pre}.attn.in_proj_weight"] = normal(3 * he, he)
                sd[f"{pre}.attn.in_proj_bias"] = normal(3 * he, std=0.01)
            else:
                for q in ("q_proj", "k_proj", "v_proj"):
                    linear(f"{pre}.attn.{q}", he, he, bias=False)
            linear(f"{pre}.attn.out_proj", he, he)
            norm(f"{pre}.norm2", he)
            linear(f"{pre}.mlp.0", ie, he)
            linear(f"{pre}.mlp.2", he, ie)
        norm("encoder.norm", he)
        linear("encoder.proj.0", he, he)
        batchnorm("encoder.proj.1", he)
        sd["encoder.proj.1.running_mean"] = np.zeros(he, np.float32)  # never trained (spec §1.9 row 8)
        sd["encoder.proj.1.running_var"] = np.ones(he, np.float32)
    else:
        sd["encoder.embeddings.cls_token"] = normal(1, 1, he)
        sd["encoder.embeddings.position_embeddings"] = normal(1, seq, he)
        sd["encoder.embeddings.patch_embeddings.projection.weight"] = normal(he, 3, 14, 14, std=float(1.0 / np.sqrt(3.0 * 588)))
        sd["encoder.embeddings.patch_embeddings.projection.bias"] = normal(he, std=0.01)
        for i in range(arch.encoder_layers):
            if naming == "hf5":
                pre = f"encoder.encoder.layers.{i}"
                names = ("attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj",
                         "mlp.fc1", "mlp.fc2", "layernorm_before", "layernorm_after")
            else:
                pre = f"encoder.encoder.layer.{i}"
                names = ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                         "attention.output.dense", "intermediate.dense", "output.dense", "layernorm_before",
                         "layernorm_after")
            norm(f"{pre}.{names[6]}", he)
            for q in names[:4]:
                linear(f"{pre}.{q}", he, he)
            norm(f"{pre}.{names[7]}", he)
            linear(f"{pre}.{names[4]}", ie, he)
            linear(f"{pre}.{names[5]}", he, ie)
        norm("encoder.layernorm", he)
    sd["predictor.pos_embedding"] = normal(1, 3, d)
    if d != hp:
        linear("predictor.transformer.input_proj", hp, d)
        linear("predictor.transformer.cond_proj", hp, d)
    for li in range(arch.predictor_layers):
        pre = f"predictor.transformer.layers.{li}"
        linear(f"{pre}.adaLN_modulation.1", 6 * hp, hp)
        norm(f"{pre}.attn.norm", hp)
        sd[f"{pre}.attn.to_qkv.weight"] = normal(3 * inner, hp)
        linear(f"{pre}.attn.to_out.0", hp, inner)
        norm(f"{pre}.mlp.net.0", hp)
        linear(f"{pre}.mlp.net.1", ip, hp)
        linear(f"{pre}.mlp.net.4", hp, ip)
    norm("predictor.transformer.norm", hp)
    sd["action_encoder.patch_embed.weight"] = normal(10, arch.action_input_dim, 1, std=0.3)
    sd["action_encoder.patch_embed.bias"] = normal(10, std=0.01)
    linear("action_encoder.embed.0", 4 * d, 10)
    linear("action_encoder.embed.2", d, 4 * d)
    for head, width in (("projector", he), ("pred_proj", hp)):
        linear(f"{head}.net.0", j, width)
        batchnorm(f"{head}.net.1", j)
        linear(f"{head}.net.3", d, j)
    return sd


def vit_config_dict(arch: Any) -> dict[str, Any]:
    """What a pickled transformers ViTConfig carries (recorded on the stub, never used)."""
    return {"hidden_size": arch.encoder_hidden, "num_hidden_layers": arch.encoder_layers,
            "num_attention_heads": arch.encoder_heads, "intermediate_size": arch.encoder_inter,
            "image_size": 224, "patch_size": 14, "num_channels": 3, "layer_norm_eps": 1e-12,
            "hidden_act": "gelu", "model_type": "vit"}


def bf16(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return a.astype(ml_dtypes.bfloat16)


def write_synthetic_checkpoint(path: str | Path, arch: Any, seed: int = 0, *, kind: str = "object") -> Path:
    """One call for `zoo demo` / benchmarks: seeded weights for `arch` in the given crucible layout.

    kind: "object" (`<name>_object.ckpt`), "lightning" (`<name>_weights.ckpt`) or "state_dict" (`weights.pt`).
    """
    sd = synthetic_state_dict(arch, seed)
    if kind == "object":
        return write_object_checkpoint(path, sd, config=vit_config_dict(arch))
    if kind == "lightning":
        return write_lightning_checkpoint(path, sd, hyper_parameters={"seed": seed})
    if kind == "state_dict":
        return write_state_dict(path, sd)
    raise ValueError(f"unknown checkpoint kind {kind!r} (object | lightning | state_dict)")
