"""``sac evaluate`` (metrics tables), ``sac predict`` (masks, overlays, measurements) and ``sac measure``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sac.cli.common import (
    add_amp,
    add_device,
    add_mm_scale,
    add_model,
    add_output,
    add_threshold,
    mm_per_px,
    print_json,
)
from sac.data import read_image, read_mask, samples_from
from sac.data.masks import mask_size_problem
from sac.engine import describe_model, evaluate, load_model, predict, results_table
from sac.engine.inference import DEFAULT_OVERLAP
from sac.engine.onnx import OPSET, OnnxModel, export_onnx, onnx_model_for
from sac.engine.predict import collect_images, failed_rows
from sac.errors import ConfigError, DataError
from sac.files import atomic_write_json, atomic_write_text
from sac.measure import measure_mask, standards_table, write_measurement


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model, weights=args.weights)
    samples = [s for spec in args.data for s in samples_from(spec)]
    if args.limit:
        samples = samples[: args.limit]
    res = evaluate(model, samples, protocol=args.protocol, inference=args.inference, size=args.size,
                   batch_size=args.batch_size, device=args.device, fast=args.fast, progress=not args.quiet,
                   tta=args.tta, threshold=args.threshold, amp=args.amp, overlap=args.overlap)
    table = results_table(res)
    if args.out:
        atomic_write_json(Path(args.out) / "results.json", res)
        atomic_write_text(Path(args.out) / "results.md", table)
    if args.json:
        payload = dict(res)
        if len(res["datasets"]) == 1:  # a single folder: metrics at the top level
            payload.update(res["overall"])
        print_json(payload)
    else:
        print(table)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    collect_images(args.inputs)  # fail fast on bad inputs, before loading a model
    scale = mm_per_px(args)  # and on a bad scale or standard
    model = load_model(args.model, weights=args.weights)
    if args.engine == "onnx" and not isinstance(model, OnnxModel):
        model = onnx_model_for(model, size=args.tile)  # exported once for this run
    if not args.quiet:
        print(f"model: {describe_model(model)}", file=sys.stderr)
    rows = predict(model, args.inputs, args.out, mode=args.mode, tile=args.tile, overlap=args.overlap, tta=args.tta,
                   batch_size=args.batch_size, threshold=args.threshold, device=args.device,
                   measure=args.measure or bool(args.standard), mm_per_px=scale, standard=args.standard,
                   min_area_px=args.min_area, save_prob=args.save_prob, progress=not args.quiet,
                   resume=args.resume, amp=args.amp)
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports for all
        return 0
    failed = failed_rows(rows)
    if args.json:
        print_json(rows)
    else:
        print((Path(args.out) / "summary.md").read_text())
        print(f"{len(rows) - len(failed)} photos → {args.out}/")
    if failed:
        print(f"error: {len(failed)} of {len(rows)} photos could not be processed (the others were; each is in "
              f"{args.out}/summary.md):", file=sys.stderr)
        for r in failed:
            print(f"  {r['photo']}: {r['error']}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    model = load_model(args.model, weights=args.weights)
    if isinstance(model, OnnxModel):
        raise ConfigError(args.model, "this is already an ONNX file")
    path = export_onnx(model, args.onnx, size=args.size)
    o = OnnxModel(path)
    sizes = (f"any size (sides padded to a multiple of {o.pad_multiple} by the runner)" if o.dynamic_size
             else f"{args.size}×{args.size} only (shapes traced as constants; the tile size of sac predict)")
    print(f"{path}: {describe_model(model)} — ONNX opset {OPSET}, input 'image' B×3×H×W RGB in [0, 1], output "
          f"'logits' B×1×H×W; dynamic batch, {sizes}; parity with PyTorch: max |Δ logits| "
          f"{o.session.get_modelmeta().custom_metadata_map['sac_parity_max_abs']}; "
          f"{path.stat().st_size / 2**20:.1f} MB")
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    if args.list_standards:
        rows = standards_table()
        if args.json:
            print_json(rows)
        else:
            print("| --standard | rule | classes | source |\n|---|---|---|---|")
            for r in rows:
                print(f"| {r['key']} | {r['title']} | {r['classes']} | {r['source']} |")
        return 0
    if not args.mask:
        raise ConfigError("mask", "sac measure needs a mask PNG (or --list-standards)")
    scale = mm_per_px(args)
    mask = read_mask(args.mask, threshold=args.threshold)
    photo = read_image(args.image) if args.image else None
    problem = mask_size_problem(mask, photo, args.image) if photo is not None else None
    if problem:
        raise DataError(args.mask, problem)
    meas = measure_mask(mask, mm_per_px=scale, min_area_px=args.min_area, min_branch_px=args.min_branch,
                        standard=args.standard)
    if args.out:
        write_measurement(meas, Path(args.out), Path(args.mask).stem, image=photo)
    d = meas.to_dict()
    if args.json:
        print_json(d)
        return 0
    t = d["totals"]
    print(f"{len(d['cracks'])} cracks, total length {t['total_length_px']:.1f} px, "
          f"max width {t['width_max_px']:.1f} px, area share {t['crack_area_share']:.4f}")
    for c in d["cracks"]:
        mm = f"  ({c['length_mm']:.1f} mm, max {c['width_max_mm']:.2f} mm)" if "length_mm" in c else ""
        sev = f"  [{c['severity']}]" if "severity" in c else ""
        print(f"  #{c['id']}: {c['type']:<12} length {c['length_px']:8.1f} px  width mean {c['width_mean_px']:.1f}"
              f" max {c['width_max_px']:.1f} px{mm}{sev}")
    if meas.standard:
        print(f"severity ({meas.standard}, graded on the 95th-percentile width): "
              + ", ".join(f"{n} x {label}" for label, n in t["severity_counts"].items()))
    return 0


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="metrics tables on the shared collection or a folder")
    add_model(e)
    e.add_argument("--data", action="append", required=True,
                   help="samples: a folder with images/+masks/, shared:CFD,DeepCrack@test, shared@zeroshot (repeatable)")
    e.add_argument("--protocol", choices=["native", "paper"], default="native",
                   help="native: metrics at each mask's own resolution; paper: at 256×256")
    e.add_argument("--inference", choices=["resize", "tiled"], default="resize",
                   help="resize each photo to --size, or tile it at native resolution")
    e.add_argument("--size", type=int, default=256, help="the model's input size")
    e.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                   help="tile overlap with --inference tiled (a fraction of --size)")
    e.add_argument("--batch-size", type=int, default=8, help="photos (or tiles) per forward pass")
    add_device(e)
    add_amp(e, "bf16 on a GPU, float32 on the CPU (scores comparable across runs)")
    e.add_argument("--limit", type=int, help="only the first N samples")
    e.add_argument("--tta", action="store_true", help="average with horizontally and vertically flipped predictions")
    e.add_argument("--fast", action="store_true", help="skip tolerance/skeleton metrics")
    add_threshold(e, "binarisation threshold")
    e.add_argument("--out", help="write results.json and results.md here")
    add_output(e)
    e.set_defaults(func=cmd_evaluate)


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("predict", help="segment photos: mask + overlay PNG per photo (and measurements); "
                                        "torchrun --nproc_per_node N -m sac.cli predict ... splits the photos")
    pr.add_argument("inputs", nargs="+", help="photos or folders")
    add_model(pr)
    pr.add_argument("--out", default="predictions", help="output folder")
    pr.add_argument("--mode", choices=["auto", "tiled", "resize"], default="auto",
                    help="auto: resize photos up to 512 px, tile larger ones")
    pr.add_argument("--tile", type=int, default=256, help="tile size in px (the model's native size)")
    pr.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP, help="tile overlap, a fraction of --tile")
    pr.add_argument("--tta", action="store_true", help="average with horizontally and vertically flipped predictions")
    pr.add_argument("--batch-size", type=int, default=8, help="tiles per forward pass")
    add_threshold(pr, "crack where probability >= this")
    add_device(pr)
    add_amp(pr, "bf16 on a GPU and on a CPU with native bf16 (AMX / AVX-512 BF16), else float32")
    pr.add_argument("--measure", action="store_true", help="measure cracks (length, width, type) per photo")
    add_mm_scale(pr)
    pr.add_argument("--min-area", type=int, default=20, help="drop crack components under this many pixels")
    pr.add_argument("--save-prob", action="store_true", help="also write the probability map (8-bit PNG)")
    pr.add_argument("--engine", choices=["torch", "onnx"], default="torch",
                    help="onnx: run the model with onnxruntime (exported for this run; or give --model FILE.onnx)")
    pr.add_argument("--resume", action="store_true", help="skip photos already done with the same settings "
                                                          "(an interrupted run; torchrun shards resume too)")
    add_output(pr)
    pr.set_defaults(func=cmd_predict)


def register(sub: argparse._SubParsersAction) -> None:
    _evaluate_parser(sub)
    _predict_parser(sub)
    ex = sub.add_parser("export", help="export a model or adapter to ONNX (adapter merged) for onnxruntime")
    add_model(ex)
    ex.add_argument("--onnx", required=True, help="the .onnx file to write")
    ex.add_argument("--size", type=int, default=256, help="the side the graph is traced at (the tile size)")
    ex.set_defaults(func=cmd_export)
    me = sub.add_parser("measure", help="measure the cracks of a binary mask PNG")
    me.add_argument("mask", nargs="?", help="binary mask (255 or 1 = crack)")
    me.add_argument("--list-standards", action="store_true", help="list the severity rule sets and their sources")
    me.add_argument("--image", help="the photo, for the overlay")
    add_mm_scale(me)
    me.add_argument("--threshold", type=int, help="binarise a grey mask at this value")
    me.add_argument("--min-area", type=int, default=20, help="drop crack components under this many pixels")
    me.add_argument("--min-branch", type=int, default=10, help="prune skeleton spurs shorter than this (px)")
    me.add_argument("--out", help="write CSV/JSON/GeoJSON (and overlay with --image) here")
    add_output(me, quiet=False)
    me.set_defaults(func=cmd_measure)
