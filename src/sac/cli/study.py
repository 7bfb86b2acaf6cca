"""``sac search`` (Table 2), ``sac suite`` (the paper's experiments at any scale) and ``sac report``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sac.cli.common import add_output, add_scale, print_json, scale_from
from sac.engine import load_config
from sac.report import build_report
from sac.study.search import run_search
from sac.study.suite import run_suite


def cmd_search(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("data.train", args.train), ("data.val", args.val), ("weights", args.weights))
                 if v is not None}
    base_cfg = load_config(args.config, overrides) if (args.config or overrides) else None
    result = run_search([int(c) for c in args.configs], base_cfg, fraction=args.fraction, n_trials=args.n_trials,
                        epochs=args.epochs, seed=args.seed, out=args.out, sampler=args.sampler, model=args.model,
                        strategy=args.strategy, scale=scale_from(args), progress=not args.quiet)
    if args.json:
        print_json({"best": result.best, "per_config": result.per_config, "trials": result.trials})
    else:
        print((Path(result.out) / "trials.md").read_text())
    return 0


def cmd_suite(args: argparse.Namespace) -> int:
    result = run_suite(args.suite, out=args.out, scale=scale_from(args), fast=args.fast, models=args.model,
                       strategies=args.strategy, overrides=args.set, resume=not args.restart,
                       progress=not args.quiet, dry_run=args.dry_run)
    if args.json:
        print_json(result.runs)
    else:
        print(result.table())
        print(f"\n{len(result.runs)} runs, {len(result.failed)} failed, {result.wall_seconds:.0f} s; "
              f"tables and figures: sac report {result.out}")
    return 1 if result.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    html = build_report(args.runs_dir, args.out, qualitative=not args.no_qualitative,
                        qualitative_rows=args.rows, device=args.device)
    print(f"{html}\n{Path(html).with_suffix('.md')}")
    return 0


def _search_parser(sub: argparse._SubParsersAction) -> None:
    se = sub.add_parser("search", help="the paper's random hyperparameter search (Table 2), resumable")
    se.add_argument("configs", nargs="+", choices=["1", "2", "3"], help="Table 2 configuration(s)")
    se.add_argument("--config", help="YAML training config every trial shares")
    se.add_argument("--fraction", type=float, help="share of each grid to train (default: the paper's 20/20/5 %%)")
    se.add_argument("--n-trials", type=int, help="combinations per configuration (instead of --fraction)")
    se.add_argument("--epochs", type=int, default=4, help="epochs per trial (paper: 4)")
    se.add_argument("--seed", type=int, default=0, help="seeds the sampled combinations and the training")
    se.add_argument("--sampler", default="random", choices=["random", "tpe"], help="random (the paper's) or TPE")
    se.add_argument("--model", help="default unet_effnet_lite0 (the paper: sam_vit_b with a user checkpoint)")
    se.add_argument("--strategy", help="default norm")
    se.add_argument("--weights", help="'default', 'none' or a checkpoint path")
    se.add_argument("--train", help="training samples spec")
    se.add_argument("--val", help="validation samples spec")
    add_scale(se, evaluation=False)
    se.add_argument("--out", default="runs/search", help="the search folder (resumable)")
    add_output(se)
    se.set_defaults(func=cmd_search)


def register(sub: argparse._SubParsersAction) -> None:
    _search_parser(sub)
    su = sub.add_parser("suite", help="run an experiment suite (configs/paper/*.yaml) at any scale")
    su.add_argument("suite", help="suite YAML, e.g. configs/paper/cross_model.yaml")
    su.add_argument("--out", default="runs/suite", help="the runs folder (resumable)")
    su.add_argument("--epochs", type=int, help="training epochs of every run")
    add_scale(su, evaluation=True)
    su.add_argument("--weights", choices=["default", "none"], help="force pretrained or random initialisation")
    su.add_argument("--fast", action="store_true", default=None, help="skip tolerance / skeleton metrics")
    su.add_argument("--model", action="append", help="only runs of this model (repeatable)")
    su.add_argument("--strategy", action="append", help="only runs with this strategy (repeatable)")
    su.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override for every run")
    su.add_argument("--restart", action="store_true", help="retrain the selected runs from scratch")
    su.add_argument("--dry-run", action="store_true", help="validate and list the plan, train nothing")
    add_output(su)
    su.set_defaults(func=cmd_suite)

    rp = sub.add_parser("report", help="paper-layout tables + figures (markdown, PNG, one HTML page) from runs")
    rp.add_argument("runs_dir", help="a runs folder written by sac suite / sac search")
    rp.add_argument("--out", help="default RUNS_DIR/report")
    rp.add_argument("--rows", type=int, default=6, help="photos in the qualitative grid (Fig. 7)")
    rp.add_argument("--no-qualitative", action="store_true", help="skip the Fig. 7 grid (no inference)")
    rp.add_argument("--device", default="auto", help="device of the Fig. 7 inference")
    rp.set_defaults(func=cmd_report)
