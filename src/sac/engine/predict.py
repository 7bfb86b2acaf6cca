"""Prediction on the user's photos: files or folders → mask PNG + overlay PNG per photo, optionally
crack measurements (CSV / JSON / GeoJSON + an overlay with centrelines coloured by width) and a
summary table per photo.

Inference mode ``auto`` resizes photos up to twice the model's native size (like the training data)
and tiles larger ones at native resolution (see :mod:`sac.engine.inference`). Under ``torchrun`` the photos are
split across ranks (see :func:`predict`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from sac import faults
from sac.data import read_image, write_image_png, write_mask_png
from sac.data.io import IMAGE_EXTENSIONS
from sac.engine.fold import fold_batchnorm
from sac.engine.inference import DEFAULT_OVERLAP, fast_layout, predict_probability
from sac.engine.loading import describe_model, model_threshold
from sac.engine.runtime import dist_info, maybe_init_distributed, resolve_device
from sac.errors import DataError, OutputError, SACError
from sac.files import atomic_write_json, output_dir, remove_temporaries
from sac.measure import check_gradable, measure_mask, summary_row, write_measurement, write_summary
from sac.measure.export import MEASUREMENT_FILES


def collect_images(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders (a folder's ``images/`` subfolder if it has one) into photo paths."""
    out: list[Path] = []
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            d = p / "images" if (p / "images").is_dir() else p
            # links named like photos are kept even when they lead nowhere: each is then reported, not skipped
            files = sorted(f for f in d.iterdir()
                           if f.suffix.lower() in IMAGE_EXTENSIONS and (f.is_file() or f.is_symlink() and not f.is_dir()))
            if not files:
                raise DataError(p, "folder holds no photos (.jpg .png .bmp .tif .webp)")
            out += files
        elif p.is_file():
            out.append(p)
        elif p.is_symlink():
            raise DataError(p, "a symbolic link that leads nowhere (its target is missing, or links lead in a loop)")
        else:
            raise DataError(p, "no such file or folder")
    if not out:
        raise DataError(", ".join(map(str, inputs)) or "inputs", "no photos given")
    stems = [f.stem for f in out]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise DataError(dup[0], f"{len(dup)} photos share a file name stem; outputs would overwrite each other")
    return out


