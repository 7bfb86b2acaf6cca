"""``sac`` command line: thin — parse, call one public function, print.

One module per group of commands (``models``, ``data``, ``train``, ``infer``, ``study``), each with its
``register(subparsers)``; shared argument groups in :mod:`sac.cli.common`. User errors
(:class:`sac.errors.SACError`) print one line ``error: <file>: <problem>`` and exit 2.
"""

from __future__ import annotations

import argparse
import sys

import sac
from sac.cli import bench, data, infer, models, serve, study, train
from sac.errors import SACError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sac", description="Segment Any Crack: crack segmentation and measurement")
    p.add_argument("--version", action="version", version=f"sac {sac.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (models, data, train, infer, study, serve, bench):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SACError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
