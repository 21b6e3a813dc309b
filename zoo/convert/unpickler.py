"""Restricted unpickler for PyTorch zip checkpoints: no torch, no imports, nothing executed.

The pickle in a `torch.save` file (`<stem>/data.pkl`) describes tensors as calls to a few torch
rebuild functions over storages kept in `<stem>/data/<key>` zip members. We run the pure-Python
unpickler with our own opcode table:

- GLOBAL resolves names against an allow-list of *our own* safe stand-ins (tensor rebuild functions,
  storage types, OrderedDict, set/frozenset, numpy scalar/dtype reconstruction, bytes via _codecs).
  A small deny-list of obviously dangerous modules is refused outright; every other name becomes an
  inert `StubClass` that records module/name. Nothing is ever imported.
- REDUCE / NEWOBJ / INST / OBJ on a stub produce an inert `StubObject` that records args; BUILD stores
  the state on it. No real `__setstate__`, `__reduce__` or constructor ever runs.
- EXT opcodes (copyreg registry) are refused. Dict keys and set items must be simple hashable values,
  so hashing a hostile nested tuple can never overflow the C stack; ints and tuples hash
  deterministically (an attacker can make thousands collide and turn dict inserts quadratic), so int
  keys are limited to |k| < 2**61 (distinct hashes) and tuple keys to a few small ones per file.
- Work and memory are bounded: at most MAX_OPCODES opcodes run (each creates at most one small
  object), the text PUT/GET memo indices are 32-bit like the binary ones, and the tensors of one file
  may declare at most a few times the archive's bytes in total (stride-0 views cannot multiply the
  output). Every length-prefixed opcode (BINBYTES*, BYTEARRAY8, BINUNICODE*, BINSTRING, LONG1/4, FRAME)
  checks its declared length against the bytes that remain before allocating anything.
- Storages are zero-copy numpy views over an mmap of the file; tensor views honour offset/size/stride
  and are bounds-checked against the storage (which is bounds-checked against the archive).
- Newer torch saves dtypes without a legacy typed storage (uint16/32/64, float8_*) as
  `_rebuild_tensor_v3(untyped_storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])`;
  the dtype global (`torch.<name>`) resolves to an inert `TorchDtype` and the byte storage is
  reinterpreted as that dtype (float8 through ml_dtypes). Dtypes numpy cannot hold (complex32, packed
  or quantized ones) are refused with `UnsupportedDtype`, a clear "convert it first" error.
- numpy is imported only when an array is first asked for: every check above is plain Python, so
  `zoo convert` on a checkpoint whose tensors are all contiguous f32 never pays numpy's import time.
"""

from __future__ import annotations

import collections
import io
import mmap
import os
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from zoo.errors import CheckpointError

if TYPE_CHECKING:
    import numpy as np

MAX_PICKLE_BYTES = 32 << 20  # data.pkl larger than this is refused (real ones are ~0.1-1 MB)
MAX_OPCODES = 4_000_000  # ~100x a real checkpoint's pickle (3 bytes/opcode); bounds time (~3 s) and memory
MAX_KEY_DEPTH = 8  # nesting allowed inside dict keys / set items
MAX_KEY_NODES = 64  # scalars + tuples inside one tuple key
MAX_TUPLE_KEYS = 1000  # tuple dict keys / set items per file (their hashes can be made to collide)
MAX_INT_KEY = 1 << 61  # ints below this (in magnitude) have distinct hashes
MAX_TENSOR_ELEMENTS = 1 << 34

# torch storage class name -> numpy dtype string (little-endian); bfloat16 comes from ml_dtypes (imported lazily)
STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "ComplexFloatStorage": "<c8",
    "ComplexDoubleStorage": "<c16",
    "UntypedStorage": "u1",
}
ITEMSIZES: dict[str, int] = {"<f8": 8, "<f4": 4, "<f2": 2, "bfloat16": 2, "<i8": 8, "<i4": 4, "<i2": 2, "i1": 1,
                             "u1": 1, "?": 1, "<c8": 8, "<c16": 16, "<u2": 2, "<u4": 4, "<u8": 8,
                             "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1,
                             "float8_e8m0fnu": 1}
# dtype codes that are ml_dtypes type names (imported lazily, only when such an array is built)
ML_DTYPES_CODES = frozenset({"bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                             "float8_e8m0fnu"})

# torch dtype global name (`torch.<name>`, the dtype argument of _rebuild_tensor_v3) -> dtype code;
# None = a real torch dtype numpy/ml_dtypes cannot represent element for element (refused, clearly)
TORCH_DTYPES: dict[str, str | None] = {
    "float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "bfloat16",
    "int64": "<i8", "int32": "<i4", "int16": "<i2", "int8": "i1",
    "uint64": "<u8", "uint32": "<u4", "uint16": "<u2", "uint8": "u1", "bool": "?",
    "complex128": "<c16", "complex64": "<c8",
    "float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2", "float8_e4m3fnuz": "float8_e4m3fnuz",
    "float8_e5m2fnuz": "float8_e5m2fnuz", "float8_e8m0fnu": "float8_e8m0fnu",
    "complex32": None, "float4_e2m1fn_x2": None, "qint8": None, "quint8": None, "qint32": None,
    "quint4x2": None, "quint2x4": None, "bits1x8": None, "bits2x4": None, "bits4x2": None, "bits8": None,
    "bits16": None,
    **{f"{kind}{n}": None for kind in ("int", "uint") for n in range(1, 8)},
}


def numpy_dtype(code: str) -> np.dtype[Any]:
    """The numpy dtype of a storage code (numpy, and ml_dtypes for bfloat16, imported on first use)."""
    import numpy as np

    if code in ML_DTYPES_CODES:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, code))
    return np.dtype(code)


