"""Reading photos and masks safely, writing them atomically.

Every reader fully decodes the file (``Image.load()``) so that truncated or corrupt files fail here,
with a :class:`sac.errors.DataError` naming the file, and not later inside a training loop. Pillow's
``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default (``False``): a truncated photo is an
error, never silently padded with grey.

Conventions:

- a photo is ``H×W×3`` ``uint8`` RGB, EXIF orientation applied;
- a mask is ``H×W`` ``bool`` (``True`` = crack), read strictly: only unambiguous binary encodings
  are accepted (see :func:`read_mask`), anything else needs an explicit ``threshold``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sac.errors import ConfigError, DataError
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

_EXIF_ORIENTATION = 0x0112
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def is_image_file(path: str | Path) -> bool:
    """``True`` for a visible file whose extension is one of :data:`IMAGE_EXTENSIONS`."""
    p = Path(path)
    return p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")


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


def _open_header(p: Path, kind: str) -> Image.Image:
    """``Image.open`` with every failure turned into a DataError (reads the header only)."""
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
    except Image.DecompressionBombError as e:
        raise DataError(p, f"image is too large to decode safely: {e}") from e
    except _DECODE_ERRORS as e:
        raise DataError(p, f"corrupt or truncated {kind} file: {e}") from e


@contextmanager
def _open_loaded(path: str | Path, kind: str) -> Iterator[Image.Image]:
    """Open ``path``, force a full decode, apply the EXIF orientation; yield the image.

    The file is closed when the block ends.
    """
    p = Path(path)
    img = _open_header(p, kind)
    with img:
        try:
            img.load()
        except Image.DecompressionBombError as e:
            raise DataError(p, f"image is too large to decode safely: {e}") from e
        except _DECODE_ERRORS as e:
            raise DataError(p, f"corrupt or truncated {kind} file: {e}") from e
        if img.width == 0 or img.height == 0:
            raise DataError(p, f"zero-size image ({img.width}×{img.height})")
        yield _exif_transpose(img, p)


def _exif_transpose(img: Image.Image, p: Path) -> Image.Image:
    try:
        ImageOps.exif_transpose(img, in_place=True)  # no copy when there is nothing to rotate
    except _DECODE_ERRORS as e:  # malformed EXIF block: the pixels are still fine
        warnings.warn(f"{p}: unreadable EXIF orientation ignored ({e})", stacklevel=3)
    return img


# --------------------------------------------------------------------------------------------------
# photos


def _native(a: np.ndarray) -> np.ndarray:
    """``a`` in native byte order (Pillow gives big-endian arrays for ``I;16B``)."""
    return a.astype(a.dtype.newbyteorder("=")) if a.dtype.byteorder not in ("=", "|") else a


def _scale_to_uint8(a: np.ndarray) -> np.ndarray:
    """Scale a single-channel integer or float array to ``uint8``.

    ``uint16`` is 16-bit data: divided by 257 (rounded), so 65535 → 255. Other integer types are
    taken as 8-bit when within 0–255 and as 16-bit when within 0–65535. Floats within [0, 1] are
    multiplied by 255, floats within [0, 255] rounded. Anything else is min–max stretched.
    """
    a = _native(a)
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


def _image_to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in img.info):
        return _composite_on_black(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    if mode in ("1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        rgb = img.convert("RGB")
        return np.asarray(rgb, dtype=np.uint8).copy()
    if mode.startswith("I") or mode.startswith("F"):  # I;16, I;16B, I;16L, I;16N, I, F
        grey = _scale_to_uint8(np.asarray(img))
        if grey.ndim != 2:
            raise ValueError(f"unexpected array shape {grey.shape} for mode {mode}")
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


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
    with _open_loaded(p, "image") as img:
        try:
            rgb = _image_to_rgb(img)
        except _DECODE_ERRORS as e:
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
    img = _open_header(p, "image")
    with img:
        w, h = img.size
        try:
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        except _DECODE_ERRORS:
            orientation = 1
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return int(w), int(h)


# --------------------------------------------------------------------------------------------------
# masks

_MASK_HELP = (
    "expected {0,1}, {0,255}, a 1-bit image or a palette PNG with index 1 = crack; "
    "for soft or anti-aliased masks pass threshold= (crack = grey value >= threshold, e.g. 128)"
)


def _check_threshold(threshold: float | None) -> None:
    if threshold is None:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ConfigError("threshold", f"must be a number in (0, 255], got {threshold!r}")
    if not 0 < float(threshold) <= 255:
        raise ConfigError(
            "threshold", f"must be in (0, 255] (grey value on the 0-255 scale), got {threshold}"
        )


def _value_counts(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``a`` and their pixel counts (fast path for 8/16-bit)."""
    flat = a.ravel()
    if a.dtype in (np.uint8, np.uint16):
        counts = np.bincount(flat, minlength=256)
        values = np.flatnonzero(counts)
        return values, counts[values]
    values, counts = np.unique(flat, return_counts=True)
    return values, counts


