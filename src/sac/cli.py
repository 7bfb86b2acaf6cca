"""``sac`` command line: thin — parse, call one public function, print.

User errors (:class:`sac.errors.SACError`) print one line ``error: <file>: <problem>`` and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sac.errors import SACError


def _print_json(obj: Any) -> None:
    from sac.utils import _json_default

    print(json.dumps(obj, indent=2, default=_json_default))


# ----------------------------------------------------------------------------------------------- models
def cmd_models(args: argparse.Namespace) -> int:
    from sac.models import create_model, list_models, model_info
    from sac.tuning import apply_strategy, count_parameters, list_strategies, norm_kinds, strategy_applies

    names = args.model or list_models()
    strategies = args.strategy or list_strategies()
    rows = []
    for name in names:
        info = model_info(name)
        base = create_model(name, weights=None, **({"input_size": args.size} if info.family == "sam" else {}))
        state = {k: v.clone() for k, v in base.state_dict().items()}
        kinds = "+".join(norm_kinds(base)) or "-"
        flops = None
        if args.flops:
            from sac.models.profile import count_flops

            flops = count_flops(base, size=args.size)
        for s in strategies:
            if strategy_applies(base, s):
                continue
            m = create_model(name, weights=None, **({"input_size": args.size} if info.family == "sam" else {}))
            m.load_state_dict(state)
            m = apply_strategy(m, s)
            c = count_parameters(m)
            row = {"model": name, "strategy": s, "total_params": c["total"], "trainable_params": c["trainable"],
                   "norm_params": c["norm"], "trainable_pct": 100.0 * c["trainable"] / c["total"],
                   "norm_kinds": kinds, "pretrained": info.pretrained or "none",
                   "default_available": info.default_available}
            if flops is not None:
                row.update(flops)
            rows.append(row)
    if args.json:
        _print_json(rows)
        return 0
    cols = ["model", "strategy", "total_params", "trainable_params", "trainable_pct", "norm_params", "norm_kinds",
            "pretrained"] + (["gmacs"] if args.flops else [])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else
                         f"{v:.4f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")
    return 0


# ------------------------------------------------------------------------------------------------- data
def cmd_data_check(args: argparse.Namespace) -> int:
    from sac.data.check import check_dataset, format_report

    report = check_dataset(args.path, threshold=args.threshold, progress=not args.quiet)
    if args.json:
        _print_json({"ok": report.ok, "problems": report.problems, "summary": report.summary})
    else:
        print(format_report(report))
    return 0 if report.ok else 1


# ------------------------------------------------------------------------------------------------ train
def cmd_train(args: argparse.Namespace) -> int:
    from sac.engine import load_config, train

    overrides: dict[str, Any] = {}
    for key, val in (("model", args.model), ("strategy", args.strategy), ("weights", args.weights),
                     ("loss", args.loss), ("out", args.out), ("device", args.device), ("seed", args.seed),
                     ("optim.epochs", args.epochs), ("optim.lr", args.lr), ("optim.batch_size", args.batch_size),
                     ("data.train", args.train), ("data.val", args.val), ("data.limit_train", args.limit_train),
                     ("data.limit_val", args.limit_val)):
        if val is not None:
            overrides[key] = val
    from sac.engine.config import parse_override

    overrides.update(parse_override(o) for o in args.set or [])
    cfg = load_config(args.config, overrides)
    summary = train(cfg, resume=args.resume, progress=not args.quiet)
    printable = {k: v for k, v in summary.items() if k != "history"}
    if args.json:
        _print_json(printable)
    else:
        for k, v in printable.items():
            print(f"{k:>18}: {v}")
        print(f"adapter: {Path(cfg.out) / 'adapter_best.safetensors'}")
    return 0


# --------------------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from sac.data import samples_from
    from sac.engine import evaluate, load_model, results_table
    from sac.utils import atomic_write_json, atomic_write_text

    model = load_model(args.model, weights=args.weights)
    samples = []
    for spec in args.data:
        samples += samples_from(spec)
    if args.limit:
        samples = samples[: args.limit]
    res = evaluate(model, samples, protocol=args.protocol, inference=args.inference, size=args.size,
                   batch_size=args.batch_size, device=args.device, fast=args.fast, progress=not args.quiet,
                   tta=args.tta)
    table = results_table(res)
    if args.out:
        out = Path(args.out)
        atomic_write_json(out / "results.json", res)
        atomic_write_text(out / "results.md", table)
    if args.json:
        payload = dict(res)
        if len(res["datasets"]) == 1:  # a single folder: metrics at the top level
            payload.update(res["overall"])
        _print_json(payload)
    else:
        print(table)
    return 0


# ---------------------------------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    from sac.engine import describe_model, load_model, predict
    from sac.engine.predict import collect_images

    collect_images(args.inputs)  # fail fast on bad inputs, before loading a model
    model = load_model(args.model, weights=args.weights)
    mm = _mm_per_px(args)
    if not args.quiet:
        print(f"model: {describe_model(model)}", file=sys.stderr)
    rows = predict(model, args.inputs, args.out, mode=args.mode, tile=args.tile, overlap=args.overlap, tta=args.tta,
                   batch_size=args.batch_size, threshold=args.threshold, device=args.device,
                   measure=args.measure, mm_per_px=mm, min_area_px=args.min_area, save_prob=args.save_prob,
                   progress=not args.quiet)
    if args.json:
        _print_json(rows)
    else:
        print((Path(args.out) / "summary.md").read_text())
        print(f"{len(rows)} photos → {args.out}/")
    return 0


def _mm_per_px(args: argparse.Namespace) -> float | None:
    if getattr(args, "mm_per_px", None) is not None:
        return args.mm_per_px
    if getattr(args, "reference", None):
        from sac.measure import scale_from_reference

        px, mm = args.reference
        return scale_from_reference(px, mm)
    return None


# ---------------------------------------------------------------------------------------------- measure
def cmd_measure(args: argparse.Namespace) -> int:
    from sac.data import read_image, read_mask
    from sac.measure import measure_mask, write_measurement

    mask = read_mask(args.mask, threshold=args.threshold)
    meas = measure_mask(mask, mm_per_px=_mm_per_px(args), min_area_px=args.min_area,
                        min_branch_px=args.min_branch)
    if args.out:
        image = read_image(args.image) if args.image else None
        write_measurement(meas, Path(args.out), Path(args.mask).stem, image=image)
    d = meas.to_dict()
    if args.json:
        _print_json(d)
    else:
        t = d["totals"]
        print(f"{len(d['cracks'])} cracks, total length {t['total_length_px']:.1f} px, "
              f"max width {t['width_max_px']:.1f} px, area share {t['crack_area_share']:.4f}")
        for c in d["cracks"]:
            print(f"  #{c['id']}: {c['type']:<12} length {c['length_px']:8.1f} px  width mean {c['width_mean_px']:.1f}"
                  f" max {c['width_max_px']:.1f} px" + (f"  ({c['length_mm']:.1f} mm, max {c['width_max_mm']:.2f} mm)"
                                                         if "length_mm" in c else ""))
    return 0


# ------------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sac", description="Segment Any Crack: crack segmentation and measurement")
    p.add_argument("--version", action="version", version=f"sac {__import__('sac').__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("models", help="list every model × tuning strategy with parameter counts")
    m.add_argument("--json", action="store_true")
    m.add_argument("--model", action="append", help="only this model (repeatable)")
    m.add_argument("--strategy", action="append", help="only this strategy (repeatable)")
    m.add_argument("--flops", action="store_true", help="also count MACs/FLOPs at --size")
    m.add_argument("--size", type=int, default=256)
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dc = dsub.add_parser("check", help="validate a dataset folder (images/ + masks/) or a sample spec")
    dc.add_argument("path")
    dc.add_argument("--threshold", type=int, default=None, help="binarise grey masks at this value")
    dc.add_argument("--json", action="store_true")
    dc.add_argument("--quiet", action="store_true")
    dc.set_defaults(func=cmd_data_check)

    t = sub.add_parser("train", help="tune a model on crack data")
    t.add_argument("--config", help="YAML config (configs/*.yaml)")
    t.add_argument("--model")
    t.add_argument("--strategy")
    t.add_argument("--weights")
    t.add_argument("--loss")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--train", help="training samples spec (e.g. shared:all@train or a folder)")
    t.add_argument("--val", help="validation samples spec")
    t.add_argument("--limit-train", type=int)
    t.add_argument("--limit-val", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device")
    t.add_argument("--out")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config override, e.g. optim.warmup_steps=50")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--json", action="store_true")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="metrics tables on the shared collection or a folder")
    e.add_argument("--model", default="default", help="'default', an adapter .safetensors, or a registry name")
    e.add_argument("--weights", help="base weights for a registry name / adapter")
    e.add_argument("--data", action="append", required=True,
                   help="samples: a folder with images/+masks/, shared:CFD,DeepCrack@test, shared@zeroshot (repeatable)")
    e.add_argument("--protocol", choices=["native", "paper"], default="native")
    e.add_argument("--inference", choices=["resize", "tiled"], default="resize")
    e.add_argument("--size", type=int, default=256)
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--device", default="auto")
    e.add_argument("--limit", type=int)
    e.add_argument("--tta", action="store_true")
    e.add_argument("--fast", action="store_true", help="skip tolerance/skeleton metrics")
    e.add_argument("--out", help="write results.json and results.md here")
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="segment photos: mask + overlay PNG per photo (and measurements)")
    pr.add_argument("inputs", nargs="+", help="photos or folders")
    pr.add_argument("--model", default="default")
    pr.add_argument("--weights")
    pr.add_argument("--out", default="predictions")
    pr.add_argument("--mode", choices=["auto", "tiled", "resize"], default="auto")
    pr.add_argument("--tile", type=int, default=256)
    pr.add_argument("--overlap", type=float, default=0.25)
    pr.add_argument("--tta", action="store_true", help="average with flipped predictions")
    pr.add_argument("--batch-size", type=int, default=8)
    pr.add_argument("--threshold", type=float, default=0.5)
    pr.add_argument("--device", default="auto")
    pr.add_argument("--measure", action="store_true", help="measure cracks (length, width, type) per photo")
    pr.add_argument("--mm-per-px", type=float)
    pr.add_argument("--reference", type=float, nargs=2, metavar=("PX", "MM"),
                    help="scale from a reference: a length of PX pixels is MM millimetres")
    pr.add_argument("--min-area", type=int, default=20)
    pr.add_argument("--save-prob", action="store_true")
    pr.add_argument("--json", action="store_true")
    pr.add_argument("--quiet", action="store_true")
    pr.set_defaults(func=cmd_predict)

    me = sub.add_parser("measure", help="measure the cracks of a binary mask PNG")
    me.add_argument("mask")
    me.add_argument("--image", help="the photo, for the overlay")
    me.add_argument("--mm-per-px", type=float)
    me.add_argument("--reference", type=float, nargs=2, metavar=("PX", "MM"))
    me.add_argument("--threshold", type=int)
    me.add_argument("--min-area", type=int, default=20)
    me.add_argument("--min-branch", type=int, default=10)
    me.add_argument("--out", help="write CSV/JSON/GeoJSON (and overlay with --image) here")
    me.add_argument("--json", action="store_true")
    me.set_defaults(func=cmd_measure)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SACError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
