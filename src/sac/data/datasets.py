"""Finding image/mask pairs and serving them to training.

Sources of samples (all return ``list[Sample]``, sorted deterministically):

- :func:`folder_samples` — any folder with ``images/`` and ``masks/`` matched by file stem;
- :func:`shared_samples` — the shared collection (``$SAC_DATA``) through ``manifest.csv`` +
  ``splits.csv``;
- :func:`omnicrack_samples` — an OmniCrack30k folder;
- :func:`samples_from` — one string spec for all three (used by configs and the CLI).

:class:`CrackDataset` decodes and resizes every sample once, keeps ``uint8`` arrays in memory and
optionally caches them on disk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from sac.data.io import IMAGE_EXTENSIONS, is_image_file, read_image, read_mask
from sac.data.transforms import MASK_RESIZE_METHODS, build_augmentation, resize_image, resize_mask
from sac.errors import ConfigError, DataError
from sac.files import atomic_path, data_root

__all__ = [
    "SHARED_SPLITS",
    "CrackDataset",
    "DataSpec",
    "Sample",
    "folder_samples",
    "omnicrack_samples",
    "parse_spec",
    "samples_from",
    "shared_samples",
]

#: Splits of the shared collection (``splits.csv``); ``"all"`` selects every split.
SHARED_SPLITS: tuple[str, ...] = ("train", "val", "test", "zeroshot")

_T = TypeVar("_T")


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


# --------------------------------------------------------------------------------------------------
# folders


@dataclass
class _FolderPairs:
    """Result of listing one ``images/`` + ``masks/`` pair of folders (no exceptions raised)."""

    samples: list[Sample] = field(default_factory=list)
    missing_masks: list[Path] = field(default_factory=list)  # images without a mask
    orphan_masks: list[Path] = field(default_factory=list)  # masks without an image
    duplicates: list[list[Path]] = field(default_factory=list)  # files sharing a stem
    ignored: list[Path] = field(default_factory=list)  # non-image files
    problems: list[tuple[str, str]] = field(default_factory=list)  # folder-level problems


def _list_by_stem(folder: Path, out: _FolderPairs) -> dict[str, list[Path]]:
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


def _pair_folders(images_dir: Path, masks_dir: Path | None, dataset: str) -> _FolderPairs:
    """Pair ``images_dir`` with ``masks_dir`` by file stem; collect every problem instead of raising."""
    out = _FolderPairs()
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


def _raise_folder_problems(pairs: _FolderPairs, masks_dir: Path | None, require_masks: bool) -> None:
    if pairs.problems:
        where, problem = pairs.problems[0]
        raise DataError(where, problem)
    if pairs.duplicates:
        names = "; ".join(" / ".join(p.name for p in files) for files in pairs.duplicates[:10])
        raise DataError(
            pairs.duplicates[0][0].parent,
            f"{len(pairs.duplicates)} file stem(s) occur more than once, so pairs are ambiguous: {names}",
        )
    if require_masks and pairs.missing_masks:
        raise DataError(
            masks_dir,
            f"{len(pairs.missing_masks)} image(s) have no mask with the same file stem: "
            f"{_stems_list(pairs.missing_masks)}",
        )


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
    if not root.exists():
        raise DataError(root, "folder not found")
    if not root.is_dir():
        raise DataError(root, "not a folder (expected a folder with images/ and masks/)")
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise DataError(root, "no images/ folder (expected <root>/images and <root>/masks)")
    masks_dir: Path | None = root / "masks"
    if not require_masks and not masks_dir.is_dir():
        masks_dir = None
    pairs = _pair_folders(images_dir, masks_dir, dataset or root.resolve().name)
    _raise_folder_problems(pairs, masks_dir, require_masks)
    return pairs.samples


# --------------------------------------------------------------------------------------------------
# the shared collection


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


def _names(datasets: str | Iterable[str] | None) -> list[str] | None:
    if datasets is None:
        return None
    items = datasets.split(",") if isinstance(datasets, str) else list(datasets)
    names = [n.strip() for n in items if n and n.strip()]
    if not names or any(n.lower() == "all" for n in names):
        return None
    return names


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
    split = split.strip().lower()
    if split not in (*SHARED_SPLITS, "all"):
        raise DataError(
            root / "splits.csv", f"unknown split {split!r}; use one of {', '.join(SHARED_SPLITS)} or all"
        )
    manifest = _read_csv(root / "manifest.csv", ("dataset", "id", "image", "mask"))
    split_rows = _read_csv(root / "splits.csv", ("dataset", "id", "split"))
    split_of = {(r["dataset"], r["id"]): r["split"] for r in split_rows}
    splits_by_set: dict[str, set[str]] = defaultdict(set)
    for (ds, _), s in split_of.items():
        splits_by_set[ds].add(s)
    known = sorted({r["dataset"] for r in manifest})

    wanted = _names(datasets)
    if wanted is not None:
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
    selected = set(wanted) if wanted is not None else set(known)

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
    if not out:
        raise DataError(root, f"no samples for datasets={wanted or 'all'} split={split!r}")
    return out


# --------------------------------------------------------------------------------------------------
# OmniCrack30k

_OMNI_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("training", "train"),
    "val": ("validation", "val", "valid"),
    "test": ("test", "testing"),
}
_OMNI_SPLIT_ALIASES = {alias: key for key, aliases in _OMNI_SPLITS.items() for alias in aliases}
_OMNI_MASK_DIRS = ("annotations", "masks", "labels")


def _omnicrack_split_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """``(images_dir, masks_dir)`` of one split in either supported layout."""
    names = _OMNI_SPLITS[split]
    # layout A (the authors' preparation scripts): images/<split>/ + annotations/<split>/
    if (root / "images").is_dir():
        for mask_top in _OMNI_MASK_DIRS:
            if (root / mask_top).is_dir():
                for name in names:
                    if (root / "images" / name).is_dir():
                        return root / "images" / name, root / mask_top / name
    # layout B: <split>/images/ + <split>/masks/
    for name in names:
        d = root / name
        if (d / "images").is_dir():
            for mask_dir in _OMNI_MASK_DIRS:
                if (d / mask_dir).is_dir():
                    return d / "images", d / mask_dir
            return d / "images", d / "masks"
    raise DataError(
        root,
        f"no {split!r} split found for the OmniCrack30k layout; expected images/{names[0]}/ + "
        f"annotations/{names[0]}/ or {names[1]}/images/ + {names[1]}/masks/",
    )


def _omnicrack_pairs(root: Path, split: str) -> list[tuple[Path, _FolderPairs]]:
    """``(masks_dir, pairs)`` for each split folder selected by ``split`` (``all`` = those present)."""
    if not root.is_dir():
        raise DataError(root, "OmniCrack30k folder not found")
    key = split.strip().lower()
    if key == "all":
        keys = [k for k in _OMNI_SPLITS if _has_omni_split(root, k)] or ["train"]
    elif key in _OMNI_SPLIT_ALIASES:
        keys = [_OMNI_SPLIT_ALIASES[key]]
    else:
        raise DataError(root, f"unknown split {split!r}; use train, val (validation), test or all")
    out = []
    for k in keys:
        images_dir, masks_dir = _omnicrack_split_dirs(root, k)  # raises with the expected layout
        out.append((masks_dir, _pair_folders(images_dir, masks_dir, "OmniCrack30k")))
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
    for masks_dir, pairs in _omnicrack_pairs(Path(root), split):
        _raise_folder_problems(pairs, masks_dir, require_masks=True)
        samples += pairs.samples
    return samples


def _has_omni_split(root: Path, key: str) -> bool:
    try:
        _omnicrack_split_dirs(root, key)
    except DataError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class DataSpec:
    """A parsed sample spec (see :func:`samples_from`)."""

    kind: str  # "folder" | "shared" | "omnicrack"
    path: Path | None = None
    datasets: tuple[str, ...] | None = None  # shared only; None = all
    split: str = "all"


_SPEC_HELP = (
    "a data spec is a folder with images/ and masks/, 'shared[:SET,SET|all][@SPLIT]' "
    "or 'omnicrack:PATH[@SPLIT]'"
)


def parse_spec(spec: str | Path) -> DataSpec:
    """Parse a sample spec without touching the disk (see :func:`samples_from` for the syntax)."""
    if isinstance(spec, Path):
        return DataSpec("folder", spec)
    s = str(spec).strip()
    if not s:
        raise DataError("data spec", "empty; " + _SPEC_HELP)
    low = s.lower()
    if low == "shared" or low.startswith(("shared:", "shared@")):
        rest = s[len("shared") :]
        split = "all"
        if "@" in rest:
            rest, split = rest.rsplit("@", 1)
            split = split.strip().lower() or "all"
        names = _names(rest[1:] if rest.startswith(":") else rest)
        return DataSpec("shared", None, tuple(names) if names else None, split)
    if low.startswith("omnicrack:"):
        rest = s[len("omnicrack:") :]
        split = "all"
        if "@" in rest:
            head, tail = rest.rsplit("@", 1)
            if tail.strip().lower() in (*_OMNI_SPLIT_ALIASES, "all"):
                rest, split = head, tail.strip().lower()
        if not rest:
            raise DataError(s, "omnicrack spec without a path; " + _SPEC_HELP)
        return DataSpec("omnicrack", Path(rest).expanduser(), None, split)
    if low.startswith("folder:"):
        s = s[len("folder:") :]
    return DataSpec("folder", Path(s).expanduser())


def samples_from(spec: str | Path, require_masks: bool = True) -> list[Sample]:
    """Resolve a user spec to samples.

    Accepted specs:

    - ``path/to/folder`` (or ``folder:path``): a folder with ``images/`` + ``masks/``
      (:func:`folder_samples`);
    - ``shared:CFD,DeepCrack@test``, ``shared:all@test``, ``shared@zeroshot``, ``shared:UAV75``:
      the shared collection (:func:`shared_samples`); without ``@SPLIT`` every split is used;
    - ``omnicrack:/path/to/OmniCrack30k@val``: an OmniCrack30k folder (:func:`omnicrack_samples`);
      without ``@SPLIT`` every split.

    ``require_masks`` applies to folders only.

    Raises:
        DataError: an unparsable spec or any error of the underlying function.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "shared":
        return shared_samples(list(parsed.datasets) if parsed.datasets else None, parsed.split)
    assert parsed.path is not None
    if parsed.kind == "omnicrack":
        return omnicrack_samples(parsed.path, parsed.split)
    if not parsed.path.exists():
        raise DataError(parsed.path, "folder not found; " + _SPEC_HELP)
    return folder_samples(parsed.path, require_masks=require_masks)


