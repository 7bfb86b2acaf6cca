"""``sac data check``: validate a dataset folder or sample spec before training."""

from __future__ import annotations

import argparse

from sac.cli.common import add_output, print_json
from sac.data.check import check_dataset, format_report


def cmd_data_check(args: argparse.Namespace) -> int:
    report = check_dataset(args.path, threshold=args.threshold, progress=not args.quiet)
    if args.json:
        print_json({"ok": report.ok, "problems": report.problems, "summary": report.summary})
    else:
        print(format_report(report))
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dc = dsub.add_parser("check", help="validate a dataset folder (images/ + masks/) or a sample spec")
    dc.add_argument("path", help="a folder with images/ + masks/, or a spec such as shared:CFD@train")
    dc.add_argument("--threshold", type=int, default=None, help="binarise grey masks at this value")
    add_output(dc)
    dc.set_defaults(func=cmd_data_check)
