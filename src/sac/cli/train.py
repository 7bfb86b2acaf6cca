"""``sac train`` (tune a model), ``sac adapt`` (few-shot tuning to a site) and ``sac calibrate`` (threshold)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from sac.cli.common import add_device, add_model, add_output, print_json
from sac.data import samples_from
from sac.engine import calibrate_threshold, load_config, load_model, train
from sac.engine.adapt import CV_FOLDS, Recipe, adapt
from sac.engine.config import parse_override
from sac.errors import ConfigError
from sac.files import atomic_path
from sac.tuning import set_adapter_threshold

# flag → TrainConfig key
_TRAIN_FLAGS = (("model", "model"), ("strategy", "strategy"), ("weights", "weights"), ("loss", "loss"),
                ("out", "out"), ("device", "device"), ("seed", "seed"), ("epochs", "optim.epochs"),
                ("lr", "optim.lr"), ("batch_size", "optim.batch_size"), ("train", "data.train"),
                ("val", "data.val"), ("limit_train", "data.limit_train"), ("limit_val", "data.limit_val"))


def cmd_train(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {key: getattr(args, flag) for flag, key in _TRAIN_FLAGS
                                 if getattr(args, flag) is not None}
    overrides.update(parse_override(o) for o in args.set or [])
    cfg = load_config(args.config, overrides)
    summary = train(cfg, resume=args.resume, progress=not args.quiet)
    printable = {k: v for k, v in summary.items() if k != "history"}
    if args.json:
        print_json(printable)
    else:
        for k, v in printable.items():
            print(f"{k:>18}: {v}")
        print(f"adapter: {Path(cfg.out) / 'adapter_best.safetensors'}")
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    model = load_model(args.model, weights=args.weights)
    recipe = Recipe(**({"steps": args.steps} if args.steps else {}))
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    res = adapt(model, args.photos, args.out, strategy=args.strategy, recipe=recipe, folds=args.folds,
                seed=args.seed, device=args.device, progress=not args.quiet, log=log)
    if args.json:
        print_json(res.to_dict())
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


def cmd_calibrate(args: argparse.Namespace) -> int:
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
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    set_adapter_threshold(dst, res["threshold"], res["source"])
    if args.json:
        print_json({**res, "adapter": str(dst)})
    else:
        print(f"threshold {res['threshold']:.2f}: {res['source']}\nstored in {dst}")
    return 0


def _train_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="tune a model on crack data")
    t.add_argument("--config", help="YAML config (configs/*.yaml); flags override it")
    t.add_argument("--model", help="registry name (sac models)")
    t.add_argument("--strategy", help="what trains: norm, decoder, full, none, lora_…, cracksam")
    t.add_argument("--weights", help="'default' (the registered pretrained file), 'none' or a checkpoint")
    t.add_argument("--loss", help="bce+dice:0.65 (default), mix:0.2, dice or bce")
    t.add_argument("--epochs", type=int, help="training epochs")
    t.add_argument("--lr", type=float, help="AdamW learning rate")
    t.add_argument("--batch-size", type=int, help="images per optimizer step")
    t.add_argument("--train", help="training samples spec (e.g. shared:all@train or a folder)")
    t.add_argument("--val", help="validation samples spec")
    t.add_argument("--limit-train", type=int, help="a seeded subset of N training images")
    t.add_argument("--limit-val", type=int, help="a seeded subset of N validation images")
    t.add_argument("--seed", type=int, help="seeds data order, augmentation and initialisation")
    add_device(t, default=None)
    t.add_argument("--out", help="the run folder")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config override, e.g. optim.warmup_steps=50")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_output(t)
    t.set_defaults(func=cmd_train)


def register(sub: argparse._SubParsersAction) -> None:
    _train_parser(sub)
    ad = sub.add_parser("adapt", help="tune a model to your own site from a few labelled photos (minutes, CPU)")
    ad.add_argument("photos", help="a folder with images/ + masks/ (3-20 labelled photos of the site)")
    ad.add_argument("--out", required=True, help="the adapter file to write (.safetensors)")
    add_model(ad)
    ad.add_argument("--strategy", default="norm", help="what trains (default: norm, the paper's method)")
    ad.add_argument("--steps", type=int, help="optimizer steps per tuning round (default: the recipe's)")
    ad.add_argument("--folds", type=int, default=CV_FOLDS,
                    help=f"cross-validation folds for the threshold and score (default {CV_FOLDS}; 0: none)")
    ad.add_argument("--seed", type=int, default=0, help="seeds augmentation and folds")
    add_device(ad)
    add_output(ad)
    ad.set_defaults(func=cmd_adapt)

    ca = sub.add_parser("calibrate", help="choose an adapter's threshold on validation data and store it in the file")
    ca.add_argument("adapter", help="adapter .safetensors")
    ca.add_argument("--data", action="append", default=None,
                    help="validation samples (repeatable; default shared:all@val). Never test or zero-shot data")
    ca.add_argument("--weights", help="base weights for the adapter")
    ca.add_argument("--size", type=int, default=256, help="the model's input size")
    add_device(ca)
    ca.add_argument("--out", help="write a calibrated copy here instead of updating the adapter in place")
    add_output(ca)
    ca.set_defaults(func=cmd_calibrate)
