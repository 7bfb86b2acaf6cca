"""Photos of any size: wall time and peak memory to segment + measure a 12 MP photo, tiled vs resized,
and tiled vs resized F1 on the full-resolution shared test photos.

    python benchmarks/large_photo.py                      # both parts, default model, this machine
    python benchmarks/large_photo.py --skip-f1            # only the 12 MP timing
    python benchmarks/large_photo.py --f1-limit 0         # F1 on every test photo (slow on a CPU)
    git worktree add /tmp/before 124e603 && python benchmarks/large_photo.py --skip-f1 \
        --before-src /tmp/before/src --before-label 124e603   # + the same command on an earlier commit

Part 1 builds a 4000×3000 photo from the committed example photos (a mosaic of real crack photos
at their own scale, so cracks keep realistic widths), then runs ``sac predict --measure`` on it in a
fresh process per mode and repetition, measuring the whole command's wall time and the child's peak
resident memory (``ru_maxrss``), plus the in-process split between segmentation and measurement.
Part 2 evaluates the default model on the shared test splits with ``inference="tiled"`` and
``"resize"`` (``native`` protocol: metrics at each photo's own resolution).

Writes ``benchmarks/results/large_photo.{md,json}`` (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def make_photo(path: Path, width: int = 4000, height: int = 3000) -> Path:
    """A ``width``×``height`` mosaic of the example photos (each at its own resolution, mirrored
    alternately so the seams stay continuous)."""
    from sac.data import read_image

    photos = [read_image(p) for p in sorted((ROOT / "examples" / "images").iterdir()) if p.is_file()]
    canvas = np.zeros((height, width, 3), np.uint8)
    y, row = 0, 0
    while y < height:
        x, col, h_row = 0, 0, 0
        while x < width:
            im = photos[(row * 3 + col) % len(photos)]
            if col % 2:
                im = im[:, ::-1]
            if row % 2:
                im = im[::-1]
            h, w = min(im.shape[0], height - y), min(im.shape[1], width - x)
            canvas[y:y + h, x:x + w] = im[:h, :w]
            x, col, h_row = x + w, col + 1, max(h_row, h)
        y, row = y + h_row, row + 1
    Image.fromarray(canvas).save(path, quality=92)
    return path


# the CLI in a child process that reports its own peak resident memory on exit
_CHILD = ("import resource, sys\nfrom sac.cli import main\nrc = main(sys.argv[1:])\n"
          "print(f'SAC_PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
          "sys.exit(rc)\n")


def time_cli(photo: Path, mode: str, extra: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall time and peak RSS of one ``sac predict --measure`` process (``env``: extra environment, e.g. a
    ``PYTHONPATH`` that puts an older source tree first, for the before / after table)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-c", _CHILD, "predict", str(photo), "--model", "default", "--mode", mode,
               "--measure", "--out", out, "--quiet", "--json", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        rows = json.loads(proc.stdout)
        peak_kb = int(proc.stderr.rsplit("SAC_PEAK_RSS_KB=", 1)[1].split()[0])
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "n_cracks": rows[0].get("crack_count"),
            "total_length_px": rows[0].get("total_length_px")}


def split_times(photo: Path, mode: str, overlap: float, amp: str = "auto") -> dict[str, float]:
    """Seconds for model load (+ BatchNorm folding, as ``sac predict`` does), segmentation and measurement inside
    one process."""
    from sac.data import read_image
    from sac.engine import load_model, model_threshold
    from sac.engine.inference import predict_probability
    from sac.measure import measure_mask

    t0 = time.perf_counter()
    model = load_model("default")
    try:  # as sac predict runs it (an earlier checkout without sac.engine.fold: as it ran then)
        from sac.engine.fold import fold_batchnorm
    except ImportError:
        fold_batchnorm = None
    if fold_batchnorm is not None:
        model = fold_batchnorm(model)
    t1 = time.perf_counter()
    image = read_image(photo)
    t2 = time.perf_counter()
    prob = predict_probability(model, image, mode=mode, overlap=overlap, progress=False, amp=amp)
    t3 = time.perf_counter()
    measure_mask(prob >= model_threshold(model), min_area_px=20)
    t4 = time.perf_counter()
    return {"load_model_s": t1 - t0, "read_s": t2 - t1, "segment_s": t3 - t2, "measure_s": t4 - t3}


def shared_test_photos(limit: int | None) -> list:
    """The shared test photos, or up to ``limit`` per dataset (seeded: the same photos in every benchmark)."""
    from sac.data import samples_from

    samples = samples_from("shared:all@test")
    if not limit:
        return samples
    by: dict[str, list] = {}
    for s in samples:
        by.setdefault(s.dataset, []).append(s)
    rng = np.random.default_rng(0)
    return [v[i] for v in by.values() for i in sorted(rng.permutation(len(v))[:limit])]


def f1_compare(limit: int | None, device: str) -> dict:
    from sac.engine import evaluate, load_model

    samples = shared_test_photos(limit)
    model = load_model("default")
    from sac.engine.inference import DEFAULT_OVERLAP

    out = {"n_images": len(samples), "limit": limit, "overlap": DEFAULT_OVERLAP}
    for inference in ("resize", "tiled"):
        t0 = time.perf_counter()
        r = evaluate(model, samples, protocol="native", inference=inference, device=device, fast=True,
                     progress=sys.stderr.isatty())
        out[inference] = {"seconds": time.perf_counter() - t0, "overall": r["overall"],
                          "datasets": {k: {m: v[m] for m in ("f1", "iou", "precision", "recall", "n_images")}
                                       for k, v in r["datasets"].items()}}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-f1", action="store_true")
    ap.add_argument("--skip-timing", action="store_true", help="keep the timing table of the last run")
    ap.add_argument("--f1-limit", type=int, default=40, help="test photos per dataset (0 = all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--before-src", help="the src/ folder of an earlier checkout (e.g. a `git worktree`): its "
                                         "`sac predict` is timed on the same photo, the 'before' row")
    ap.add_argument("--before-label", default="before", help="what the before row is called (e.g. the commit)")
    ap.add_argument("--before-path", default="",
                    help="extra PYTHONPATH entries the earlier checkout needs (its dependencies since dropped)")
    ap.add_argument("--big-mp", type=float, default=50.0, help="the large photo of the memory row (0: none)")
    args = ap.parse_args(argv)

    import torch

    work = Path(tempfile.mkdtemp(prefix="sac-large-"))
    photo = make_photo(work / "mosaic_4000x3000.jpg")
    # (label, photo, mode, overlap, amp, extra environment, in-process split)
    from sac.engine.inference import DEFAULT_OVERLAP

    ov = DEFAULT_OVERLAP
    configs: list[tuple[str, Path, str, float | None, str, dict[str, str] | None, bool]] = [
        ("this checkout", photo, "tiled", ov, "auto", None, True),
        ("this checkout, float32", photo, "tiled", ov, "off", None, True),
        ("this checkout", photo, "tiled", 0.25, "auto", None, True),
        ("this checkout", photo, "tiled", 0.0, "auto", None, True),
        ("this checkout", photo, "resize", None, "auto", None, True)]
    if args.before_src:
        path = os.pathsep.join(p for p in (str(Path(args.before_src).resolve()), args.before_path) if p)
        configs.insert(0, (args.before_label, photo, "tiled", 0.25, "-", {"PYTHONPATH": path}, False))
    if args.big_mp:
        w = int(round((args.big_mp * 1e6 * 4 / 3) ** 0.5))
        big = make_photo(work / f"mosaic_{w}x{int(round(args.big_mp * 1e6 / w))}.jpg", w, int(round(args.big_mp * 1e6 / w)))
        configs.append(("this checkout", big, "tiled", ov, "auto", None, False))
    timing = []
    if args.skip_timing:
        configs = []
        old = json.loads((RESULTS / "large_photo.json").read_text())
        timing, args.repeats = old["timing"], old.get("repeats", 1)
    for label, ph, mode, overlap, amp, env, split in configs:
        extra = (["--overlap", str(overlap)] if overlap is not None else []) + (["--amp", amp] if amp != "-" else [])
        runs = [time_cli(ph, mode, extra, env) for _ in range(args.repeats)]
        size = Image.open(ph).size
        timing.append({"label": label, "photo": f"{size[0]}×{size[1]}", "megapixels": size[0] * size[1] / 1e6,
                       "mode": mode, "overlap": overlap, "amp": amp,
                       "wall_s_best": min(r["wall_s"] for r in runs), "wall_s_runs": [r["wall_s"] for r in runs],
                       "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "n_cracks": runs[0]["n_cracks"],
                       "total_length_px": runs[0]["total_length_px"],
                       **(split_times(ph, mode, overlap or 0.0, amp) if split else {})})
        print(f"[large_photo] {label} {timing[-1]['photo']} {mode} {overlap} {amp}: "
              f"{timing[-1]['wall_s_best']:.1f} s, {timing[-1]['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    hw = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
          "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()}
    from sac.engine.runtime import cpu_has_native_bf16

    record: dict = {"photo": "mosaics of examples/images", "hardware": hw, "timing": timing,
                    "repeats": args.repeats, "cpu_native_bf16": cpu_has_native_bf16()}
    lines = [f"# Large photos\n\n`python benchmarks/large_photo.py` on {hw['cores']} cores ({hw['cpu']}, torch "
             f"{hw['torch']}; native bf16: {'yes' if record['cpu_native_bf16'] else 'no'}), default model, "
             f"`sac predict PHOTO --measure` in a fresh process (best of {args.repeats}; wall time of the whole "
             f"command, imports and writing the outputs included; peak RSS of the process). Photos: mosaics of the "
             f"example photos at their own scale. amp auto = bf16 where the CPU has it natively.\n",
             "| code | photo | mode | overlap | amp | wall s (whole command) | peak RAM MB | load model s | segment s "
             "| measure s | cracks | total length px |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(t: dict, k: str, fmt: str) -> str:
        return format(t[k], fmt) if t.get(k) is not None else "-"

    for t in timing:
        lines.append(f"| {t.get('label', 'this checkout')} | {t.get('photo', '4000×3000')} | {t['mode']} | "
                     f"{'-' if t['overlap'] is None else t['overlap']} | {t.get('amp', '-')} | {t['wall_s_best']:.1f} | "
                     f"{t['peak_rss_mb']:.0f} | {f(t, 'load_model_s', '.2f')} | {f(t, 'segment_s', '.1f')} | "
                     f"{f(t, 'measure_s', '.1f')} | {t['n_cracks']} | {t['total_length_px']:.0f} |")
    previous = json.loads((RESULTS / "large_photo.json").read_text()) if (RESULTS / "large_photo.json").is_file() else {}
    f1 = f1_compare(args.f1_limit or None, args.device) if not args.skip_f1 else previous.get("f1")
    if f1:  # --skip-f1 keeps the last run's table
        record["f1"] = f1
        lines += ["", f"## Tiled vs resized on the full-resolution shared test photos ({f1['n_images']} photos"
                      + (f", up to {f1.get('limit')} per dataset, seeded" if f1.get("limit") else "")
                      + f"; tiles overlap {f1.get('overlap', 0.25)})\n",
                  "| dataset | photos | F1 resized | F1 tiled | IoU resized | IoU tiled |", "|---|---|---|---|---|---|"]
        for k in f1["tiled"]["datasets"]:
            a, b = f1["resize"]["datasets"][k], f1["tiled"]["datasets"][k]
            lines.append(f"| {k} | {a['n_images']} | {a['f1']:.3f} | {b['f1']:.3f} | {a['iou']:.3f} | {b['iou']:.3f} |")
        a, b = f1["resize"]["overall"], f1["tiled"]["overall"]
        lines.append(f"| **all (pooled)** | {a['n_images']} | {a['f1']:.3f} | {b['f1']:.3f} | {a['iou']:.3f} | {b['iou']:.3f} |")
        lines.append(f"\nSeconds: resized {f1['resize']['seconds']:.0f}, tiled {f1['tiled']['seconds']:.0f}.")
    from sac.files import atomic_write_json, atomic_write_text

    atomic_write_json(RESULTS / "large_photo.json", record)
    atomic_write_text(RESULTS / "large_photo.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
