"""What one few-shot adaptation costs per strategy, measured alone: seconds per optimizer step of the few-shot
recipe (``sac.engine.adapt.Recipe``: batch 4 at 256 px), trainable parameters and adapter KB.

    python benchmarks/adapt_cost.py --model runs/few_shot/base_without_CFD/adapter_best.safetensors \
        --target CFD --out benchmarks/results/adapt_cost

The few-shot experiment's own ``seconds`` were taken with two experiment workers sharing the cores; this is the
clean number (run it on an otherwise idle machine; the documented one: 2 CPU cores). A ``sac adapt`` run costs
about (CV_FOLDS + 1) x steps x seconds/step, plus the predictions of the photos.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from sac.data import samples_from
from sac.engine import load_model
from sac.engine.adapt import CV_FOLDS, Recipe, adapt_photos, prepare, tune
from sac.files import atomic_write_json, atomic_write_text
from sac.models import count_parameters
from sac.study.fewshot import draw_photos, load_samples

STRATEGIES = ["norm", "decoder", "full", "lora_mlp2_last1_r16"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the starting model (an adapter, 'default' or 'sac-t')")
    ap.add_argument("--target", default="CFD", help="the shared dataset whose training photos are tuned on")
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per strategy (after 2 warm-up)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/adapt_cost"))
    args = ap.parse_args(argv)
    base = load_model(args.model)
    pool = load_samples(sorted(samples_from(f"shared:{args.target}@train"), key=lambda s: s.id))
    photos = draw_photos(pool, 10, f"adapt_cost|{args.target}")
    full = Recipe()
    rows = []
    for strategy in args.strategies:
        tune(prepare(base, strategy), photos, strategy, Recipe(steps=2), device=torch.device("cpu"), progress=False)
        model = prepare(base, strategy)
        t0 = time.perf_counter()
        tune(model, photos, strategy, Recipe(steps=args.steps), device=torch.device("cpu"), progress=False)
        per_step = (time.perf_counter() - t0) / args.steps
        with tempfile.TemporaryDirectory(prefix="sac-cost-") as tmp:
            res = adapt_photos(base, photos[:2], Path(tmp) / "a.safetensors", strategy=strategy,
                               recipe=Recipe(steps=1), folds=0, device="cpu", progress=False)
        rows.append({"strategy": strategy, "seconds_per_step": per_step,
                     "trainable": count_parameters(model)["trainable"], "adapter_kb": res.adapter_bytes / 1024,
                     "sac_adapt_minutes": (CV_FOLDS + 1) * full.steps * per_step / 60})
        print(rows[-1], flush=True)
    cmd = "python benchmarks/adapt_cost.py " + " ".join(argv if argv is not None else sys.argv[1:])
    head = (f"Few-shot adaptation cost per strategy, starting from {args.model}, 10 {args.target} photos; recipe "
            f"batch {full.batch_size} at {full.size} px; {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}, nothing else running.\n\n`{cmd}`\n\n")
    lines = ["| strategy | trainable | adapter KB | s / step | one tuning round (s) | sac adapt, training only (min) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['trainable']:,} | {r['adapter_kb']:.0f} | {r['seconds_per_step']:.2f} | "
                     f"{full.steps * r['seconds_per_step']:.0f} | {r['sac_adapt_minutes']:.1f} |")
    notes = f"\n\n_one round = {full.steps} steps; sac adapt = {CV_FOLDS} cross-validation rounds + the final one_\n"
    atomic_write_text(args.out.with_suffix(".md"), head + "\n".join(lines) + notes)
    atomic_write_json(args.out.with_suffix(".json"), {"model": args.model, "target": args.target, "rows": rows})


if __name__ == "__main__":
    main()
