"""Checkpoint -> `lejepa_weights.safetensors` (f32, canonical names) + `config.json`.

Contiguous f32 source tensors (and row slices of them, e.g. a fused in_proj split) are copied in one
sequential pass over the checkpoint through a bounded buffer that also feeds the source sha256, so
converting a 60 MB checkpoint reads it once and never holds the weights in memory; everything else
(bf16/f16 widening, strided views, the BN fold) is materialised per tensor. Output bytes depend only on the checkpoint bytes (sorted names, fixed header).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import __version__
from zoo._io import atomic_write_text, atomic_writer, read_json_file, sha256_bytes, sha256_file
from zoo.convert.extract import Checkpoint, read_checkpoint
from zoo.convert.hashing import FileHasher
from zoo.convert.tensor_map import fold_encoder_proj_bn, map_names
from zoo.convert.unpickler import TorchTensor
from zoo.errors import CheckpointError, InputError, UsageError
from zoo.formats.lewm_config import LeWMConfig
from zoo.formats.tensors import canonical_shapes, optional_shapes

if TYPE_CHECKING:
    import numpy as np

CONVERTER_VERSION = f"lewm-zoo {__version__} convert/1"
SAFETENSORS_FILE = "lejepa_weights.safetensors"
CONFIG_FILE = "config.json"

# fields the shapes decide (a disagreement with the registry is an error)
SHAPE_FIELDS = (
    "encoder_type", "encoder_hidden", "encoder_layers", "encoder_inter", "meta_tokens", "predictor_hidden",
    "predictor_layers", "predictor_inner_dim", "predictor_inter", "latent_dim", "action_dim",
    "action_input_dim", "projector_hidden", "has_input_proj", "has_cond_proj", "history_size",
)
# fields no shape can tell (resolved from the registry, reported)
UNDECIDABLE_FIELDS = ("encoder_heads", "predictor_heads")


class SourceDigestMismatch(CheckpointError):
    """The checkpoint's sha256 is not the one the caller expected (e.g. recorded by `zoo pull`)."""


_FLOAT_CODES = frozenset({"<f8", "<f4", "<f2", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                          "float8_e5m2fnuz", "float8_e8m0fnu"})


class _Src:
    """One output tensor: its shape, how to materialise it, and its byte range in the source when raw f32.

    The array is built only when needed (numpy imported then): an all-f32 contiguous checkpoint is
    converted by copying byte ranges, and never imports numpy. (A plain class: a dataclass costs
    ~0.5 ms of start-up.)
    """

    __slots__ = ("file_range", "is_float", "materialise", "shape")

    def __init__(self, shape: tuple[int, ...], is_float: bool, materialise: Callable[[], np.ndarray[Any, Any]],
                 file_range: tuple[int, int] | None = None) -> None:
        self.shape = shape
        self.is_float = is_float
        self.materialise = materialise
        self.file_range = file_range

    @property
    def array(self) -> np.ndarray[Any, Any]:
        return self.materialise()

    @classmethod
    def of_array(cls, arr: np.ndarray[Any, Any]) -> _Src:
        import numpy as np

        is_float = bool(np.issubdtype(arr.dtype, np.floating)) or arr.dtype.name == "bfloat16"
        return cls(tuple(int(x) for x in arr.shape), is_float, lambda: arr)


@dataclasses.dataclass
class ConversionResult:
    safetensors_path: Path
    config_path: Path
    config: LeWMConfig
    warnings: list[str]
    config_sha256: str
    source_sha256: str
    source_kind: str
    tensor_count: int
    dropped: list[str]
    unknown: list[str]
    up_to_date: bool = False
    known_safetensors_sha256: str | None = None  # set when already known (manifest); else hashed on first use
    # uncertain registry fields: {field: {"declared": registry value, "measured": checkpoint value}}
    uncertain: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def safetensors_sha256(self) -> str:
        """sha256 of the written safetensors (computed lazily: converting does not need it)."""
        if self.known_safetensors_sha256 is None:
            self.known_safetensors_sha256 = sha256_file(self.safetensors_path)
        return self.known_safetensors_sha256

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("known_safetensors_sha256")
        d["safetensors_sha256"] = self.safetensors_sha256
        d["safetensors_path"] = str(self.safetensors_path)
        d["config_path"] = str(self.config_path)
        d["config"] = self.config.to_dict()
        return d


