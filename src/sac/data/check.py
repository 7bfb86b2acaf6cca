"""Validate a dataset before training on it: ``sac data check PATH``.

:func:`check_dataset` reads every image and mask fully and collects every problem instead of
stopping at the first one; :func:`format_report` turns the result into lines for a terminal.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sac.data.folders import FolderListing, Sample, folder_root_problem, pair_folders
from sac.data.io import IMAGE_EXTENSIONS, read_image, read_mask
from sac.data.masks import mask_size_problem
from sac.data.omnicrack import omnicrack_listings
from sac.data.parallel import parallel_map, resolve_workers
from sac.data.sources import parse_spec, samples_from
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
    problem = mask_size_problem(mask, image, sample.image.name)
    if problem is not None:
        problems.append((str(sample.mask), problem))
        return _PairResult(problems, size)
    return _PairResult(problems, size, float(np.count_nonzero(mask)) / mask.size)


def _listing_problems(listing: FolderListing) -> list[tuple[str, str]]:
    problems = list(listing.problems)
    for files in listing.duplicates:
        names = ", ".join(f.name for f in files)
        problems.append(
            (
                str(files[0].parent / files[0].stem),
                f"several files share this stem ({names}); pairs are ambiguous",
            )
        )
    for f in listing.missing_masks:
        problems.append((str(f), "no mask with the same file stem in masks/"))
    for f in listing.orphan_masks:
        problems.append((str(f), "mask without an image (no image with the same file stem in images/)"))
    return problems


@dataclass
class _Found:
    """What a spec resolves to before any file is read."""

    source: str
    samples: list[Sample] = field(default_factory=list)  # the pairs to read
    problems: list[tuple[str, str]] = field(default_factory=list)  # of the listing
    ignored: list[Path] = field(default_factory=list)  # non-image files


def _from_listings(source: str, listings: list[FolderListing]) -> _Found:
    found = _Found(source)
    for listing in listings:
        found.samples += [s for s in listing.samples if s.mask is not None]
        found.problems += _listing_problems(listing)
        found.ignored += listing.ignored
    return found


def _collect(spec: str | Path) -> _Found:
    """Resolve ``spec`` to the pairs to read, the listing's problems and the ignored files."""
    parsed = parse_spec(spec)
    if parsed.kind == "shared":
        return _Found(str(spec), samples_from(spec))
    assert parsed.path is not None
    root = parsed.path
    source = str(root)
    if parsed.kind == "omnicrack":
        try:
            listings = omnicrack_listings(root, parsed.split)
        except DataError as e:
            return _Found(source, problems=[(e.where or source, e.problem)])
        return _from_listings(source, listings)
    problem = folder_root_problem(root)
    if problem is not None:
        return _Found(source, problems=[(source, problem)])
    return _from_listings(source, [pair_folders(root / "images", root / "masks", root.resolve().name)])


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
    found = _collect(path_or_spec)
    results = parallel_map(
        lambda s: _check_pair(s, threshold),
        found.samples,
        resolve_workers(workers),
        f"checking {len(found.samples)} pairs",
        progress,
    )
    problems = found.problems + [problem for r in results for problem in r.problems]
    if not found.samples and not problems:
        problems.append((found.source, f"empty: no image/mask pairs found ({', '.join(IMAGE_EXTENSIONS)})"))
    summary = _summary(found, results, len(problems))
    return CheckReport(ok=not problems and bool(found.samples), problems=problems, summary=summary)


def _summary(found: _Found, results: list[_PairResult], n_problems: int) -> dict[str, Any]:
    """The counts and statistics of :attr:`CheckReport.summary`."""
    sizes = Counter(r.size for r in results if r.size is not None)
    fractions = [r.crack_fraction for r in results if r.crack_fraction is not None]
    return {
        "source": found.source,
        "pairs": len(found.samples),
        "valid_pairs": len(fractions),
        "datasets": dict(Counter(s.dataset for s in found.samples)),
        "image_sizes": _size_summary(sizes),
        "mean_crack_fraction": float(np.mean(fractions)) if fractions else None,
        "empty_masks": sum(1 for f in fractions if f == 0.0),
        "problems": n_problems,
        "ignored_files": [str(p) for p in found.ignored],
    }


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
