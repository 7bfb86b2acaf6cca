"""One string spec for every source of samples (used by configs and the CLI).

Sources (all return ``list[Sample]``, sorted deterministically):

- :func:`sac.data.folders.folder_samples` — any folder with ``images/`` and ``masks/`` matched by
  file stem;
- :func:`sac.data.shared.shared_samples` — the shared collection (``$SAC_DATA``) through
  ``manifest.csv`` + ``splits.csv``;
- :func:`sac.data.omnicrack.omnicrack_samples` — an OmniCrack30k folder;
- :func:`samples_from` — a spec for any of the three (:func:`parse_spec` reads it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sac.data.folders import Sample, folder_samples
from sac.data.omnicrack import OMNICRACK_SPLITS, omnicrack_samples
from sac.data.shared import dataset_names, shared_samples
from sac.errors import DataError

__all__ = ["DataSpec", "parse_spec", "samples_from"]


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


def _split_suffix(rest: str, known: Collection[str] | None = None) -> tuple[str, str]:
    """``"X@SPLIT"`` → ``("X", "split")`` (lower case; ``"all"`` when absent or empty).

    With ``known``, a suffix outside it stays part of ``X`` (a path may contain ``@``).
    """
    if "@" not in rest:
        return rest, "all"
    head, tail = rest.rsplit("@", 1)
    tail = tail.strip().lower()
    if known is not None and tail not in known:
        return rest, "all"
    return head, tail or "all"


def parse_spec(spec: str | Path) -> DataSpec:
    """Parse a sample spec without touching the disk (see :func:`samples_from` for the syntax).

    Arguments:
        spec: the spec; a ``Path`` is always a folder.

    Raises:
        DataError: an empty spec, or an OmniCrack30k spec without a path.
    """
    if isinstance(spec, Path):
        return DataSpec("folder", spec)
    s = str(spec).strip()
    if not s:
        raise DataError("data spec", "empty; " + _SPEC_HELP)
    low = s.lower()
    if low == "shared" or low.startswith(("shared:", "shared@")):
        rest, split = _split_suffix(s[len("shared") :])
        names = dataset_names(rest[1:] if rest.startswith(":") else rest)
        return DataSpec("shared", None, tuple(names) if names else None, split)
    if low.startswith("omnicrack:"):
        rest, split = _split_suffix(s[len("omnicrack:") :], known=(*OMNICRACK_SPLITS, "all"))
        if not rest:
            raise DataError(s, "omnicrack spec without a path; " + _SPEC_HELP)
        return DataSpec("omnicrack", Path(rest).expanduser(), None, split)
    if low.startswith("folder:"):
        s = s[len("folder:") :]
    return DataSpec("folder", Path(s).expanduser())


def samples_from(spec: str | Path, require_masks: bool = True) -> list[Sample]:
    """Resolve a user spec to samples.

    Arguments:
        spec: one of the accepted specs below.
        require_masks: for folders only: ``False`` accepts photos without a mask (``mask=None``).

    Accepted specs:

    - ``path/to/folder`` (or ``folder:path``): a folder with ``images/`` + ``masks/``
      (:func:`folder_samples`);
    - ``shared:CFD,DeepCrack@test``, ``shared:all@test``, ``shared@zeroshot``, ``shared:UAV75``:
      the shared collection (:func:`shared_samples`); without ``@SPLIT`` every split is used;
    - ``omnicrack:/path/to/OmniCrack30k@val``: an OmniCrack30k folder (:func:`omnicrack_samples`);
      without ``@SPLIT`` every split.

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
