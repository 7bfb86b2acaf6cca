"""Reading photos and masks safely, writing them atomically.

Every reader fully decodes the file so that truncated or corrupt files fail here, with a
:class:`sac.errors.DataError` naming the file (see :mod:`sac.data.decode`).

Conventions:

- a photo is ``H×W×3`` ``uint8`` RGB, EXIF orientation applied (:func:`read_image`);
- a mask is ``H×W`` ``bool`` (``True`` = crack), read strictly: only unambiguous binary encodings
  are accepted (:func:`read_mask`, in :mod:`sac.data.masks`), anything else needs an explicit
  ``threshold``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sac.data.decode import DECODE_ERRORS, EXIF_ORIENTATION, image_to_rgb, open_decoded, open_header
from sac.data.masks import read_mask
from sac.errors import DataError
from sac.files import atomic_path

__all__ = [
    "IMAGE_EXTENSIONS",
    "image_size",
    "is_image_file",
    "read_image",
    "read_mask",
    "write_image_png",
    "write_mask_png",
]

#: File extensions (lower case) treated as images when listing folders.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: str | Path) -> bool:
    """``True`` for a visible file whose extension is one of :data:`IMAGE_EXTENSIONS`."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


# --------------------------------------------------------------------------------------------------
# reading


def read_image(path: str | Path) -> np.ndarray:
    """Read a photo as an ``H×W×3`` ``uint8`` RGB array.

    Arguments:
        path: any format Pillow reads (JPEG, PNG, BMP, TIFF, WebP, ...).

    Handling:

    - the EXIF orientation tag is applied (``ImageOps.exif_transpose``), so the array is upright;
    - 16-bit data (``I;16*`` PNG/TIFF, 16-bit RGB) is scaled to 8 bits (value / 257, rounded);
      32-bit integer (``I``) data within 0–65535 is treated as 16-bit, float (``F``) data within
      [0, 1] is multiplied by 255, other ranges are min–max stretched;
    - greyscale, 1-bit and palette images are expanded to RGB; CMYK / YCbCr / LAB are converted;
    - **images with an alpha channel (RGBA, LA, palette with transparency) are composited on
      black** (colour × alpha / 255). In crack data alpha is almost always a border artefact of the
      export tool (e.g. the Ceramic set's 1-px transparent border); black matches the zero padding
      models see at image borders, whereas white would create a bright frame that looks like an edge.

    Raises:
        DataError: the file is missing, unreadable (permissions, a folder, a broken link), empty,
            not an image, truncated or corrupt, or has zero size. The error names the file.
    """
    p = Path(path)
    with open_decoded(p, "image") as img:
        try:
            rgb = image_to_rgb(img)
        except DECODE_ERRORS as e:
            raise DataError(p, f"cannot convert image mode {img.mode!r} to RGB: {e}") from e
    return rgb


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image as :func:`read_image` would return it, from the header only.

    EXIF orientations 5–8 (90° rotations) swap width and height. The pixels are not decoded, so a
    truncated file is not detected here.

    Raises:
        DataError: the file is missing, unreadable or not an image.
    """
    p = Path(path)
    img = open_header(p, "image")
    with img:
        w, h = img.size
        try:
            orientation = img.getexif().get(EXIF_ORIENTATION, 1)
        except DECODE_ERRORS:
            orientation = 1
        upright = _header_size_upright(img)
    if orientation in (5, 6, 7, 8) and not upright:
        w, h = h, w
    return int(w), int(h)


def _header_size_upright(img: Image.Image) -> bool:
    """Whether Pillow already reports the upright size before decoding: its TIFF reader swaps width and
    height for orientations 5–8 in the header (and transposes when it loads), other readers do not."""
    tags = getattr(img, "tag_v2", None)
    if img.format != "TIFF" or tags is None:
        return False
    return tuple(img.size) != (tags.get(256), tags.get(257))  # 256/257: ImageWidth/ImageLength as stored


# --------------------------------------------------------------------------------------------------
# writing


def write_mask_png(path: str | Path, mask: np.ndarray) -> Path:
    """Write a mask atomically as a single-channel 8-bit PNG with 0 = background, 255 = crack.

    Arguments:
        path: destination (parent folders are created).
        mask: ``H×W`` bool array, or integers / floats with values ⊆ {0, 1} or ⊆ {0, 255}.

    Returns the path written. A non-binary array is a bug in the caller (``ValueError``).
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"write_mask_png expects an H×W mask, got shape {m.shape}")
    if m.dtype != bool:
        vals = set(np.unique(m).tolist())
        if not (vals <= {0, 1} or vals <= {0, 255}):
            raise ValueError(f"write_mask_png expects a binary mask, got values {sorted(vals)[:8]}")
        m = m != 0
    return write_image_png(path, np.where(m, np.uint8(255), np.uint8(0)).astype(np.uint8))


def write_image_png(path: str | Path, rgb: np.ndarray, compress_level: int = 6) -> Path:
    """Write an ``H×W×3`` (RGB) or ``H×W`` (grey) ``uint8`` array atomically as PNG; returns the path.

    Arguments:
        path: destination (parent folders are created).
        rgb: ``H×W×3`` RGB or ``H×W`` grey, ``uint8``; other shapes or types are a bug in the caller
            (``ValueError``).
        compress_level: zlib level 0–9; 6 is Pillow's default, 1 writes large photos (overlays) faster
            and only a few percent larger.
    """
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise ValueError(f"write_image_png expects uint8 data, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 3:
        img = Image.fromarray(np.ascontiguousarray(a), mode="RGB")
    elif a.ndim == 2:
        img = Image.fromarray(np.ascontiguousarray(a), mode="L")
    else:
        raise ValueError(f"write_image_png expects H×W×3 or H×W, got shape {a.shape}")
    out = Path(path)
    with atomic_path(out) as tmp:
        img.save(tmp, format="PNG", compress_level=compress_level)
    return out