def overlay_mask(image: np.ndarray, mask: np.ndarray, color=(255, 40, 40), alpha: float = 0.55) -> np.ndarray:
    """The photo with crack pixels tinted."""
    out = image.astype(np.float32).copy()
    c = np.array(color, np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * c
    return out.clip(0, 255).astype(np.uint8)


# every file _predict_one may write for a photo, after its stem (removed when the photo fails)
MASK_FILE, PROB_FILE = "_mask.png", "_prob.png"
PHOTO_OUTPUTS = (MASK_FILE, PROB_FILE, *MEASUREMENT_FILES.values())  # the overlay is one of them either way
ROWS_DIR = ".sac-rows"  # one JSON per finished photo: its summary row and settings (resume, combined summary)


def choose_mode(mode: str, shape: tuple[int, ...], tile: int) -> str:
    if mode != "auto":
        return mode
    return "resize" if max(shape[:2]) <= 2 * tile else "tiled"


def _predict_one(model: nn.Module, path: Path, out: Path, dev: torch.device, threshold: float, mode: str,
                 tile: int, overlap: float, tta: bool, batch_size: int, measure: bool, mm_per_px: float | None,
                 standard: str | None, min_area_px: int, save_prob: bool, progress: bool,
                 amp: str = "auto") -> dict[str, Any]:
    """Mask (+ probability, overlay, measurements) of one photo; its summary row."""
    img = read_image(path)
    m = choose_mode(mode, img.shape, tile)
    prob = predict_probability(model, img, mode=m, tile=tile, overlap=overlap, batch_size=batch_size,
                               tta=tta, device=str(dev), progress=None if progress else False, amp=amp)
    mask = prob >= threshold
    write_mask_png(out / f"{path.stem}{MASK_FILE}", mask)
    if save_prob:
        write_image_png(out / f"{path.stem}{PROB_FILE}", np.repeat((prob * 255).astype(np.uint8)[..., None], 3, 2))
    row: dict[str, Any] = {"photo": path.name, "width": img.shape[1], "height": img.shape[0], "mode": m,
                           "crack_area_share": float(mask.mean())}
    if measure:
        meas = measure_mask(mask, mm_per_px=mm_per_px, min_area_px=min_area_px, standard=standard)
        write_measurement(meas, out, path.stem, image=img, prob=prob)
        row.update({k: v for k, v in summary_row(meas, path.stem).items() if k not in row})
    else:
        write_image_png(out / f"{path.stem}{MEASUREMENT_FILES['overlay']}", overlay_mask(img, mask))
    return row


def predict(model: nn.Module, inputs: list[str | Path], out_dir: str | Path, *, mode: str = "auto",
            tile: int = 256, overlap: float = DEFAULT_OVERLAP, tta: bool = False, batch_size: int = 8,
            threshold: float | None = None, device: str = "auto", measure: bool = False,
            mm_per_px: float | None = None, standard: str | None = None, min_area_px: int = 20,
            save_prob: bool = False, progress: bool = True, resume: bool = False,
            amp: str = "auto") -> list[dict[str, Any]]:
    """Segment every photo; returns one summary row per photo (also written to ``summary.csv/.md``).
    ``threshold``: crack where probability ≥ it; ``None`` = the model's own (its adapter's calibrated
    threshold, else 0.5). ``tta`` averages the identity, horizontal and vertical flips. ``standard`` (with
    ``measure`` and a scale) grades each crack's width (:mod:`sac.measure.severity`). ``amp``: "auto" runs bf16
    on a GPU and on a CPU with native bf16 (:func:`sac.engine.runtime.cpu_has_native_bf16`), "bf16" everywhere,
    "off" float32.

    **Sharded** under ``torchrun`` (``WORLD_SIZE`` > 1; gloo on CPUs, NCCL on GPUs, one GPU per local rank):
    the photos, in the sorted order of :func:`collect_images`, are dealt round-robin to the ranks; each rank
    writes its photos' outputs into ``out_dir`` (a folder every node can see, for several machines) and rank 0
    writes the combined summary, in photo order, once every rank is done — the same files as one process.
    Each finished photo leaves ``<out>/.sac-rows/<stem>.json`` (its summary row and the settings it was made
    with); with ``resume`` photos whose row matches the current settings are skipped, so an interrupted run
    continues where it stopped.

    A photo that cannot be processed (a :class:`~sac.errors.SACError`: unreadable, truncated, too large, ...)
    does not stop the others: its row is ``{"photo", "error"}`` (in the summary too, :func:`failed_rows`),
    nothing of its outputs is left, and a resumed run tries it again."""
    photos = collect_images(inputs)
    if standard is not None:  # an unknown rule set or a missing scale fails before any inference
        check_gradable(standard, mm_per_px)
        measure = True
    out = Path(out_dir)
    output_dir(out)
    was_distributed = dist.is_available() and dist.is_initialized()
    maybe_init_distributed(device)
    rank, world, local_rank = dist_info()
    dev = resolve_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local_rank)
    threshold = model_threshold(model, threshold)
    model = model.to(dev).eval()
    model = fold_batchnorm(model, size=tile)  # an inference copy, conv → BatchNorm folded (same outputs, ~20 % faster)
    settings = {"model": describe_model(model), "threshold": threshold, "mode": mode, "tile": tile,
                "overlap": overlap, "tta": tta, "measure": measure, "mm_per_px": mm_per_px, "standard": standard,
                "min_area_px": min_area_px, "save_prob": save_prob, "amp": amp}
    rows_dir = out / ROWS_DIR
    mine = [p for i, p in enumerate(photos) if i % world == rank]
    todo = [p for p in mine if not (resume and _done(rows_dir / f"{p.stem}.json", settings))]
    # what a killed run of this rank's photos left mid-write (their final files were never touched)
    remove_temporaries(out, {f"{p.stem}{suffix}" for p in mine for suffix in PHOTO_OUTPUTS})
    remove_temporaries(rows_dir, {f"{p.stem}.json" for p in mine})
    with fast_layout(model, dev):  # the model's layout is converted once, not per photo
        for path in tqdm(todo, desc="predict" if world == 1 else f"predict (rank {rank}/{world})",
                         disable=not progress):
            try:
                row = _predict_one(model, path, out, dev, threshold, mode, tile, overlap, tta, batch_size, measure,
                                   mm_per_px, standard, min_area_px, save_prob, progress, amp)
            except BaseException as e:
                for suffix in PHOTO_OUTPUTS:  # nothing of this photo is left half-written
                    (out / f"{path.stem}{suffix}").unlink(missing_ok=True)
                if not isinstance(e, SACError) or isinstance(e, OutputError):
                    raise  # a full disk, an interrupt, a bug: the run stops (resumable: finished photos are kept)
                # the photo's own problem (unreadable, truncated, too large, ...): the others go on
                problem = e.problem if e.where == str(path) else str(e)
                atomic_write_json(rows_dir / f"{path.stem}.json",
                                  {"row": {"photo": path.name, "error": problem}, "settings": settings, "failed": True})
                if progress:
                    tqdm.write(f"skipped {e}")
                continue
            faults.point("predict.photo")
            atomic_write_json(rows_dir / f"{path.stem}.json", {"row": row, "settings": settings})
    if world > 1:
        dist.barrier()
    rows = [json.loads((rows_dir / f"{p.stem}.json").read_text())["row"] for p in photos]
    if rank == 0:
        write_summary(rows, out, title=f"Model: {describe_model(model)}")
    if world > 1:
        dist.barrier()
        if not was_distributed:
            dist.destroy_process_group()
    return rows


def _done(row_file: Path, settings: dict[str, Any]) -> bool:
    """A photo finished with these settings (its row file exists and says so; a failed photo is tried again)."""
    try:
        done = json.loads(row_file.read_text())
    except (OSError, ValueError):
        return False
    return done.get("settings") == settings and not done.get("failed")


def failed_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of :func:`predict` for photos that could not be processed (they carry ``error``)."""
    return [r for r in rows if "error" in r]
