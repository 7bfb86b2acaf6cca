"""How fast the training data path builds batches: ``StepBatches`` (augmentation + collation at 256 px) from the
memory-mapped store, in 0, 1 and 2 loader workers — the images per second one core can feed a GPU.

    python benchmarks/data_loader.py                       # shared:all@train, 256 px, batch 32, 40 steps
    python benchmarks/data_loader.py --workers 0 1 2 4

The first run decodes and writes the store (``--cache``); the timings read it memory-mapped. Writes
``benchmarks/results/data_loader.{md,json}``. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="shared:all@train")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cache", default=str(ROOT / "cache"))
    args = ap.parse_args(argv)

    import torch

    from sac.data import CrackDataset, samples_from
    from sac.engine.trainer import StepBatches, _epoch_order
    from sac.files import atomic_write_json, atomic_write_text

    t0 = time.perf_counter()
    ds = CrackDataset(samples_from(args.data), size=args.size, augment=True, cache_dir=args.cache)
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    CrackDataset(samples_from(args.data), size=args.size, augment=True, cache_dir=args.cache, progress=False)
    t_reopen = time.perf_counter() - t0
    steps = min(args.steps, len(ds) // args.batch)
    batches = StepBatches(ds, _epoch_order(len(ds), 0, 0), seed=0, epoch=0, batch_size=args.batch, rank=0, world=1,
                          steps=steps)
    rows = []
    for w in args.workers:
        loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=w,
                                             prefetch_factor=4 if w else None)
        it = iter(loader)
        next(it)  # workers started, first batch
        t0 = time.perf_counter()
        n = sum(x.shape[0] for x, _ in it)
        dt = time.perf_counter() - t0
        rows.append({"workers": w, "images": n, "seconds": dt, "img_s": n / dt})
        print(f"{w} workers: {n / dt:.0f} img/s", flush=True)
    lines = ["# Training data path: batches built per second", "",
             f"`python benchmarks/data_loader.py` — {args.data} ({len(ds)} samples) at {args.size} px, batch "
             f"{args.batch}, augmentation on, {steps} steps; {os.cpu_count()} cores ({platform.machine()}), torch "
             f"{torch.__version__}. Store: first open (per-sample cache or decoding, store written) {t_open:.1f} s, a later open (memory-mapped) "
             f"{t_reopen:.2f} s.", "", "| loader workers | img/s |", "|---|---|"]
    lines += [f"| {r['workers']} | {r['img_s']:.0f} |" for r in rows]
    out = ROOT / "benchmarks" / "results"
    atomic_write_text(out / "data_loader.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "data_loader.json", {"args": vars(args), "store_first_open_s": t_open,
                                                 "store_reopen_s": t_reopen, "n": len(ds), "rows": rows})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
