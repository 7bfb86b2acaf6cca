"""The shared crack collection (``$SAC_DATA``): ``manifest.csv`` lists the files, ``splits.csv`` the splits."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from sac.data.folders import Sample
from sac.errors import DataError
from sac.files import data_root

__all__ = ["SHARED_SPLITS", "dataset_names", "shared_samples"]

#: Splits of the shared collection (``splits.csv``); ``"all"`` selects every split.
SHARED_SPLITS: tuple[str, ...] = ("train", "val", "test", "zeroshot")


def dataset_names(datasets: str | Iterable[str] | None) -> list[str] | None:
    """Dataset names from ``"CFD,DeepCrack"`` or a list; ``None`` when it means every dataset.

    Arguments:
        datasets: names, comma-separated or as a list; ``None``, nothing or ``"all"`` = every dataset.
    """
    if datasets is None:
        return None
    items = datasets.split(",") if isinstance(datasets, str) else list(datasets)
    names = [n.strip() for n in items if n and n.strip()]
    if not names or any(n.lower() == "all" for n in names):
        return None
    return names


def _read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(path, "file not found (the shared collection needs manifest.csv and splits.csv)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(path, f"missing column(s) {missing}; found {reader.fieldnames}")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(path, f"cannot read CSV: {e}") from e


def _checked_split(split: str, root: Path) -> str:
    split = split.strip().lower()
    if split not in (*SHARED_SPLITS, "all"):
        raise DataError(
            root / "splits.csv", f"unknown split {split!r}; use one of {', '.join(SHARED_SPLITS)} or all"
        )
    return split


def _wanted_datasets(
    datasets: str | Iterable[str] | None, known: list[str], splits_by_set: dict[str, set[str]], split: str, root: Path
) -> list[str] | None:
    """The requested datasets under their manifest names (``None`` = all); each must have ``split``."""
    wanted = dataset_names(datasets)
    if wanted is None:
        return None
    lookup = {k.lower(): k for k in known}
    unknown = [n for n in wanted if n.lower() not in lookup]
    if unknown:
        raise DataError(root, f"unknown dataset(s) {unknown}; known: {', '.join(known)}")
    wanted = list(dict.fromkeys(lookup[n.lower()] for n in wanted))
    if split != "all":
        lacking = [n for n in wanted if split not in splits_by_set.get(n, set())]
        if lacking:
            have = "; ".join(
                f"{n} has {', '.join(sorted(splits_by_set.get(n, set()))) or 'none'}" for n in lacking
            )
            raise DataError(root / "splits.csv", f"no {split!r} split for {', '.join(lacking)} ({have})")
    return wanted


def _manifest_samples(
    manifest: list[dict[str, str]], split_of: dict[tuple[str, str], str], selected: set[str], split: str, root: Path
) -> list[Sample]:
    """The manifest rows of the ``selected`` datasets in ``split``, in manifest order, files checked."""
    out: list[Sample] = []
    for r in manifest:
        ds, sid = r["dataset"], r["id"]
        if ds not in selected:
            continue
        s = split_of.get((ds, sid))
        if s is None:
            raise DataError(root / "splits.csv", f"{ds}/{sid} is in manifest.csv but has no split")
        if split != "all" and s != split:
            continue
        image, mask = root / r["image"], root / r["mask"]
        for f in (image, mask):
            if not f.is_file():
                raise DataError(f, f"listed in manifest.csv ({ds}/{sid}) but not found")
        out.append(Sample(image, mask, ds, sid))
    return out


def shared_samples(
    datasets: str | Iterable[str] | None = None,
    split: str = "train",
    root: str | Path | None = None,
) -> list[Sample]:
    """Samples of the shared crack collection (``$SAC_DATA``, see ``sac.files.data_root``).

    Arguments:
        datasets: names (case-insensitive) like ``["CFD", "DeepCrack"]`` or ``"CFD,DeepCrack"``;
            ``None`` / ``"all"`` = every dataset that has ``split``.
        split: ``"train"``, ``"val"``, ``"test"``, ``"zeroshot"`` or ``"all"`` (every split).
        root: the collection folder (default ``data_root()``).

    MCS is a zero-shot set: it has only the ``zeroshot`` split, so it never enters ``train``/``val``
    unless its files are listed there. Naming a dataset that lacks the split is an error, never an
    empty list. Samples come in ``manifest.csv`` order.

    Raises:
        DataError: collection not found, malformed CSVs, unknown dataset or split (the message
            lists the known ones), a requested dataset without that split, or a listed file missing.
    """
    root = Path(root) if root is not None else data_root()
    if not root.is_dir():
        raise DataError(root, "shared crack data not found; set SAC_DATA to the collection folder")
    split = _checked_split(split, root)
    manifest = _read_csv(root / "manifest.csv", ("dataset", "id", "image", "mask"))
    split_rows = _read_csv(root / "splits.csv", ("dataset", "id", "split"))
    split_of = {(r["dataset"], r["id"]): r["split"] for r in split_rows}
    splits_by_set: dict[str, set[str]] = defaultdict(set)
    for (ds, _), s in split_of.items():
        splits_by_set[ds].add(s)
    known = sorted({r["dataset"] for r in manifest})
    wanted = _wanted_datasets(datasets, known, splits_by_set, split, root)
    selected = set(wanted) if wanted is not None else set(known)
    out = _manifest_samples(manifest, split_of, selected, split, root)
    if not out:
        raise DataError(root, f"no samples for datasets={wanted or 'all'} split={split!r}")
    return out