def _src_of(t: TorchTensor) -> _Src:
    rng = t.file_range() if t.code == "<f4" else None
    return _Src(tuple(t.shape), t.code in _FLOAT_CODES, lambda: t.array, rng)


def _split_rows(value: TorchTensor, start: int, stop: int) -> _Src:
    rng = None
    full = value.file_range() if value.code == "<f4" else None
    if full is not None:
        row_bytes = full[1] // max(1, value.shape[0])
        rng = (full[0] + start * row_bytes, (stop - start) * row_bytes)
    shape = (len(range(start, stop)[: value.shape[0]]), *value.shape[1:]) if value.shape else ()
    return _Src(shape, value.code in _FLOAT_CODES, lambda: value.array[start:stop], rng)


def canonical_tensors(ckpt: Checkpoint) -> tuple[dict[str, _Src], list[str], list[str], bool]:
    """Map raw names to canonical ones; fold the hybrid encoder.proj BN. Returns (tensors, dropped, unknown, hybrid)."""
    where = str(ckpt.path)
    mapped = map_names(ckpt.entries, split_rows=_split_rows, where=where)
    out: dict[str, _Src] = {}
    bn: dict[str, np.ndarray[Any, Any]] = {}
    for name, value in mapped.tensors.items():
        src = value if isinstance(value, _Src) else _src_of(value)
        if name.startswith("encoder.proj."):
            import numpy as np

            bn[name] = np.asarray(src.array, dtype=np.float32)
            continue
        out[name] = src
    if bn:
        if not mapped.hybrid:
            for name, arr in bn.items():  # non-hybrid checkpoints keep keys unchanged (spec §2.4)
                out[name] = _Src.of_array(arr)
        else:
            fold_encoder_proj_bn(bn, where=where)
            for name, arr in bn.items():
                out[name] = _Src.of_array(arr)
    return dict(sorted(out.items())), mapped.dropped, mapped.unknown, mapped.hybrid


# -- config detection ----------------------------------------------------------------------------
def _layer_indices(names: Iterable[str], prefix: str) -> list[int]:
    idx = set()
    for n in names:
        if n.startswith(prefix):
            head = n[len(prefix) :].split(".", 1)[0]
            if head.isascii() and head.isdigit() and len(head) <= 6:
                idx.add(int(head))
    return sorted(idx)


