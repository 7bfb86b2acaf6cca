"""Validate a dataset before training on it: ``sac data check PATH``.

:func:`check_dataset` reads every image and mask fully and collects every problem instead of
stopping at the first one; :func:`format_report` turns the result into lines for a terminal.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sac.data.folders import FolderListing, Sample, pair_folders
from sac.data.io import IMAGE_EXTENSIONS, read_image, read_mask
from sac.data.omnicrack import omnicrack_listings
from sac.data.parallel import parallel_map
from sac.data.shared import shared_samples
from sac.data.sources import parse_spec
from sac.errors import DataError

__all__ = ["CheckReport", "check_dataset", "format_report"]


@dataclass
class CheckReport:
    """Outcome of :func:`check_dataset`.

    Attributes:
        ok: ``True`` when there is at least one pair and no problem.
        problems: ``(file, problem)`` for every bad file or folder, in a stable order.
        summary: counts and statistics (JSON-serialisable): ``source``, ``pairs``, ``valid_pairs``,
            ``datasets`` (name → pairs), ``image_sizes`` (``min``/``max``/``most_common`` as
            ``"W×H"``, ``distinct``), ``mean_crack_fraction``, ``empty_masks``, ``problems``,
            ``ignored_files``.
    """

    ok: bool
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class _PairResult:
    problems: list[tuple[str, str]]
    size: tuple[int, int] | None = None  # (w, h) of a readable image
    crack_fraction: float | None = None  # of a valid pair


def _check_pair(sample: Sample, threshold: float | None) -> _PairResult:
    problems: list[tuple[str, str]] = []
    image = mask = None
    try:
        image = read_image(sample.image)
    except DataError as e:
        problems.append((e.where or str(sample.image), e.problem))
    if sample.mask is not None:
        try:
            mask = read_mask(sample.mask, threshold=threshold)
        except DataError as e:
            problems.append((e.where or str(sample.mask), e.problem))
    size = (image.shape[1], image.shape[0]) if image is not None else None
    if image is None or mask is None:
        return _PairResult(problems, size)
    if mask.shape != image.shape[:2]:
        (h, w), (mh, mw) = image.shape[:2], mask.shape
        problems.append((str(sample.mask), f"mask is {mw}×{mh} but its image {sample.image.name} is {w}×{h}"))
        return _PairResult(problems, size)
    return _PairResult(problems, size, float(np.count_nonzero(mask)) / mask.size)


def _folder_listing(pairs: FolderListing) -> list[tuple[str, str]]:
    problems = list(pairs.problems)
    for files in pairs.duplicates:
        names = ", ".join(f.name for f in files)
        problems.append(
            (
                str(files[0].parent / files[0].stem),
                f"several files share this stem ({names}); pairs are ambiguous",
            )
        )
    for f in pairs.missing_masks:
        problems.append((str(f), "no mask with the same file stem in masks/"))
    for f in pairs.orphan_masks:
        problems.append((str(f), "mask without an image (no image with the same file stem in images/)"))
    return problems


def _collect(spec: str | Path) -> tuple[str, list[Sample], list[tuple[str, str]], list[Path]]:
    """Resolve ``spec`` to (source, pairs to read, listing problems, ignored files)."""
    parsed = parse_spec(spec)
    if parsed.kind == "shared":
        samples = shared_samples(list(parsed.datasets) if parsed.datasets else None, parsed.split)
        return str(spec), samples, [], []
    assert parsed.path is not None
    root = parsed.path
    source = str(root)
    if parsed.kind == "omnicrack":
        try:
            split_pairs = omnicrack_listings(root, parsed.split)
        except DataError as e:
            return source, [], [(e.where or source, e.problem)], []
        samples: list[Sample] = []
        problems: list[tuple[str, str]] = []
        ignored: list[Path] = []
        for pairs in split_pairs:
            samples += [s for s in pairs.samples if s.mask is not None]
            problems += _folder_listing(pairs)
            ignored += pairs.ignored
        return source, samples, problems, ignored
    # a plain folder
    if not root.exists():
        return source, [], [(source, "folder not found")], []
    if not root.is_dir():
        return source, [], [(source, "not a folder (expected a folder with images/ and masks/)")], []
    if not (root / "images").is_dir():
        return source, [], [(source, "no images/ folder (expected <root>/images and <root>/masks)")], []
    pairs = pair_folders(root / "images", root / "masks", root.resolve().name)
    samples = [s for s in pairs.samples if s.mask is not None]
    return source, samples, _folder_listing(pairs), pairs.ignored


def check_dataset(
    path_or_spec: str | Path,
    threshold: float | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> CheckReport:
    """Read every image and mask of a dataset and report every problem.

    Arguments:
        path_or_spec: a folder with ``images/`` + ``masks/`` or any spec of
            :func:`sac.data.samples_from` (``shared:CFD@test``, ``omnicrack:/path@val``, ...).
        threshold: passed to :func:`sac.data.read_mask` (to accept grey masks).
        progress: tqdm bar while reading.
        workers: reading threads (default ``min(8, cpu_count)``).

    Problems found (each ``(file, problem)``): missing folder, no ``images/``, empty folder,
    unreadable / corrupt / truncated / non-image files, non-binary masks, a mask whose size differs
    from its image (both sizes named), images without a mask, masks without an image, several files
    with the same stem.

    Raises:
        DataError: only for a spec that cannot be resolved at all (unknown shared dataset or split).
    """
    source, samples, problems, ignored = _collect(path_or_spec)
    n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    results = parallel_map(
        lambda s: _check_pair(s, threshold), samples, n_workers, f"checking {len(samples)} pairs", progress
    )
    sizes: Counter[tuple[int, int]] = Counter()
    fractions: list[float] = []
    for r in results:
        problems.extend(r.problems)
        if r.size is not None:
            sizes[r.size] += 1
        if r.crack_fraction is not None:
            fractions.append(r.crack_fraction)

    summary: dict[str, Any] = {
        "source": source,
        "pairs": len(samples),
        "valid_pairs": len(fractions),
        "datasets": dict(Counter(s.dataset for s in samples)),
        "image_sizes": _size_summary(sizes),
        "mean_crack_fraction": float(np.mean(fractions)) if fractions else None,
        "empty_masks": sum(1 for f in fractions if f == 0.0),
        "problems": len(problems),
        "ignored_files": [str(p) for p in ignored],
    }
    if not samples and not problems:
        problems.append((source, f"empty: no image/mask pairs found ({', '.join(IMAGE_EXTENSIONS)})"))
        summary["problems"] = len(problems)
    return CheckReport(ok=not problems and bool(samples), problems=problems, summary=summary)


def _size_summary(sizes: Counter[tuple[int, int]]) -> dict[str, Any]:
    if not sizes:
        return {"min": None, "max": None, "most_common": None, "most_common_count": 0, "distinct": 0}
    by_area = sorted(sizes, key=lambda wh: (wh[0] * wh[1], wh))
    common, count = sizes.most_common(1)[0]
    fmt = "{}×{}".format
    return {
        "min": fmt(*by_area[0]),
        "max": fmt(*by_area[-1]),
        "most_common": fmt(*common),
        "most_common_count": count,
        "distinct": len(sizes),
    }


def format_report(report: CheckReport, max_problems: int = 200) -> str:
    """Readable lines for a :class:`CheckReport`: the problems (``file: problem``) then the summary."""
    s = report.summary
    lines: list[str] = []
    if report.problems:
        lines.append(f"{len(report.problems)} problem(s):")
        for where, problem in report.problems[:max_problems]:
            lines.append(f"  {where}: {problem}")
        if len(report.problems) > max_problems:
            lines.append(f"  ... and {len(report.problems) - max_problems} more")
        lines.append("")
    sizes = s.get("image_sizes") or {}
    datasets = s.get("datasets") or {}
    frac = s.get("mean_crack_fraction")
    rows = [
        ("source", str(s.get("source", ""))),
        ("pairs", f"{s.get('pairs', 0)} ({s.get('valid_pairs', 0)} valid)"),
        ("datasets", ", ".join(f"{k} {v}" for k, v in datasets.items()) or "-"),
        (
            "image size",
            f"min {sizes.get('min')}, max {sizes.get('max')}, most common {sizes.get('most_common')} "
            f"({sizes.get('most_common_count', 0)}), {sizes.get('distinct', 0)} distinct"
            if sizes.get("min")
            else "-",
        ),
        ("mean crack fraction", f"{100.0 * frac:.2f} %" if frac is not None else "-"),
        ("empty masks", str(s.get("empty_masks", 0))),
    ]
    ignored = s.get("ignored_files") or []
    if ignored:
        shown = ", ".join(Path(p).name for p in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
        rows.append(("ignored files", f"{len(ignored)} ({shown})"))
    width = max(len(k) for k, _ in rows)
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    lines.append("")
    lines.append("OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return "\n".join(lines)
