"""The app's API and its safety (no browser): uploads checked, limits, bombs, paths, concurrent jobs kept apart,
results at any threshold from the kept probability map, files the same as the CLI's."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the app needs its extra: pip install 'segment-any-crack[app]'")
from fastapi.testclient import TestClient  # noqa: E402

from sac.app import Limits, create_app  # noqa: E402
from sac.data import read_mask  # noqa: E402
from sac.measure import measure_mask  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


@pytest.fixture(scope="module")
def app_root(tmp_path_factory):
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def client(app_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("predicted")
    (folder / "a_mask.png").write_bytes(b"\x89PNG fake")
    (folder / "a_cracks.csv").write_text("id\n")
    app = create_app(app_root, limits=Limits(max_upload_bytes=2 * 2**20, max_pixels=20_000_000),
                     open_folders=[folder])
    with TestClient(app) as c:
        yield c


def _wait(client, job: str) -> dict:
    for _ in range(600):
        m = client.get(f"/api/jobs/{job}").json()
        if m["status"] in ("done", "error"):
            return m
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def _png_header(w: int, h: int) -> bytes:
    """A tiny PNG that claims w×h pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _gif() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    return buf.getvalue()


def test_info_lists_installed_models_and_standards(client):
    info = client.get("/api/info").json()
    assert info["models"][0] == {"name": "default", "default": True}
    assert any(s["key"] == "bre251" for s in info["standards"])
    assert info["limits"] == {"max_upload_mb": 2.0, "max_megapixels": 20.0}


def test_two_photos_at_once_are_kept_apart_and_match_the_cli(client, app_root):
    photos = sorted(EXAMPLES.glob("*.jpg"))[:2]
    ids = [client.post("/api/jobs", files={"file": (p.name, p.read_bytes(), "image/jpeg")}).json()["id"]
           for p in photos]
    assert len(set(ids)) == 2
    for job, photo in zip(ids, photos, strict=True):
        meta = _wait(client, job)
        assert meta["status"] == "done" and meta["name"] == photo.name
        assert (app_root / "jobs" / job / "prob.npy").is_file()
        r = client.get(f"/api/jobs/{job}/result", params={"threshold": 0.4, "mm_per_px": 0.1}).json()
        mask_png = client.get(f"/api/jobs/{job}/file/mask.png", params={"threshold": 0.4}).content
        path = app_root / f"{job}_mask.png"
        path.write_bytes(mask_png)
        ref = measure_mask(read_mask(path), mm_per_px=0.1)
        assert r["totals"]["count"] == ref.totals["count"]
        assert r["totals"]["total_length_mm"] == pytest.approx(ref.totals["total_length_mm"])
    a, b = (np.load(app_root / "jobs" / j / "prob.npy") for j in ids)
    assert a.shape == b.shape and not np.array_equal(a, b)  # each job its own photo's result


