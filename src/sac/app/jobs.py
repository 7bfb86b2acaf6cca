"""The app's work: uploads checked and stored, one inference queue, results at any threshold / scale / standard.

Everything lives under the app's own folder (``root``): ``jobs/<id>/`` holds ``meta.json`` (status, progress,
model, photo size), ``photo.<ext>`` (the upload, under a name the server chooses) and ``prob.npy`` (the
probability map, float16, kept so that a new threshold never re-runs the network). Job ids are random
hex strings checked against a pattern before they touch a path; no client-supplied name is ever used on disk.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sac.data.decode import open_header
from sac.data.io import read_image
from sac.engine import load_model, model_threshold
from sac.engine.fold import fold_batchnorm
from sac.engine.inference import predict_probability
from sac.engine.loading import BUNDLED, describe_model
from sac.engine.predict import choose_mode
from sac.errors import DataError, SACError
from sac.files import atomic_write_bytes, atomic_write_json
from sac.measure import Measurement, measure_mask, resolve_scale

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "BMP": ".bmp", "WEBP": ".webp"}


class UploadError(Exception):
    """An upload the app refuses; ``message`` is shown on the page (HTTP ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 64 * 2**20
    max_pixels: int = 100_000_000

    def to_dict(self) -> dict[str, Any]:
        return {"max_upload_mb": self.max_upload_bytes / 2**20, "max_megapixels": self.max_pixels / 1e6}


@dataclass(frozen=True)
class View:
    """What a result is computed at: threshold, scale (mm per pixel or None) and severity standard."""

    threshold: float
    mm_per_px: float | None
    standard: str | None

    @staticmethod
    def parse(threshold: float | None, mm_per_px: float | None, ref_px: float | None, ref_mm: float | None,
              standard: str | None, default_threshold: float) -> View:
        t = default_threshold if threshold is None else float(threshold)
        if not 0.0 < t < 1.0:
            raise UploadError(f"threshold must be between 0 and 1, got {t}")
        try:  # mm per pixel wins over a reference given with it (the page sends one of them)
            scale = resolve_scale(mm_per_px, *((None, None) if mm_per_px is not None else (ref_px, ref_mm)))
        except SACError as e:
            raise UploadError(str(e)) from e
        return View(round(t, 4), scale, standard or None)


class Models:
    """The models the page offers: the bundled ones whose weights are installed (loaded at start, which proves
    it), plus adapter files given to ``sac serve --model`` or found in ``<root>/models`` (loaded on first use)."""

    def __init__(self, root: Path, extra: list[str] | None = None):
        self.specs: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}  # bundled models left out, and why (weights not installed)
        self._cache: dict[str, Any] = {}
        for name in BUNDLED:
            try:
                self._cache[name] = fold_batchnorm(load_model(name))  # proves the weights are installed
                self.specs[name] = name
            except SACError as e:
                self.unavailable[name] = str(e)
        for p in [*(extra or []), *sorted(str(p) for p in (root / "models").glob("*.safetensors"))]:
            self.specs.setdefault(Path(p).stem, p)
        self._lock = threading.Lock()

    def names(self) -> list[dict[str, Any]]:
        return [{"name": n, "default": n == "default"} for n in self.specs]

    def check(self, name: str) -> None:
        if name not in self.specs:
            raise UploadError(f"unknown model {name!r}; this app offers: {', '.join(self.specs)}")

    def get(self, name: str):
        self.check(name)
        with self._lock:
            if name not in self._cache:
                self._cache[name] = fold_batchnorm(load_model(self.specs[name]))
            return self._cache[name]


