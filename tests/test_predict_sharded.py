"""Sharded inference: ``torchrun --nproc_per_node 2 -m sac.cli predict`` (2 CPU processes on gloo) writes the
same files as one process, and an interrupted run resumes (photos already done are skipped)."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "examples" / "images"
ARGS = ["predict", str(PHOTOS), "--model", "default", "--measure", "--mm-per-px", "0.2", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

pytestmark = pytest.mark.timeout(600)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".sac-rows" not in p.parts)


def test_two_ranks_write_what_one_process_writes_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "sac.cli", *ARGS, "--out", str(one)], check=True, env=ENV)
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "sac.cli", *ARGS, "--out", str(two)], env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _files(one) == _files(two) and len(_files(one)) > 4 * 5
    match, mismatch, errors = filecmp.cmpfiles(one, two, _files(one), shallow=False)
    assert not mismatch and not errors, mismatch + errors  # byte-identical masks, overlays, tables, summary
    assert run.stdout.count("photos →") == 1  # rank 0 reports once

    # interrupted: one photo's outputs lost → --resume recomputes only that one
    stems = sorted(p.stem for p in PHOTOS.glob("*.jpg"))
    lost = stems[1]
    for p in two.glob(f"{lost}_*"):
        p.unlink()
    (two / ".sac-rows" / f"{lost}.json").unlink()
    before = {p: p.stat().st_mtime_ns for p in two.glob(f"{stems[0]}_*")}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "sac.cli", *ARGS, "--out", str(two), "--resume"], env=ENV, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in two.glob(f"{stems[0]}_*")} == before  # skipped
    assert (two / f"{lost}_mask.png").is_file()
    match, mismatch, errors = filecmp.cmpfiles(one, two, _files(one), shallow=False)
    assert not mismatch and not errors


def test_resume_ignores_rows_made_with_other_settings(tmp_path):
    out = tmp_path / "p"
    photo = sorted(PHOTOS.glob("*.jpg"))[0]
    base = ["predict", str(photo), "--model", "default", "--out", str(out), "--quiet"]
    subprocess.run([sys.executable, "-m", "sac.cli", *base], check=True, env=ENV)
    mask = out / f"{photo.stem}_mask.png"
    first = mask.stat().st_mtime_ns
    subprocess.run([sys.executable, "-m", "sac.cli", *base, "--resume"], check=True, env=ENV)
    assert mask.stat().st_mtime_ns == first  # same settings: skipped
    subprocess.run([sys.executable, "-m", "sac.cli", *base, "--resume", "--threshold", "0.3"], check=True, env=ENV)
    assert mask.stat().st_mtime_ns != first  # another threshold: done again
