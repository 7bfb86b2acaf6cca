"""The learning-rate search of a suite whose runs differ only by strategy and ``optim.lr``
(``configs/paper/sam_vit_t_lr.yaml``): one table, the best rate of each strategy in bold.

    sac suite configs/paper/sam_vit_t_lr.yaml --out runs/sam_vit_t_lr
    python benchmarks/lr_search.py runs/sam_vit_t_lr --out reports/sam_vit_t/lr_search.md

Reads each run folder's ``summary.json`` and ``config.yaml`` (validation F1 after every epoch, seconds per
epoch); writes the markdown table and a JSON twin beside it (atomically). Ties go to the lower rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from sac.files import atomic_write_json, atomic_write_text


def collect(runs_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for d in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        summary, config = d / "summary.json", d / "config.yaml"
        if not summary.is_file() or not config.is_file():
            continue
        s = json.loads(summary.read_text())
        cfg = yaml.safe_load(config.read_text())
        if not s.get("completed"):
            continue
        rows.append({"run": d.name, "model": s["model"], "strategy": s["strategy"], "lr": float(cfg["optim"]["lr"]),
                     "batch_size": cfg["optim"]["batch_size"], "steps": s["global_step"],
                     "train_images": s["train_images"], "val_images": s["val_images"],
                     "trainable_params": s["trainable_params"], "best_val_f1": s["best_val_f1"],
                     "val_f1_per_epoch": [h.get("val_f1") for h in s.get("history", [])],
                     "seconds_per_epoch": s["seconds_per_epoch"]})
    return rows


def best_per_strategy(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["lr"]):
        b = best.get(r["strategy"])
        if b is None or r["best_val_f1"] > b["best_val_f1"]:
            best[r["strategy"]] = r
    return best


def table(rows: list[dict[str, Any]]) -> str:
    best = best_per_strategy(rows)
    order = list(dict.fromkeys(r["strategy"] for r in rows))
    lines = ["| strategy | trainable | lr | val F1 per epoch | best val F1 | s/epoch |", "|---|---|---|---|---|---|"]
    for strat in order:
        for r in sorted((r for r in rows if r["strategy"] == strat), key=lambda r: r["lr"]):
            mark = "**" if best[strat] is r else ""
            per = " → ".join(f"{v:.3f}" for v in r["val_f1_per_epoch"] if v is not None)
            lines.append(f"| {strat} | {r['trainable_params']:,} | {mark}{r['lr']:.0e}{mark} | {per} | "
                         f"{mark}{r['best_val_f1']:.3f}{mark} | {r['seconds_per_epoch']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("--out", type=Path, help="markdown file to write (a .json twin is written beside it)")
    args = ap.parse_args(argv)
    rows = collect(args.runs_dir)
    if not rows:
        raise SystemExit(f"no completed runs in {args.runs_dir}")
    r0 = rows[0]
    head = (f"Learning-rate search ({args.runs_dir.name}): {r0['model']}, {r0['train_images']} training images × "
            f"{len(r0['val_f1_per_epoch'])} epochs = {r0['steps']} steps at batch {r0['batch_size']}, selection by "
            f"pooled F1 on {r0['val_images']} validation images (best rate of each strategy in bold).\n\n")
    text = head + table(rows) + "\n"
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
        best = {k: v["lr"] for k, v in best_per_strategy(rows).items()}
        atomic_write_json(args.out.with_suffix(".json"), {"rows": rows, "best_lr": best})


if __name__ == "__main__":
    main()