class Jobs:
    """Stored uploads, the inference queue (one worker: the CPU is shared) and cached results."""

    def __init__(self, root: Path, models: Models, limits: Limits, device: str = "cpu", tile: int = 256):
        self.root, self.models, self.limits, self.device, self.tile = root, models, limits, device, tile
        self.dir = root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sac-infer")
        self._lock = threading.Lock()
        self._meta: dict[str, dict[str, Any]] = {}
        self._results: OrderedDict[tuple[str, View], tuple[Measurement, np.ndarray]] = OrderedDict()
        self._photos: OrderedDict[str, np.ndarray] = OrderedDict()
        for p in sorted(self.dir.glob("*/meta.json")):  # earlier runs of the app: the gallery
            try:
                meta = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if meta.get("status") in ("queued", "running"):
                meta.update(status="error", error="the app stopped before this photo was done; upload it again")
            self._meta[p.parent.name] = meta

    # ------------------------------------------------------------------ uploads
    def submit(self, data: bytes, filename: str, model: str) -> str:
        """Check and store an upload, queue its inference; returns the job id. Refusals raise UploadError."""
        self.models.check(model)
        if len(data) == 0:
            raise UploadError(f"{_display(filename)}: the file is empty")
        if len(data) > self.limits.max_upload_bytes:
            raise UploadError(f"{_display(filename)}: {len(data) / 2**20:.1f} MB is over the upload limit of "
                              f"{self.limits.max_upload_bytes / 2**20:.0f} MB", status=413)
        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format
                w, h = im.size
        except Image.DecompressionBombError as e:
            raise UploadError(f"{_display(filename)}: refused, the image claims more pixels than can be decoded "
                              f"safely (a decompression bomb?); the limit is "
                              f"{self.limits.max_pixels / 1e6:.0f} megapixels", status=413) from e
        except (OSError, ValueError, SyntaxError) as e:
            raise UploadError(f"{_display(filename)}: {_header_problem(data)}") from e
        if fmt not in FORMATS:
            raise UploadError(f"{_display(filename)}: {fmt} images are not accepted; use JPEG, PNG, TIFF, BMP or WebP")
        if w * h > self.limits.max_pixels:
            raise UploadError(f"{_display(filename)}: {w}×{h} = {w * h / 1e6:.0f} megapixels is over the limit of "
                              f"{self.limits.max_pixels / 1e6:.0f} megapixels", status=413)
        job = uuid.uuid4().hex
        folder = self.dir / job
        folder.mkdir()
        photo = folder / f"photo{FORMATS[fmt]}"
        atomic_write_bytes(photo, data)
        try:
            img = read_image(photo)  # fully decoded: truncated / corrupt files fail here, not in the worker
        except SACError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise UploadError(f"{_display(filename)}: {e.args[-1] if e.args else e}") from e
        h, w = img.shape[:2]  # upright (EXIF orientation applied)
        meta = {"id": job, "name": _display(filename), "photo": photo.name, "model": model, "width": w, "height": h,
                "status": "queued", "progress": [0, 0], "created": time.time(), "error": None, "seconds": None}
        self._save(meta)
        self._pool.submit(self._run, job, img)
        return job

    def _run(self, job: str, img: np.ndarray) -> None:
        meta = self.meta(job)
        t0 = time.perf_counter()
        try:
            model = self.models.get(meta["model"])
            meta.update(status="running", model_description=describe_model(model),
                        threshold=model_threshold(model))
            self._save(meta)
            mode = choose_mode("auto", img.shape, self.tile)

            def tick(done: int, total: int) -> None:
                meta["progress"] = [done, total]
                self._save(meta, disk=done == total)

            prob = predict_probability(model, img, mode=mode, tile=self.tile, device=self.device, progress=False,
                                       on_tiles=tick)
            buf = io.BytesIO()
            np.save(buf, prob.astype(np.float16))
            atomic_write_bytes(self.dir / job / "prob.npy", buf.getvalue())
            meta.update(status="done", mode=mode, seconds=time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - any failure is the job's state, shown on the page
            meta.update(status="error", error=f"inference failed: {e}")
        self._save(meta)

    def _save(self, meta: dict[str, Any], disk: bool = True) -> None:
        with self._lock:
            self._meta[meta["id"]] = meta
        if disk:
            atomic_write_json(self.dir / meta["id"] / "meta.json", meta)

    # ------------------------------------------------------------------ reading
    def meta(self, job: str) -> dict[str, Any]:
        if not JOB_ID.match(job or ""):
            raise UploadError("no such job", status=404)
        with self._lock:
            if job not in self._meta:
                raise UploadError("no such job", status=404)
            return self._meta[job]

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted(self._meta.values(), key=lambda m: -m["created"])

    def photo(self, job: str) -> np.ndarray:
        """The decoded photo; the last few are kept, so a slider move does not decode a 12 MP JPEG again."""
        path = self.dir / job / self.meta(job)["photo"]
        with self._lock:
            if job in self._photos:
                self._photos.move_to_end(job)
                return self._photos[job]
        img = read_image(path)
        with self._lock:
            self._photos[job] = img
            while len(self._photos) > 2:
                self._photos.popitem(last=False)
        return img

    def result(self, job: str, view: View) -> tuple[Measurement, np.ndarray]:
        """The measurement at ``view`` and the probability map (cached: a few recent views per job)."""
        meta = self.meta(job)
        if meta["status"] != "done":
            raise UploadError(f"this photo is {meta['status']}" + (f": {meta['error']}" if meta["error"] else ""),
                              status=409)
        key = (job, view)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        prob = np.load(self.dir / job / "prob.npy").astype(np.float32)
        try:
            meas = measure_mask(prob >= view.threshold, mm_per_px=view.mm_per_px, standard=view.standard)
        except SACError as e:
            raise UploadError(str(e)) from e
        with self._lock:
            self._results[key] = (meas, prob)
            while len(self._results) > 8:
                self._results.popitem(last=False)
        return meas, prob

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _header_problem(data: bytes) -> str:
    """What SAC's own reader says about bytes Pillow cannot open (the words ``sac predict`` would use)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "upload"
        path.write_bytes(data)
        try:
            open_header(path, "image").close()
        except DataError as e:
            return e.problem
    return "not an image this app can read"


def _display(filename: str) -> str:
    """The client's file name, for messages and the gallery only (never a path): its last part, printable."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "upload"
