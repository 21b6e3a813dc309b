"""Preprocessing: ImageNet normalisation of HWC images and the spec §1.4 patch order."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.errors import InputError
from zoo.model.golden import gradient_image
from zoo.model.preprocess import normalize_image, patchify


def test_normalize_uint8_and_float_agree() -> None:
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
    a = normalize_image(u8)
    b = normalize_image(u8.astype(np.float32) / 255.0)
    assert a.shape == (3, 224, 224) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a[0, 5, 7] == pytest.approx((u8[5, 7, 0] / 255 - 0.485) / 0.229, abs=1e-6)
    assert normalize_image(np.stack([u8, u8])).shape == (2, 3, 224, 224)


def test_gradient_image_matches_hwc_recipe() -> None:
    s = 224
    y, x = np.mgrid[0:s, 0:s].astype(np.float64)
    raw = np.stack([y / s, x / s, 0.5 + 0.5 * np.sin((x + y) / (2 * s))], axis=-1)
    np.testing.assert_allclose(normalize_image(raw), gradient_image(), atol=1e-6)


def test_normalize_rejects_bad_images() -> None:
    with pytest.raises(InputError, match="resize"):
        normalize_image(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError, match="dtype"):
        normalize_image(np.zeros((224, 224, 3), np.int32))


def test_patch_order() -> None:
    img = np.arange(3 * 28 * 28, dtype=np.float32).reshape(1, 3, 28, 28)
    p = patchify(img, 14)
    assert p.shape == (1, 4, 588)
    # patch index ph*2 + pw; element c*196 + py*14 + px
    ph, pw, c, py, px = 1, 0, 2, 3, 5
    assert p[0, ph * 2 + pw, c * 196 + py * 14 + px] == img[0, c, ph * 14 + py, pw * 14 + px]
