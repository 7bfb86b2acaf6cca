"""``sac adapt`` as a user runs it, timed: k labelled photos of a site the model never saw, then the site's test photos.

    python benchmarks/adapt_site.py --model runs/few_shot/base_without_CFD/adapter_best.safetensors \
        --target CFD --k 5 10 --out benchmarks/results/adapt_site
    python benchmarks/adapt_site.py --model default --target MCS --k 5 10 --out benchmarks/results/adapt_site_mcs

For each k: k photos with cracks drawn (seed 0) from the target's training split are written as a site folder
(images/ + masks/), ``sac adapt`` runs on it exactly as the CLI does (recipe of ``sac.engine.adapt.Recipe``,
cross-validated threshold, CV_FOLDS = 2 folds), and the starting model and the adapted one are evaluated on the target's test
split (native resolution, each at its own threshold). Writes ``<out>.md`` / ``<out>.json`` (atomically) with the
wall time of ``sac adapt``, the adapter size and F1 / IoU before and after. Times are only comparable on an
otherwise idle machine (2 CPU cores for the documented numbers).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from sac.data import samples_from
from sac.engine import evaluate, load_model
from sac.engine.adapt import adapt
from sac.files import atomic_write_json, atomic_write_text
from sac.study.fewshot import draw_photos, load_samples

MCS_POOL = 46  # configs/paper/few_shot.yaml: the MCS adaptation pool = its first 46 ids


def _site_folder(photos: list, samples: dict, root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for p in photos:
        s = samples[p.name]
        shutil.copyfile(s.image, root / "images" / Path(s.image).name)
        shutil.copyfile(s.mask, root / "masks" / (Path(s.image).stem + Path(s.mask).suffix))
    return root


def _pool_and_test(target: str) -> tuple[list, list]:
    """The photos a site's engineer labels (the target's training split) and the site's test photos. MCS, the
    default model's zero-shot set, is a site only here, with the fixed split of configs/paper/few_shot.yaml
    (pool: its first 46 ids in sorted order; test: the other 200): nothing of the default is trained or chosen
    on it, which makes it the one shared domain the default never saw."""
    if target == "MCS":
        every = sorted(samples_from("shared:MCS@zeroshot"), key=lambda s: s.id)
        return every[:MCS_POOL], every[MCS_POOL:]
    return sorted(samples_from(f"shared:{target}@train"), key=lambda s: s.id), samples_from(f"shared:{target}@test")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the starting model: 'default' or an adapter trained without "
                                                   "the target")
    ap.add_argument("--target", default="CFD", help="a shared dataset; MCS with its fixed site split (see below)")
    ap.add_argument("--k", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--strategy", default="norm")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/adapt_site"))
    args = ap.parse_args(argv)
    pool_samples, test = _pool_and_test(args.target)
    by_id = {s.id: s for s in pool_samples}
    pool = load_samples(pool_samples)
    base = load_model(args.model)
    before = evaluate(base, test, fast=True, progress=False)["overall"]
    rows = []
    for k in args.k:
        picked = draw_photos(pool, k, f"adapt_site|{args.target}|{k}|0")
        with tempfile.TemporaryDirectory(prefix="sac-site-") as tmp:
            site = _site_folder(picked, by_id, Path(tmp) / "site")
            t0 = time.perf_counter()
            res = adapt(load_model(args.model), site, Path(tmp) / "site.safetensors", strategy=args.strategy,
                        progress=False)
            seconds = time.perf_counter() - t0
            after = evaluate(load_model(res.path), test, fast=True, progress=False)["overall"]
        rows.append({"k": k, "photos": [p.name for p in picked], "seconds": seconds, "adapter_kb": res.adapter_bytes / 1024,
                     "threshold": res.threshold, "site_f1_before": res.before["f1"],
                     "site_f1_after_cv": None if res.after_cv is None else res.after_cv["f1"],
                     "test_f1_before": before["f1"], "test_iou_before": before["iou"],
                     "test_f1_after": after["f1"], "test_iou_after": after["iou"]})
        print(rows[-1])
    head = (f"`sac adapt` on {args.target} ({len(test)} test photos), starting from {args.model}, strategy "
            f"{args.strategy}; {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}.\n\n`python benchmarks/adapt_site.py {' '.join(argv or sys.argv[1:])}`\n\n")
    lines = ["| k photos | sac adapt (s) | adapter KB | threshold | test F1 before | test F1 after | test IoU before "
             "| test IoU after | site F1 before | site F1 after (CV) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cv = "-" if r["site_f1_after_cv"] is None else f"{r['site_f1_after_cv']:.3f}"
        lines.append(f"| {r['k']} | {r['seconds']:.0f} | {r['adapter_kb']:.0f} | {r['threshold']:.2f} | "
                     f"{r['test_f1_before']:.3f} | {r['test_f1_after']:.3f} | {r['test_iou_before']:.3f} | "
                     f"{r['test_iou_after']:.3f} | {r['site_f1_before']:.3f} | {cv} |")
    atomic_write_text(args.out.with_suffix(".md"), head + "\n".join(lines) + "\n")
    atomic_write_json(args.out.with_suffix(".json"), {"model": args.model, "target": args.target,
                                                      "strategy": args.strategy, "rows": rows})


if __name__ == "__main__":
    main()
