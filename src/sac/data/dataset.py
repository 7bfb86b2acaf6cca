"""Serving samples to training: :class:`CrackDataset` decodes and resizes every sample once, keeps
``uint8`` arrays in memory and optionally caches them on disk (per sample, and as one memory-mapped store)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sac.data.folders import Sample
from sac.data.io import read_image, read_mask
from sac.data.masks import mask_size_problem
from sac.data.parallel import parallel_iter, resolve_workers
from sac.data.transforms import MASK_RESIZE_METHODS, build_augmentation, resize_image, resize_mask
from sac.errors import ConfigError, DataError
from sac.files import atomic_path

__all__ = ["CrackDataset", "draw_aug_seeds"]

_CACHE_VERSION = 1

_Stored = np.ndarray | list[np.ndarray]  # one block at a fixed size, else one array per sample


def _checked_size(size: int | None, mask_resize: str) -> int | None:
    """``size`` as an ``int`` (or ``None``) once both options are known to be valid."""
    if mask_resize not in MASK_RESIZE_METHODS:
        raise ConfigError(
            "mask_resize", f"unknown method {mask_resize!r}; use one of {', '.join(MASK_RESIZE_METHODS)}"
        )
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0
    ):
        raise ConfigError("size", f"must be a positive integer or None, got {size!r}")
    return int(size) if size is not None else None


def _labelled(samples: Sequence[Sample]) -> list[Sample]:
    out = list(samples)
    for s in out:
        if s.mask is None:
            raise DataError(s.image, "sample has no mask; CrackDataset needs image/mask pairs")
    return out


def _collect_arrays(
    results: Iterable[tuple[np.ndarray, np.ndarray]], n: int, size: int | None
) -> tuple[_Stored, _Stored]:
    """The decoded pairs as one preallocated block per kind (``size`` given: no second copy while
    stacking), else as lists of native-size arrays."""
    if size is not None:
        images = np.empty((n, size, size, 3), np.uint8)
        masks = np.empty((n, size, size), np.uint8)
        for i, (image, mask) in enumerate(results):
            images[i], masks[i] = image, mask
        return images, masks
    image_list: list[np.ndarray] = []
    mask_list: list[np.ndarray] = []
    for image, mask in results:
        image_list.append(image)
        mask_list.append(mask)
    return image_list, mask_list


def _open_store(store: tuple[Path, Path], n: int, size: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The store's two arrays memory-mapped copy-on-write (the pages are shared between loader workers and
    between ranks on one machine; an in-place write by a transform stays private), or ``None`` when it is
    absent or does not hold ``n`` samples at ``size`` (then it is rebuilt, with a warning if it was damaged)."""
    if not (store[0].is_file() and store[1].is_file()):
        return None
    try:
        images = np.load(store[0], mmap_mode="c", allow_pickle=False)
        masks = np.load(store[1], mmap_mode="c", allow_pickle=False)
        if (images.dtype, masks.dtype) == (np.uint8, np.uint8) and images.shape == (n, size, size, 3) \
                and masks.shape == (n, size, size):
            return images, masks
        problem = f"holds {images.shape} / {masks.shape} arrays, not {n} samples at {size}"
    except (OSError, ValueError) as e:
        problem = str(e)
    warnings.warn(f"{store[0]}: damaged dataset store, decoding again ({problem})", stacklevel=3)
    return None


def _write_store(store: tuple[Path, Path], images: np.ndarray, masks: np.ndarray) -> None:
    """Both files written atomically (masks first: a store is used only when both are there)."""
    for path, arr in ((store[1], masks), (store[0], images)):
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)


def _file_key(p: Path) -> list[Any]:
    st = p.stat()
    return [os.path.abspath(p), st.st_mtime_ns, st.st_size]