def _ml_dtypes_has(code: str) -> bool:
    """Whether ml_dtypes is installed and knows `code` (float8_e8m0fnu needs ml_dtypes >= 0.5)."""
    try:
        import ml_dtypes
    except ImportError:
        return False
    return hasattr(ml_dtypes, code)


class StorageType:
    """What GLOBAL torch.<X>Storage resolves to.

    (This module's classes are plain classes with __slots__, not dataclasses: creating a dataclass
    costs ~0.5 ms at import, and `zoo convert` start-up is part of what it is measured on.)
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("StorageType", self.name))

    def __repr__(self) -> str:
        return f"StorageType({self.name!r})"

    @property
    def code(self) -> str:
        return STORAGE_DTYPES[self.name]

    @property
    def itemsize(self) -> int:
        return ITEMSIZES[self.code]

    @property
    def dtype(self) -> np.dtype[Any]:
        return numpy_dtype(self.code)


# Modules whose globals are refused with an error rather than stubbed: a checkpoint naming them is
# hostile or broken, and saying so is more useful than a silent placeholder.
_DENIED_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib", "runpy",
        "shutil", "socket", "pty", "code", "codeop", "ctypes", "marshal", "pickle", "_pickle",
        "webbrowser", "multiprocessing", "signal", "commands", "popen2", "asyncio", "pdb", "timeit",
        "zipimport", "pkgutil", "site", "copyreg", "copy_reg", "_codecs", "codecs", "_posixsubprocess",
    }
)
_DENIED_NAMES = frozenset({"eval", "exec", "compile", "__import__", "getattr", "setattr", "open", "system", "popen"})


class StubClass:
    """An inert placeholder for a global the checkpoint names (never imported)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<stub {self.qualname}>"


class TorchDtype(StubClass):
    """What GLOBAL torch.<dtype> resolves to: an inert stub that knows its dtype code (None = unsupported).

    A StubClass subclass so that everything accepting stubs (dict keys, hyperparameter values) still
    does; it is simply not reported among the stubbed globals.
    """

    __slots__ = ("code",)

    def __init__(self, name: str, code: str | None) -> None:
        super().__init__("torch", name)
        self.code = code


_TORCH_DTYPE_GLOBALS = {("torch", name): TorchDtype(name, code) for name, code in TORCH_DTYPES.items()}


class UnsupportedDtype(pickle.UnpicklingError):
    """A valid tensor whose dtype we cannot represent (not corruption: `unpickle` gives it its own hint)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_CONVERT_FIRST = ("convert the tensor to float32 with torch first "
                  "(e.g. `sd = {k: v.float() for k, v in sd.items()}`) and save again")


class StubObject:
    """An inert placeholder instance: records how the pickle tried to build it."""

    __slots__ = ("args", "cls", "dictitems", "kwargs", "listitems", "state")

    def __init__(self, cls: StubClass, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                 state: Any = None, listitems: list[Any] | None = None, dictitems: dict[Any, Any] | None = None
                 ) -> None:
        self.cls = cls
        self.args = args
        self.kwargs: dict[str, Any] = {} if kwargs is None else kwargs
        self.state = state
        self.listitems: list[Any] = [] if listitems is None else listitems
        self.dictitems: dict[Any, Any] = {} if dictitems is None else dictitems

    def state_dict(self) -> dict[str, Any]:
        """The instance `__dict__` the pickle carried (BUILD state, or the dict half of a (dict, slots) pair)."""
        st = self.state
        if isinstance(st, tuple) and len(st) == 2 and (st[0] is None or isinstance(st[0], dict)):
            st = st[0]
        return st if isinstance(st, dict) else {}

    def __repr__(self) -> str:
        return f"<stub object {self.cls.qualname}>"


class Storage:
    __slots__ = ("_array", "buf", "code", "file_offset", "key", "numel")

    def __init__(self, key: str, code: str, numel: int, buf: Any, file_offset: int) -> None:
        self.key = key
        self.code = code  # dtype code (STORAGE_DTYPES values)
        self.numel = numel
        self.buf = buf  # the archive bytes (mmap), bounds already checked
        self.file_offset = file_offset  # absolute byte offset of element 0 in the checkpoint file
        self._array: Any = None

    def __repr__(self) -> str:
        return f"Storage(key={self.key!r}, code={self.code!r}, numel={self.numel}, file_offset={self.file_offset})"

    @property
    def itemsize(self) -> int:
        return ITEMSIZES[self.code]

    @property
    def dtype(self) -> np.dtype[Any]:
        return numpy_dtype(self.code)

    @property
    def array(self) -> np.ndarray[Any, Any]:
        """1-D zero-copy view over the archive bytes (built on first use)."""
        if self._array is None:
            import numpy as np

            self._array = np.frombuffer(self.buf, dtype=self.dtype, count=self.numel, offset=self.file_offset)
        return self._array


class TorchTensor:
    """A tensor as the checkpoint describes it; `array` is a read-only view (zero-copy when possible)."""

    __slots__ = ("_array", "is_parameter", "requires_grad", "shape", "storage", "storage_offset", "stride")

    def __init__(self, storage: Storage, storage_offset: int, shape: tuple[int, ...], stride: tuple[int, ...],
                 is_parameter: bool = False, requires_grad: bool = False) -> None:
        self.storage = storage
        self.storage_offset = storage_offset
        self.shape = shape
        self.stride = stride
        self.is_parameter = is_parameter
        self.requires_grad = requires_grad
        self._array: Any = None

    def __repr__(self) -> str:
        return (f"TorchTensor(storage={self.storage!r}, storage_offset={self.storage_offset}, shape={self.shape}, "
                f"stride={self.stride})")

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.storage.dtype

    @property
    def code(self) -> str:
        return self.storage.code

    @property
    def array(self) -> np.ndarray[Any, Any]:
        """Read-only view with the tensor's offset/size/stride (bounds checked at unpickling; built on first use)."""
        if self._array is None:
            import numpy as np

            n = 1
            for s in self.shape:
                n *= s
            st = self.storage.array
            base = st[self.storage_offset :] if n else st[:0]
            itemsize = self.storage.itemsize
            strides = tuple(x * itemsize for x in self.stride)
            if self.storage.code in ML_DTYPES_CODES:  # as_strided cannot round-trip some ml_dtypes (float8_e5m2)
                self._array = np.lib.stride_tricks.as_strided(
                    base.view(f"<u{itemsize}"), shape=self.shape, strides=strides, writeable=False
                ).view(self.storage.dtype)
            else:
                self._array = np.lib.stride_tricks.as_strided(base, shape=self.shape, strides=strides, writeable=False)
        return self._array

    @property
    def is_contiguous(self) -> bool:
        expected = 1
        for size, st in zip(reversed(self.shape), reversed(self.stride), strict=True):
            if size != 1 and st != expected:
                return False
            expected *= size
        return True

    def file_range(self) -> tuple[int, int] | None:
        """(absolute offset, nbytes) when the tensor is one contiguous byte range of the file."""
        if not self.is_contiguous:
            return None
        itemsize = self.storage.itemsize
        n = 1
        for s in self.shape:
            n *= s
        return self.storage.file_offset + self.storage_offset * itemsize, n * itemsize


