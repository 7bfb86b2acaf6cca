"""Any-size inference: crack probability for a photo of any size, tiled at the model's native size.

``predictprobability(model, image)`` slides a ``tile``×``tile`` window over the photo with ``overlap``
(a fraction of the tile), runs the tiles in batches and blends the overlapping predictions with a
smooth window so no seams show. Photos smaller than a tile are padded (reflect), never upscaled.
``mode="resize"`` instead squeezes the whole photo to ``tile``×``tile`` (cv2 INTER_AREA), predicts once
and resizes the probability back (INTER_LINEAR): fast, but thin cracks vanish; kept for comparison.

Blending: the window is separable, ``w(y, x) = g(y)·g(x)``, with ``g`` a Gaussian (σ = tile/8, as in
nnU-Net) or a Hann (cosine) window, floored at 1e-3 so a tile's border still counts where no other
tile covers it (the photo's own borders). The tile origins form a grid, so the sum of the weights over
all tiles is separable too, ``W(y, x) = Gy(y)·Gx(x)``: only the weighted sum of probabilities needs a
full-size buffer, and it IS the returned array (normalised in place, in row bands, at the end).
A pixel covered by tiles whose predictions agree gets exactly that prediction back, whatever the
weights — which is what the tests check with a per-pixel model.

Memory (H×W photo, B = ``batch_size``, T = ``tile``): the caller's uint8 photo (3·H·W bytes), the
float32 result (4·H·W; a 50 MP photo: 200 MB), and per batch B·T²·3 bytes of uint8 tiles, plus the
model's float input B·3·T²·4 bytes and its activations on the device. The photo is never converted
to float as a whole; tiles are cut from the uint8 array on the fly. Peak host memory ≈ 7·H·W bytes
+ a few batches (≈ 350 MB for 50 MP at T = 256, B = 8).

Device-agnostic: the same code runs on CPU and CUDA. The model runs under bf16 autocast on CUDA and, by
default, on a CPU that multiplies bf16 natively (AMX / AVX-512 BF16: about 2× faster there; the F1 change is
measured in ``benchmarks/results/cpu_bf16.md``); ``amp="off"`` runs float32 everywhere (then CPU and GPU agree to
float32 tolerance).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sac.engine.runtime import autocast
from sac.errors import ConfigError, DataError
from sac.tuning import train_mode

MODES = ("tiled", "resize")
# neighbouring tiles share 1/8 of a tile (32 px at 256): pooled F1 on the shared full-resolution test photos is the
# same as with 1/4 (0.6819 vs 0.6816, benchmarks/results/tile_overlap.md) at 252 instead of 336 tiles on 12 MP
DEFAULT_OVERLAP = 0.125
BLENDS = ("gaussian", "cosine")
WEIGHT_FLOOR = 1e-3


def window_1d(tile: int, blend: str = "gaussian") -> np.ndarray:
    """The 1-D blending window (max 1, floored at ``WEIGHT_FLOOR``), float64 of length ``tile``."""
    i = np.arange(tile, dtype=np.float64)
    if blend == "gaussian":
        sigma = tile / 8.0
        g = np.exp(-0.5 * ((i - (tile - 1) / 2.0) / sigma) ** 2)
    elif blend == "cosine":
        g = 0.5 - 0.5 * np.cos(2.0 * math.pi * (i + 0.5) / tile)
    else:
        raise ConfigError("blend", f"{blend!r} is not one of {BLENDS}")
    g /= g.max()
    return np.maximum(g, WEIGHT_FLOOR)


def tile_starts(n: int, tile: int, overlap: float) -> np.ndarray:
    """Origins of the windows along one axis of length ``n`` (≥ ``tile``): evenly spread, the first at 0,
    the last flush with the end, neighbours overlapping by at least ``overlap``·``tile``."""
    if n <= tile:
        return np.zeros(1, np.int64)
    stride = max(1, int(math.floor(tile * (1.0 - overlap))))
    k = int(math.ceil((n - tile) / stride)) + 1
    return np.round(np.linspace(0, n - tile, k)).astype(np.int64)


@contextlib.contextmanager
def fast_layout(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """On the CPU, run ``model`` with channels-last weights (the tiles arrive channels-last already:
    ``_to_batch`` permutes an N×H×W×3 array); oneDNN convolutions are about 2× faster that way. The
    model's memory format is restored afterwards; results are equal up to float rounding. Nested uses
    (``evaluate`` / ``predict`` around their loops, ``predict_probability`` per photo) convert once."""
    if device.type != "cpu" or getattr(model, "_sac_channels_last", False):
        yield model
        return
    model.to(memory_format=torch.channels_last)
    model._sac_channels_last = True
    try:
        yield model
    finally:
        del model._sac_channels_last
        model.to(memory_format=torch.contiguous_format)


def _to_batch(tiles: np.ndarray, device: torch.device) -> torch.Tensor:
    """B×T×T×3 uint8 → B×3×T×T float in [0, 1] on the device (the conversion happens there)."""
    t = torch.from_numpy(tiles).to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def probability(model: nn.Module, x: torch.Tensor, tta: bool, device: torch.device,
                 amp: str | bool | None, cpu_auto: bool = False) -> torch.Tensor:
    """B×1×h×w float32 probability of a batch, optionally averaged over identity, horizontal and vertical flips
    (the one meaning of test-time augmentation, in ``evaluate`` and ``predict`` alike)."""
    flips: list[tuple[int, ...]] = [()] + ([(3,), (2,)] if tta else [])
    acc = None
    for dims in flips:
        xi = x.flip(dims) if dims else x
        with autocast(device, amp, cpu_auto=cpu_auto):
            logits = model(xi)
        p = torch.sigmoid(logits.float())
        if dims:
            p = p.flip(dims)
        acc = p if acc is None else acc + p
    return acc / len(flips)


def _check(image: np.ndarray, mode: str, tile: int, overlap: float, batch_size: int, blend: str) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise DataError("image", f"expected an H×W×3 RGB array, got shape {getattr(image, 'shape', None)}")
    if image.dtype != np.uint8:
        raise DataError("image", f"expected uint8 RGB, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise DataError("image", f"empty image of shape {image.shape}")
    if mode not in MODES:
        raise ConfigError("mode", f"{mode!r} is not one of {MODES}")
    if blend not in BLENDS:
        raise ConfigError("blend", f"{blend!r} is not one of {BLENDS}")
    if not isinstance(tile, numbers.Integral) or isinstance(tile, bool) or tile < 8:
        raise ConfigError("tile", f"must be an integer ≥ 8, got {tile!r}")
    if (not isinstance(overlap, numbers.Real) or isinstance(overlap, bool)  # "0.5", None: not float() below
            or not 0.0 <= float(overlap) < 1.0):
        raise ConfigError("overlap", f"must be a fraction in [0, 1), got {overlap!r}")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError("batch_size", f"must be a positive integer, got {batch_size!r}")


def _batches(positions: list[tuple[int, int]], batch_size: int) -> Iterator[list[tuple[int, int]]]:
    for i in range(0, len(positions), batch_size):
        yield positions[i:i + batch_size]


def predict_probability(model: nn.Module, image: np.ndarray, *, mode: str = "tiled", tile: int = 256,
                         overlap: float = DEFAULT_OVERLAP, batch_size: int = 8, tta: bool = False,
                         device: str | torch.device = "cpu", blend: str = "gaussian", progress: bool | None = None,
                         amp: str | bool | None = "auto", cpu_auto: bool = True, on_tiles: Callable[[int, int], None] | None = None,
                         channels_last: bool = True) -> np.ndarray:
    """Crack probability (H×W float32 in [0, 1]) for an H×W×3 uint8 RGB photo of any size.

    Arguments:
        model: a ``SegmentationModel`` (B×3×h×w RGB in [0, 1] → B×1×h×w logits). It is moved to ``device``
            and run in eval mode (its train/eval state is restored afterwards) under ``torch.inference_mode``.
        mode: ``"tiled"`` (sliding windows at native resolution) or ``"resize"`` (whole photo squeezed
            to ``tile``×``tile``; for comparison).
        tile: the model's native input size in px (windows are ``tile``×``tile``).
        overlap: fraction of a tile shared by neighbouring windows (0 ≤ overlap < 1).
        batch_size: tiles per forward pass.
        tta: average the probabilities of the photo, its horizontal and its vertical mirror (3× the work).
        blend: ``"gaussian"`` or ``"cosine"`` (Hann) blending window — see the module docstring.
        progress: a tqdm bar over tiles; ``None`` shows it when there are more than 16 tiles.
        amp: "auto" (``None`` / ``True``): bf16 autocast on CUDA, and on the CPU when ``cpu_auto`` and the CPU
            has native bf16 (:func:`sac.engine.runtime.cpu_has_native_bf16`); "bf16": bf16 on any device;
            "off" / ``False``: float32 everywhere (the plain reference path of ``sac bench``).
        cpu_auto: let "auto" pick bf16 on such a CPU (``evaluate`` passes ``False``: its scores stay float32
            unless ``amp="bf16"``).
        on_tiles: called with (tiles done, tiles in all) after every batch (``"resize"``: once, with (1, 1)).
        channels_last: run a CPU model with channels-last weights (:func:`fast_layout`); ``False`` is the plain
            reference path of ``sac bench``.

    Memory stays bounded by the output plus a few batches (see the module docstring).
    """
    _check(image, mode, tile, overlap, batch_size, blend)
    dev = torch.device(device)
    was_training = model.training
    model.to(dev)
    model.eval()
    try:
        layout = fast_layout(model, dev) if channels_last else contextlib.nullcontext(model)
        with torch.inference_mode(), layout:
            if mode == "resize":
                out = _predict_resized(model, image, tile, tta, dev, amp, cpu_auto)
                if on_tiles is not None:
                    on_tiles(1, 1)
                return out
            return _predict_tiled(model, image, tile, overlap, batch_size, tta, dev, blend, progress, amp, cpu_auto,
                                  on_tiles)
    finally:
        train_mode(model, was_training)


def _predict_resized(model: nn.Module, image: np.ndarray, tile: int, tta: bool, dev: torch.device,
                     amp: str | bool | None, cpu_auto: bool) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
    p = probability(model, _to_batch(np.ascontiguousarray(small[None]), dev), tta, dev, amp, cpu_auto)
    p = p[0, 0].cpu().numpy().astype(np.float32)
    out = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def _predict_tiled(model: nn.Module, image: np.ndarray, tile: int, overlap: float, batch_size: int, tta: bool,
                   dev: torch.device, blend: str, progress: bool | None, amp: str | bool | None, cpu_auto: bool,
                   on_tiles: Callable[[int, int], None] | None = None) -> np.ndarray:
    h, w = image.shape[:2]
    ph, pw = max(tile - h, 0), max(tile - w, 0)
    img = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect") if (ph or pw) else image
    hp, wp = img.shape[:2]
    ys, xs = tile_starts(hp, tile, overlap), tile_starts(wp, tile, overlap)
    g = window_1d(tile, blend)
    # separable weight sums: W(y, x) = gy(y) * gx(x)
    gy, gx = np.zeros(hp), np.zeros(wp)
    for y in ys:
        gy[y:y + tile] += g
    for x in xs:
        gx[x:x + tile] += g
    win = torch.from_numpy(np.outer(g, g).astype(np.float32)).to(dev)
    acc = np.zeros((hp, wp), np.float32)  # weighted sum of probabilities; becomes the result
    positions = [(int(y), int(x)) for y in ys for x in xs]
    show = progress if progress is not None else len(positions) > 16
    bar = tqdm(total=len(positions), desc="tiles", unit="tile", leave=False, disable=not show)
    done = 0
    try:
        buf = np.empty((min(batch_size, len(positions)), tile, tile, 3), np.uint8)
        for batch in _batches(positions, batch_size):
            for i, (y, x) in enumerate(batch):
                buf[i] = img[y:y + tile, x:x + tile]
            p = probability(model, _to_batch(buf[:len(batch)], dev), tta, dev, amp, cpu_auto)
            if p.shape[-2:] != (tile, tile):
                raise RuntimeError(f"{type(model).__name__} returned {tuple(p.shape)} for {tile}×{tile} tiles; "
                                   f"the model contract is logits at the input size")
            pw_ = (p[:, 0] * win).cpu().numpy()
            for i, (y, x) in enumerate(batch):
                acc[y:y + tile, x:x + tile] += pw_[i]
            bar.update(len(batch))
            done += len(batch)
            if on_tiles is not None:
                on_tiles(done, len(positions))
    finally:
        bar.close()
    gx32 = gx.astype(np.float32)
    band = max(1, (1 << 18) // max(wp, 1))  # normalise in row bands of ~256 k pixels (no full-size temporary)
    for r0 in range(0, hp, band):
        r1 = min(r0 + band, hp)
        acc[r0:r1] /= gy[r0:r1, None].astype(np.float32) * gx32[None, :]
    np.clip(acc, 0.0, 1.0, out=acc)
    return acc if not (ph or pw) else np.ascontiguousarray(acc[:h, :w])
