"""The hostile-input catalogue: every bad (and every awkward but valid) photo, mask and folder the reliability
tests feed to SAC's entry points, generated here from Pillow / numpy (no binary file is committed).

:func:`image_cases` — photos as bytes (a file name, a category, whether SAC must read it, and the words its
error must contain); :func:`mask_cases` — label masks paired with a valid photo; :func:`write_pairs` lays cases
out as a dataset folder (``images/`` + ``masks/``). ``tests/test_hostile_inputs.py`` runs them through the
Python API, ``sac data check``, ``predict``, ``measure``, ``evaluate``, ``train`` and the web app;
``benchmarks/hostile_inputs.py`` counts what ran.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str  # the file name it is written under (extension included)
    category: str
    data: bytes
    ok: bool  # SAC must read it (else: a clear error naming the file)
    needle: str = ""  # words the error must contain (bad cases)
    shape: tuple[int, int] | None = None  # H×W SAC must read (good cases)


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
    img[h // 2, :] = 10  # a dark "crack" row
    return img


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_claiming(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims ``w×h`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def exif_rotated_jpeg(h: int, w: int) -> bytes:
    """A JPEG stored ``h×w`` with EXIF orientation 6 (shown rotated 90° clockwise: ``w×h``)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(_rgb(h, w, 3)), "JPEG", quality=95, exif=exif.tobytes())


def image_cases() -> list[Case]:
    rgb = Image.fromarray(_rgb(40, 60))
    jpeg, png = encode(rgb, "JPEG", quality=92), encode(rgb, "PNG")
    tiff, webp = encode(rgb, "TIFF"), encode(rgb, "WEBP", quality=90)
    grey16 = Image.fromarray((np.arange(40 * 60).reshape(40, 60) * 20).astype(np.uint16))
    hw = (40, 60)
    cases = [
        # valid photos in every mode and format SAC accepts
        Case("rgb_jpeg.jpg", "format", jpeg, True, shape=hw),
        Case("rgb_png.png", "format", png, True, shape=hw),
        Case("rgb_tiff.tif", "format", tiff, True, shape=hw),
        Case("rgb_webp.webp", "format", webp, True, shape=hw),
        Case("rgb_bmp.bmp", "format", encode(rgb, "BMP"), True, shape=hw),
        Case("grey.png", "mode", encode(rgb.convert("L"), "PNG"), True, shape=hw),
        Case("grey16_png.png", "mode", encode(grey16, "PNG"), True, shape=hw),
        Case("grey16_tiff.tif", "mode", encode(grey16, "TIFF"), True, shape=hw),
        Case("palette.png", "mode", encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), True, shape=hw),
        Case("rgba.png", "mode", encode(rgb.convert("RGBA"), "PNG"), True, shape=hw),
        Case("cmyk.jpg", "mode", encode(rgb.convert("CMYK"), "JPEG"), True, shape=hw),
        Case("rotated.jpg", "geometry", exif_rotated_jpeg(40, 60), True, shape=(60, 40)),
        Case("one_pixel.png", "geometry", encode(Image.new("RGB", (1, 1), (90, 90, 90)), "PNG"), True, shape=(1, 1)),
        Case("thin.png", "geometry", encode(Image.fromarray(_rgb(3, 500)), "PNG"), True, shape=(3, 500)),
        Case("png_named.jpg", "wrong-extension", png, True, shape=hw),
        Case("jpeg_named.png", "wrong-extension", jpeg, True, shape=hw),
        # broken ones: each must be refused with its own words
        Case("empty_jpeg.jpg", "empty", b"", False, "empty"),
        Case("empty_png.png", "empty", b"", False, "empty"),
        Case("text.png", "wrong-type", b"this is a text file, not a photo\n", False, "not an image"),
        Case("html.jpg", "wrong-type", b"<!doctype html><title>x</title>", False, "not an image"),
        Case("cut_jpeg.jpg", "truncated", jpeg[: len(jpeg) // 2], False, "truncated"),
        Case("cut_png.png", "truncated", png[: len(png) // 2], False, "truncated"),
        Case("cut_tiff.tif", "truncated", tiff[: len(tiff) // 2], False, "truncated"),
        Case("cut_webp.webp", "truncated", webp[: len(webp) // 2], False, "truncated"),
        Case("bad_header.jpg", "corrupt", jpeg[:2] + b"\x00" * 60 + jpeg[62:], False, "not an image"),
        Case("bad_crc.png", "corrupt", png[:29] + b"\x00\x00\x00\x00" + png[33:], False, "corrupt"),
        Case("bomb.png", "bomb", png_claiming(30_000, 30_000), False, "decompression bomb"),
    ]
    names = [c.name for c in cases]
    assert len(set(names)) == len(names) and len({Path(n).stem for n in names}) == len(names), "stems must differ"
    return cases


def mask_png(mask: np.ndarray) -> bytes:
    return encode(Image.fromarray(mask), "PNG")


def mask_cases() -> list[tuple[str, str, bytes | None, bool, str]]:
    """``(stem, category, mask bytes or None for "no mask", ok, needle)`` for a 40×60 photo ``<stem>.png``."""
    good = np.zeros((40, 60), np.uint8)
    good[20, 5:55] = 255
    grey = good.copy()
    grey[10:12, 10:12] = 128
    colour = np.stack([good, good // 2, good], -1)
    return [
        ("m_ok", "valid", mask_png(good), True, ""),
        ("m_01", "valid", mask_png((good > 0).astype(np.uint8)), True, ""),
        ("m_size", "other-size", mask_png(np.zeros((20, 30), np.uint8)), False, "size"),
        ("m_grey", "non-binary", mask_png(grey), False, "binary"),
        ("m_colour", "multi-channel", mask_png(colour), False, "mask"),
        ("m_text", "wrong-type", b"not a mask", False, "not an image"),
        ("m_empty", "empty", b"", False, "empty"),
        ("m_cut", "truncated", mask_png(good)[:40], False, "truncated"),
    ]


def write(folder: Path, cases: list[Case]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for c in cases:
        (folder / c.name).write_bytes(c.data)
        out[c.name] = folder / c.name
    return out


def write_pairs(root: Path, stems_masks: list[tuple[str, bytes | None]], photo: bytes | None = None) -> Path:
    """A dataset folder: ``images/<stem>.png`` (a valid 40×60 photo) + ``masks/<stem>.png`` (the bytes given;
    ``None``: no mask)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    photo = photo or encode(Image.fromarray(_rgb(40, 60)), "PNG")
    for stem, mask in stems_masks:
        (root / "images" / f"{stem}.png").write_bytes(photo)
        if mask is not None:
            (root / "masks" / f"{stem}.png").write_bytes(mask)
    return root