class _Allowed:
    """A safe callable the pickle may REDUCE/NEWOBJ on (our code, never the named original)."""

    def __init__(self, qualname: str, fn: Callable[..., Any]) -> None:
        self.qualname = qualname
        self.fn = fn

    def __repr__(self) -> str:
        return f"<allowed {self.qualname}>"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _key_nodes(value: Any, depth: int = 0) -> int:
    """Validate one dict key / set item and return its node count (1 for a scalar).

    Keys must be simple, shallow values so that hashing them is bounded and cannot be made to
    collide at will: str/bytes hash with a per-process random key; ints only below 2**61 (their hash
    is the value itself, so larger ones can be chosen to collide); identity-hashed stubs and tensors.
    """
    if isinstance(value, str | bytes | float | type(None) | bool | StubClass | StubObject | TorchTensor):
        return 1
    if isinstance(value, int):
        if -MAX_INT_KEY < value < MAX_INT_KEY:
            return 1
        raise pickle.UnpicklingError("dict key / set item is an integer of 2**61 or more")
    if isinstance(value, tuple) and depth < MAX_KEY_DEPTH:
        total = 1
        for item in value:
            total += _key_nodes(item, depth + 1)
            if total > MAX_KEY_NODES:
                raise pickle.UnpicklingError(f"dict key / set item tuple has more than {MAX_KEY_NODES} elements")
        return total
    raise pickle.UnpicklingError(f"unhashable or too deeply nested dict key / set item of type {type(value).__name__}")