def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{float(v):g}"


def _describe_values(values: np.ndarray, counts: np.ndarray, binary_hi: float) -> str:
    total = int(counts.sum())
    order = np.argsort(-counts, kind="stable")
    shown = ", ".join(f"{_fmt_value(values[i])}: {100.0 * counts[i] / total:.1f} %" for i in order[:8])
    more = f", ... ({len(values) - 8} more)" if len(values) > 8 else ""
    lo, hi = _fmt_value(values.min()), _fmt_value(values.max())
    extreme = counts[np.isin(values, [0, binary_hi])].sum()
    mid_share = 100.0 * (total - extreme) / total
    hint = ""
    if len(values) > 2 and mid_share < 5.0:
        hint = " (mostly 0/max with a few in-between values: anti-aliased or JPEG-compressed?)"
    return (
        f"mask is not binary: {len(values)} distinct values in {lo}–{hi} "
        f"({shown}{more}); {mid_share:.2f} % of pixels are neither 0 nor {_fmt_value(binary_hi)}{hint}; "
    )


def _binarise(a: np.ndarray, p: Path, threshold: float | None) -> np.ndarray:
    """Strict binarisation of a single-channel array (uint8 / uint16 / int / float)."""
    values, counts = _value_counts(a)
    vset = {float(v) for v in values}
    if vset <= {0.0, 1.0}:
        return a == 1
    if vset <= {0.0, 255.0}:
        return a == 255
    wide = float(values.max()) > 255  # 16-bit data (8-bit values stored in 16 bits stay 8-bit)
    if wide and vset <= {0.0, 65535.0}:
        return a == 65535
    if threshold is not None:
        if wide or a.dtype.kind == "f" or float(values.min()) < 0:
            grey = _scale_to_uint8(a)
        else:
            grey = a.astype(np.uint8)
        return grey >= threshold
    raise DataError(p, _describe_values(values, counts, 65535.0 if wide else 255.0) + _MASK_HELP)


def _colour_problem(rgb: np.ndarray) -> str:
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    values, counts = np.unique(packed.ravel(), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:6]
    total = int(counts.sum())
    shown = ", ".join(
        f"({v >> 16},{(v >> 8) & 255},{v & 255}): {100.0 * c / total:.1f} %"
        for v, c in ((int(values[i]), int(counts[i])) for i in order)
    )
    more = f", ... ({len(values) - 6} more)" if len(values) > 6 else ""
    return f"colour mask (channels differ): {len(values)} distinct colours ({shown}{more}); "


