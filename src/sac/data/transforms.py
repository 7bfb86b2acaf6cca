"""Resizing and training augmentation for image/mask pairs.

Resizing is done once, when a :class:`sac.data.CrackDataset` is built; augmentation runs per item.

Mask resizing matters for thin cracks (UAV75 labels are 1–2 px wide):

- ``"nearest"`` (default) samples one source pixel per output pixel. It keeps the crack *area*
  unbiased and never thickens a crack, but when shrinking it misses a thin line wherever the sampled
  rows/columns do not hit it, breaking lines into dashes.
- ``"area"`` averages the source pixels covered by each output pixel (``cv2.INTER_AREA``) and marks
  crack where the average is >= 0.5. A crack survives where it covers at least half an output pixel:
  at 2× it keeps 1-px lines far more continuous (and about 1.5× thicker), but at 4× and beyond a
  1-px line covers only a quarter of an output pixel and disappears almost entirely.

Measured on UAV75 (75 masks, 512×512, 1–2 px cracks; "kept" = share of the original crack pixels
whose output pixel is crack; "pieces" = 8-connected components, 138 in the originals):

======  =====================================  =====================================
size    nearest                                area (>= 0.5)
======  =====================================  =====================================
256     56.5 % kept, 4,455 pieces, area ×1.02  85.4 % kept, 829 pieces, area ×1.47
128     24.8 % kept, 2,639 pieces, area ×1.01  0.3 % kept, 24 pieces, area ×0.01
======  =====================================  =====================================

When enlarging (e.g. a 133×133 tile to 256×256) both are fine: ``"nearest"`` repeats pixels,
``"area"`` interpolates bilinearly and thresholds at 0.5.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from sac.errors import ConfigError

__all__ = ["MASK_RESIZE_METHODS", "build_augmentation", "resize_image", "resize_mask"]

#: Accepted values of ``mask_resize``.
MASK_RESIZE_METHODS: tuple[str, ...] = ("nearest", "area")


def _target(size: int | tuple[int, int]) -> tuple[int, int]:
    """``size`` → ``(height, width)``."""
    if isinstance(size, (tuple, list)):
        h, w = int(size[0]), int(size[1])
    else:
        h = w = int(size)
    if h <= 0 or w <= 0:
        raise ConfigError("size", f"must be positive, got {size!r}")
    return h, w


def resize_image(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an ``H×W×3`` ``uint8`` image to ``size`` (an int for a square, or ``(height, width)``).

    Shrinking uses ``cv2.INTER_AREA`` (area averaging, no aliasing); enlarging along either axis uses
    ``cv2.INTER_LINEAR`` (``INTER_AREA`` degenerates to nearest-neighbour when enlarging). The
    aspect ratio is not kept: crack datasets are trained on square inputs.
    """
    h, w = _target(size)
    ih, iw = image.shape[:2]
    if (ih, iw) == (h, w):
        return image
    interp = cv2.INTER_AREA if (h <= ih and w <= iw) else cv2.INTER_LINEAR
    out = cv2.resize(image, (w, h), interpolation=interp)
    if out.ndim == 2 and image.ndim == 3:  # cv2 drops a trailing singleton channel
        out = out[:, :, None]
    return out


def resize_mask(mask: np.ndarray, size: int | tuple[int, int], method: str = "nearest") -> np.ndarray:
    """Resize an ``H×W`` boolean mask; returns ``bool``. See the module docstring for ``method``."""
    if method not in MASK_RESIZE_METHODS:
        raise ConfigError(
            "mask_resize", f"unknown method {method!r}; use one of {', '.join(MASK_RESIZE_METHODS)}"
        )
    h, w = _target(size)
    m = np.asarray(mask, dtype=bool)
    if m.shape == (h, w):
        return m.copy()
    if method == "nearest":
        return cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    ih, iw = m.shape
    interp = cv2.INTER_AREA if (h <= ih and w <= iw) else cv2.INTER_LINEAR
    return cv2.resize(m.astype(np.float32), (w, h), interpolation=interp) >= 0.5


def build_augmentation(**overrides: Any):
    """The training augmentation (an ``albumentations.Compose``) used by ``CrackDataset(augment=True)``.

    Flips, ``RandomRotate90``, mild brightness/contrast (±0.15) and a small affine
    (shift ±5 %, scale 0.9–1.1, rotation ±15°, reflected borders). Masks are moved with
    nearest-neighbour interpolation, so they stay binary; photometric changes touch the image only.

    The pipeline has its own random generators, independent of numpy's and torch's global state.
    For reproducible output give it one stream with
    ``set_random_state(np.random.default_rng(seed), random.Random(seed))`` (what ``CrackDataset``
    does per item). Avoid ``set_random_seed`` / ``Compose(seed=...)`` in albumentations 2.0.x: it
    seeds every transform identically, so e.g. both flips always fire together.
    ``overrides`` are passed to ``albumentations.Compose``.
    """
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never touch the network at run time
    import albumentations as A

    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomRotate90(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=0.5),
            A.Affine(
                translate_percent=(-0.05, 0.05),
                scale=(0.9, 1.1),
                rotate=(-15, 15),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.5,
            ),
        ],
        mask_interpolation=cv2.INTER_NEAREST,
        **overrides,
    )
