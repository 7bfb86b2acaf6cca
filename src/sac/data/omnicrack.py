"""OmniCrack30k folders (Benz & Rodehorst, CVPRW 2024): one :class:`FolderListing` per split."""

from __future__ import annotations

from pathlib import Path

from sac.data.folders import FolderListing, Sample, pair_folders
from sac.errors import DataError

__all__ = ["OMNICRACK_SPLITS", "omnicrack_listings", "omnicrack_samples"]

_SPLIT_FOLDERS: dict[str, tuple[str, ...]] = {
    "train": ("training", "train"),
    "val": ("validation", "val", "valid"),
    "test": ("test", "testing"),
}
_SPLIT_OF = {alias: key for key, aliases in _SPLIT_FOLDERS.items() for alias in aliases}
_MASK_DIRS = ("annotations", "masks", "labels")

#: Split names an OmniCrack30k spec accepts (besides ``"all"``), e.g. ``train`` and ``training``.
OMNICRACK_SPLITS: tuple[str, ...] = tuple(_SPLIT_OF)


def _split_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """``(images_dir, masks_dir)`` of one split in either supported layout."""
    names = _SPLIT_FOLDERS[split]
    # layout A (the authors' preparation scripts): images/<split>/ + annotations/<split>/
    if (root / "images").is_dir():
        for mask_top in _MASK_DIRS:
            if (root / mask_top).is_dir():
                for name in names:
                    if (root / "images" / name).is_dir():
                        return root / "images" / name, root / mask_top / name
    # layout B: <split>/images/ + <split>/masks/
    for name in names:
        d = root / name
        if (d / "images").is_dir():
            for mask_dir in _MASK_DIRS:
                if (d / mask_dir).is_dir():
                    return d / "images", d / mask_dir
            return d / "images", d / "masks"
    raise DataError(
        root,
        f"no {split!r} split found for the OmniCrack30k layout; expected images/{names[0]}/ + "
        f"annotations/{names[0]}/ or {names[1]}/images/ + {names[1]}/masks/",
    )


def _has_split(root: Path, key: str) -> bool:
    try:
        _split_dirs(root, key)
    except DataError:
        return False
    return True


def omnicrack_listings(root: Path, split: str) -> list[FolderListing]:
    """One listing per split folder selected by ``split``, without raising on the files' problems.

    Arguments:
        root: the OmniCrack30k folder.
        split: a name of :data:`OMNICRACK_SPLITS` or ``all`` (every split present; ``train`` if none).

    Raises:
        DataError: the folder is missing, the split unknown, or a selected split's folders missing.
    """
    if not root.is_dir():
        raise DataError(root, "OmniCrack30k folder not found")
    key = split.strip().lower()
    if key == "all":
        keys = [k for k in _SPLIT_FOLDERS if _has_split(root, k)] or ["train"]
    elif key in _SPLIT_OF:
        keys = [_SPLIT_OF[key]]
    else:
        raise DataError(root, f"unknown split {split!r}; use train, val (validation), test or all")
    out = []
    for k in keys:
        images_dir, masks_dir = _split_dirs(root, k)  # raises with the expected layout
        out.append(pair_folders(images_dir, masks_dir, "OmniCrack30k"))
    return out


def omnicrack_samples(root: str | Path, split: str = "train") -> list[Sample]:
    """Samples of an OmniCrack30k folder (Benz & Rodehorst, CVPRW 2024).

    OmniCrack30k is not redistributed as one archive (licences of its ~20 source datasets); the
    authors' preparation scripts (github.com/ben-z-original/omnicrack30k) build this layout,
    which is the one expected first::

        root/images/{training,validation,test}/<id>.<ext>
        root/annotations/{training,validation,test}/<id>.png     (0 = background, 1 = crack)

    A per-split layout is accepted too::

        root/{train,val|validation,test}/images/<id>.<ext>
        root/{train,val|validation,test}/masks/<id>.png          (1 or 255 = crack)

    (``masks``/``labels`` may replace ``annotations`` and vice versa). Masks are read by
    :func:`sac.data.read_mask`, so both ``{0,1}`` and ``{0,255}`` work.

    Arguments:
        root: the OmniCrack30k folder.
        split: ``train``/``training``, ``val``/``validation``, ``test`` or ``all``.

    Raises:
        DataError: folder or split missing, images without masks, duplicate stems, unknown split.
    """
    samples: list[Sample] = []
    for listing in omnicrack_listings(Path(root), split):
        listing.raise_problems(require_masks=True)
        samples += listing.samples
    return samples
