"""A site's labelled photos: loading them (checked like ``sac data check``), the too-little-crack refusal, and the
augmented training views of a few photos."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sac.data import (
    build_augmentation,
    check_dataset,
    folder_samples,
    read_image,
    read_mask,
    resize_image,
    resize_mask,
)
from sac.engine.adapt.recipe import MIN_CRACK_PIXELS, Recipe
from sac.errors import DataError


@dataclass
class Photo:
    """One labelled photo: ``image`` H×W×3 uint8, ``mask`` H×W bool, at native resolution."""

    name: str
    image: np.ndarray
    mask: np.ndarray


def load_photos(folder: str | Path, progress: bool = False) -> list[Photo]:
    """The labelled photos of a folder (``images/`` + ``masks/``), validated like ``sac data check``: any
    problem is a DataError naming the file; too little crack to learn from is a DataError too."""
    folder = Path(folder)
    report = check_dataset(folder, progress=progress)
    if not report.ok:
        where, problem = report.problems[0]
        more = f" (and {len(report.problems) - 1} more problems; run `sac data check {folder}`)" \
            if len(report.problems) > 1 else ""
        raise DataError(where, problem + more)
    photos = [Photo(s.id, read_image(s.image), read_mask(s.mask)) for s in folder_samples(folder)]
    check_enough_crack(photos, folder)
    return photos


def enough_crack(photos: list[Photo]) -> bool:
    return sum(int(p.mask.sum()) for p in photos) >= MIN_CRACK_PIXELS and any(p.mask.any() for p in photos)


def check_enough_crack(photos: list[Photo], where: str | Path) -> None:
    """A DataError when the photos hold too little crack to learn from (:data:`MIN_CRACK_PIXELS`)."""
    if not enough_crack(photos):
        px = sum(int(p.mask.sum()) for p in photos)
        with_cracks = sum(1 for p in photos if p.mask.any())
        raise DataError(where, f"only {px} crack pixels in {with_cracks} of {len(photos)} photos: too few to learn "
                               f"from (at least {MIN_CRACK_PIXELS} are needed). Label the cracks of a few more "
                               "photos (masks: 255 = crack)")


class Views:
    """Augmented training views of a few photos (see the module docstring), reproducible from a seed."""

    def __init__(self, photos: list[Photo], recipe: Recipe, seed: int):
        self.recipe = recipe
        self.rng = np.random.default_rng(seed)
        self.aug = build_augmentation()
        self.aug.set_random_state(np.random.default_rng(seed + 1), random.Random(seed + 1))
        s = recipe.size
        self.items: list[tuple[np.ndarray, np.ndarray, bool]] = []  # (image, mask, crop?)
        for p in photos:
            if max(p.image.shape[:2]) <= recipe.tile_above:
                self.items.append((resize_image(p.image, s), resize_mask(p.mask, s), False))
            else:
                self.items.append((p.image, p.mask, True))
        self.crack_idx = [np.argwhere(m) if crop else None for _, m, crop in self.items]
        # photos with more crack are drawn more often, but every photo is drawn
        w = np.array([1.0 + math.sqrt(float(m.sum())) for _, m, _ in self.items])
        self.weights = w / w.sum()

    def _crop(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        img, mask, crop = self.items[i]
        s = self.recipe.size
        if not crop:
            return img, mask
        h, w = mask.shape
        pts = self.crack_idx[i]
        if pts is not None and len(pts) and self.rng.random() < self.recipe.crack_centred:
            cy, cx = pts[self.rng.integers(len(pts))]
            y = int(np.clip(cy - s // 2 + self.rng.integers(-s // 4, s // 4 + 1), 0, max(0, h - s)))
            x = int(np.clip(cx - s // 2 + self.rng.integers(-s // 4, s // 4 + 1), 0, max(0, w - s)))
        else:
            y, x = int(self.rng.integers(0, max(1, h - s + 1))), int(self.rng.integers(0, max(1, w - s + 1)))
        ci, cm = img[y:y + s, x:x + s], mask[y:y + s, x:x + s]
        if ci.shape[:2] != (s, s):  # a side shorter than the crop: pad by reflection
            ph, pw = s - ci.shape[0], s - ci.shape[1]
            ci = np.pad(ci, ((0, ph), (0, pw), (0, 0)), mode="reflect")
            cm = np.pad(cm, ((0, ph), (0, pw)), mode="constant")
        return ci, cm

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for i in self.rng.choice(len(self.items), size=n, p=self.weights):
            img, mask = self._crop(int(i))
            out = self.aug(image=img, mask=mask.astype(np.uint8))
            xs.append(torch.from_numpy(np.ascontiguousarray(out["image"])).permute(2, 0, 1).float() / 255.0)
            ys.append(torch.from_numpy(np.ascontiguousarray(out["mask"])).float()[None])
        return torch.stack(xs), torch.stack(ys)


