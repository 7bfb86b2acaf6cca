"""Hostile inputs at every entry point (issue 17): the catalogue of ``tests/hostile.py`` through the Python API,
``sac predict`` (one photo, a batch with bad photos among good ones, resume), ``sac measure``, ``sac data check``,
``sac evaluate``, ``sac train`` and the web app; awkward folders and paths; outputs that cannot be written.

Each bad case: one line ``error: <file>: <problem>`` (or the batch's list of such lines), a non-zero exit, no
traceback, nothing half-written left behind. Each valid case: read at the right size (EXIF rotation applied,
masks aligned after it). The CLI runs in this process (``sac.cli.main``): an uncaught exception fails the test.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostile import Case, encode, exif_rotated_jpeg, image_cases, mask_cases, write, write_pairs
from sac.cli import main as cli_main
from sac.data import read_image, read_mask
from sac.errors import SACError

IMAGES = image_cases()
GOOD = [c for c in IMAGES if c.ok]
BAD = [c for c in IMAGES if not c.ok]
MASKS = mask_cases()
ROOT = Path(__file__).resolve().parents[1]


def _ids(cases: list[Case]) -> list[str]:
    return [f"{c.category}:{c.name}" for c in cases]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files of interrupted atomic writes."""
    return [p for p in folder.rglob(".*.tmp*")]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Every image case in one folder whose path has spaces and non-ASCII letters."""
    folder = tmp_path_factory.mktemp("hostile") / "Fotos über Risse 写真"
    write(folder, IMAGES)
    return folder


# ---------------------------------------------------------------------------------------------- Python API
@pytest.mark.parametrize("case", IMAGES, ids=_ids(IMAGES))
def test_api_read_image(case: Case, photos: Path) -> None:
    path = photos / case.name
    if case.ok:
        img = read_image(path)
        assert img.dtype == np.uint8 and img.shape == (*case.shape, 3)
    else:
        with pytest.raises(SACError) as e:
            read_image(path)
        assert str(path) in str(e.value) and case.needle in str(e.value)


# ---------------------------------------------------------------------------------------------- sac predict
def test_cli_predict_batch_processes_the_good_photos_and_lists_the_bad(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, stdout, err = _cli(capsys, "predict", photos, "--out", out, "--measure", "--quiet")
    assert code == 1
    assert f"error: {len(BAD)} of {len(IMAGES)} photos could not be processed" in err
    for c in GOOD:
        mask = read_mask(out / f"{Path(c.name).stem}_mask.png")
        assert mask.shape == c.shape, c.name  # EXIF-rotated photos: the mask is the rotated photo's
        assert (out / f"{Path(c.name).stem}_overlay.png").is_file()
    for c in BAD:
        line = next(ln for ln in err.splitlines() if ln.strip().startswith(f"{c.name}:"))
        assert c.needle in line, line
        assert not list(out.glob(f"{Path(c.name).stem}_*")), c.name  # nothing half-written
    summary = (out / "summary.md").read_text()
    assert all(c.name in summary for c in IMAGES) and "error" in summary
    assert not _leftovers(out)

    # resume: finished photos are skipped, the failed ones tried again (one of them repaired meanwhile)
    fixed = BAD[0]
    (photos / fixed.name).write_bytes(encode(Image.new("RGB", (50, 30), (90, 90, 90)), "PNG"))
    try:
        stamp = (out / f"{Path(GOOD[0].name).stem}_mask.png").stat().st_mtime_ns
        code, _, err = _cli(capsys, "predict", photos, "--out", out, "--measure", "--quiet", "--resume")
        assert code == 1 and f"{len(BAD) - 1} of {len(IMAGES)} photos" in err
        assert read_mask(out / f"{Path(fixed.name).stem}_mask.png").shape == (30, 50)
        assert (out / f"{Path(GOOD[0].name).stem}_mask.png").stat().st_mtime_ns == stamp
    finally:
        (photos / fixed.name).write_bytes(fixed.data)


@pytest.mark.parametrize("case", BAD[::3], ids=_ids(BAD[::3]))
def test_cli_predict_one_bad_photo(case: Case, photos: Path, tmp_path: Path, capsys) -> None:
    code, _, err = _cli(capsys, "predict", photos / case.name, "--out", tmp_path / "o", "--quiet")
    assert code == 1 and f"{case.name}: " in err and case.needle in err
    assert not list((tmp_path / "o").glob("*.png"))


def test_cli_predict_awkward_inputs(tmp_path: Path, capsys) -> None:
    # an empty folder, a folder of anything but photos, a missing path
    (tmp_path / "empty").mkdir()
    code, _, err = _cli(capsys, "predict", tmp_path / "empty", "--out", tmp_path / "o")
    assert code == 2 and "holds no photos" in err and "empty" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    (other / "sub.jpg").mkdir()  # a folder named like a photo
    code, _, err = _cli(capsys, "predict", other, "--out", tmp_path / "o")
    assert code == 2 and "holds no photos" in err
    code, _, err = _cli(capsys, "predict", tmp_path / "nope.jpg", "--out", tmp_path / "o")
    assert code == 2 and "nope.jpg: no such file or folder" in err

    # a mixed folder: a photo, a text file, a broken link and a link loop named like photos
    mixed = tmp_path / "mixed"
    write(mixed, [c for c in GOOD if c.name == "rgb_png.png"])
    (mixed / "readme.txt").write_text("not a photo")
    (mixed / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (mixed / "loop_a.png").symlink_to(mixed / "loop_b.png")
    (mixed / "loop_b.png").symlink_to(mixed / "loop_a.png")
    code, _, err = _cli(capsys, "predict", mixed, "--out", tmp_path / "mo", "--quiet")
    assert code == 1 and "3 of 4 photos could not be processed" in err
    assert "gone.jpg: " in err and "loop_a.png: " in err and "loop_b.png: " in err
    assert (tmp_path / "mo" / "rgb_png_mask.png").is_file()
    code, _, err = _cli(capsys, "predict", mixed / "loop_a.png", "--out", tmp_path / "mo2")
    assert code == 2 and "loop_a.png" in err and "symbolic link" in err


def test_cli_predict_outputs_that_cannot_be_written(photos: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    # the output folder is a file
    afile = tmp_path / "out.txt"
    afile.write_text("x")
    code, _, err = _cli(capsys, "predict", photos / "rgb_png.png", "--out", afile)
    assert code == 2 and f"error: {afile}: is a file, not a folder" in err
    # a read-only folder (simulated: root may write anywhere) — the file named, nothing left behind
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, _, err = _cli(capsys, "predict", photos / "rgb_png.png", "--out", tmp_path / "ro")
    assert code == 2 and "rgb_png_mask.png: cannot write it: Permission denied" in err
    assert not list((tmp_path / "ro").glob("rgb_png*"))


def _no_bigger_files_than(limit: int):
    def set_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def test_cli_predict_on_a_full_disk_names_the_file_and_leaves_nothing_half_written(photos: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "full"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "sac.cli", "predict", str(ROOT / "examples" / "images"), "--out",
                        str(out), "--measure", "--quiet"], preexec_fn=_no_bigger_files_than(20_000),
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "cannot write it: File too large" in r.stderr and str(out) in r.stderr
    assert not _leftovers(out)
    rows = list((out / ".sac-rows").glob("*.json")) if (out / ".sac-rows").is_dir() else []
    for stem in {p.name.split("_mask.png")[0] for p in out.glob("*_mask.png")}:
        assert (out / ".sac-rows" / f"{stem}.json") in rows  # an output without its row would be half a photo


# ---------------------------------------------------------------------------------------------- sac measure
@pytest.mark.parametrize("stem, category, data, ok, needle", [m for m in MASKS if m[2] is not None],
                         ids=[f"{m[1]}:{m[0]}" for m in MASKS if m[2] is not None])
def test_cli_measure_masks(stem, category, data, ok, needle, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"{stem}.png"
    path.write_bytes(data)
    code, out, err = _cli(capsys, "measure", path, "--json")
    if ok or category == "other-size":  # a mask alone has no size to disagree with
        assert code == 0 and '"count"' in out
    else:
        assert code == 2 and f"error: {path}: " in err and needle in err


def test_cli_measure_with_a_photo_of_another_size(tmp_path: Path, capsys) -> None:
    mask, photo = tmp_path / "m.png", tmp_path / "p.png"
    mask.write_bytes(MASKS[0][2])
    photo.write_bytes(encode(Image.new("RGB", (30, 20)), "PNG"))
    code, _, err = _cli(capsys, "measure", mask, "--image", photo, "--out", tmp_path / "o")
    assert code == 2 and f"error: {mask}: mask is 60×40 but its image {photo} is 30×20" in err
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


# ---------------------------------------------------------------------------------------------- datasets
@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory) -> Path:
    """Every mask case as a pair, an image without a mask and a mask without an image."""
    root = tmp_path_factory.mktemp("pairs") / "data set ü"
    write_pairs(root, [(stem, data) for stem, _, data, _, _ in MASKS] + [("no_mask", None)])
    (root / "masks" / "no_image.png").write_bytes(MASKS[0][2])
    return root


def test_cli_data_check_lists_every_bad_pair(bad_dataset: Path, capsys) -> None:
    code, out, err = _cli(capsys, "data", "check", bad_dataset)
    assert code == 1
    text = out + err
    for stem, _category, _, ok, needle in MASKS:
        if not ok:
            line = next((ln for ln in text.splitlines() if f"{stem}." in ln), "")
            assert needle in line.lower() or needle in text, (stem, line)
    assert "no_mask" in text and "no_image" in text


@pytest.mark.parametrize("stem, category, data, ok, needle", [m for m in MASKS if not m[3]][:4],
                         ids=[f"{m[1]}:{m[0]}" for m in MASKS if not m[3]][:4])
def test_cli_evaluate_and_train_refuse_a_bad_pair(stem, category, data, ok, needle, tmp_path: Path, capsys) -> None:
    root = write_pairs(tmp_path / "d", [("good", MASKS[0][2]), (stem, data)])
    code, _, err = _cli(capsys, "evaluate", "--model", "default", "--data", root, "--out", tmp_path / "e")
    assert code == 2 and f"{stem}.png" in err and needle in err
    code, _, err = _cli(capsys, "train", "--train", root, "--val", root, "--epochs", "1", "--device", "cpu",
                        "--out", tmp_path / "run")
    assert code == 2 and f"{stem}.png" in err and needle in err
    assert not list((tmp_path / "run").rglob("*.safetensors")) if (tmp_path / "run").exists() else True


def test_exif_rotated_pair_is_aligned(tmp_path: Path, capsys) -> None:
    """A photo stored 40×60 with EXIF orientation 6 is shown 60×40; its mask, drawn on what is shown, pairs."""
    root = tmp_path / "rot"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "images" / "r.jpg").write_bytes(exif_rotated_jpeg(40, 60))
    mask = np.zeros((60, 40), np.uint8)
    mask[:, 19] = 255  # the stored photo's dark row 20 of 40, turned clockwise: column 39 - 20
    (root / "masks" / "r.png").write_bytes(encode(Image.fromarray(mask), "PNG"))
    code, out, _ = _cli(capsys, "data", "check", root)
    assert code == 0
    img = read_image(root / "images" / "r.jpg")
    assert img.shape[:2] == (60, 40)
    dark = img.mean(axis=(0, 2)).argmin()  # the darkest column of the photo as shown is the mask's
    assert dark == np.flatnonzero(read_mask(root / "masks" / "r.png").any(0))[0] == 19


# ---------------------------------------------------------------------------------------------- the web app
@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the app needs its extra: pip install 'segment-any-crack[app]'")
    from fastapi.testclient import TestClient

    from sac.app import create_app

    with TestClient(create_app(tmp_path_factory.mktemp("app"))) as c:
        yield c


@pytest.mark.parametrize("case", IMAGES, ids=_ids(IMAGES))
def test_app_upload(case: Case, client) -> None:
    r = client.post("/api/jobs", files={"file": (case.name, case.data, "application/octet-stream")})
    if case.ok:
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        for _ in range(600):
            meta = client.get(f"/api/jobs/{job}").json()
            if meta["status"] in ("done", "error"):
                break
            import time

            time.sleep(0.05)
        assert meta["status"] == "done", meta
        assert (meta["height"], meta["width"]) == case.shape
    else:
        assert r.status_code in (400, 413) and case.name in r.json()["detail"] and case.needle in r.json()["detail"]
