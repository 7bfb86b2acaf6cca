"""Opening image files safely and turning Pillow images into arrays.

The building blocks of :mod:`sac.data.io` (photos) and :mod:`sac.data.masks` (masks). Every reader
fully decodes the file (``Image.load()``) so that truncated or corrupt files fail here, with a
:class:`sac.errors.DataError` naming the file, and not later inside a training loop. Pillow's
``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default (``False``): a truncated photo is an error,
never silently padded with grey.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sac.errors import DataError

__all__ = [
    "DECODE_ERRORS",
    "EXIF_ORIENTATION",
    "image_to_rgb",
    "native_byte_order",
    "open_decoded",
    "open_header",
    "scale_to_uint8",
]

#: The EXIF tag of the orientation.
EXIF_ORIENTATION = 0x0112
#: What Pillow and numpy raise on a corrupt, truncated or oddly encoded file.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


# --------------------------------------------------------------------------------------------------
# opening


def _precheck(p: Path) -> None:
    try:
        exists = p.exists()
        if not exists:
            if p.is_symlink():
                raise DataError(p, "broken symbolic link (its target does not exist)")
            raise DataError(p, "file not found")
        if p.is_dir():
            raise DataError(p, "is a folder, not an image file")
        size = p.stat().st_size
    except PermissionError as e:
        raise DataError(p, "cannot access: permission denied") from e
    except OSError as e:
        raise DataError(p, f"cannot access: {e.strerror or e}") from e
    if size == 0:
        raise DataError(p, "empty file (0 bytes)")


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
)


def _signature_format(p: Path) -> str | None:
    """Format named by the file's magic bytes, if it has a known image signature."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for sig, name in _SIGNATURES if head.startswith(sig)), None)


def _decode_failure(p: Path, kind: str, e: Exception) -> DataError:
    """The DataError for an exception Pillow raised while opening or decoding ``p``."""
    if isinstance(e, Image.DecompressionBombError):
        return DataError(p, f"image is too large to decode safely: {e}")
    return DataError(p, f"corrupt or truncated {kind} file: {e}")


def open_header(p: Path, kind: str) -> Image.Image:
    """``Image.open`` with every failure turned into a DataError (reads the header only).

    Arguments:
        p: the file.
        kind: what the file should be (``"image"``, ``"mask"``), for the messages.
    """
    _precheck(p)
    try:
        return Image.open(p)
    except PermissionError as e:
        raise DataError(p, "cannot read: permission denied") from e
    except UnidentifiedImageError as e:
        fmt = _signature_format(p)
        if fmt:
            raise DataError(
                p, f"corrupt or truncated {kind} file: starts like a {fmt} but cannot be decoded"
            ) from e
        raise DataError(p, "not an image (or a format Pillow cannot read)") from e
    except (Image.DecompressionBombError, *DECODE_ERRORS) as e:
        raise _decode_failure(p, kind, e) from e


@contextmanager
def open_decoded(path: str | Path, kind: str) -> Iterator[Image.Image]:
    """Open ``path``, force a full decode, apply the EXIF orientation; yield the image.

    Arguments:
        path: the file.
        kind: what the file should be (``"image"``, ``"mask"``), for the messages.

    The file is closed when the block ends.
    """
    p = Path(path)
    img = open_header(p, kind)
    with img:
        if img.format == "TIFF" and _header_orientation(img) in (5, 6, 7, 8):
            # Pillow memory-maps an uncompressed TIFF strip (modes L, P, RGBA, CMYK, I;16) at the header's size,
            # which its TIFF reader has already swapped for these orientations: the pixels come out scrambled and
            # un-rotated. Without a file name Pillow reads the strip instead of mapping it.
            img.filename = ""
        try:
            img.load()
        except (Image.DecompressionBombError, *DECODE_ERRORS) as e:
            raise _decode_failure(p, kind, e) from e
        if img.width == 0 or img.height == 0:
            raise DataError(p, f"zero-size image ({img.width}×{img.height})")
        yield _exif_transpose(img, p)


def _header_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag before decoding (1 when absent or unreadable)."""
    try:
        return int(img.getexif().get(EXIF_ORIENTATION, 1))
    except (*DECODE_ERRORS, ArithmeticError):
        return 1


def _exif_transpose(img: Image.Image, p: Path) -> Image.Image:
    try:
        ImageOps.exif_transpose(img, in_place=True)  # no copy when there is nothing to rotate
    except DECODE_ERRORS as e:  # malformed EXIF block: the pixels are still fine
        warnings.warn(f"{p}: unreadable EXIF orientation ignored ({e})", stacklevel=3)
    return img


# --------------------------------------------------------------------------------------------------
# pixels


def native_byte_order(a: np.ndarray) -> np.ndarray:
    """``a`` in native byte order (Pillow gives big-endian arrays for ``I;16B``)."""
    return a.astype(a.dtype.newbyteorder("=")) if a.dtype.byteorder not in ("=", "|") else a


def scale_to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale a single-channel integer or float array to ``uint8``.

    ``uint16`` is 16-bit data: divided by 257 (rounded), so 65535 → 255. Other integer types are
    taken as 8-bit when within 0–255 and as 16-bit when within 0–65535. Floats within [0, 1] are
    multiplied by 255, floats within [0, 255] rounded. Anything else is min–max stretched.
    """
    a = native_byte_order(a)
    if a.dtype == np.uint8:
        return a
    if a.size == 0:
        return np.zeros(a.shape, np.uint8)
    lo, hi = a.min(), a.max()
    if a.dtype.kind in "ui":
        if a.dtype != np.uint16 and lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0:
        return np.round(a * 255.0).astype(np.uint8)
    if lo >= 0.0 and hi <= 255.0:
        return np.round(a).astype(np.uint8)
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """``H×W×4`` uint8 → ``H×W×3``: colour × alpha / 255 (rounded), i.e. composited on black."""
    rgb = rgba[..., :3].astype(np.uint16)
    alpha = rgba[..., 3:4].astype(np.uint16)
    return ((rgb * alpha + 127) // 255).astype(np.uint8)


def image_to_rgb(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode as ``H×W×3`` ``uint8`` RGB (alpha composited on black).

    Arguments:
        img: the image (see :func:`sac.data.read_image` for how each mode is converted).
    """
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in img.info):
        return _composite_on_black(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    if mode in ("1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        rgb = img.convert("RGB")
        return np.asarray(rgb, dtype=np.uint8).copy()
    if mode.startswith("I") or mode.startswith("F"):  # I;16, I;16B, I;16L, I;16N, I, F
        grey = scale_to_uint8(np.asarray(img))
        if grey.ndim != 2:
            raise ValueError(f"unexpected array shape {grey.shape} for mode {mode}")
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
