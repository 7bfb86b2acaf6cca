"""The FastAPI app behind ``sac serve``: a hand-written page (``static/``) and a small JSON API.

    GET  /                              the page
    GET  /api/info                      models (installed only), severity standards, upload limits
    POST /api/jobs                      multipart ``file`` (+ ``model``): checked, stored, queued → ``{"id"}``
    GET  /api/jobs                      every job of this app folder, newest first (the gallery)
    GET  /api/jobs/{id}                 status and tile progress
    GET  /api/jobs/{id}/result          totals + crack table at ?threshold=&mm_per_px= | ref_px=&ref_mm=&standard=
    GET  /api/jobs/{id}/file/{kind}     photo.png | mask.png | overlay.png | cracks.csv | cracks.json |
                                        centrelines.geojson | report.html, at the same query
    GET  /api/folders                   folders given to ``sac serve --open`` (written by ``sac predict``)
    GET  /api/folders/{i}/{name}        one file of such a folder, looked up in the server's own listing

It calls the same public functions as the CLI (``predict_probability``, ``measure_mask``, the exports); only
the threshold, scale and standard change per request, never the network's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from sac.app.jobs import Jobs, Limits, Models, UploadError, View
from sac.data.io import is_image_file
from sac.measure import standards_table
from sac.measure.export import crack_columns, crack_csv, crack_rows, geojson, render_overlay
from sac.measure.report import html_report, png_bytes

STATIC = Path(__file__).parent / "static"
KINDS = {"photo.png": "image/png", "mask.png": "image/png", "overlay.png": "image/png", "cracks.csv": "text/csv",
         "cracks.json": "application/json", "centrelines.geojson": "application/geo+json",
         "report.html": "text/html"}


def _folder_listing(folders: list[Path]) -> list[dict[str, Any]]:
    """Every photo result in the ``--open`` folders: the files ``sac predict`` wrote, by stem."""
    out = []
    for i, f in enumerate(folders):
        files = {p.name: p for p in sorted(f.iterdir()) if p.is_file()}
        stems = sorted({n[: -len("_mask.png")] for n in files if n.endswith("_mask.png")})
        photos = [{"stem": s, "files": [n for n in files if n.startswith(s + "_")]} for s in stems]
        out.append({"index": i, "name": f.name, "photos": photos, "_files": files,
                    "summary": "summary.md" in files})
    return out


def create_app(root: str | Path, *, models: list[str] | None = None, open_folders: list[str | Path] | None = None,
               limits: Limits | None = None, device: str = "cpu") -> FastAPI:
    """The app for one app folder ``root`` (uploads and results stay there)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    limits = limits or Limits()
    jobs = Jobs(root, Models(root, models), limits, device=device)
    folders = _folder_listing([Path(f) for f in (open_folders or [])])
    app = FastAPI(title="Segment Any Crack", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jobs = jobs

    @app.exception_handler(UploadError)
    async def _refused(_request: Request, e: UploadError) -> JSONResponse:
        return JSONResponse({"detail": e.message}, status_code=e.status)

    @app.exception_handler(Exception)
    async def _failed(_request: Request, e: Exception) -> JSONResponse:  # never a stack trace on the page
        return JSONResponse({"detail": f"the app could not do this: {type(e).__name__}: {e}"}, status_code=500)

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {"models": jobs.models.names(), "unavailable": jobs.models.unavailable,
                "standards": standards_table(), "limits": limits.to_dict()}

    @app.post("/api/jobs", status_code=202)
    async def upload(request: Request, file: UploadFile = File(...), model: str = Form("default")) -> dict[str, Any]:
        size = int(request.headers.get("content-length") or 0)
        if size > limits.max_upload_bytes + 2**20:  # refuse before reading a huge body
            raise UploadError(f"{file.filename}: {size / 2**20:.1f} MB is over the upload limit of "
                              f"{limits.max_upload_bytes / 2**20:.0f} MB", status=413)
        data = await file.read(limits.max_upload_bytes + 1)
        job = jobs.submit(data, file.filename or "upload", model)
        return {"id": job}

    @app.get("/api/jobs")
    def list_jobs() -> list[dict[str, Any]]:
        return jobs.list()

    @app.get("/api/jobs/{job}")
    def job_status(job: str) -> dict[str, Any]:
        return jobs.meta(job)

    def _view(job: str, threshold: float | None, mm_per_px: float | None, ref_px: float | None,
              ref_mm: float | None, standard: str | None) -> View:
        meta = jobs.meta(job)
        return View.parse(threshold, mm_per_px, ref_px, ref_mm, standard, meta.get("threshold", 0.5))

    @app.get("/api/jobs/{job}/result")
    def result(job: str, threshold: float | None = None, mm_per_px: float | None = None, ref_px: float | None = None,
               ref_mm: float | None = None, standard: str | None = None) -> dict[str, Any]:
        view = _view(job, threshold, mm_per_px, ref_px, ref_mm, standard)
        meas, prob = jobs.result(job, view)
        cols = crack_columns(meas, confidence=True)
        note = None
        if view.standard is None:
            note = "choose a standard to grade the cracks"
        return {"threshold": view.threshold, "mm_per_px": meas.mm_per_px, "unit": meas.unit,
                "standard": meas.standard, "severity_note": note, "totals": meas.totals,
                "columns": cols, "cracks": crack_rows(meas, prob)}

    @app.get("/api/jobs/{job}/file/{kind}")
    def job_file(job: str, kind: str, threshold: float | None = None, mm_per_px: float | None = None,
                 ref_px: float | None = None, ref_mm: float | None = None, standard: str | None = None,
                 preview: int = 0) -> Response:
        if kind not in KINDS:
            raise UploadError(f"unknown file {kind!r}; one of {', '.join(KINDS)}", status=404)
        meta = jobs.meta(job)
        stem = Path(meta["name"]).stem or "photo"
        headers = {"Content-Disposition": f'attachment; filename="{_ascii(stem)}_{kind}"'} if not preview else {}
        if kind == "photo.png":
            return Response(png_bytes(jobs.photo(job), 2048 if preview else None, 1), media_type=KINDS[kind])
        view = _view(job, threshold, mm_per_px, ref_px, ref_mm, standard)
        meas, prob = jobs.result(job, view)
        side = 2048 if preview else None
        if kind == "mask.png":
            body = png_bytes((prob >= view.threshold).astype(np.uint8) * 255, side, 1)
        elif kind == "overlay.png":
            body = png_bytes(render_overlay(meas, jobs.photo(job)), side, 1)
        elif kind == "cracks.csv":
            body = crack_csv(meas, prob).encode()
        elif kind == "cracks.json":
            body = json.dumps({"photo": meta["name"], **meas.to_dict(polylines=True)}).encode()
        elif kind == "centrelines.geojson":
            body = json.dumps(geojson(meas, stem, prob)).encode()
        else:
            body = html_report(meas, jobs.photo(job), meta["name"], model=meta.get("model_description", ""),
                               threshold=view.threshold, prob=prob).encode()
        return Response(body, media_type=KINDS[kind], headers=headers)

    @app.get("/api/folders")
    def list_folders() -> list[dict[str, Any]]:
        return [{k: v for k, v in f.items() if not k.startswith("_")} for f in folders]

    @app.get("/api/folders/{index}/{name}")
    def folder_file(index: int, name: str) -> FileResponse:
        if not 0 <= index < len(folders) or name not in folders[index]["_files"]:
            raise UploadError("no such file", status=404)
        path = folders[index]["_files"][name]  # from the server's own listing, never from the request
        media = "image/png" if is_image_file(path) else None
        return FileResponse(path, media_type=media)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _ascii(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)[:80] or "photo"