# --------------------------------------------------------------------------------------------------
# the torch dataset

_CACHE_VERSION = 1


def _file_key(p: Path) -> list[Any]:
    st = p.stat()
    return [os.path.abspath(p), st.st_mtime_ns, st.st_size]


def _parallel_iter(
    fn: Callable[[Sample], _T], items: Sequence[Sample], workers: int, desc: str, progress: bool
) -> Iterator[_T]:
    """``fn`` over ``items`` in threads (decoders release the GIL), results in order, with a tqdm bar."""
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


def _parallel_map(
    fn: Callable[[Sample], _T], items: Sequence[Sample], workers: int, desc: str, progress: bool
) -> list[_T]:
    return list(_parallel_iter(fn, items, workers, desc, progress))


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
            runs skip decoding; about ``4·size²`` bytes per sample (256 KiB at 256). Written
            atomically; a damaged cache file is recomputed with a warning. Never pruned.
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
        if mask_resize not in MASK_RESIZE_METHODS:
            raise ConfigError(
                "mask_resize", f"unknown method {mask_resize!r}; use one of {', '.join(MASK_RESIZE_METHODS)}"
            )
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0
        ):
            raise ConfigError("size", f"must be a positive integer or None, got {size!r}")
        self.samples: list[Sample] = list(samples)
        for s in self.samples:
            if s.mask is None:
                raise DataError(s.image, "sample has no mask; CrackDataset needs image/mask pairs")
        self.size = int(size) if size is not None else None
        self.augment = augment
        self.mask_resize = mask_resize
        self.threshold = threshold
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)

        results = _parallel_iter(
            self._load, self.samples, n_workers, f"decoding {len(self.samples)} samples", progress
        )
        self._images: np.ndarray | list[np.ndarray]
        self._masks: np.ndarray | list[np.ndarray]
        if self.size is not None:  # one preallocated block: no second copy while stacking
            n, side = len(self.samples), self.size
            self._images = np.empty((n, side, side, 3), np.uint8)
            self._masks = np.empty((n, side, side), np.uint8)
            for i, (image, mask) in enumerate(results):
                self._images[i], self._masks[i] = image, mask
        else:
            self._images, self._masks = [], []
            for image, mask in results:
                self._images.append(image)
                self._masks.append(mask)
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

    def _load(self, s: Sample) -> tuple[np.ndarray, np.ndarray]:
        cache = self._cache_path(s)
        if cache is not None and cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as z:
                    image, mask = z["image"], z["mask"]
                if image.dtype == np.uint8 and mask.dtype == np.uint8 and image.shape[:2] == mask.shape:
                    return image, mask
            except (OSError, ValueError, KeyError, EOFError) as e:
                warnings.warn(f"{cache}: damaged cache file, decoding again ({e})", stacklevel=2)
        assert s.mask is not None
        image = read_image(s.image)
        mask_bool = read_mask(s.mask, threshold=self.threshold)
        if mask_bool.shape != image.shape[:2]:
            (h, w), (mh, mw) = image.shape[:2], mask_bool.shape
            raise DataError(s.mask, f"mask is {mw}×{mh} but its image {s.image} is {w}×{h}")
        if self.size is not None:
            image = resize_image(image, self.size)
            mask_bool = resize_mask(mask_bool, self.size, self.mask_resize)
        mask = mask_bool.astype(np.uint8)
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

    def _augment(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._aug is not None
        # One seed per item from torch's global generator: reproducible after torch.manual_seed, and
        # distinct per DataLoader worker and epoch (the loader seeds each worker's generator).
        # One shared numpy/python stream for all transforms: albumentations' set_random_seed would
        # give every transform the same seed, making e.g. the two flips always fire together.
        seed = int(torch.randint(0, 2**63 - 1, (1,), dtype=torch.int64).item())
        self._aug.set_random_state(np.random.default_rng(seed), random.Random(seed))
        out = self._aug(image=image, mask=mask)
        return out["image"], out["mask"]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        image, mask = self._images[index], self._masks[index]
        if self._aug is not None:
            image, mask = self._augment(image, mask)
        img_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)
        mask_t = torch.from_numpy(np.ascontiguousarray(mask)).unsqueeze(0).float()
        return {"image": img_t, "mask": mask_t, "index": int(index)}

    def __repr__(self) -> str:
        size = f"{self.size}×{self.size}" if self.size else "native"
        return f"CrackDataset({len(self)} samples, size={size}, augment={self.augment}, mask_resize={self.mask_resize!r})"
