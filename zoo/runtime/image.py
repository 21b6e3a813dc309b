"""Images in, model inputs out: spec §1.4 preprocessing for `zoo.load(...).encode`.

Accepted: a path (PNG/JPEG/... read with Pillow), a PIL image, an ``HxWx3`` uint8 array (or a
float array in 0..1), a batch ``[B, H, W, 3]`` of those, a list of any of them, or an already
preprocessed channels-first float array ``[3, S, S]`` / ``[B, 3, S, S]`` (ImageNet-normalised, as
in golden files), which is passed through unchanged.

Like upstream LeWM (stable-pretraining ``ToImage`` + ``Resize(S)`` on PIL images) an image whose
shorter side is not ``S`` (224) is resized with Pillow's bilinear filter so that its shorter side
is ``S``; a non-square result is then centre-cropped to ``S x S`` (the model only takes squares).
Then pixels are scaled to [0, 1] and normalised with the ImageNet mean/std.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError

F32 = NDArray[np.float32]


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "convert") and hasattr(obj, "size")


def open_image(path: str | os.PathLike[str]) -> Any:
    """A PIL RGB image from a file; one-line InputError for a missing or unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: image file not found", hint="pass the path of a PNG or JPEG file")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{p}: not a readable image ({first})", hint="pass a valid PNG or JPEG file") from None


def _resize_pil(im: Any, size: int) -> Any:
    from PIL import Image

    w, h = im.size
    if (w, h) == (size, size):
        return im
    if w <= 0 or h <= 0:
        raise InputError(f"image: size {w}x{h} is empty")
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def _one_hwc(a: np.ndarray, size: int, what: str) -> np.ndarray:
    """One HxWx3 array -> size x size x 3 (uint8 through Pillow; float 0..1 through Pillow's F mode)."""
    if a.shape[:2] == (size, size):
        return a
    from PIL import Image

    if a.dtype == np.uint8:
        return np.asarray(_resize_pil(Image.fromarray(a, "RGB"), size))
    if a.dtype.kind == "f":
        chans = [np.asarray(_resize_pil(Image.fromarray(np.ascontiguousarray(a[..., c], np.float32), "F"), size))
                 for c in range(3)]
        return np.stack(chans, axis=-1)
    raise InputError(f"{what}: dtype {a.dtype} is not uint8 or float", hint="pass uint8 RGB pixels (0..255)")


def _from_array(a: np.ndarray, size: int, what: str) -> F32:
    from zoo.model.preprocess import normalize_image

    if a.ndim in (3, 4) and a.dtype.kind == "f" and a.shape[-3] == 3 and a.shape[-2:] == (size, size) \
            and a.shape[-1] != 3:
        return np.ascontiguousarray(a, dtype=np.float32)  # channels-first, already normalised
    if a.ndim == 3 and a.shape[-1] == 3:
        return normalize_image(_one_hwc(a, size, what), image_size=size)
    if a.ndim == 4 and a.shape[-1] == 3:
        return np.stack([normalize_image(_one_hwc(x, size, what), image_size=size) for x in a])
    raise InputError(f"{what}: shape {list(a.shape)} is not an HxWx3 RGB image, a [B, H, W, 3] batch or "
                     f"a normalised [B, 3, {size}, {size}] array", hint="pass uint8 RGB pixels (H, W, 3)")


def to_model_input(image: Any, size: int = 224) -> tuple[F32, bool]:
    """(``[B, 3, size, size]`` float32 model input, batched?) from any accepted image form."""
    if isinstance(image, (str, os.PathLike)):
        return _from_array(np.asarray(_resize_pil(open_image(image), size)), size, str(image))[None], False
    if _is_pil(image):
        return _from_array(np.asarray(_resize_pil(image.convert("RGB"), size)), size, "image")[None], False
    if isinstance(image, (list, tuple)):
        if not image:
            raise InputError("images: empty list", hint="pass at least one image")
        parts = [to_model_input(x, size)[0] for x in image]
        return np.concatenate(parts, axis=0), True
    a = np.asarray(image)
    out = _from_array(a, size, "image")
    batched = out.ndim == 4
    return (out if batched else out[None]), batched
