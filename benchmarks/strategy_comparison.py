"""The paper's claim on a really pretrained backbone: one model, several tuning strategies, same data
and budget → test F1 / IoU, zero-shot (MCS) F1, trainable parameters, seconds per epoch.

Example (the numbers in docs/results.md)::

    python benchmarks/strategy_comparison.py --model unet_effnet_lite0 \
        --strategies full decoder norm norm_frozen_stats --epochs 3 --limit-train 600 \
        --out runs/strategy_comparison

Writes ``<out>/comparison.md`` and ``comparison.json`` (atomically) and each run's folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sac.data import samples_from
from sac.engine import build_datasets, evaluate, load_config, train
from sac.files import atomic_write_json, atomic_write_text
from sac.tuning import load_adapter


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="unet_effnet_lite0")
    ap.add_argument("--weights", default="default")
    ap.add_argument("--strategies", nargs="+", default=["full", "decoder", "norm", "norm_frozen_stats"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--loss", default="bce+dice:0.65")
    ap.add_argument("--train", default="shared:all@train")
    ap.add_argument("--val", default="shared:all@val")
    ap.add_argument("--test", default="shared:all@test")
    ap.add_argument("--zeroshot", default="shared:MCS@zeroshot")
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--limit-test", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cache-dir", default="cache")
    ap.add_argument("--out", default="runs/strategy_comparison")
    ap.add_argument("--redo", action="store_true", help="re-evaluate strategies already in comparison.json")
    args = ap.parse_args(argv)

    out = Path(args.out)
    base = {"model": args.model, "weights": args.weights, "loss": args.loss, "optim.epochs": args.epochs,
            "optim.batch_size": args.batch_size, "optim.lr": args.lr, "data.train": args.train,
            "data.val": args.val, "data.limit_train": args.limit_train, "data.limit_val": args.limit_val,
            "data.cache_dir": args.cache_dir, "device": args.device}
    datasets = build_datasets(load_config(None, base))
    test = samples_from(args.test)[: args.limit_test] if args.limit_test else samples_from(args.test)
    zs = samples_from(args.zeroshot)
    previous = json.loads((out / "comparison.json").read_text()).get("rows", []) \
        if (out / "comparison.json").is_file() else []
    rows = []
    for spec in args.strategies:
        # "norm" or "norm:lr=0.005" (a strategy with its own learning rate, as the paper tuned each one)
        strategy, _, opt = spec.partition(":")
        lr = float(opt.split("=", 1)[1]) if opt.startswith("lr=") else args.lr
        name = strategy if lr == args.lr else f"{strategy}_lr{lr:g}"
        done = [r for r in previous if r["strategy"] == strategy and r.get("lr", args.lr) == lr]
        if done and not args.redo:  # finished and evaluated by an earlier call: keep its row
            rows.append({**done[0], "lr": lr})
            continue
        cfg = load_config(None, {**base, "strategy": strategy, "optim.lr": lr, "out": str(out / name)})
        t0 = time.perf_counter()
        summary = train(cfg, resume=True, datasets=datasets, progress=sys.stderr.isatty())
        wall = time.perf_counter() - t0
        model = load_adapter(out / name / "adapter_best.safetensors")
        r_test = evaluate(model, test, protocol="native", device=args.device, fast=True)
        r_zs = evaluate(model, zs, protocol="native", device=args.device, fast=True)
        size_kb = (out / name / "adapter_best.safetensors").stat().st_size / 1024
        rows = [r for r in rows if (r["strategy"], r["lr"]) != (strategy, lr)]
        rows.append({
            "strategy": strategy, "lr": lr, "trainable_params": summary["trainable_params"],
            "total_params": summary["total_params"],
            "trainable_pct": 100 * summary["trainable_params"] / summary["total_params"],
            "seconds_per_epoch": summary["seconds_per_epoch"], "best_val_f1": summary["best_val_f1"],
            "test_f1": r_test["overall"]["f1"], "test_iou": r_test["overall"]["iou"],
            "test_f1_mean_over_sets": sum(m["f1"] for m in r_test["datasets"].values()) / len(r_test["datasets"]),
            "mcs_f1": r_zs["overall"]["f1"], "mcs_iou": r_zs["overall"]["iou"], "adapter_kb": size_kb,
            "wall_seconds": wall,
        })
        atomic_write_json(out / "comparison.json", {"args": vars(args), "rows": rows})
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{v:,}" if isinstance(v, int) else f"{v:.4g}" if isinstance(v, float)
                                       else str(v) for v in (r.get(c, "") for c in cols)) + " |")
    text = (f"Model {args.model} ({args.weights} weights), {args.epochs} epochs, batch {args.batch_size}, "
            f"lr {args.lr}, loss {args.loss}, train {args.train} (limit {args.limit_train}), "
            f"test {args.test}, zero-shot {args.zeroshot}; native-resolution protocol, threshold 0.5.\n\n"
            + "\n".join(lines) + "\n")
    atomic_write_text(out / "comparison.md", text)
    print(text)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