def detect_config(shapes: dict[str, tuple[int, ...]], *, hybrid: bool, where: str) -> tuple[LeWMConfig, list[str]]:
    """Spec §1.3 inference from tensor shapes. Returns the config and notes on guessed fields."""

    def need(name: str, ndim: int) -> tuple[int, ...]:
        shape = shapes.get(name)
        if shape is None:
            raise CheckpointError(f"{where}: required tensor '{name}' is missing", hint="is this a LeWM checkpoint?")
        if len(shape) != ndim:
            raise CheckpointError(f"{where}: tensor '{name}' has shape {list(shape)}, expected {ndim} dimensions")
        return shape

    he = need("encoder.embeddings.cls_token", 3)[-1]
    enc_layers = _layer_indices(shapes, "encoder.encoder.layer.")
    if not enc_layers or enc_layers != list(range(len(enc_layers))):
        raise CheckpointError(f"{where}: encoder layers are {enc_layers}, expected 0..N-1")
    pred_layers = _layer_indices(shapes, "predictor.transformer.layers.")
    if not pred_layers or pred_layers != list(range(len(pred_layers))):
        raise CheckpointError(f"{where}: predictor layers are {pred_layers}, expected 0..N-1")
    kinds = "".join(
        "A" if f"encoder.encoder.layer.{i}.attention.attention.query.bias" in shapes else "L" for i in enc_layers
    )
    if not hybrid and "L" in kinds:
        raise CheckpointError(f"{where}: ViT encoder layer {kinds.index('L')} has no query bias")
    hp = need("predictor.transformer.norm.weight", 1)[0]
    inner = need("predictor.transformer.layers.0.attn.to_qkv.weight", 2)[0] // 3
    pos = need("predictor.pos_embedding", 3)
    act = need("action_encoder.patch_embed.weight", 3)
    meta = shapes.get("encoder.meta_token")
    has_in = "predictor.transformer.input_proj.weight" in shapes
    has_cond = "predictor.transformer.cond_proj.weight" in shapes
    cfg = LeWMConfig(
        encoder_type="hybrid" if hybrid else "vit",
        encoder_hidden=he,
        encoder_layers=len(enc_layers),
        encoder_heads=max(1, he // 64),
        encoder_inter=need("encoder.encoder.layer.0.intermediate.dense.weight", 2)[0],
        meta_tokens=int(meta[1]) if meta is not None and len(meta) == 3 else 0,
        block_pattern=kinds if hybrid else "",
        predictor_hidden=hp,
        predictor_layers=len(pred_layers),
        predictor_inner_dim=inner,
        predictor_heads=max(1, inner // 64),
        predictor_inter=need("predictor.transformer.layers.0.mlp.net.1.weight", 2)[0],
        latent_dim=pos[-1],
        action_dim=act[0],
        action_input_dim=act[1],
        projector_hidden=need("projector.net.0.weight", 2)[0],
        history_size=pos[1],
        has_input_proj=has_in,
        has_cond_proj=has_cond,
    )
    notes = [
        f"encoder_heads: shapes cannot tell; guessed {cfg.encoder_heads} (= max(1, {he}//64))",
        f"predictor_heads: shapes cannot tell; guessed {cfg.predictor_heads} (= {inner}//64, dim_head 64)",
    ]
    return cfg, notes


def expected_shapes(cfg: LeWMConfig) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """Canonical name -> shape for a config (spec §1.2), and the subset that is optional."""
    shapes = dict(canonical_shapes(cfg))
    extra = optional_shapes(cfg)
    shapes.update(extra)
    return shapes, set(extra)


def check_shapes(shapes: dict[str, tuple[int, ...]], cfg: LeWMConfig, *, where: str) -> None:
    expected, optional = expected_shapes(cfg)
    for name, shape in expected.items():
        got = shapes.get(name)
        if got is None:
            if name not in optional:
                raise CheckpointError(f"{where}: required tensor '{name}' is missing (expected shape {list(shape)})")
            continue
        if tuple(got) != shape:
            raise CheckpointError(f"{where}: tensor '{name}' has shape {list(got)}, expected {list(shape)}")
    extra = sorted(set(shapes) - set(expected))
    if extra:
        raise CheckpointError(f"{where}: unexpected tensor '{extra[0]}' for this architecture"
                              + (f" (+{len(extra) - 1} more)" if len(extra) > 1 else ""))


# config.json field -> registry architecture field (None: not declared by a record; fixed or derived)
CONFIG_TO_ARCH: dict[str, str | None] = {
    "encoder_type": "encoder_kind", "encoder_hidden": "encoder_hidden", "encoder_layers": "encoder_layers",
    "encoder_inter": "encoder_inter", "meta_tokens": "meta_tokens", "predictor_hidden": "predictor_hidden",
    "predictor_layers": "predictor_layers", "predictor_inner_dim": "predictor_inner_dim",
    "predictor_inter": "predictor_inter", "latent_dim": "latent_dim", "action_dim": None,
    "action_input_dim": "action_input_dim", "projector_hidden": "projector_hidden", "has_input_proj": None,
    "has_cond_proj": None, "history_size": None,
}
# config.json key recording, per uncertain architecture field, what the registry declared and what the
# checkpoint measured (also in the manifest's config.json record); readers of config.json ignore it
UNCERTAIN_KEY = "uncertain_fields"


def reconcile(detected: LeWMConfig, notes: list[str], expected: LeWMConfig | None, *, where: str,
              uncertain: Iterable[str] = (), lines: dict[str, str] | None = None, variant: str | None = None,
              ) -> tuple[LeWMConfig, list[str], dict[str, dict[str, Any]]]:
    """Cross-check with the registry's config: shape fields must agree; undecidable ones come from the registry.

    Fields in `uncertain` (registry architecture names) take the checkpoint's value, with one warning
    line when it differs. Returns (config, warnings, {uncertain field: {"declared", "measured"}}).
    `lines`: registry architecture field -> "registry.yaml:LINE" to name in a mismatch error.
    """
    if expected is None:
        return detected, [n + "; pass the registry record to confirm" for n in notes], {}
    unsure = set(uncertain)
    lines = lines or {}
    problems: list[str] = []
    warnings: list[str] = []
    measured: dict[str, dict[str, Any]] = {}
    who = f"{variant}: " if variant else ""

    def at(arch_field: str | None) -> str:
        loc = lines.get(arch_field or "") or lines.get("")
        return f" at {loc}" if loc else ""

    def accept(arch_field: str, got: Any, want: Any) -> None:
        measured[arch_field] = {"declared": want, "measured": got}
        if got != want:
            warnings.append(f"{who}{arch_field}: registry declares {want!r} (uncertain{at(arch_field)}), "
                            f"checkpoint has {got!r}; using {got!r}")

    mismatched: set[str] = set()
    for name in SHAPE_FIELDS:
        got, want = getattr(detected, name), getattr(expected, name)
        arch_field = CONFIG_TO_ARCH.get(name)
        if arch_field in unsure:
            accept(arch_field, got, want)
            mismatched.add(name)
            continue
        if got == want:
            continue
        if name in ("has_input_proj", "has_cond_proj") and mismatched & {"latent_dim", "predictor_hidden"}:
            continue  # follows from the latent / predictor widths, already handled
        mismatched.add(name)
        problems.append(f"{name}={got!r} (registry says {want!r}{at(arch_field)})")
    depth = detected.encoder_layers if "encoder_layers" in unsure else expected.encoder_layers
    want_kinds = dataclasses.replace(expected, encoder_layers=depth).layer_kinds()
    got_kinds = detected.layer_kinds()
    if "block_pattern" in unsure:
        accept("block_pattern", "".join(got_kinds), "".join(want_kinds))
    elif got_kinds != want_kinds and len(got_kinds) == len(want_kinds):  # other lengths: encoder_layers above
        problems.append(f"block_pattern={''.join(got_kinds)!r} (registry says {''.join(want_kinds)!r}"
                        f"{at('block_pattern')})")
    if problems:
        raise CheckpointError(f"{where}: checkpoint shapes disagree with the registry record: " + "; ".join(problems),
                              hint="set the record's architecture to the checkpoint's value (at the registry line "
                                   "named), list the field in `architecture.uncertain` if the registry cannot know it, "
                                   "or pull the right checkpoint")
    updates: dict[str, Any] = {}
    for name in UNDECIDABLE_FIELDS:
        got, want = getattr(detected, name), getattr(expected, name)
        updates[name] = want
        if got != want:
            warnings.append(f"{name}: shapes cannot tell; using {want} from the registry (shape heuristic gives {got})")
    cfg = dataclasses.replace(detected, **updates)
    if cfg.encoder_hidden % cfg.encoder_heads or cfg.predictor_inner_dim % cfg.predictor_heads:
        raise CheckpointError(f"{where}: heads ({cfg.encoder_heads}/{cfg.predictor_heads}) do not divide the widths")
    return cfg, warnings, dict(sorted(measured.items()))


def config_text(cfg: LeWMConfig, measured: dict[str, dict[str, Any]] | None = None) -> str:
    """config.json bytes: the config, plus the declared-vs-measured record of uncertain fields when any."""
    if not measured:
        return cfg.to_json()
    data = cfg.to_dict()
    data[UNCERTAIN_KEY] = measured
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_uncertain(config_path: Path) -> dict[str, dict[str, Any]]:
    """The declared-vs-measured record a conversion wrote into config.json ({} when none or unreadable)."""
    try:
        data = read_json_file(config_path)  # bounded size and depth
    except (OSError, InputError):
        return {}
    got = data.get(UNCERTAIN_KEY) if isinstance(data, dict) else None
    return {str(k): v for k, v in got.items() if isinstance(v, dict)} if isinstance(got, dict) else {}


# -- safetensors writing ---------------------------------------------------------------------------
def _header(tensors: dict[str, _Src], metadata: dict[str, str]) -> tuple[bytes, list[tuple[str, int]]]:
    hdr: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    order = []
    for name in sorted(tensors):
        shape = [int(x) for x in tensors[name].shape]
        nbytes = 4
        for dim in shape:
            nbytes *= dim
        hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        order.append((name, nbytes))
        offset += nbytes
    text = json.dumps(hdr, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, order


_CHUNK = 4 << 20  # source read buffer: bounded memory, large enough for few syscalls


def write_safetensors(path: Path, tensors: dict[str, _Src], metadata: dict[str, str], *, source: Path,
                      late_metadata: Callable[[], dict[str, str]] | None = None, source_hash: Any = None) -> None:
    """Write the file atomically (temp file, fsync, rename) in one sequential pass over `source`.

    The source is read once, front to back, through a bounded buffer; each chunk feeds `source_hash`
    (a hashlib object, optional: the source digest then costs no second read) and the parts of it that
    are raw f32 tensor data are `pwrite`n at their output offsets. Other tensors (widened, strided,
    folded) are materialised one at a time. The header goes last: `late_metadata` (optional) is called
    after the pass and returns values of the same length as the placeholders in `metadata` (e.g. the
    source digest). Raising from it aborts the write: nothing is committed.
    """
    head, order = _header(tensors, metadata)
    offset = len(head)
    ranges: list[tuple[int, int, int]] = []  # (source offset, nbytes, output offset), raw f32 data
    with atomic_writer(path) as fh, open(source, "rb", buffering=0) as src:
        fd = fh.fileno()
        for name, nbytes in order:
            item = tensors[name]
            if item.file_range is not None and item.file_range[1] == nbytes:
                ranges.append((item.file_range[0], nbytes, offset))
            elif nbytes:
                import numpy as np

                _pwrite_all(fd, np.ascontiguousarray(item.array, dtype="<f4").tobytes(), offset)
            offset += nbytes
        ranges.sort()
        _copy_pass(src, fd, ranges, source_hash, where=str(source))
        if late_metadata is not None:
            # Flush the tensor data to disk now, while `late_metadata` may still be waiting for the
            # source digest (a hashing thread): the atomic writer's own fsync then only has the
            # header page left to write.
            os.fsync(fd)
            final, _ = _header(tensors, {**metadata, **late_metadata()})
            if len(final) != len(head):
                raise CheckpointError(f"{path}: internal error: header length changed")  # pragma: no cover
            head = final
        _pwrite_all(fd, head, 0)


def _copy_pass(src: Any, fd: int, ranges: list[tuple[int, int, int]], source_hash: Any, *, where: str) -> None:
    """Read `src` front to back; hash every byte (if asked) and pwrite the byte ranges in `ranges`."""
    size = os.fstat(src.fileno()).st_size
    need = max((s + n for s, n, _ in ranges), default=0)
    if need > size:
        raise CheckpointError(f"{where}: tensor data ends at byte {need}, past the end of the file ({size} bytes)")
    stop = size if source_hash is not None else need
    buf = bytearray(min(_CHUNK, max(stop, 1)))
    view = memoryview(buf)
    pos, nxt = 0, 0
    active: list[tuple[int, int, int]] = []  # ranges that began before the current chunk's end
    while pos < stop:
        n = src.readinto(view[: min(len(buf), stop - pos)])
        if not n:
            raise CheckpointError(f"{where}: file ended at byte {pos} while reading (expected {stop} bytes)")
        end = pos + n
        if source_hash is not None:
            source_hash.update(view[:n])
        while nxt < len(ranges) and ranges[nxt][0] < end:
            active.append(ranges[nxt])
            nxt += 1
        still = []
        for s, nbytes, out in active:
            a, b = max(s, pos), min(s + nbytes, end)
            if a < b:
                _pwrite_all(fd, view[a - pos : b - pos], out + (a - s))
                _start_writeback(fd, out + (a - s), out + (b - s))
            if s + nbytes > end:
                still.append((s, nbytes, out))
        active = still
        pos = end


_PAGE = 4096
_FADV_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", None)


def _start_writeback(fd: int, lo: int, hi: int) -> None:
    """Have the kernel start writing the whole pages of output bytes [lo, hi) to disk now.

    On Linux, POSIX_FADV_DONTNEED starts asynchronous writeback of dirty pages (and drops only pages
    that are already clean, i.e. none of these), so the disk works while we copy the rest and the
    final fsync has little left to wait for. Pages shared with a neighbouring tensor (the range's
    partial first/last page) are left to the fsync: rewriting a page under writeback would wait.
    """
    lo = -(-lo // _PAGE) * _PAGE
    hi = hi // _PAGE * _PAGE
    if _FADV_DONTNEED is not None and hi - lo >= 16 * _PAGE:
        with contextlib.suppress(OSError):  # advice only
            os.posix_fadvise(fd, lo, hi - lo, _FADV_DONTNEED)


def _pwrite_all(fd: int, data: Any, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def convert_checkpoint(
    path: str | Path,
    out_dir: str | Path,
    *,
    expected: LeWMConfig | None = None,
    source_sha256: str | None = None,
    verify_source_sha256: str | None = None,
    source_hasher: FileHasher | None = None,
    uncertain: Iterable[str] = (),
    registry_lines: dict[str, str] | None = None,
    variant: str | None = None,
) -> ConversionResult:
    """Convert one checkpoint into `out_dir/lejepa_weights.safetensors` + `out_dir/config.json`.

    `source_sha256`: the checkpoint's digest, already computed by the caller (not hashed again).
    `verify_source_sha256`: the digest the checkpoint should have (e.g. recorded by `zoo pull`); the file
    is hashed in the same run (overlapping the conversion) and a mismatch raises `CheckpointError`
    before anything is committed.
    `source_hasher`: a `FileHasher` the caller already started on `path` (the CLI starts it before
    importing this module); otherwise one is started here unless the digest is given.
    `uncertain`: registry architecture fields the checkpoint decides (see `reconcile`); `registry_lines`
    maps architecture fields to "registry.yaml:LINE" for mismatch messages; `variant` names the record.
    """
    src = Path(path)
    try:
        return _convert(src, out_dir, expected, source_sha256, verify_source_sha256, source_hasher,
                        uncertain=tuple(uncertain), lines=registry_lines, variant=variant)
    except CheckpointError as exc:
        if verify_source_sha256 and not isinstance(exc, SourceDigestMismatch):
            # the conversion failed: if the file also changed since it was pulled, that is the real news
            try:
                got = sha256_file(src)
            except OSError:
                raise exc from None
            if got != verify_source_sha256:
                raise SourceDigestMismatch(f"{src}: sha256 {got[:12]}... differs from the expected "
                                           f"{verify_source_sha256[:12]}...",
                                           hint="the checkpoint changed since it was pulled") from None
        raise


# How the source digest is computed when the caller does not know it:
# "thread": a helper thread hashes the file from the start, overlapping unpickling and writing (one
#           extra read from the page cache; measured ~10% faster than "pass" with a spare core);
# "pass":   the writer's single read pass feeds the hash (least CPU; as fast when cores are saturated).
# The digest and the output bytes are identical either way (tests check both).
_HASH_MODE = "thread"
_FileHasher = FileHasher


def _hold_previous(path: Path) -> int | None:
    """An fd on the file `path` names now (the previous conversion), if any.

    Replacing a 60 MB file makes the kernel drop its pages and free its blocks when the last
    reference goes (~13 ms here, inside the rename). Holding it open moves that work to
    `_release_previous`, which closes the fd in a helper thread, off the critical path.
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: a FIFO planted at `path` cannot stall us
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _release_previous(fd: int | None) -> None:
    if fd is None:
        return
    import threading

    threading.Thread(target=os.close, args=(fd,), daemon=True).start()


def _convert(src: Path, out_dir: str | Path, expected: LeWMConfig | None, source_sha256: str | None,
             verify_source_sha256: str | None, source_hasher: FileHasher | None = None, *,
             uncertain: tuple[str, ...] = (), lines: dict[str, str] | None = None,
             variant: str | None = None) -> ConversionResult:
    hasher = None
    if source_sha256 is None:
        hasher = source_hasher or (_FileHasher(src) if _HASH_MODE == "thread" else None)
    ckpt = read_checkpoint(src)
    where = str(src)
    tensors, dropped, unknown, hybrid = canonical_tensors(ckpt)
    shapes = {name: tuple(int(x) for x in s.shape) for name, s in tensors.items()}
    detected, notes = detect_config(shapes, hybrid=hybrid, where=where)
    check_shapes(shapes, detected, where=where)
    cfg, warnings, measured = reconcile(detected, notes, expected, where=where, uncertain=uncertain, lines=lines,
                                        variant=variant)
    for name, item in tensors.items():
        if not item.is_float:
            raise CheckpointError(f"{where}: tensor '{name}' has dtype {item.array.dtype}, expected a float type")
    if unknown:
        warnings.append(f"ignored {len(unknown)} unknown tensor(s): {', '.join(unknown[:5])}"
                        + (" ..." if len(unknown) > 5 else ""))
    source_hash: Any = None if source_sha256 or hasher else hashlib.sha256()  # fed by the writer's single pass
    out = Path(out_dir)
    st_path = out / SAFETENSORS_FILE
    cfg_path = out / CONFIG_FILE
    metadata = {
        "converter_version": CONVERTER_VERSION,
        "format": "pt",
        "source_format": ckpt.kind,
        "source_sha256": source_sha256 or "0" * 64,  # placeholder until the pass has hashed the file
    }
    digests: dict[str, str] = {}

    def late() -> dict[str, str]:
        digests["source"] = source_sha256 or (hasher or source_hash).hexdigest()
        want = verify_source_sha256
        if want and digests["source"] != want:  # raised inside the atomic writer: nothing is committed
            raise SourceDigestMismatch(f"{src}: sha256 {digests['source'][:12]}... differs from the expected "
                                       f"{want[:12]}...", hint="the checkpoint changed since it was pulled")
        return {"source_sha256": digests["source"]}

    previous = _hold_previous(st_path)
    try:
        write_safetensors(st_path, tensors, metadata, source=src, late_metadata=late, source_hash=source_hash)
        digest = digests["source"]
        cfg_text = config_text(cfg, measured)
        atomic_write_text(cfg_path, cfg_text)
    finally:
        _release_previous(previous)
    return ConversionResult(
        safetensors_path=st_path,
        config_path=cfg_path,
        config=cfg,
        warnings=warnings,
        config_sha256=sha256_bytes(cfg_text.encode("utf-8")),
        source_sha256=digest,
        source_kind=ckpt.kind,
        tensor_count=len(tensors),
        dropped=dropped,
        unknown=unknown,
        uncertain=measured,
    )


def find_source_checkpoint(source_dir: Path, record: Any) -> Path:
    """The pulled checkpoint: the file named by the record's provenance, else the single *.ckpt/*.pt."""
    prov = getattr(record, "provenance", None)
    for spec in getattr(prov, "sources", ()) or ():
        name = getattr(spec, "file", None)
        if name and (source_dir / Path(name).name).is_file():
            return source_dir / Path(name).name
    found = sorted(p for p in source_dir.glob("*") if p.suffix in (".ckpt", ".pt", ".pth") and p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"{source_dir}: no pulled checkpoint (*.ckpt / *.pt) for variant '{record.name}'",
                         hint=f"run `zoo pull {record.name}` first")
    raise UsageError(f"{source_dir}: several checkpoints ({', '.join(p.name for p in found)}); "
                     f"set provenance.sources[].file for '{record.name}' in registry.yaml")


def convert_variant(workspace: Any, registry: Any, record: Any) -> ConversionResult:
    """Convert a pulled variant in place: `variants/<name>/source/<ckpt>` -> `variants/<name>/`."""
    from zoo.registry.records import architecture_to_config
    from zoo.store.manifest import VariantManifest, update_manifest

    if record.format.kind != "safetensors-f32":
        root = None
        try:
            root = registry.f32_root(record).name if registry is not None else None
        except Exception:
            root = None
        raise UsageError(
            f"variant '{record.name}' is a {record.format.kind} variant; convert applies to safetensors-f32 variants",
            hint=f"convert its f32 root '{root}' instead" if root else "convert its f32 parent instead",
        )
    vdir = Path(workspace.variant_dir(record.name))
    ckpt_path = find_source_checkpoint(vdir / "source", record)
    rel_src = f"source/{ckpt_path.name}"
    manifest_now = VariantManifest.load(vdir)
    known = manifest_now.artifacts.get(rel_src, {}).get("sha256")
    recorded = {rel: manifest_now.artifacts.get(rel) for rel in (SAFETENSORS_FILE, CONFIG_FILE)}
    # Could the outputs be up to date? Only then is it worth hashing the checkpoint (and the outputs)
    # before converting; otherwise the checkpoint is hashed once, during the conversion, and checked
    # against the pull manifest's digest before anything is committed.
    candidate = all(rec and rec.get("produced_by") == CONVERTER_VERSION and (vdir / rel).is_file()
                    and (known is None or rec.get("inputs") == {rel_src: known}) for rel, rec in recorded.items())
    expected_cfg = architecture_to_config(record.architecture)
    uncertain = tuple(record.architecture.uncertain)
    from zoo.registry.loader import _display_path  # registry.yaml as its own error messages name it

    reg_path = getattr(registry, "path", None)
    reg_file = _display_path(Path(reg_path)) if reg_path is not None else None
    lines = {field: f"{reg_file}:{line}" for field, line in record.architecture_lines.items() if line} \
        if reg_file else {}
    if not lines.get("") and reg_file and record.line:
        lines[""] = f"{reg_file}:{record.line}"
    kwargs: dict[str, Any] = {"uncertain": uncertain, "registry_lines": lines, "variant": record.name}
    if candidate:
        digest = sha256_file(ckpt_path)
        if known and known != digest:
            raise CheckpointError(f"{ckpt_path}: sha256 {digest[:12]}... differs from the manifest's {known[:12]}...",
                                  hint=f"the pulled file changed; run `zoo pull {record.name}` again")
        if all(rec and rec.get("inputs") == {rel_src: digest} and sha256_file(vdir / rel) == rec.get("sha256")
               for rel, rec in recorded.items()) and _still_agrees(vdir, ckpt_path, expected_cfg, kwargs):
            st_rec, cfg_rec = recorded[SAFETENSORS_FILE] or {}, recorded[CONFIG_FILE] or {}
            return ConversionResult(
                safetensors_path=vdir / SAFETENSORS_FILE, config_path=vdir / CONFIG_FILE,
                config=LeWMConfig.from_file(vdir / CONFIG_FILE), warnings=[],
                known_safetensors_sha256=st_rec["sha256"], config_sha256=cfg_rec["sha256"], source_sha256=digest,
                source_kind=str(st_rec.get("source_format", "")), tensor_count=0, dropped=[], unknown=[],
                up_to_date=True, uncertain=read_uncertain(vdir / CONFIG_FILE),
            )
        result = convert_checkpoint(ckpt_path, vdir, expected=expected_cfg, source_sha256=digest, **kwargs)
    else:
        try:
            result = convert_checkpoint(ckpt_path, vdir, expected=expected_cfg, verify_source_sha256=known,
                                        **kwargs)
        except SourceDigestMismatch as exc:
            raise CheckpointError(exc.message.replace("the expected", "the manifest's"),
                                  hint=f"the pulled file changed; run `zoo pull {record.name}` again") from None
        digest = result.source_sha256
    with update_manifest(vdir) as manifest:
        produced = CONVERTER_VERSION
        st_rec = manifest.record_artifact(SAFETENSORS_FILE, kind="safetensors", produced_by=produced,
                                          inputs={rel_src: digest}, source_format=result.source_kind)
        result.known_safetensors_sha256 = st_rec["sha256"]
        extra = {UNCERTAIN_KEY: result.uncertain} if result.uncertain else {}
        manifest.record_artifact(CONFIG_FILE, kind="config", produced_by=produced, inputs={rel_src: digest}, **extra)
    return result


def _still_agrees(vdir: Path, ckpt_path: Path, expected: LeWMConfig, kwargs: dict[str, Any]) -> bool:
    """Whether an up-to-date conversion still matches the (possibly edited) registry record.

    The recorded config.json is what the checkpoint measured, so a record edited since then is checked
    like a fresh conversion: a disagreement on a certain field raises the same one-line error; a change
    the config.json would reflect (heads, the uncertain list) means converting again.
    """
    try:
        recorded = LeWMConfig.from_file(vdir / CONFIG_FILE)
    except InputError:  # unreadable: convert again
        return False
    cfg, _, measured = reconcile(recorded, [], expected, where=str(ckpt_path), uncertain=kwargs["uncertain"],
                                 lines=kwargs["registry_lines"], variant=kwargs["variant"])
    return cfg == recorded and measured == read_uncertain(vdir / CONFIG_FILE)
