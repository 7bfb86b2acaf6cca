"""kill -9 at any moment loses nothing (issue 17): ``sac train`` and ``sac predict`` run in subprocesses that are
SIGKILLed — during a step, during validation, in the middle of a checkpoint write, between a photo's outputs and
its row (``sac.faults``: the process kills itself at the named point, so the moment is exact) — then resumed.
The resumed training ends with exactly the weights of an uninterrupted run; the checkpoint a killed write was
replacing still loads; a resumed prediction writes the same files as an uninterrupted one; no temporary file
survives the resume.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

from hostile import encode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SEED = 17  # picks the kill points; printed by the tests so a failure can be replayed


def _dataset(root: Path, n: int = 8, size: int = 64) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        img = rng.integers(90, 200, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        r = int(rng.integers(8, size - 8))
        img[r - 1: r + 1] = 30
        mask[r - 1: r + 1] = 255
        (root / "images" / f"p{i}.png").write_bytes(encode(Image.fromarray(img), "PNG"))
        (root / "masks" / f"p{i}.png").write_bytes(encode(Image.fromarray(mask), "PNG"))
    return root


def _sac(*args: object, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SAC_FAULT", None)
    if fault:
        env["SAC_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "sac.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def _killed(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == -9, (r.returncode, r.stderr[-2000:])


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp*")]


def _step_of(checkpoint: Path) -> int:
    import json

    with safe_open(str(checkpoint), framework="pt") as f:
        return json.loads(f.metadata()["state"])["global_step"]


def test_train_killed_anywhere_resumes_to_the_same_weights(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    args = ["train", "--model", "unet_effnet_lite0", "--train", data, "--val", data, "--epochs", "2",
            "--batch-size", "2", "--lr", "1e-3", "--device", "cpu", "--set", "data.size=64",
            "--set", "checkpoint_every_steps=1", "--quiet"]
    ref = _sac(*args, "--out", tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr[-2000:]

    rng = random.Random(SEED)
    step = rng.randint(1, 3)  # 4 steps an epoch, 8 in all
    run = tmp_path / "run"
    print(f"seed {SEED}: killed at train step {step}, in validation 1, in checkpoint write 2 after resuming")
    _killed(_sac(*args, "--out", run, fault=f"train.step:{step}"))
    ckpt = run / "checkpoints" / "last.safetensors"
    assert _step_of(ckpt) == step - 1 if step > 1 else not ckpt.exists()

    _killed(_sac(*args, "--out", run, "--resume", fault="train.validation:1"))
    assert _step_of(ckpt) == 4  # every step of epoch 1 checkpointed; its validation never finished

    _killed(_sac(*args, "--out", run, "--resume", fault="checkpoint.write:2"))
    assert _temporaries(run / "checkpoints")  # the killed write's file, complete but never renamed
    assert _step_of(ckpt) == 4  # the checkpoint it was replacing (epoch 1's end) is intact and loads

    done = _sac(*args, "--out", run, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not _temporaries(run)
    a = load_file(str(tmp_path / "ref" / "adapter_last.safetensors"))
    b = load_file(str(run / "adapter_last.safetensors"))
    assert a.keys() == b.keys() and len(a) > 0
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run's"
    rows = lambda p: [r.split(",")[:4] for r in (p / "metrics.csv").read_text().splitlines()]  # noqa: E731
    assert rows(run) == rows(tmp_path / "ref")


def test_predict_killed_between_photos_resumes_to_the_same_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        img = rng.integers(80, 210, (120 + 10 * i, 160, 3), dtype=np.uint8)
        img[40:43, 10:150] = 20
        (photos / f"ph{i}.png").write_bytes(encode(Image.fromarray(img), "PNG"))
    ref = _sac("predict", photos, "--out", tmp_path / "ref", "--measure", "--quiet")
    assert ref.returncode == 0, ref.stderr[-2000:]

    k = random.Random(SEED).randint(1, 5)
    print(f"seed {SEED}: killed after photo {k}'s outputs, before its row")
    out = tmp_path / "out"
    _killed(_sac("predict", photos, "--out", out, "--measure", "--quiet", fault=f"predict.photo:{k}"))
    assert len(list((out / ".sac-rows").glob("*.json"))) == k - 1
    done = _sac("predict", photos, "--out", out, "--measure", "--quiet", "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{6} photos" in done.stdout
    names = sorted(p.name for p in (tmp_path / "ref").iterdir() if p.is_file())
    assert names == sorted(p.name for p in out.iterdir() if p.is_file())
    for name in names:
        if name.endswith(("_mask.png", "_cracks.csv", ".geojson")) or name == "summary.csv":
            assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
    assert not _temporaries(out)
