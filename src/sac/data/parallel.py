"""Decoding many files in threads (Pillow and OpenCV release the GIL), results in order, with a bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["parallel_iter", "parallel_map", "resolve_workers"]

_T = TypeVar("_T")
_S = TypeVar("_S")


def resolve_workers(workers: int | None) -> int:
    """``workers``, or by default ``min(8, cpu_count)`` threads.

    Arguments:
        workers: the number asked for, or ``None``.
    """
    return workers if workers is not None else min(8, os.cpu_count() or 1)


def parallel_iter(
    fn: Callable[[_S], _T], items: Sequence[_S], workers: int, desc: str, progress: bool
) -> Iterator[_T]:
    """``fn`` over ``items`` in threads, results in order, with a tqdm bar.

    Arguments:
        fn: the work for one item.
        items: the items.
        workers: threads; ``<= 1`` (or fewer than 2 items) runs in the calling thread.
        desc: the bar's label.
        progress: show the bar.

    An error stops the pool without working through the rest of the queue first.
    """
    with tqdm(total=len(items), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        if workers <= 1 or len(items) < 2:
            for it in items:
                yield fn(it)
                bar.update()
            return
        ex = ThreadPoolExecutor(max_workers=workers)
        try:
            for r in ex.map(fn, items):
                yield r
                bar.update()
        finally:  # on an error, do not decode the rest of the queue first
            ex.shutdown(wait=True, cancel_futures=True)


def parallel_map(
    fn: Callable[[_S], _T], items: Sequence[_S], workers: int, desc: str, progress: bool
) -> list[_T]:
    """:func:`parallel_iter` as a list (same arguments)."""
    return list(parallel_iter(fn, items, workers, desc, progress))
