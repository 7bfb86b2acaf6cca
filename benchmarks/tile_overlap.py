"""How much tile overlap does tiled inference need? F1 of the default model on full-resolution shared test
photos, tiled at 256 px with overlaps 0.25 (``sac predict``'s default), 0.125 and 0, and the tiles each costs on
a 12 MP photo.

    python benchmarks/tile_overlap.py                  # up to 20 test photos per dataset (seeded)
    python benchmarks/tile_overlap.py --limit 0        # every test photo (slow on a CPU)

Native protocol (metrics at each photo's own resolution), the model's threshold, float32. Writes
``benchmarks/results/tile_overlap.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=20, help="test photos per dataset (0 = all)")
    ap.add_argument("--overlaps", type=float, nargs="+", default=[0.25, 0.125, 0.0])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    from large_photo import shared_test_photos  # the same seeded photos as the other benchmarks

    from sac.engine import evaluate, load_model
    from sac.engine.inference import tile_starts
    from sac.files import atomic_write_json, atomic_write_text

    samples = shared_test_photos(args.limit)
    model = load_model("default")
    rows = []
    for ov in args.overlaps:
        t0 = time.perf_counter()
        r = evaluate(model, samples, protocol="native", inference="tiled", overlap=ov, device=args.device,
                     fast=True, progress=sys.stderr.isatty())
        tiles = len(tile_starts(3000, 256, ov)) * len(tile_starts(4000, 256, ov))
        rows.append({"overlap": ov, "tiles_12mp": tiles, "seconds": time.perf_counter() - t0,
                     "overall": r["overall"], "datasets": {k: {m: v[m] for m in ("f1", "iou", "n_images")}
                                                          for k, v in r["datasets"].items()}})
        print(f"[tile_overlap] overlap {ov}: F1 {r['overall']['f1']:.4f}, {tiles} tiles on 12 MP",
              file=sys.stderr, flush=True)
    names = list(rows[0]["datasets"])
    lines = [f"# Tile overlap\n\n`python benchmarks/tile_overlap.py{' --limit ' + str(args.limit) if args.limit != 20 else ''}`: "
             f"default model, {rows[0]['overall']['n_images']} full-resolution shared test photos"
             f"{f' (up to {args.limit} per dataset, seeded)' if args.limit else ''}, tiled at 256 px, native protocol, "
             "float32, the model's threshold. F1 per dataset and pooled; tiles = windows on a 4000×3000 photo "
             "(the segmentation cost).\n",
             "| overlap | tiles (12 MP) | " + " | ".join(names) + " | **pooled F1** | pooled IoU |",
             "|---|---|" + "---|" * len(names) + "---|---|"]
    for r in rows:
        lines.append(f"| {r['overlap']:g} | {r['tiles_12mp']} | "
                     + " | ".join(f"{r['datasets'][k]['f1']:.3f}" for k in names)
                     + f" | **{r['overall']['f1']:.4f}** | {r['overall']['iou']:.4f} |")
    atomic_write_json(RESULTS / "tile_overlap.json", {"limit": args.limit, "rows": rows})
    atomic_write_text(RESULTS / "tile_overlap.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
