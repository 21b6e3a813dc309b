"""Image preprocessing (spec §1.4): 224x224 RGB -> ImageNet-normalised CHW float32, and patch flattening."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError

F32 = NDArray[np.float32]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_image(image: np.ndarray, *, image_size: int = 224) -> F32:
    """HWC RGB image (uint8 0..255 or float 0..1), or a batch [B,H,W,3] -> ImageNet-normalised [.., 3, H, W].

    The image must already be `image_size` square (no resizing, like synapse; resize upstream).
    Arithmetic is float64 then cast once, so results do not depend on the input dtype's rounding.
    """
    a = np.asarray(image)
    if a.ndim not in (3, 4) or a.shape[-1] != 3 or a.shape[-3:-1] != (image_size, image_size):
        raise InputError(
            f"image: shape {list(a.shape)} is not [{image_size}, {image_size}, 3] (HWC RGB)",
            hint=f"resize to {image_size}x{image_size} first",
        )
    if a.dtype == np.uint8:
        x = a.astype(np.float64) / 255.0
    elif a.dtype.kind == "f":
        x = a.astype(np.float64)
    else:
        raise InputError(f"image: dtype {a.dtype} is not uint8 or float")
    x = (x - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3), dtype=np.float32)


def patchify(images: np.ndarray, patch_size: int = 14) -> F32:
    """[B, C, H, W] -> [B, N, C*P*P]: patch (ph, pw) is row ph*(W/P) + pw, each row ordered (c, py, px).

    This matches the Conv2d weight flattened to [He, C*P*P], so patch embedding is
    ``patchify(x) @ W.reshape(He, -1).T + b`` (spec §1.4).
    """
    x = np.asarray(images, dtype=np.float32)
    b, c, h, w = x.shape
    p = patch_size
    gh, gw = h // p, w // p
    out = x.reshape(b, c, gh, p, gw, p).transpose(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * p * p)
    return np.ascontiguousarray(out)
