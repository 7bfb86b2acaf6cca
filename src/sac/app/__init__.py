"""``sac serve``: a local web page to segment, review and measure photos (``pip install 'segment-any-crack[app]'``).

FastAPI and a small hand-written page (``static/``), chosen over Gradio because the page needs exactly one
behaviour Gradio makes awkward — a threshold slider that re-measures from the kept probability map without
re-running the network, with tables, downloads and errors placed where an inspector looks — and because a
plain HTML page with stable element ids gives a clean, fast browser test (Playwright + Debian's chromium).
The server only calls the public functions the CLI calls (``sac.engine.inference.predict_probability``,
``sac.measure.measure_mask``, the exports); see :mod:`sac.app.server` for the API and :mod:`sac.app.jobs` for
the upload checks, the inference queue and where files live.
"""

from __future__ import annotations

from sac.app.jobs import Limits, UploadError


def create_app(*args, **kwargs):
    """:func:`sac.app.server.create_app` (imported on first use: FastAPI is an optional extra)."""
    from sac.app.server import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["Limits", "UploadError", "create_app"]
