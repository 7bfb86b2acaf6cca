"""Seeded subsets of sample lists (quick runs, evaluation subsets)."""

from __future__ import annotations

import random
from typing import TypeVar

T = TypeVar("T")


def seeded_subset(samples: list[T], limit: int | None, seed: int) -> list[T]:
    """A seeded random subset of ``limit`` samples (keeping the datasets' mix), in the original order; all of
    them when ``limit`` is None, 0 or at least their number."""
    if not limit or limit >= len(samples):
        return samples
    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in keep]
