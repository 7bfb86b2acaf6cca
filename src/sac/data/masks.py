"""Reading ground-truth masks strictly: only unambiguous binary encodings, else a DataError.

A mask is ``H×W`` ``bool`` (``True`` = crack); see :func:`read_mask` for what is accepted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sac.data.decode import DECODE_ERRORS, image_to_rgb, native_byte_order, open_decoded, scale_to_uint8
from sac.errors import ConfigError, DataError

__all__ = ["mask_size_problem", "read_mask"]

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
            grey = scale_to_uint8(a)
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
        return _binarise(native_byte_order(np.asarray(img)), p, threshold)
    if mode in ("LA", "La"):
        grey_alpha = np.asarray(img.convert("LA"), dtype=np.uint8)
        grey = ((grey_alpha[..., 0].astype(np.uint16) * grey_alpha[..., 1] + 127) // 255).astype(np.uint8)
        return _binarise(grey, p, threshold)
    # colour masks: RGB, RGBA (composited on black like photos), CMYK, YCbCr, ...
    rgb = image_to_rgb(img)
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
        DataError: unreadable file (see :func:`sac.data.read_image`) or a non-binary mask.
        ConfigError: ``threshold`` outside (0, 255].
    """
    _check_threshold(threshold)
    p = Path(path)
    with open_decoded(p, "mask") as img:
        try:
            mask = _mask_from_image(img, p, threshold)
        except DataError:
            raise
        except DECODE_ERRORS as e:
            raise DataError(p, f"cannot read mask of image mode {img.mode!r}: {e}") from e
    return np.ascontiguousarray(mask, dtype=bool)


def mask_size_problem(mask: np.ndarray, image: np.ndarray, image_name: str | Path) -> str | None:
    """The problem when ``mask`` (``H×W``) is not the size of ``image`` (``H×W×3``), else ``None``.

    Arguments:
        mask: the mask as read.
        image: its photo as read.
        image_name: how the message names the photo (its path or file name).
    """
    if mask.shape == image.shape[:2]:
        return None
    (h, w), (mh, mw) = image.shape[:2], mask.shape
    return f"mask is {mw}×{mh} but its image {image_name} is {w}×{h}"
