"""Samples, and pairing a folder of photos with a folder of masks by file stem.

:class:`Sample` is what every source returns. :func:`pair_folders` lists one ``images/`` + ``masks/``
pair of folders and collects every problem in a :class:`FolderListing` without raising: the sources
raise the first problem (:meth:`FolderListing.raise_problems`), ``sac data check`` reports them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sac.data.io import IMAGE_EXTENSIONS, is_image_file
from sac.errors import DataError

__all__ = ["FolderListing", "Sample", "folder_root_problem", "folder_samples", "pair_folders"]


@dataclass(frozen=True)
class Sample:
    """One image (and its ground-truth mask, if any).

    Attributes:
        image: path of the photo.
        mask: path of the mask, or ``None`` for unlabelled photos.
        dataset: name of the dataset it belongs to (``"CFD"``, a folder name, ``"OmniCrack30k"``).
        id: identifier unique within ``dataset`` (the file stem for folders).
    """

    image: Path
    mask: Path | None
    dataset: str
    id: str


@dataclass
class FolderListing:
    """One ``images/`` + ``masks/`` pair of folders, listed by :func:`pair_folders`.

    Attributes:
        images_dir: the photos' folder.
        masks_dir: the masks' folder, or ``None`` when there is none to read.
        samples: one per image stem, in stem order (``mask=None`` where the mask is missing).
        missing_masks: images without a mask.
        orphan_masks: masks without an image.
        duplicates: files sharing a stem (in ``images/`` or in ``masks/``).
        ignored: non-image files.
        problems: folder-level problems, ``(folder, problem)``.
    """

    images_dir: Path
    masks_dir: Path | None
    samples: list[Sample] = field(default_factory=list)
    missing_masks: list[Path] = field(default_factory=list)
    orphan_masks: list[Path] = field(default_factory=list)
    duplicates: list[list[Path]] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def raise_problems(self, require_masks: bool) -> None:
        """Raise the first problem that makes the pairs unusable.

        Arguments:
            require_masks: images without a mask are a problem too.

        Raises:
            DataError: a folder-level problem, stems that occur more than once, or (with
                ``require_masks``) images without a mask, listing their stems.
        """
        if self.problems:
            where, problem = self.problems[0]
            raise DataError(where, problem)
        if self.duplicates:
            names = "; ".join(" / ".join(p.name for p in files) for files in self.duplicates[:10])
            raise DataError(
                self.duplicates[0][0].parent,
                f"{len(self.duplicates)} file stem(s) occur more than once, so pairs are ambiguous: {names}",
            )
        if require_masks and self.missing_masks:
            raise DataError(
                self.masks_dir,
                f"{len(self.missing_masks)} image(s) have no mask with the same file stem: "
                f"{_stems_list(self.missing_masks)}",
            )


def _list_by_stem(folder: Path, out: FolderListing) -> dict[str, list[Path]]:
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for f in sorted(folder.iterdir()):
        if f.name.startswith("."):
            continue
        if is_image_file(f):  # folders / broken links named like images are kept: reading them reports why
            by_stem[f.stem].append(f)
        else:
            out.ignored.append(f)
    for files in by_stem.values():
        if len(files) > 1:
            out.duplicates.append(files)
    return by_stem


def pair_folders(images_dir: Path, masks_dir: Path | None, dataset: str) -> FolderListing:
    """Pair ``images_dir`` with ``masks_dir`` by file stem; collect every problem instead of raising.

    Arguments:
        images_dir: the photos (not recursive; hidden files skipped, non-image files ignored).
        masks_dir: the masks, or ``None`` for unlabelled photos.
        dataset: name given to the samples.
    """
    out = FolderListing(images_dir, masks_dir)
    if not images_dir.is_dir():
        out.problems.append((str(images_dir), "folder not found (expected images/ with the photos)"))
        return out
    images = _list_by_stem(images_dir, out)
    if not images:
        out.problems.append(
            (str(images_dir), f"empty: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        )
    masks: dict[str, list[Path]] = {}
    if masks_dir is not None:
        if masks_dir.is_dir():
            masks = _list_by_stem(masks_dir, out)
        else:
            out.problems.append((str(masks_dir), "folder not found (expected masks/ beside images/)"))
    for stem, files in sorted(images.items()):
        mask_files = masks.get(stem)
        if mask_files:
            out.samples.append(Sample(files[0], mask_files[0], dataset, stem))
        else:
            out.missing_masks.append(files[0])
            out.samples.append(Sample(files[0], None, dataset, stem))
    out.orphan_masks = [files[0] for stem, files in sorted(masks.items()) if stem not in images]
    return out


def _stems_list(paths: Sequence[Path], limit: int = 10) -> str:
    shown = ", ".join(p.stem for p in paths[:limit])
    return shown + (f", ... ({len(paths) - limit} more)" if len(paths) > limit else "")


def folder_root_problem(root: Path) -> str | None:
    """Why ``root`` is not a dataset folder (missing, not a folder, no ``images/``), or ``None``.

    Arguments:
        root: the folder that should hold ``images/`` and ``masks/``.
    """
    if not root.exists():
        return "folder not found"
    if not root.is_dir():
        return "not a folder (expected a folder with images/ and masks/)"
    if not (root / "images").is_dir():
        return "no images/ folder (expected <root>/images and <root>/masks)"
    return None


def folder_samples(root: str | Path, require_masks: bool = True, dataset: str | None = None) -> list[Sample]:
    """Samples of a folder laid out as ``root/images/<stem>.<ext>`` + ``root/masks/<stem>.<ext>``.

    Arguments:
        root: the dataset folder (not recursive: files directly in ``images/`` and ``masks/``).
        require_masks: if ``False``, images without a mask (or no ``masks/`` folder at all) give
            samples with ``mask=None`` — for prediction on unlabelled photos.
        dataset: name given to the samples (default: the folder name).

    Images and masks may have any of the extensions in :data:`sac.data.io.IMAGE_EXTENSIONS`
    (case-insensitive) and are matched by file stem (``a.jpg`` ↔ ``a.png``). Hidden and non-image
    files are ignored; masks without an image are ignored here (``check_dataset`` reports them).

    Raises:
        DataError: ``root`` or ``root/images`` missing, no images, two files with the same stem,
            or (with ``require_masks``) images without masks, listing their stems.
    """
    root = Path(root)
    problem = folder_root_problem(root)
    if problem is not None:
        raise DataError(root, problem)
    masks_dir: Path | None = root / "masks"
    if not require_masks and not masks_dir.is_dir():
        masks_dir = None
    listing = pair_folders(root / "images", masks_dir, dataset or root.resolve().name)
    listing.raise_problems(require_masks)
    return listing.samples