def _palette_mask(img: Image.Image, p: Path, threshold: float | None) -> np.ndarray:
    idx = np.asarray(img)
    if idx.ndim == 3:  # PA: index + alpha; the alpha is ignored for palette masks
        idx = idx[..., 0]
    values, counts = _value_counts(idx.astype(np.uint8))
    if {int(v) for v in values} <= {0, 1}:
        return idx == 1
    pal = np.asarray(img.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
    if len(pal) <= int(values.max()):
        raise DataError(
            p, f"palette mask uses index {int(values.max())} but its palette has {len(pal)} colours"
        )
    used = pal[values]
    if np.all(used[:, 0] == used[:, 1]) and np.all(used[:, 1] == used[:, 2]):
        # a greyscale palette: read it as the grey image it encodes
        lut = np.zeros(256, np.uint8)
        lut[: len(pal)] = pal[:, 0]
        return _binarise(lut[idx], p, threshold)
    if threshold is not None:
        return np.asarray(img.convert("L"), dtype=np.uint8) >= threshold
    desc = ", ".join(f"{int(v)}→({c[0]},{c[1]},{c[2]})" for v, c in zip(values[:8], used[:8], strict=False))
    more = f", ... ({len(values) - 8} more)" if len(values) > 8 else ""
    raise DataError(
        p,
        f"palette mask uses indices {[int(v) for v in values[:8]]}{'...' if len(values) > 8 else ''} "
        f"(index→colour: {desc}{more}); a palette mask must use index 0 = background and 1 = crack; "
        + _MASK_HELP,
    )


def _mask_from_image(img: Image.Image, p: Path, threshold: float | None) -> np.ndarray:
    mode = img.mode
    if mode == "1":
        return np.asarray(img, dtype=bool).copy()
    if mode in ("P", "PA"):
        return _palette_mask(img, p, threshold)
    if mode == "L":
        return _binarise(np.asarray(img, dtype=np.uint8), p, threshold)
    if mode.startswith("I") or mode.startswith("F"):
        return _binarise(_native(np.asarray(img)), p, threshold)
    if mode in ("LA", "La"):
        grey_alpha = np.asarray(img.convert("LA"), dtype=np.uint8)
        grey = ((grey_alpha[..., 0].astype(np.uint16) * grey_alpha[..., 1] + 127) // 255).astype(np.uint8)
        return _binarise(grey, p, threshold)
    # colour masks: RGB, RGBA (composited on black like photos), CMYK, YCbCr, ...
    rgb = _image_to_rgb(img)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return _binarise(rgb[..., 0], p, threshold)
    if threshold is not None:
        luma = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), dtype=np.uint8)
        return luma >= threshold
    raise DataError(p, _colour_problem(rgb) + _MASK_HELP)


def read_mask(path: str | Path, threshold: float | None = None) -> np.ndarray:
    """Read a ground-truth mask as an ``H×W`` ``bool`` array (``True`` = crack).

    Arguments:
        path: the mask file (PNG recommended; any format Pillow reads).
        threshold: only for masks that are not binary in one of the accepted encodings: crack =
            grey value >= ``threshold`` on the 0–255 scale (masks with values above 255 are 16-bit
            and divided by 257 first; float masks within [0, 1] are multiplied by 255; colour
            masks use their luma). Binary masks are read by their encoding whatever the
            threshold, so a ``{0,1}`` mask stays correct with ``threshold=128``.

    Accepted without a threshold (strict):

    - greyscale (8/16-bit, or RGB whose three channels are equal) with values ⊆ ``{0, 1}``,
      ⊆ ``{0, 255}`` or (16-bit) ⊆ ``{0, 65535}``; a single-valued mask is valid (all 0 = no crack);
    - 1-bit images (mode ``"1"``);
    - palette images by **index** (0 = background, 1 = crack), never by palette colour — a palette
      whose used entries are all grey is read as the grey image it encodes;
    - an alpha channel is composited on black, as for photos.

    Anything else (anti-aliased grey levels, JPEG noise, colour labels, other palette indices)
    raises a :class:`DataError` that lists the values found and suggests ``threshold=``.

    The EXIF orientation is applied, as for photos, so a mask stays aligned with its photo.

    Raises:
        DataError: unreadable file (see :func:`read_image`) or a non-binary mask.
        ConfigError: ``threshold`` outside (0, 255].
    """
    _check_threshold(threshold)
    p = Path(path)
    with _open_loaded(p, "mask") as img:
        try:
            mask = _mask_from_image(img, p, threshold)
        except DataError:
            raise
        except _DECODE_ERRORS as e:
            raise DataError(p, f"cannot read mask of image mode {img.mode!r}: {e}") from e
    return np.ascontiguousarray(mask, dtype=bool)


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
