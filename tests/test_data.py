"""Tests of sac.data: readers, sample sources, CrackDataset, check_dataset.

Synthetic files are built in ``tmp_path``; tests marked ``shared_data`` use the real collection
(``$SAC_DATA``) and skip when it is absent.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

import sac.data.dataset as datasets_mod
from sac.data import (
    CrackDataset,
    Sample,
    check_dataset,
    folder_samples,
    format_report,
    image_size,
    omnicrack_samples,
    parse_spec,
    read_image,
    read_mask,
    resize_mask,
    samples_from,
    shared_samples,
    write_image_png,
    write_mask_png,
)
from sac.errors import ConfigError, DataError

# --------------------------------------------------------------------------------------------------
# helpers


def _rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _crack(h: int = 24, w: int = 32, col: int = 5) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:, col : col + 2] = True
    m[h // 2, :] = True
    return m


def _make_pair(root: Path, stem: str, h: int = 24, w: int = 32, ext: str = ".png", seed: int = 0) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(_rgb(h, w, seed)).save(root / "images" / f"{stem}{ext}")
    write_mask_png(root / "masks" / f"{stem}.png", _crack(h, w))


def _raises_data_error(fn, *args, match: str, where: Path | None = None, **kwargs) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        fn(*args, **kwargs)
    if where is not None:
        assert info.value.where == str(where), info.value
    return info.value


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------------
# read_image


def test_read_image_rgb_jpeg_and_png(tmp_path: Path) -> None:
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3)
    np.testing.assert_array_equal(out, a)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    out = read_image(tmp_path / "a.jpg")
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8


def test_read_image_16bit_grey_png_and_tiff(tmp_path: Path) -> None:
    a16 = np.array([[0, 257, 257 * 128], [65535, 257 * 200, 1000]], dtype=np.uint16)
    for name in ("g16.png", "g16.tif"):
        Image.fromarray(a16).save(tmp_path / name)
        assert Image.open(tmp_path / name).mode.startswith("I;16")
        out = read_image(tmp_path / name)
        assert out.shape == (2, 3, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out[..., 0], [[0, 1, 128], [255, 200, 4]])
        np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_read_image_16bit_rgb_png_keeps_channel_order(tmp_path: Path) -> None:
    rgb16 = np.zeros((4, 4, 3), np.uint16)
    rgb16[..., 0] = 65535  # red
    rgb16[..., 2] = 257 * 100  # some blue
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    out = read_image(tmp_path / "c16.png")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [255, 0, 100])


def test_read_image_float_and_int32_tiff(tmp_path: Path) -> None:
    f = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    Image.fromarray(f, mode="F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif")[..., 1], [[0, 128], [255, 64]])
    i32 = np.array([[0, 65535], [257, 257 * 10]], np.int32)
    Image.fromarray(i32, mode="I").save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    np.testing.assert_array_equal(read_image(tmp_path / "i.tif")[..., 0], [[0, 255], [1, 10]])


def test_read_image_grey_1bit_palette(tmp_path: Path) -> None:
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(g, mode="L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)

    Image.fromarray(np.array([[True, False]])).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png")[0], [[255, 255, 255], [0, 0, 0]])

    p = Image.fromarray(np.array([[0, 1, 2]], np.uint8), mode="P")
    p.putpalette([10, 20, 30, 200, 0, 0, 0, 255, 0])
    p.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png")[0], [[10, 20, 30], [200, 0, 0], [0, 255, 0]])


def test_read_image_rgba_and_la_composited_on_black(tmp_path: Path) -> None:
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 128], [200, 100, 50, 0]]], np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out[0, 0], [200, 100, 50])
    np.testing.assert_array_equal(out[0, 1], [100, 50, 25])  # × 128/255, rounded
    np.testing.assert_array_equal(out[0, 2], [0, 0, 0])  # fully transparent → black, not white

    la = np.array([[[255, 255], [255, 0]]], np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png")[0], [[255, 255, 255], [0, 0, 0]])


def test_read_image_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    out = read_image(tmp_path / "cmyk.jpg")
    assert out.shape == (8, 16, 3)
    r, g, b = out[4, 8].astype(int)
    assert r > 230 and g < 25 and b < 25  # pure red


def test_read_image_applies_exif_orientation(tmp_path: Path) -> None:
    # stored 48 wide × 24 high, bright block in the stored top-left corner
    a = np.full((24, 48, 3), 30, np.uint8)
    a[:8, :8] = 250
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    assert Image.open(tmp_path / "rot.jpg").size == (48, 24)

    out = read_image(tmp_path / "rot.jpg")
    assert out.shape == (48, 24, 3)  # upright: 24 wide × 48 high
    assert out[:8, -8:].mean() > 200  # the block is now top-right
    assert out[:8, :8].mean() < 60
    expected = np.rot90(a, k=-1)  # clockwise
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 4
    assert image_size(tmp_path / "rot.jpg") == (24, 48)
    assert image_size(tmp_path / "rot.jpg") == (out.shape[1], out.shape[0])


def test_image_size_header_only(tmp_path: Path) -> None:
    Image.fromarray(_rgb(30, 50)).save(tmp_path / "a.png")
    assert image_size(tmp_path / "a.png") == (50, 30)
    _raises_data_error(image_size, tmp_path / "missing.png", match="not found")


# --------------------------------------------------------------------------------------------------
# unreadable files → DataError naming the file


def _truncated_copies(tmp_path: Path) -> tuple[Path, Path]:
    a = _rgb(120, 160, seed=3)
    Image.fromarray(a).save(tmp_path / "full.jpg", quality=90)
    Image.fromarray(a).save(tmp_path / "full.png")
    jpg, png = tmp_path / "trunc.jpg", tmp_path / "trunc.png"
    data = (tmp_path / "full.jpg").read_bytes()
    jpg.write_bytes(data[: len(data) // 2])
    data = (tmp_path / "full.png").read_bytes()
    png.write_bytes(data[: len(data) // 2])
    return jpg, png


@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_bad_files_raise_data_error(tmp_path: Path, reader) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    jpg, png = _truncated_copies(tmp_path)
    _raises_data_error(reader, jpg, match="truncated", where=jpg)
    _raises_data_error(reader, png, match="truncated", where=png)

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    _raises_data_error(reader, corrupt, match="corrupt or truncated", where=corrupt)

    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(os.urandom(500))
    _raises_data_error(reader, garbage, match="not an image", where=garbage)

    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    _raises_data_error(reader, text, match="not an image", where=text)

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    _raises_data_error(reader, empty, match="empty file", where=empty)

    _raises_data_error(reader, tmp_path / "nope.png", match="not found", where=tmp_path / "nope.png")
    (tmp_path / "dir.png").mkdir()
    _raises_data_error(reader, tmp_path / "dir.png", match="is a folder", where=tmp_path / "dir.png")
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "gone.png")
    _raises_data_error(reader, link, match="broken symbolic link", where=link)


def test_permission_denied_raises_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(f)

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(f))

    monkeypatch.setattr(Image, "open", deny)
    _raises_data_error(read_image, f, match="permission denied", where=f)
    _raises_data_error(read_mask, f, match="permission denied", where=f)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_mode_000(tmp_path: Path) -> None:
    f = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(f)
    f.chmod(0)
    try:
        _raises_data_error(read_image, f, match="permission denied", where=f)
    finally:
        f.chmod(0o644)


def test_zero_size_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no encoder writes a 0×0 image, so fake the decoded size
    f = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(f)
    monkeypatch.setattr(Image.Image, "width", property(lambda self: 0))
    _raises_data_error(read_image, f, match="zero-size", where=f)


# --------------------------------------------------------------------------------------------------
# read_mask


def test_read_mask_accepted_encodings(tmp_path: Path) -> None:
    m = _crack()
    cases = {
        "01.png": Image.fromarray(m.astype(np.uint8), mode="L"),
        "0255.png": Image.fromarray(m.astype(np.uint8) * 255, mode="L"),
        "bool.png": Image.fromarray(m),
        "rgb_grey.png": Image.fromarray(np.repeat(m[..., None].astype(np.uint8) * 255, 3, axis=2)),
        "u16.png": Image.fromarray(m.astype(np.uint16) * 65535),
        "u16_01.png": Image.fromarray(m.astype(np.uint16)),
    }
    # palette: index 1 = crack even though its palette colour is BLACK (index, not colour)
    p = Image.fromarray(m.astype(np.uint8), mode="P")
    p.putpalette([255, 255, 255, 0, 0, 0])
    cases["palette.png"] = p
    for name, img in cases.items():
        img.save(tmp_path / name)
        out = read_mask(tmp_path / name)
        assert out.dtype == bool and out.shape == m.shape, name
        np.testing.assert_array_equal(out, m, err_msg=name)
    assert Image.open(tmp_path / "bool.png").mode == "1"
    assert Image.open(tmp_path / "palette.png").mode == "P"


def test_read_mask_single_valued(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(tmp_path / "zero.png")
    out = read_mask(tmp_path / "zero.png")
    assert out.shape == (5, 6) and not out.any()
    Image.fromarray(np.full((5, 6), 255, np.uint8)).save(tmp_path / "full.png")
    assert read_mask(tmp_path / "full.png").all()


def test_read_mask_rejects_grey_levels_and_threshold_reads_them(tmp_path: Path) -> None:
    grey = np.zeros((20, 20), np.uint8)
    grey[5:15, 8:12] = 255
    grey[5:15, 7] = 100  # anti-aliased edge
    grey[5:15, 12] = 180
    f = tmp_path / "grey.png"
    Image.fromarray(grey).save(f)
    err = _raises_data_error(read_mask, f, match="not binary", where=f)
    for text in ("4 distinct values", "100", "180", "threshold="):
        assert text in err.problem, err.problem
    out = read_mask(f, threshold=128)
    np.testing.assert_array_equal(out, grey >= 128)
    assert out[5, 12] and not out[5, 7]

    # a binary {0,1} mask stays correct even when a threshold is given
    Image.fromarray(_crack().astype(np.uint8)).save(tmp_path / "01.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "01.png", threshold=128), _crack())

    for bad in (0, -1, 300, "128", True):
        with pytest.raises(ConfigError):
            read_mask(f, threshold=bad)


def test_read_mask_rejects_jpeg_noise_16bit_colour_and_palette(tmp_path: Path) -> None:
    m = _crack(64, 64)
    Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / "m.jpg", quality=75)
    err = _raises_data_error(read_mask, tmp_path / "m.jpg", match="not binary", where=tmp_path / "m.jpg")
    assert "threshold=" in err.problem
    assert np.mean(read_mask(tmp_path / "m.jpg", threshold=128) == m) > 0.99

    u16 = (m.astype(np.uint16) * 40000) + 7
    Image.fromarray(u16).save(tmp_path / "u16.png")
    err = _raises_data_error(read_mask, tmp_path / "u16.png", match="not binary")
    assert "65535" in err.problem and "40007" in err.problem
    np.testing.assert_array_equal(read_mask(tmp_path / "u16.png", threshold=128), m)
    # 8-bit grey levels stored in a 16-bit PNG are not rescaled
    soft16 = (m.astype(np.uint16) * 200) + 3
    Image.fromarray(soft16).save(tmp_path / "soft16.png")
    assert Image.open(tmp_path / "soft16.png").mode.startswith("I;16")
    _raises_data_error(read_mask, tmp_path / "soft16.png", match="neither 0 nor 255")
    np.testing.assert_array_equal(read_mask(tmp_path / "soft16.png", threshold=128), m)

    colour = np.zeros((64, 64, 3), np.uint8)
    colour[m] = (255, 0, 0)
    Image.fromarray(colour).save(tmp_path / "red.png")
    err = _raises_data_error(read_mask, tmp_path / "red.png", match="colour mask")
    assert "(255,0,0)" in err.problem

    p = Image.fromarray(m.astype(np.uint8) * 2, mode="P")
    p.putpalette([0, 0, 0, 9, 9, 9, 255, 0, 0])
    p.save(tmp_path / "p02.png")
    err = _raises_data_error(read_mask, tmp_path / "p02.png", match="palette mask uses indices")
    assert "[0, 2]" in err.problem


def test_read_mask_greyscale_palette_read_as_grey(tmp_path: Path) -> None:
    m = _crack()
    p = Image.fromarray(m.astype(np.uint8) * 255, mode="P")
    p.putpalette([v for i in range(256) for v in (i, i, i)])
    p.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    np.testing.assert_array_equal(read_mask(tmp_path / "p.png"), m)


def test_write_mask_and_image_png_round_trip(tmp_path: Path) -> None:
    m = _crack()
    out = write_mask_png(tmp_path / "sub" / "m.png", m)
    img = Image.open(out)
    assert img.mode == "L" and set(np.unique(np.asarray(img)).tolist()) == {0, 255}
    np.testing.assert_array_equal(read_mask(out), m)
    write_mask_png(tmp_path / "m01.png", m.astype(np.uint8))
    np.testing.assert_array_equal(read_mask(tmp_path / "m01.png"), m)
    with pytest.raises(ValueError):
        write_mask_png(tmp_path / "bad.png", np.array([[0, 1, 2]]))
    with pytest.raises(ValueError):
        write_mask_png(tmp_path / "bad.png", np.zeros((2, 2, 3), bool))
    assert not (tmp_path / "bad.png").exists()

    a = _rgb()
    np.testing.assert_array_equal(read_image(write_image_png(tmp_path / "a.png", a)), a)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
    with pytest.raises(ValueError):
        write_image_png(tmp_path / "f.png", a.astype(np.float32))


# --------------------------------------------------------------------------------------------------
# folders, specs, OmniCrack30k


def test_folder_samples_matches_by_stem(tmp_path: Path) -> None:
    _make_pair(tmp_path, "b", ext=".jpg")
    _make_pair(tmp_path, "a", ext=".PNG")
    _make_pair(tmp_path, "c", ext=".tif")
    (tmp_path / "images" / "README.txt").write_text("ignored")
    (tmp_path / "images" / ".DS_Store").write_bytes(b"x")
    samples = folder_samples(tmp_path)
    assert [s.id for s in samples] == ["a", "b", "c"]
    assert all(s.dataset == tmp_path.name for s in samples)
    assert samples[1] == Sample(
        tmp_path / "images" / "b.jpg", tmp_path / "masks" / "b.png", tmp_path.name, "b"
    )
    assert samples_from(str(tmp_path)) == samples
    assert samples_from(tmp_path) == samples
    assert samples_from(f"folder:{tmp_path}") == samples


def test_folder_samples_errors(tmp_path: Path) -> None:
    _raises_data_error(folder_samples, tmp_path / "missing", match="folder not found")
    _raises_data_error(samples_from, str(tmp_path / "missing"), match="shared")  # spec help in message
    (tmp_path / "flat").mkdir()
    _raises_data_error(folder_samples, tmp_path / "flat", match="no images/ folder")

    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    _raises_data_error(folder_samples, empty, match="no image files", where=empty / "images")

    d = tmp_path / "d"
    for stem in ("x1", "x2", "x3"):
        _make_pair(d, stem)
    (d / "masks" / "x2.png").unlink()
    (d / "masks" / "x3.png").unlink()
    err = _raises_data_error(folder_samples, d, match="2 image", where=d / "masks")
    assert "x2" in err.problem and "x3" in err.problem
    relaxed = folder_samples(d, require_masks=False)
    assert [(s.id, s.mask is None) for s in relaxed] == [("x1", False), ("x2", True), ("x3", True)]

    Image.fromarray(_rgb()).save(d / "images" / "x1.jpg")  # x1.png and x1.jpg
    err = _raises_data_error(folder_samples, d, match="more than once")
    assert "x1.jpg" in err.problem and "x1.png" in err.problem

    nomasks = tmp_path / "nomasks"
    (nomasks / "images").mkdir(parents=True)
    Image.fromarray(_rgb()).save(nomasks / "images" / "a.png")
    _raises_data_error(folder_samples, nomasks, match="folder not found", where=nomasks / "masks")
    assert folder_samples(nomasks, require_masks=False)[0].mask is None


def test_parse_spec() -> None:
    s = parse_spec("shared:CFD,DeepCrack@test")
    assert (s.kind, s.datasets, s.split) == ("shared", ("CFD", "DeepCrack"), "test")
    assert parse_spec("shared:all@test").datasets is None
    assert (parse_spec("shared@zeroshot").datasets, parse_spec("shared@zeroshot").split) == (None, "zeroshot")
    assert parse_spec("shared").split == "all"
    o = parse_spec("omnicrack:/data/omni@val")
    assert (o.kind, o.path, o.split) == ("omnicrack", Path("/data/omni"), "val")
    assert parse_spec("omnicrack:/data/a@b").path == Path("/data/a@b")  # '@' not followed by a split
    assert parse_spec("some/folder").kind == "folder"
    with pytest.raises(DataError):
        parse_spec("  ")


def _omni_pair(images_dir: Path, masks_dir: Path, stem: str, value: int) -> np.ndarray:
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    m = _crack(16, 20)
    Image.fromarray(_rgb(16, 20)).save(images_dir / f"{stem}.jpg")
    Image.fromarray(m.astype(np.uint8) * value, mode="L").save(masks_dir / f"{stem}.png")
    return m


def test_omnicrack_authors_layout(tmp_path: Path) -> None:
    root = tmp_path / "OmniCrack30k"
    m = _omni_pair(root / "images" / "training", root / "annotations" / "training", "cfd_001", 1)
    _omni_pair(root / "images" / "training", root / "annotations" / "training", "uav75_DSC1", 1)
    _omni_pair(root / "images" / "validation", root / "annotations" / "validation", "masonry_7", 1)
    _omni_pair(root / "images" / "test", root / "annotations" / "test", "s2ds_3", 1)
    train = omnicrack_samples(root, "train")
    assert [s.id for s in train] == ["cfd_001", "uav75_DSC1"]
    assert all(s.dataset == "OmniCrack30k" for s in train)
    np.testing.assert_array_equal(read_mask(train[0].mask), m)  # {0,1} labels
    assert [s.id for s in omnicrack_samples(root, "val")] == ["masonry_7"]
    assert omnicrack_samples(root, "validation") == omnicrack_samples(root, "val")
    assert [s.id for s in samples_from(f"omnicrack:{root}@test")] == ["s2ds_3"]
    assert len(samples_from(f"omnicrack:{root}")) == 4
    _raises_data_error(omnicrack_samples, root, "dev", match="unknown split")


def test_omnicrack_per_split_layout(tmp_path: Path) -> None:
    root = tmp_path / "omni"
    _omni_pair(root / "train" / "images", root / "train" / "masks", "a", 255)
    _omni_pair(root / "validation" / "images", root / "validation" / "masks", "b", 255)
    assert [s.id for s in omnicrack_samples(root, "train")] == ["a"]
    assert [s.id for s in omnicrack_samples(root, "val")] == ["b"]
    assert [s.id for s in samples_from(f"omnicrack:{root}@validation")] == ["b"]
    err = _raises_data_error(omnicrack_samples, root, "test", match="no 'test' split")
    assert "annotations/test" in err.problem
    (root / "train" / "masks" / "a.png").unlink()
    _raises_data_error(omnicrack_samples, root, "train", match="no mask")
    _raises_data_error(omnicrack_samples, tmp_path / "missing", "train", match="not found")


# --------------------------------------------------------------------------------------------------
# CrackDataset


def _dataset_folder(root: Path, n: int = 4) -> list[Sample]:
    for i in range(n):
        _make_pair(root, f"s{i}", h=40, w=60, seed=i)
    return folder_samples(root)


def test_crack_dataset_items(tmp_path: Path) -> None:
    samples = _dataset_folder(tmp_path)
    ds = CrackDataset(samples, size=32, progress=False)
    assert len(ds) == 4 and ds.samples == samples
    item = ds[2]
    assert set(item) == {"image", "mask", "index"} and item["index"] == 2
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 32, 32)
    assert item["mask"].dtype == torch.float32 and item["mask"].shape == (1, 32, 32)
    assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
    # the stored image is the INTER_AREA resize of the decoded photo
    expected = cv2.resize(read_image(samples[2].image), (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(item["image"].permute(1, 2, 0).numpy() * 255, expected, atol=1e-3)
    assert ds[-1]["index"] == 3
    with pytest.raises(IndexError):
        ds[4]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["index"].tolist() == [0, 1, 2]

    native = CrackDataset(samples[:2], size=None, progress=False, workers=1)
    assert native[0]["image"].shape == (3, 40, 60) and native[0]["mask"].shape == (1, 40, 60)
    np.testing.assert_array_equal(native[1]["mask"][0].numpy().astype(bool), read_mask(samples[1].mask))

    with pytest.raises(ConfigError):
        CrackDataset(samples, size=0, progress=False)
    with pytest.raises(ConfigError):
        CrackDataset(samples, mask_resize="bilinear", progress=False)
    with pytest.raises(DataError, match="no mask"):
        CrackDataset([Sample(samples[0].image, None, "x", "s0")], progress=False)


def test_crack_dataset_rejects_mask_of_other_size(tmp_path: Path) -> None:
    samples = _dataset_folder(tmp_path, n=2)
    write_mask_png(tmp_path / "masks" / "s1.png", np.zeros((30, 50), bool))
    with pytest.raises(DataError, match="50×30 but its image .* is 60×40") as info:
        CrackDataset(samples, size=32, progress=False)
    assert info.value.where == str(tmp_path / "masks" / "s1.png")


def test_mask_resize_nearest_vs_area_on_thin_line() -> None:
    m = np.zeros((64, 64), bool)
    m[:, 21] = True  # a 1-px crack on an odd column
    near = resize_mask(m, 32, "nearest")
    area = resize_mask(m, 32, "area")
    assert not near.any()  # 2× nearest samples even columns only: the crack is gone
    assert area[:, 10].all() and area.sum() == 32  # half coverage → kept, 1 px wide
    assert resize_mask(m, (64, 64), "area").sum() == m.sum()
    up = resize_mask(np.eye(8, dtype=bool), 16, "nearest")
    assert up.sum() == 8 * 4


def test_augmentation_keeps_masks_binary_and_is_seeded(tmp_path: Path) -> None:
    samples = _dataset_folder(tmp_path, n=3)
    ds = CrackDataset(samples, size=32, augment=True, progress=False)
    plain = CrackDataset(samples, size=32, augment=False, progress=False)

    def draw() -> list[torch.Tensor]:
        out = []
        for _ in range(8):
            for i in range(len(ds)):
                item = ds[i]
                assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
                assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
                assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
                out += [item["image"], item["mask"]]
        return out

    torch.manual_seed(123)
    first = draw()
    torch.manual_seed(123)
    second = draw()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    torch.manual_seed(124)
    third = draw()
    assert not all(torch.equal(a, b) for a, b in zip(first, third, strict=True))
    # augmentation changed something relative to the stored arrays
    masks = first[1::2]
    assert any(not torch.equal(mk, plain[k % 3]["mask"]) for k, mk in enumerate(masks))


def test_augmentation_flips_are_independent(tmp_path: Path) -> None:
    """A horizontal flip alone must occur (transforms must not share one seed)."""
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    Image.fromarray(_rgb(32, 32)).save(root / "images" / "a.png")
    m = np.zeros((32, 32), bool)
    m[2:5, 3:20] = True  # asymmetric: no flip equals a rotation
    m[2:28, 3:6] = True
    write_mask_png(root / "masks" / "a.png", m)
    ds = CrackDataset(folder_samples(root), size=32, augment=True, progress=False)
    torch.manual_seed(0)
    outcomes = Counter()
    for _ in range(200):
        got = ds[0]["mask"][0].numpy().astype(bool)
        for name, ref in (("h", m[:, ::-1]), ("v", m[::-1, :]), ("id", m)):
            if np.array_equal(got, ref):
                outcomes[name] += 1
    assert outcomes["h"] > 0 and outcomes["v"] > 0 and outcomes["id"] > 0, outcomes


def test_crack_dataset_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _dataset_folder(tmp_path / "data", n=3)
    cache = tmp_path / "cache"
    first = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
    files = sorted(cache.glob("*.npz"))
    assert len(files) == 3 and not list(cache.glob(".*"))

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although cached")

    with monkeypatch.context() as mp:
        mp.setattr(datasets_mod, "read_image", no_decode)
        mp.setattr(datasets_mod, "read_mask", no_decode)
        second = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
        for i in range(3):
            assert torch.equal(first[i]["image"], second[i]["image"])
            assert torch.equal(first[i]["mask"], second[i]["mask"])
        with pytest.raises(AssertionError, match="decoded although cached"):
            CrackDataset(samples, size=48, cache_dir=cache, progress=False)  # other size → other key

    # a changed source file gets a new cache entry
    Image.fromarray(_rgb(40, 60, seed=99)).save(samples[0].image)
    os.utime(samples[0].image, ns=(1, 1))
    third = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
    assert len(list(cache.glob("*.npz"))) == 4
    assert not torch.equal(third[0]["image"], first[0]["image"])

    # a damaged cache file is rebuilt with a warning (the whole-set stores go first: they would be used instead)
    for store in cache.glob("store-*.npy"):
        store.unlink()
    victim = sorted(cache.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)[-1]
    victim.write_bytes(b"not a zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
    assert any("damaged cache" in str(w.message) for w in caught)
    assert torch.equal(again[0]["image"], third[0]["image"])
    with np.load(victim) as z:
        assert z["image"].shape == (32, 32, 3)


def test_crack_dataset_store_is_memory_mapped_and_rebuilt_when_damaged(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _dataset_folder(tmp_path / "data", n=3)
    cache = tmp_path / "cache"
    first = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
    stores = sorted(cache.glob("store-*.npy"))
    assert [p.name.rsplit("-", 1)[1] for p in stores] == ["images.npy", "masks.npy"]
    assert isinstance(first._images, np.memmap)  # the decoded arrays were swapped for the store's pages

    for p in cache.glob("*.npz"):  # the store alone serves a later run: nothing else is read
        p.unlink()
    with monkeypatch.context() as mp:
        mp.setattr(CrackDataset, "_load", lambda *a: pytest.fail("decoded although stored"))
        second = CrackDataset(samples, size=32, cache_dir=cache, progress=False, augment=True)
        for i in range(3):
            img, mask = second.arrays(i)
            assert np.array_equal(img, first.arrays(i)[0]) and np.array_equal(mask, first.arrays(i)[1])
            item = second.item(i, aug_seed=i)  # augmenting a copy-on-write page leaves the file alone
            assert item["image"].shape == (3, 32, 32) and item["image"].is_contiguous()
            assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    ref = CrackDataset(samples, size=32, progress=False)  # decoded in memory, no cache
    assert np.array_equal(np.load(stores[0]), ref._images) and np.array_equal(np.load(stores[1]), ref._masks)

    # another subset is another store; a truncated store is rebuilt with a warning
    CrackDataset(samples[:2], size=32, cache_dir=cache, progress=False)
    assert len(list(cache.glob("store-*-images.npy"))) == 2
    stores[0].write_bytes(stores[0].read_bytes()[:100])
    with pytest.warns(UserWarning, match="damaged dataset store"):
        again = CrackDataset(samples, size=32, cache_dir=cache, progress=False)
    assert np.array_equal(np.load(stores[0]), ref._images) and isinstance(again._images, np.memmap)
    assert torch.equal(again[1]["image"], ref[1]["image"])


# --------------------------------------------------------------------------------------------------
# check_dataset


def test_check_dataset_ok_summary(tmp_path: Path) -> None:
    _make_pair(tmp_path, "a", h=24, w=32)
    _make_pair(tmp_path, "b", h=24, w=32, ext=".jpg")
    _make_pair(tmp_path, "c", h=10, w=12)
    write_mask_png(tmp_path / "masks" / "c.png", np.zeros((10, 12), bool))
    report = check_dataset(tmp_path, progress=False)
    assert report.ok and report.problems == []
    s = report.summary
    assert s["pairs"] == 3 and s["valid_pairs"] == 3 and s["empty_masks"] == 1
    assert s["datasets"] == {tmp_path.name: 3}
    assert s["image_sizes"]["min"] == "12×10" and s["image_sizes"]["max"] == "32×24"
    assert s["image_sizes"]["most_common"] == "32×24" and s["image_sizes"]["most_common_count"] == 2
    frac = _crack().mean()
    assert s["mean_crack_fraction"] == pytest.approx((2 * frac + 0.0) / 3)
    text = format_report(report)
    assert text.rstrip().endswith("OK") and "pairs" in text and "12×10" in text


def test_check_dataset_reports_every_problem(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    _make_pair(root, "good")
    _make_pair(root, "good2", ext=".jpg")
    imgs, masks = root / "images", root / "masks"
    # corrupt bytes
    _make_pair(root, "corrupt")
    (imgs / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    # truncated JPEG and PNG
    jpg, png = _truncated_copies(tmp_path)
    _make_pair(root, "truncj", ext=".jpg")
    (imgs / "truncj.jpg").write_bytes(jpg.read_bytes())
    _make_pair(root, "truncp")
    (masks / "truncp.png").write_bytes(png.read_bytes())
    # mask of another size
    _make_pair(root, "size")
    write_mask_png(masks / "size.png", np.zeros((10, 10), bool))
    # non-binary mask
    _make_pair(root, "grey")
    Image.fromarray(np.full((24, 32), 128, np.uint8)).save(masks / "grey.png")
    # missing mask, orphan mask
    _make_pair(root, "nomask")
    (masks / "nomask.png").unlink()
    write_mask_png(masks / "orphan.png", _crack())
    # non-image with an image extension
    _make_pair(root, "text")
    (imgs / "text.png").write_text("hello")
    # two images with one stem
    _make_pair(root, "dup")
    Image.fromarray(_rgb()).save(imgs / "dup.jpg")
    # unreadable paths: a folder where a file is expected, a broken link
    _make_pair(root, "dirmask")
    (masks / "dirmask.png").unlink()
    (masks / "dirmask.png").mkdir()
    _make_pair(root, "link")
    (imgs / "link.png").unlink()
    (imgs / "link.png").symlink_to(tmp_path / "gone.png")

    report = check_dataset(root, progress=False)
    assert not report.ok
    found = defaultdict(list)
    for where, problem in report.problems:
        found[Path(where).name].append(problem)
    expected = {
        "corrupt.png": "corrupt or truncated",
        "truncj.jpg": "truncated",
        "truncp.png": "truncated",
        "size.png": "10×10 but its image size.png is 32×24",
        "grey.png": "not binary",
        "nomask.png": "no mask",
        "orphan.png": "mask without an image",
        "text.png": "not an image",
        "dup": "several files share this stem",
        "dirmask.png": "is a folder",
    }
    for name, phrase in expected.items():
        assert any(phrase in p for p in found[name]), (name, found[name])
    assert "good.png" not in found and "good2.jpg" not in found
    assert report.summary["problems"] == len(report.problems)
    text = format_report(report)
    assert "FAILED" in text and "orphan.png: mask without an image" in text


def test_check_dataset_empty_and_missing(tmp_path: Path) -> None:
    r = check_dataset(tmp_path / "missing", progress=False)
    assert not r.ok and "folder not found" in r.problems[0][1]
    (tmp_path / "e" / "images").mkdir(parents=True)
    (tmp_path / "e" / "masks").mkdir()
    r = check_dataset(tmp_path / "e", progress=False)
    assert not r.ok and any("no image files" in p for _, p in r.problems)
    assert "FAILED" in format_report(r)


# --------------------------------------------------------------------------------------------------
# the shared collection (real data)


@pytest.mark.shared_data
def test_shared_splits_match_splits_csv(data_root: Path) -> None:
    rows = _read_csv(data_root / "splits.csv")
    counts = Counter((r["dataset"], r["split"]) for r in rows)
    ids = defaultdict(set)
    for r in rows:
        ids[(r["dataset"], r["split"])].add(r["id"])
    for (ds, split), n in counts.items():
        samples = shared_samples([ds], split, root=data_root)
        assert len(samples) == n, (ds, split)
        assert {s.id for s in samples} == ids[(ds, split)]
        assert all(s.dataset == ds and s.image.is_file() and s.mask is not None for s in samples)
    for split in ("train", "val", "test", "zeroshot"):
        expected = sum(n for (_, s), n in counts.items() if s == split)
        assert len(shared_samples(None, split, root=data_root)) == expected
    assert len(shared_samples(None, "all", root=data_root)) == len(rows) == 3726


@pytest.mark.shared_data
def test_mcs_is_zeroshot_only(data_root: Path) -> None:
    for split in ("train", "val", "test"):
        assert "MCS" not in {s.dataset for s in shared_samples(None, split, root=data_root)}
    zs = shared_samples(None, "zeroshot", root=data_root)
    assert {s.dataset for s in zs} == {"MCS"} and len(zs) == 246
    err = _raises_data_error(shared_samples, ["MCS"], "train", root=data_root, match="no 'train' split")
    assert "zeroshot" in err.problem
    assert len(shared_samples(["mcs"], "all", root=data_root)) == 246


@pytest.mark.shared_data
def test_shared_specs_and_unknown_names(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAC_DATA", str(data_root))
    assert len(samples_from("shared:CFD,DeepCrack@test")) == 23 + 237
    assert len(samples_from("shared:cfd@val")) == 12
    assert len(samples_from("shared:all@test")) == 1109
    assert len(samples_from("shared@zeroshot")) == 246
    assert len(samples_from("shared:UAV75")) == 75
    err = _raises_data_error(samples_from, "shared:CFD,Nope@train", match="unknown dataset")
    assert "Nope" in err.problem and "DeepCrack" in err.problem and "MCS" in err.problem
    _raises_data_error(samples_from, "shared:CFD@training", match="unknown split")
    _raises_data_error(shared_samples, None, "train", root=data_root / "missing", match="not found")


@pytest.mark.shared_data
def test_shared_masks_binary_and_sized_like_manifest(data_root: Path) -> None:
    manifest = _read_csv(data_root / "manifest.csv")
    by_set = defaultdict(list)
    for r in manifest:
        by_set[r["dataset"]].append(r)
    assert len(by_set) == 8
    for rows in by_set.values():
        picked = rows[:10] + rows[10::50]
        for r in picked:
            image = read_image(data_root / r["image"])
            mask = read_mask(data_root / r["mask"])
            assert image.shape == (int(r["height"]), int(r["width"]), 3), r["image"]
            assert mask.shape == image.shape[:2], r["mask"]
            assert mask.mean() == pytest.approx(float(r["crack_fraction"]), abs=1e-6)
            with Image.open(data_root / r["mask"]) as im:  # stored as documented
                assert im.mode == "L" and set(np.unique(np.asarray(im)).tolist()) <= {0, 255}


@pytest.mark.shared_data
def test_check_dataset_on_whole_shared_collection(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAC_DATA", str(data_root))
    report = check_dataset("shared", progress=False)
    assert report.ok, format_report(report)
    s = report.summary
    manifest = _read_csv(data_root / "manifest.csv")
    assert s["pairs"] == s["valid_pairs"] == len(manifest) == 3726
    assert s["datasets"] == dict(Counter(r["dataset"] for r in manifest))
    assert s["empty_masks"] == 0
    assert s["image_sizes"]["min"] == "133×133" and s["image_sizes"]["max"] == "512×512"
    mean_manifest = float(np.mean([float(r["crack_fraction"]) for r in manifest]))
    assert s["mean_crack_fraction"] == pytest.approx(mean_manifest, abs=1e-6)


@pytest.mark.shared_data
def test_folder_samples_on_real_dataset_folder(data_root: Path) -> None:
    samples = folder_samples(data_root / "CFD")
    manifest_ids = [r["id"] for r in _read_csv(data_root / "manifest.csv") if r["dataset"] == "CFD"]
    assert [s.id for s in samples] == sorted(manifest_ids)
    assert all(s.dataset == "CFD" for s in samples)
    shared = {s.id: s for s in shared_samples(["CFD"], "all", root=data_root)}
    assert all(s.image.resolve() == shared[s.id].image.resolve() for s in samples)


@pytest.mark.shared_data
def test_crack_dataset_on_real_data(data_root: Path) -> None:
    samples = shared_samples(["UAV75"], "val", root=data_root)
    ds = CrackDataset(samples, size=128, progress=False)
    assert len(ds) == 10
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 128, 128) and item["mask"].shape == (1, 128, 128)
        assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
    area = CrackDataset(samples, size=256, mask_resize="area", progress=False)
    near = CrackDataset(samples, size=256, mask_resize="nearest", progress=False)
    # area keeps more of UAV75's 1-px cracks than nearest when halving the size
    assert sum(area[i]["mask"].sum() for i in range(10)) > sum(near[i]["mask"].sum() for i in range(10))
    native = CrackDataset(shared_samples(["CFD"], "val", root=data_root)[:2], size=None, progress=False)
    assert native[0]["image"].shape == (3, 320, 480)


def test_data_root_fixture_message_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared-data fixture skips with a message naming the path and SAC_DATA."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_conftest_copy", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setenv("SAC_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(
        pytest.skip.Exception, match=r"shared crack data not found at .*nowhere; set SAC_DATA"
    ):
        mod.data_root.__wrapped__()