def _read_cache(cache: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached pair, or ``None`` (with a warning when the file is damaged)."""
    try:
        with np.load(cache, allow_pickle=False) as z:
            image, mask = z["image"], z["mask"]
        if image.dtype == np.uint8 and mask.dtype == np.uint8 and image.shape[:2] == mask.shape:
            return image, mask
    except (OSError, ValueError, KeyError, EOFError) as e:
        warnings.warn(f"{cache}: damaged cache file, decoding again ({e})", stacklevel=3)
    return None


def draw_aug_seeds(n: int, generator: torch.Generator | None = None) -> list[int]:
    """``n`` augmentation seeds, one draw each from ``generator`` (torch's global one when ``None``): the
    seeds :meth:`CrackDataset.item` draws for ``n`` items in a row."""
    return [int(torch.randint(0, 2**63 - 1, (1,), dtype=torch.int64, generator=generator).item())
            for _ in range(n)]


class CrackDataset(Dataset):
    """Image/mask pairs decoded and resized once, served as tensors.

    Arguments:
        samples: the pairs (every sample needs a mask).
        size: output side length (square ``size×size``), or ``None`` to keep the native resolution
            (evaluation, batch size 1).
        augment: apply :func:`sac.data.transforms.build_augmentation` per item.
        mask_resize: ``"nearest"`` (default) or ``"area"`` (area average >= 0.5); see
            :mod:`sac.data.transforms` for the trade-off on thin cracks.
        cache_dir: optional folder of uncompressed ``.npz`` files (one per sample, keyed by both
            files' path, mtime and size plus ``size``/``mask_resize``/``threshold``) so that later
            runs skip decoding, and (at a fixed ``size``) of the whole set's **store**: two ``.npy``
            files named by all the samples' keys, which a later run with the same samples memory-maps
            instead of reading anything else (30 k samples open in well under a second; loader
            workers and the ranks of one machine share its pages instead of holding copies). About
            ``8·size²`` bytes per sample in all (512 KiB at 256). Written atomically; a damaged file is
            recomputed with a warning. Never pruned.
        progress: show a tqdm bar while decoding.
        threshold: passed to :func:`sac.data.read_mask` for grey masks.
        workers: decoding threads (default ``min(8, cpu_count)``).

    Items are ``{"image": float32 3×S×S in [0, 1], "mask": float32 1×S×S in {0, 1}, "index": int}``.

    Augmentation is reproducible: each item draws its augmentation seed from torch's global
    generator, so it follows ``torch.manual_seed`` / ``sac.engine.runtime.seed_everything`` in the main
    process and the per-worker seeds a ``DataLoader`` sets (different per worker and per epoch).

    Raises:
        DataError: an unreadable image or mask, a non-binary mask, a mask of another size than its
            image, or a sample without a mask.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        size: int | None = 256,
        augment: bool = False,
        mask_resize: str = "nearest",
        cache_dir: str | Path | None = None,
        progress: bool = True,
        threshold: float | None = None,
        workers: int | None = None,
    ):
        self.size = _checked_size(size, mask_resize)
        self.samples: list[Sample] = _labelled(samples)
        self.augment = augment
        self.mask_resize = mask_resize
        self.threshold = threshold
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.store: tuple[Path, Path] | None = self._store_paths()
        stored = _open_store(self.store, len(self.samples), self.size) if self.store else None
        if stored is None:
            desc = f"decoding {len(self.samples)} samples"
            results = parallel_iter(self._load, self.samples, resolve_workers(workers), desc, progress)
            self._images, self._masks = _collect_arrays(results, len(self.samples), self.size)
            if self.store is not None:
                _write_store(self.store, self._images, self._masks)
                stored = _open_store(self.store, len(self.samples), self.size)  # page cache, not private memory
        if stored is not None:
            self._images, self._masks = stored
        self._aug = build_augmentation() if augment else None

    # -- decoding -----------------------------------------------------------------------------------

    def _cache_path(self, s: Sample) -> Path | None:
        if self.cache_dir is None:
            return None
        assert s.mask is not None
        try:
            key = [
                _CACHE_VERSION,
                _file_key(s.image),
                _file_key(s.mask),
                self.size,
                self.mask_resize,
                self.threshold,
            ]
        except OSError:
            return None  # the reader will raise the proper DataError
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:40]
        return self.cache_dir / f"{digest}.npz"

    def _store_paths(self) -> tuple[Path, Path] | None:
        """The whole set's store: two ``.npy`` files (images ``N×S×S×3``, masks ``N×S×S``, ``uint8``) named by
        every sample's cache key in order; ``None`` without a ``cache_dir`` or a fixed size."""
        if self.cache_dir is None or self.size is None or not self.samples:
            return None
        keys = [self._cache_path(s) for s in self.samples]
        if any(k is None for k in keys):
            return None  # a file cannot be stat'ed: decoding raises the proper DataError
        digest = hashlib.sha256("\n".join(k.stem for k in keys if k is not None).encode()).hexdigest()[:40]
        return (self.cache_dir / f"store-{digest}-images.npy", self.cache_dir / f"store-{digest}-masks.npy")

    def _decode(self, s: Sample) -> tuple[np.ndarray, np.ndarray]:
        """Read, check and resize one pair: ``uint8`` image ``H×W×3`` and ``uint8`` mask ``H×W``."""
        assert s.mask is not None
        image = read_image(s.image)
        mask_bool = read_mask(s.mask, threshold=self.threshold)
        problem = mask_size_problem(mask_bool, image, s.image)
        if problem is not None:
            raise DataError(s.mask, problem)
        if self.size is not None:
            image = resize_image(image, self.size)
            mask_bool = resize_mask(mask_bool, self.size, self.mask_resize)
        return image, mask_bool.astype(np.uint8)

    def _load(self, s: Sample) -> tuple[np.ndarray, np.ndarray]:
        cache = self._cache_path(s)
        if cache is not None and cache.is_file():
            cached = _read_cache(cache)
            if cached is not None:
                return cached
        image, mask = self._decode(s)
        if cache is not None:
            with atomic_path(cache) as tmp, open(tmp, "wb") as f:
                np.savez(f, image=image, mask=mask)  # uncompressed: ~1 ms to write or read
        return image, mask

    # -- torch Dataset ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.samples)

    def arrays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored (resized, not augmented) ``uint8`` image ``H×W×3`` and ``bool`` mask ``H×W``."""
        return self._images[index], self._masks[index].astype(bool)

    def _augment(self, image: np.ndarray, mask: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._aug is not None
        # One shared numpy/python stream for all transforms: albumentations' set_random_seed would
        # give every transform the same seed, making e.g. the two flips always fire together.
        self._aug.set_random_state(np.random.default_rng(seed), random.Random(seed))
        out = self._aug(image=image, mask=mask)
        return out["image"], out["mask"]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.item(index)

    def item(self, index: int, aug_seed: int | None = None) -> dict[str, Any]:
        """Item ``index``, augmented (when the dataset augments) with ``aug_seed``; ``None`` draws the seed from
        torch's global generator: reproducible after ``torch.manual_seed`` and distinct per ``DataLoader`` worker
        and epoch (the loader seeds each worker's generator). :func:`draw_aug_seeds` draws the same seeds from a
        private generator, so batches can be built ahead of time (in loader workers) without touching the
        global one."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        image, mask = self._images[index], self._masks[index]
        if self._aug is not None:
            if aug_seed is None:
                aug_seed = draw_aug_seeds(1)[0]
            image, mask = self._augment(image, mask, aug_seed)
        # copies (a store's memory-mapped pages are never handed to torch)
        img_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)).div_(255.0)
        mask_t = torch.from_numpy(np.asarray(mask, dtype=np.float32)[None])
        return {"image": img_t, "mask": mask_t, "index": int(index)}

    def __repr__(self) -> str:
        size = f"{self.size}×{self.size}" if self.size else "native"
        return f"CrackDataset({len(self)} samples, size={size}, augment={self.augment}, mask_resize={self.mask_resize!r})"
