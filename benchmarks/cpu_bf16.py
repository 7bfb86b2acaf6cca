"""Does bf16 inference on the CPU change what an inspection engineer gets? The default model (BatchNorms folded,
as ``sac predict`` runs it) on full-resolution shared test photos, tiled at the default overlap, float32 vs bf16
autocast: pooled F1 at the model's threshold and the total crack length ``measure_mask`` finds.

    python benchmarks/cpu_bf16.py               # up to 10 test photos per dataset (seeded)
    python benchmarks/cpu_bf16.py --limit 0     # every test photo (slow on a CPU)

Writes ``benchmarks/results/cpu_bf16.{md,json}``. The 256-px evaluation protocol is
``sac evaluate --model default --data shared@test --amp off|bf16``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=10, help="test photos per dataset (0 = all)")
    args = ap.parse_args(argv)

    from large_photo import shared_test_photos  # the same seeded photos as the other benchmarks

    from sac.data import read_image, read_mask
    from sac.engine import load_model, model_threshold
    from sac.engine.fold import fold_batchnorm
    from sac.engine.inference import DEFAULT_OVERLAP, predict_probability
    from sac.engine.runtime import cpu_has_native_bf16
    from sac.files import atomic_write_json, atomic_write_text
    from sac.measure import measure_mask

    samples = shared_test_photos(args.limit)
    model = fold_batchnorm(load_model("default"))
    thr = model_threshold(model)
    tot = {amp: {"tp": 0, "fp": 0, "fn": 0, "length_px": 0.0, "cracks": 0} for amp in ("off", "bf16")}
    gt_length = 0.0
    for i, s in enumerate(samples):
        img, gt = read_image(s.image), read_mask(s.mask)
        for amp, t in tot.items():
            p = predict_probability(model, img, mode="tiled", amp=amp, progress=False) >= thr
            t["tp"] += int((p & gt).sum())
            t["fp"] += int((p & ~gt).sum())
            t["fn"] += int((~p & gt).sum())
            m = measure_mask(p).totals
            t["length_px"] += m["length_px"]
            t["cracks"] += m["count"]
        gt_length += measure_mask(gt).totals["length_px"]
        print(f"\r[cpu_bf16] {i + 1}/{len(samples)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for t in tot.values():
        t["f1"] = 2 * t["tp"] / max(2 * t["tp"] + t["fp"] + t["fn"], 1)
    lines = [f"# bf16 inference on the CPU\n\n`python benchmarks/cpu_bf16.py{'' if args.limit == 10 else ' --limit ' + str(args.limit)}`: "
             f"default model (BatchNorms folded), {len(samples)} full-resolution shared test photos"
             f"{f' (up to {args.limit} per dataset, seeded)' if args.limit else ''}, tiled at 256 px with overlap "
             f"{DEFAULT_OVERLAP}, threshold {thr:g}; native bf16 on this CPU: {'yes' if cpu_has_native_bf16() else 'no'}. "
             f"Ground-truth centreline length (measure_mask on the masks): {gt_length:.0f} px.\n",
             "| precision | pooled F1 | cracks found | total length px |", "|---|---|---|---|"]
    for amp, t in tot.items():
        lines.append(f"| {'float32' if amp == 'off' else 'bf16'} | {t['f1']:.4f} | {t['cracks']} | {t['length_px']:.0f} |")
    atomic_write_json(RESULTS / "cpu_bf16.json", {"limit": args.limit, "photos": len(samples), "threshold": thr,
                                                  "gt_length_px": gt_length, "results": tot})
    atomic_write_text(RESULTS / "cpu_bf16.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