def test_threshold_scale_and_standard_change_results_not_the_network(client, app_root):
    photo = sorted(EXAMPLES.glob("*.jpg"))[0]
    job = client.post("/api/jobs", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")}).json()["id"]
    _wait(client, job)
    stamp = (app_root / "jobs" / job / "prob.npy").stat().st_mtime_ns
    lo = client.get(f"/api/jobs/{job}/result", params={"threshold": 0.1}).json()["totals"]
    hi = client.get(f"/api/jobs/{job}/result", params={"threshold": 0.9}).json()["totals"]
    assert lo["crack_area_px"] > hi["crack_area_px"]
    graded = client.get(f"/api/jobs/{job}/result", params={"ref_px": 100, "ref_mm": 25, "standard": "bre251"}).json()
    assert graded["mm_per_px"] == pytest.approx(0.25) and graded["standard"] == "bre251"
    assert all("severity" in c for c in graded["cracks"])
    no_scale = client.get(f"/api/jobs/{job}/result", params={"standard": "bre251"})
    assert no_scale.status_code == 400 and "need the photo's scale" in no_scale.json()["detail"]
    assert (app_root / "jobs" / job / "prob.npy").stat().st_mtime_ns == stamp
    for kind, start in (("overlay.png", b"\x89PNG"), ("report.html", b"<!doctype html>"), ("cracks.csv", b"id,")):
        body = client.get(f"/api/jobs/{job}/file/{kind}").content
        assert body.startswith(start), kind
    assert b"data:image/png;base64," in client.get(f"/api/jobs/{job}/file/report.html").content  # self-contained


@pytest.mark.parametrize(("name", "data", "status", "needle"), [
    ("notes.jpg", b"just text", 400, "not an image"),
    ("empty.png", b"", 400, "is empty"),
    ("bomb.png", _png_header(40_000, 40_000), 413, "decompression bomb"),
    ("large.png", _png_header(5_000, 5_000), 413, "25 megapixels is over the limit of 20"),
    ("big.jpg", b"\xff" * (3 * 2**20), 413, "over the upload limit"),
    ("doc.gif", _gif(), 400, "GIF images are not accepted"),
])
def test_bad_uploads_are_refused_with_a_message(client, app_root, name, data, status, needle):
    before = set((app_root / "jobs").iterdir())
    r = client.post("/api/jobs", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status and needle in r.json()["detail"] and name in r.json()["detail"]
    assert set((app_root / "jobs").iterdir()) == before  # nothing kept


def test_truncated_image_is_refused(client):
    data = (sorted(EXAMPLES.glob("*.jpg"))[0]).read_bytes()
    r = client.post("/api/jobs", files={"file": ("cut.jpg", data[: len(data) // 3], "image/jpeg")})
    assert r.status_code == 400 and "cut.jpg" in r.json()["detail"]


def test_no_client_path_reaches_the_disk(client, app_root):
    photo = sorted(EXAMPLES.glob("*.jpg"))[0]
    r = client.post("/api/jobs", files={"file": ("../../../../tmp/evil.jpg", photo.read_bytes(), "image/jpeg")})
    job = r.json()["id"]
    assert _wait(client, job)["name"] == "evil.jpg"
    assert sorted(p.name for p in (app_root / "jobs" / job).iterdir()) == ["meta.json", "photo.jpg", "prob.npy"]
    for bad in ("..%2F..%2Fetc", "0" * 31 + "g", "../meta"):
        assert client.get(f"/api/jobs/{bad}").status_code == 404
    assert client.get(f"/api/jobs/{job}/file/..%2Fmeta.json").status_code == 404
    assert client.get("/api/folders/0/a_cracks.csv").status_code == 200  # listed by the server
    assert client.get("/api/folders/0/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/api/folders/5/a_cracks.csv").status_code == 404
    assert client.post("/api/jobs", files={"file": ("x.jpg", photo.read_bytes(), "image/jpeg")},
                       data={"model": "/etc/passwd"}).status_code == 400


def test_gallery_survives_a_restart(app_root, client):
    jobs = client.get("/api/jobs").json()
    assert jobs and all(j["status"] in ("done", "error") for j in jobs)
    again = create_app(app_root)
    with TestClient(again) as c2:
        assert {j["id"] for j in c2.get("/api/jobs").json()} == {j["id"] for j in jobs}


def test_report_html_is_self_contained():
    from sac.measure.report import html_report

    m = np.zeros((64, 64), bool)
    m[30:34, 5:60] = True
    doc = html_report(measure_mask(m, mm_per_px=0.5, standard="aci224r:humid"), np.zeros((64, 64, 3), np.uint8),
                      "<site>.jpg", model="m", threshold=0.5)
    assert "&lt;site&gt;.jpg" in doc and "ACI 224R" in doc and "src='data:image/png;base64," in doc
    assert "http" not in doc.replace("http-equiv", "")
    io.StringIO(doc)