class _StorageSource:
    """Byte ranges of `<prefix>/data/<key>` members, computed from the zip local headers, over an mmap."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, prefix: str, buf: mmap.mmap | bytes, fd: int) -> None:
        self.path = path
        self.buf = buf
        self.fd = fd  # local headers are read with pread: touching the mapping would fault in whole folios
        self.size = len(buf)
        self.members = {
            info.filename[len(prefix) + len("data/") :]: info
            for info in zf.infolist()
            if info.filename.startswith(prefix + "data/")
        }
        self.cache: dict[str, tuple[int, int]] = {}
        self.views: dict[tuple[str, str], Storage] = {}

    def byte_range(self, key: str) -> tuple[int, int]:
        if key in self.cache:
            return self.cache[key]
        info = self.members.get(key)
        if info is None:
            raise pickle.UnpicklingError(f"storage '{key}' has no data/{key} member in the archive")
        if info.compress_type != zipfile.ZIP_STORED:
            raise pickle.UnpicklingError(f"storage member data/{key} is compressed (torch stores them uncompressed)")
        hdr = info.header_offset
        local = os.pread(self.fd, 30, hdr) if hdr + 30 <= self.size else b""
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise pickle.UnpicklingError(f"bad local zip header for data/{key} at byte {hdr}")
        name_len, extra_len = struct.unpack_from("<HH", local, 26)
        start = hdr + 30 + name_len + extra_len
        if info.file_size != info.compress_size or start + info.file_size > self.size:
            raise pickle.UnpicklingError(
                f"storage data/{key} ({info.file_size} bytes at byte {start}) points outside the archive"
            )
        self.cache[key] = (start, info.file_size)
        return start, info.file_size

    def storage(self, key: str, code: str, numel: int) -> Storage:
        cached = self.views.get((key, code))
        if cached is not None:
            if cached.numel != numel:
                raise pickle.UnpicklingError(f"storage '{key}' declared with two sizes ({cached.numel} vs {numel})")
            return cached
        start, nbytes = self.byte_range(key)
        need = numel * ITEMSIZES[code]
        if need > nbytes:
            raise pickle.UnpicklingError(
                f"storage '{key}' declares {numel} elements ({need} bytes) but data/{key} holds {nbytes} bytes"
            )
        st = Storage(key=key, code=code, numel=numel, buf=self.buf, file_offset=start)
        self.views[(key, code)] = st
        return st


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler with an overridden opcode table (see module docstring)."""

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)

    # attributes of the pure-Python base class (not in typeshed)
    stack: list[Any]
    metastack: list[Any]
    memo: dict[int, Any]
    append: Callable[[Any], None]
    pop_mark: Callable[[], list[Any]]
    readline: Callable[[], bytes]

    def __init__(self, data: bytes, storages: _StorageSource | None, *, max_bytes: int) -> None:
        self.source = io.BytesIO(data)
        self.data_len = len(data)
        super().__init__(self.source)
        self.storages = storages
        self.max_bytes = max_bytes
        self.stubbed: set[str] = set()
        self.tensors_seen = 0
        self.tuple_keys = 0
        # all tensor views together may declare at most this many bytes (stride-0 views of one small
        # storage would otherwise make the output arbitrarily larger than the archive)
        self.tensor_bytes_left = 4 * max_bytes + (1 << 20)
        self._allowed = self._build_allowed()
        self._ordered_dict = self._allowed[("collections", "OrderedDict")]

    # -- allow-list -------------------------------------------------------------------------------
    def _build_allowed(self) -> dict[tuple[str, str], Any]:
        allowed: dict[tuple[str, str], Any] = {
            ("collections", "OrderedDict"): _Allowed("collections.OrderedDict", self._make_ordered_dict),
            ("torch._utils", "_rebuild_tensor_v2"): _Allowed("torch._utils._rebuild_tensor_v2", self._rebuild_tensor),
            ("torch._utils", "_rebuild_tensor"): _Allowed("torch._utils._rebuild_tensor", self._rebuild_tensor),
            ("torch._utils", "_rebuild_tensor_v3"): _Allowed("torch._utils._rebuild_tensor_v3", self._rebuild_tensor_v3),
            ("torch._utils", "_rebuild_parameter"): _Allowed("torch._utils._rebuild_parameter", self._rebuild_parameter),
            ("torch._utils", "_rebuild_parameter_with_state"): _Allowed(
                "torch._utils._rebuild_parameter_with_state", self._rebuild_parameter
            ),
            ("torch._tensor", "_rebuild_from_type_v2"): _Allowed(
                "torch._tensor._rebuild_from_type_v2", self._rebuild_from_type
            ),
            ("torch._tensor", "_rebuild_from_type"): _Allowed("torch._tensor._rebuild_from_type", self._rebuild_from_type),
            ("_codecs", "encode"): _Allowed("_codecs.encode", self._codecs_encode),
        }
        for mod in ("builtins", "__builtin__"):
            allowed[(mod, "set")] = _Allowed("builtins.set", self._make_set(set))
            allowed[(mod, "frozenset")] = _Allowed("builtins.frozenset", self._make_set(frozenset))
            allowed[(mod, "bytearray")] = _Allowed("builtins.bytearray", self._make_bytearray)
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(mod, "scalar")] = _Allowed("numpy.core.multiarray.scalar", self._numpy_scalar)
        allowed[("numpy", "dtype")] = _Allowed("numpy.dtype", self._numpy_dtype)
        allowed.update(_TORCH_DTYPE_GLOBALS)
        for name in STORAGE_DTYPES:
            allowed[("torch", name)] = StorageType(name)
            allowed[("torch.storage", name)] = StorageType(name)
        return allowed

    def find_class(self, module: str, name: str) -> Any:
        if not isinstance(module, str) or not isinstance(name, str) or len(module) > 256 or len(name) > 256:
            raise pickle.UnpicklingError("GLOBAL with a malformed module/name")
        hit = self._allowed.get((module, name))
        if hit is not None:
            return hit
        root = module.split(".")[0]
        if module in _DENIED_MODULES or root in _DENIED_MODULES or name in _DENIED_NAMES or "__" in name.strip("_"):
            raise pickle.UnpicklingError(f"refusing dangerous global {module}.{name}")
        if (module, name) in {("torch._utils", "_rebuild_qtensor"), ("torch._utils", "_rebuild_sparse_tensor")}:
            raise pickle.UnpicklingError(f"unsupported tensor kind {module}.{name} (quantized/sparse tensors)")
        if module == "torch._utils" and name.startswith("_rebuild"):
            raise pickle.UnpicklingError(f"unsupported tensor rebuild function {module}.{name}")
        self.stubbed.add(f"{module}.{name}")
        return StubClass(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("persistent id is not a ('storage', type, key, location, numel) tuple")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, StorageType):
            raise pickle.UnpicklingError("persistent id names an unknown storage type")
        if not isinstance(key, str) or not key or "/" in key or ".." in key or len(key) > 64:
            raise pickle.UnpicklingError("persistent id has a malformed storage key")
        if not _is_int(numel) or numel < 0:
            raise pickle.UnpicklingError(f"storage '{key}' has an invalid element count")
        if numel * stype.itemsize > self.max_bytes:
            raise pickle.UnpicklingError(f"storage '{key}' declares {numel} elements, more than the archive holds")
        if self.storages is None:
            raise pickle.UnpicklingError("pickle refers to storages but no archive is open")
        return self.storages.storage(key, stype.code, numel)

    # -- safe callables -----------------------------------------------------------------------------
    @staticmethod
    def _make_ordered_dict(*args: Any) -> Any:
        if args:
            raise pickle.UnpicklingError("OrderedDict called with arguments")
        return collections.OrderedDict()

    def _make_set(self, kind: type) -> Callable[..., Any]:
        def build(*args: Any) -> Any:
            if len(args) > 1 or (args and not isinstance(args[0], list | tuple)):
                raise pickle.UnpicklingError(f"{kind.__name__} called with unexpected arguments")
            items = list(args[0]) if args else []
            for item in items:
                self._check_key(item)
            return kind(items)

        return build

    @staticmethod
    def _make_bytearray(*args: Any) -> Any:
        if len(args) == 1 and isinstance(args[0], bytes):
            return bytearray(args[0])
        if not args:
            return bytearray()
        raise pickle.UnpicklingError("bytearray called with unexpected arguments")

    @staticmethod
    def _codecs_encode(*args: Any) -> Any:
        if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
            return args[0].encode("latin-1")
        raise pickle.UnpicklingError("_codecs.encode called with unexpected arguments")

    @staticmethod
    def _numpy_dtype(*args: Any) -> Any:
        import numpy as np

        if not args or not isinstance(args[0], str) or len(args[0]) > 8:
            raise pickle.UnpicklingError("numpy.dtype called with unexpected arguments")
        try:
            dt = np.dtype(args[0])
        except TypeError as exc:
            raise pickle.UnpicklingError(f"numpy.dtype({args[0]!r}) is not a known dtype") from exc
        if dt.kind not in "biufc" or dt.itemsize > 16:
            raise pickle.UnpicklingError(f"numpy.dtype({args[0]!r}) is not a numeric dtype")
        return dt

    @staticmethod
    def _numpy_scalar(*args: Any) -> Any:
        import numpy as np

        if len(args) == 2 and isinstance(args[0], np.dtype) and isinstance(args[1], bytes):
            if len(args[1]) != args[0].itemsize:
                raise pickle.UnpicklingError("numpy scalar payload does not match its dtype size")
            return np.frombuffer(args[1], dtype=args[0])[0]
        raise pickle.UnpicklingError("numpy scalar called with unexpected arguments")

    def _rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> TorchTensor:
        if not isinstance(storage, Storage):
            raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
        if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride) <= 16):
            raise pickle.UnpicklingError(f"tensor on storage '{storage.key}' has malformed size/stride")
        dims = (offset, *size, *stride)
        if not all(_is_int(v) and 0 <= v < (1 << 48) for v in dims):
            raise pickle.UnpicklingError(f"tensor on storage '{storage.key}' has invalid offset/size/stride")
        n = 1
        for s in size:
            n *= s
        if n > MAX_TENSOR_ELEMENTS or n * storage.itemsize > self.tensor_bytes_left:
            raise pickle.UnpicklingError(f"tensor on storage '{storage.key}' declares {n} elements, far beyond the archive"
                                         + (" (with the tensors before it)" if self.tensors_seen else ""))
        self.tensor_bytes_left -= n * storage.itemsize
        if n:
            last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
            if last >= storage.numel:
                raise pickle.UnpicklingError(
                    f"tensor view (offset {offset}, size {size}, stride {stride}) reaches past storage "
                    f"'{storage.key}' of {storage.numel} elements"
                )
        requires_grad = bool(rest[0]) if rest and isinstance(rest[0], bool) else False
        self.tensors_seen += 1
        return TorchTensor(storage, offset, size, stride, requires_grad=requires_grad)

    def _rebuild_tensor_v3(self, storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                           hooks: Any = None, dtype: Any = None, *rest: Any) -> TorchTensor:
        """torch >= 2.1's rebuild for dtypes without a typed storage: the byte storage viewed as `dtype`."""
        if not isinstance(storage, Storage):
            raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
        if len(rest) > 1:
            raise pickle.UnpicklingError(f"_rebuild_tensor_v3 on storage '{storage.key}' has too many arguments")
        if not (isinstance(dtype, StubClass) and dtype.module == "torch"):
            raise pickle.UnpicklingError(f"tensor on storage '{storage.key}' has a dtype that is not a torch dtype")
        code = dtype.code if isinstance(dtype, TorchDtype) else None  # an unknown torch.<name>: a newer dtype
        missing_ml = code is not None and code in ML_DTYPES_CODES and not _ml_dtypes_has(code)
        if code is None or missing_ml:
            name = self._pending_key()
            raise UnsupportedDtype(
                f"unsupported tensor dtype {dtype.qualname}" + (f" (tensor '{name}')" if name is not None else "")
                + f" on storage '{storage.key}'" + (" (needs the ml_dtypes package)" if missing_ml else ""),
                hint=(f"`pip install -U ml-dtypes`, or {_CONVERT_FIRST}" if missing_ml
                      else f"numpy cannot hold this dtype; {_CONVERT_FIRST}"),
            )
        if code != storage.code:
            if self.storages is None:
                raise pickle.UnpicklingError("pickle refers to storages but no archive is open")
            nbytes = storage.numel * storage.itemsize
            storage = self.storages.storage(storage.key, code, nbytes // ITEMSIZES[code])
        return self._rebuild_tensor(storage, offset, size, stride, requires_grad)

    def _pending_key(self) -> str | None:
        """The dict key the tensor being rebuilt is about to be stored under, when the stack shows one.

        At REDUCE time the stack ends with the rebuild callables (v3, possibly under _rebuild_parameter
        / _rebuild_from_type); in a SETITEM(S) run the key sits right below them. Used in messages only.
        """
        i = len(self.stack) - 1
        while i >= 0 and isinstance(self.stack[i], _Allowed):
            i -= 1
        key = self.stack[i] if i >= 0 else None
        return key[:200] if isinstance(key, str) else None

    @staticmethod
    def _rebuild_parameter(data: Any, requires_grad: Any = True, *rest: Any) -> Any:
        if not isinstance(data, TorchTensor):
            raise pickle.UnpicklingError("Parameter rebuilt from something that is not a tensor")
        data.is_parameter = True
        data.requires_grad = bool(requires_grad) if isinstance(requires_grad, bool) else True
        return data

    def _rebuild_from_type(self, func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
        if not isinstance(func, _Allowed) or not isinstance(args, tuple):
            raise pickle.UnpicklingError("_rebuild_from_type with a non-allowed function")
        return func.fn(*args)

    # -- the opcode loop ----------------------------------------------------------------------------
    def load(self) -> Any:
        """The base class's loop with an opcode budget, reading straight from the in-memory pickle.

        The whole pickle is one BytesIO, so protocol-4 frames need no buffering: reads go to it
        directly (one C call per read instead of the base class's Python-level unframer; ~20% of
        unpickling time), and FRAME only checks its announced length (see `load_frame`).
        """
        self.read = self.source.read
        self.readinto = self.source.readinto
        self.readline = self.source.readline
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read = self.read
        dispatch = self.dispatch
        try:
            for _ in range(MAX_OPCODES):
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
        except pickle._Stop as stop:  # type: ignore[attr-defined]
            return stop.value
        raise pickle.UnpicklingError(f"more than {MAX_OPCODES} pickle opcodes (real checkpoints have far fewer)")

    # -- opcode overrides -------------------------------------------------------------------------
    def _memo_index(self) -> int:
        """Protocol-0 PUT/GET carry a decimal index; keep it 32-bit like BINPUT (big ints can collide in the memo)."""
        line = self.readline()[:-1]
        if not line.isdigit() or len(line) > 10 or int(line) >= 1 << 32:
            raise pickle.UnpicklingError("memo index is not a 32-bit decimal")
        return int(line)

    def load_put(self) -> None:
        if not self.stack:
            raise pickle.UnpicklingError("PUT on an empty stack")
        self.memo[self._memo_index()] = self.stack[-1]

    def load_get(self) -> None:
        self.append(self.memo[self._memo_index()])

    def _call(self, func: Any, args: Any, kwargs: dict[str, Any] | None = None) -> Any:
        if not isinstance(args, tuple):
            raise pickle.UnpicklingError("call arguments are not a tuple")
        if isinstance(func, StubClass):
            return StubObject(func, args, dict(kwargs or {}))
        if isinstance(func, _Allowed):
            if kwargs:
                raise pickle.UnpicklingError(f"{func.qualname} called with keyword arguments")
            return func.fn(*args)
        raise pickle.UnpicklingError(f"cannot call an object of type {type(func).__name__}")

    def load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        if stack[-1] is self._ordered_dict and args == ():  # most REDUCEs of a module pickle: one per dict
            stack[-1] = collections.OrderedDict()
            return
        stack[-1] = self._call(stack[-1], args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(kwargs, dict):
            raise pickle.UnpicklingError("NEWOBJ_EX keyword arguments are not a dict")
        self.append(self._call(cls, args, kwargs))

    def load_inst(self) -> None:
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        klass = self.find_class(module, name)
        self.append(self._call(klass, tuple(self.pop_mark())))

    def load_obj(self) -> None:
        args = self.pop_mark()
        if not args:
            raise pickle.UnpicklingError("OBJ without a class")
        cls = args.pop(0)
        self.append(self._call(cls, tuple(args)))

    def load_global(self) -> None:
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        self.append(self.find_class(module, name))

    def load_stack_global(self) -> None:
        name = self.stack.pop()
        module = self.stack.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise pickle.UnpicklingError("STACK_GLOBAL requires str")
        self.append(self.find_class(module, name))

    def load_frame(self) -> None:
        head = self.read(8)
        if len(head) != 8:
            raise pickle.UnpicklingError("truncated FRAME opcode")
        size = int.from_bytes(head, "little")
        if size > self.data_len - self.source.tell():
            raise pickle.UnpicklingError(f"frame of {size} bytes runs past the end of the pickle")

    # Length-prefixed opcodes: the declared length is checked against the bytes that remain *before*
    # anything is allocated (the base class's BYTEARRAY8 zero-fills `bytearray(n)` first: a 500-byte file
    # could make it allocate gigabytes).
    def _declared(self, fmt: str, op: str) -> int:
        width = struct.calcsize(fmt)
        head = self.read(width)
        if len(head) != width:
            raise pickle.UnpicklingError(f"truncated {op} opcode")
        size: int = struct.unpack(fmt, head)[0]
        left = self.data_len - self.source.tell()
        if size < 0 or size > left:
            raise pickle.UnpicklingError(f"{op} declares {size} bytes but only {left} remain in the pickle")
        return size

    def _take(self, fmt: str, op: str) -> bytes:
        return self.read(self._declared(fmt, op))

    def load_binstring(self) -> None:
        self.append(self._decode_string(self._take("<i", "BINSTRING")))  # type: ignore[attr-defined]

    def load_short_binstring(self) -> None:
        self.append(self._decode_string(self._take("<B", "SHORT_BINSTRING")))  # type: ignore[attr-defined]

    def load_binbytes(self) -> None:
        self.append(self._take("<I", "BINBYTES"))

    def load_short_binbytes(self) -> None:
        self.append(self._take("<B", "SHORT_BINBYTES"))

    def load_binbytes8(self) -> None:
        self.append(self._take("<Q", "BINBYTES8"))

    def load_bytearray8(self) -> None:
        self.append(bytearray(self._take("<Q", "BYTEARRAY8")))

    def load_binunicode(self) -> None:
        self.append(str(self._take("<I", "BINUNICODE"), "utf-8", "surrogatepass"))

    def load_short_binunicode(self) -> None:
        self.append(str(self._take("<B", "SHORT_BINUNICODE"), "utf-8", "surrogatepass"))

    def load_binunicode8(self) -> None:
        self.append(str(self._take("<Q", "BINUNICODE8"), "utf-8", "surrogatepass"))

    def load_long1(self) -> None:
        self.append(pickle.decode_long(self._take("<B", "LONG1")))

    def load_long4(self) -> None:
        self.append(pickle.decode_long(self._take("<i", "LONG4")))

    def load_ext(self) -> None:
        raise pickle.UnpicklingError("EXT opcodes (copyreg extension registry) are not allowed")

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, StubObject):
            inst.state = state
        elif "numpy" in sys.modules and isinstance(inst, sys.modules["numpy"].dtype):  # only _numpy_dtype makes one
            if isinstance(state, tuple) and len(state) > 1 and state[1] == ">":
                self.stack[-1] = inst.newbyteorder(">")
        elif isinstance(inst, TorchTensor | collections.OrderedDict):
            return  # tensor python attributes / OrderedDict __dict__: ignored, never applied
        else:
            raise pickle.UnpicklingError(f"BUILD on an object of type {type(inst).__name__} is not allowed")

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._setitems(self.stack[-1], [(key, value)])

    def load_setitems(self) -> None:
        items = self.pop_mark()
        self._setitems(self.stack[-1], list(zip(items[::2], items[1::2], strict=False)))

    def _check_key(self, value: Any) -> None:
        if isinstance(value, str):  # the common case, first
            return
        if _key_nodes(value) > 1:
            self.tuple_keys += 1
            if self.tuple_keys > MAX_TUPLE_KEYS:
                raise pickle.UnpicklingError(f"more than {MAX_TUPLE_KEYS} tuple dict keys / set items")

    def _setitems(self, target: Any, pairs: list[tuple[Any, Any]]) -> None:
        for key, _ in pairs:
            self._check_key(key)
        if isinstance(target, dict):
            for key, value in pairs:
                target[key] = value
        elif isinstance(target, StubObject):
            for key, value in pairs:
                target.dictitems[key] = value
        else:
            raise pickle.UnpicklingError(f"SETITEM on an object of type {type(target).__name__}")

    def load_dict(self) -> None:
        items = self.pop_mark()
        d: dict[Any, Any] = {}
        self._setitems(d, list(zip(items[::2], items[1::2], strict=False)))
        self.append(d)

    def load_append(self) -> None:
        value = self.stack.pop()
        self._extend(self.stack[-1], [value])

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._extend(self.stack[-1], items)

    @staticmethod
    def _extend(target: Any, items: list[Any]) -> None:
        if isinstance(target, list):
            target.extend(items)
        elif isinstance(target, StubObject):
            target.listitems.extend(items)
        else:
            raise pickle.UnpicklingError(f"APPEND on an object of type {type(target).__name__}")

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if not isinstance(target, set):
            raise pickle.UnpicklingError("ADDITEMS on a non-set")
        for item in items:
            self._check_key(item)
        target.update(items)

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        for item in items:
            self._check_key(item)
        self.append(frozenset(items))

    for _op, _fn in (
        (pickle.REDUCE, load_reduce),
        (pickle.NEWOBJ, load_newobj),
        (pickle.NEWOBJ_EX, load_newobj_ex),
        (pickle.INST, load_inst),
        (pickle.OBJ, load_obj),
        (pickle.GLOBAL, load_global),
        (pickle.STACK_GLOBAL, load_stack_global),
        (pickle.FRAME, load_frame),
        (pickle.BINSTRING, load_binstring),
        (pickle.SHORT_BINSTRING, load_short_binstring),
        (pickle.BINBYTES, load_binbytes),
        (pickle.SHORT_BINBYTES, load_short_binbytes),
        (pickle.BINBYTES8, load_binbytes8),
        (pickle.BYTEARRAY8, load_bytearray8),
        (pickle.BINUNICODE, load_binunicode),
        (pickle.SHORT_BINUNICODE, load_short_binunicode),
        (pickle.BINUNICODE8, load_binunicode8),
        (pickle.LONG1, load_long1),
        (pickle.LONG4, load_long4),
        (pickle.EXT1, load_ext),
        (pickle.EXT2, load_ext),
        (pickle.EXT4, load_ext),
        (pickle.BUILD, load_build),
        (pickle.SETITEM, load_setitem),
        (pickle.SETITEMS, load_setitems),
        (pickle.DICT, load_dict),
        (pickle.APPEND, load_append),
        (pickle.APPENDS, load_appends),
        (pickle.ADDITEMS, load_additems),
        (pickle.FROZENSET, load_frozenset),
        (pickle.PUT, load_put),
        (pickle.GET, load_get),
    ):
        dispatch[_op[0]] = _fn
    del _op, _fn


def unpickle(data: bytes, *, storages: _StorageSource | None = None, max_bytes: int | None = None,
             where: str = "<pickle>") -> tuple[Any, set[str]]:
    """Run the restricted unpickler over `data`; returns (root object, stubbed global names).

    Any failure becomes a `CheckpointError` naming `where`.
    """
    up = RestrictedUnpickler(data, storages, max_bytes=max_bytes if max_bytes is not None else len(data) * 64)
    try:
        root = up.load()
    except CheckpointError:
        raise
    except UnsupportedDtype as exc:
        raise CheckpointError(f"{where}: {exc}", hint=exc.hint) from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{where}: {exc} (near byte {_pos(up)})", hint="the file is corrupt or hostile") from None
    except (Exception, RecursionError, MemoryError) as exc:
        raise CheckpointError(
            f"{where}: malformed pickle near byte {_pos(up)} ({type(exc).__name__}: {str(exc)[:120]})",
            hint="the file is corrupt or hostile",
        ) from None
    return root, up.stubbed


def _pos(up: Any) -> int:
    try:
        return int(up.source.tell())  # with protocol-4 framing: the end of the current frame
    except Exception:
        return -1


class RawCheckpoint:
    __slots__ = ("archive_prefix", "path", "root", "storages", "stubbed")

    def __init__(self, path: Path, root: Any, stubbed: list[str], archive_prefix: str, storages: list[Storage]) -> None:
        self.path = path
        self.root = root
        self.stubbed = stubbed
        self.archive_prefix = archive_prefix
        self.storages = storages


def sniff_format(path: Path, head: bytes) -> None:
    """Raise a clear error for files that are not PyTorch zip checkpoints."""
    if head[:4] == b"PK\x03\x04":
        return
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise CheckpointError(
            f"{path}: unsupported checkpoint format (legacy tar torch.save format)",
            hint="re-save it with torch >= 1.6 (`torch.save(obj, path)`), which writes the zip format",
        )
    if head[:1] == b"\x80" and len(head) > 2:
        raise CheckpointError(
            f"{path}: unsupported checkpoint format (legacy non-zip torch.save format)",
            hint="re-save it with torch >= 1.6 without `_use_new_zipfile_serialization=False`",
        )
    if len(head) >= 9 and head[8:9] == b"{":
        raise CheckpointError(f"{path}: this is a safetensors file, not a checkpoint", hint="use `zoo inspect` on it")
    raise CheckpointError(f"{path}: unsupported checkpoint format (not a PyTorch zip archive)",
                          hint="expected a .ckpt/.pt file written by torch.save")


def load_raw(path: str | os.PathLike[str]) -> RawCheckpoint:
    """Open a PyTorch zip checkpoint and unpickle its `data.pkl` with the restricted unpickler."""
    p = Path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed by the with-block below
    except FileNotFoundError:
        raise CheckpointError(f"{p}: file not found") from None
    except OSError as exc:
        raise CheckpointError(f"{p}: cannot open ({exc.strerror})") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(512)
        sniff_format(p, head)
        fh.seek(0)
        buf: mmap.mmap | bytes = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, KeyError, RuntimeError,
                NotImplementedError) as exc:  # e.g. a mangled "zip file version" field

            raise CheckpointError(f"{p}: not a readable zip archive ({exc})",
                                  hint="the download may be truncated") from None
        try:
            names = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            names = [n for n in names if n.count("/") <= 1]
            if len(names) != 1:
                raise CheckpointError(
                    f"{p}: expected exactly one top-level '<name>/data.pkl' in the archive, found {len(names)}",
                    hint="this zip is not a torch.save checkpoint",
                )
            prefix = names[0][: -len("data.pkl")]
            for info in zf.infolist():
                # torch stores every member uncompressed; bzip2/lzma members decompress a whole input chunk at once
                # (a 900-byte bzip2 member inflated to 2 GB of RSS before any size check), deflate is bounded
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise CheckpointError(f"{p}: member {info.filename[:80]!r} uses compression method "
                                          f"{info.compress_type} (torch.save stores members uncompressed)",
                                          hint="this zip is not a torch.save checkpoint")
            if prefix + "byteorder" in zf.namelist():
                if zf.getinfo(prefix + "byteorder").file_size > 16:  # a compressed member could inflate without bound
                    raise CheckpointError(f"{p}: field '{prefix}byteorder' is implausibly large",
                                          hint="this zip is not a torch.save checkpoint")
                order = zf.read(prefix + "byteorder").strip()
                if order != b"little":
                    raise CheckpointError(
                        f"{p}: field '{prefix}byteorder' is {order[:16]!r}; only little-endian is supported")
            info = zf.getinfo(names[0])
            if info.file_size > MAX_PICKLE_BYTES:
                raise CheckpointError(
                    f"{p}: {names[0]} is {info.file_size} bytes, over the {MAX_PICKLE_BYTES} byte limit")
            data = zf.read(names[0])
            storages = _StorageSource(p, zf, prefix, buf, fh.fileno())
            root, stubbed = unpickle(data, storages=storages, max_bytes=size, where=f"{p}: {names[0]}")
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, KeyError, RuntimeError,
                NotImplementedError) as exc:
            raise CheckpointError(f"{p}: broken zip archive ({type(exc).__name__}: {str(exc)[:120]})",
                                  hint="the download may be truncated") from None
    return RawCheckpoint(p, root, sorted(stubbed), prefix, list(storages.views.values()))


def mapping_items(obj: Any) -> Mapping[Any, Any] | None:
    """The key/value view of a dict-like object from the pickle (dict, OrderedDict or dict-ish stub)."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, StubObject) and obj.dictitems:
        return obj.dictitems
    return None
