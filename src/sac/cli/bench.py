"""``sac bench``: reference vs optimised speed (see :mod:`sac.engine.bench`)."""

from __future__ import annotations

import argparse
import shlex

from sac.cli.common import add_device


def cmd_bench(args: argparse.Namespace) -> int:
    from sac.engine.bench import bench, table

    result = bench(args.model or ["default"], size=args.size, batch=args.batch, iters=args.iters,
                   device=args.device, train=not args.no_train, onnx=not args.no_onnx, compile_=args.compile,
                   photo_mp=args.photo_mp, out=args.out, progress=not args.quiet,
                   command=_command(args))
    print(table(result))
    return 1 if any("error" in r for r in result["rows"] + result["photos"]) else 0


def _command(args: argparse.Namespace) -> str:
    """The command that reproduces this run (from the parsed arguments, not sys.argv)."""
    parts = ["sac", "bench"] + [x for m in args.model or ["default"] for x in ("--model", m)]
    parts += ["--size", str(args.size), "--batch", str(args.batch), "--iters", str(args.iters), "--device", args.device]
    parts += [flag for flag, on in (("--no-train", args.no_train), ("--no-onnx", args.no_onnx),
                                    ("--compile", args.compile)) if on]
    if args.photo_mp:
        parts += ["--photo-mp", f"{args.photo_mp:g}"]
    if args.out:
        parts += ["--out", args.out]
    return shlex.join(parts)


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="training / inference img/s, peak memory, MFU: reference vs optimised paths")
    b.add_argument("--model", action="append", help="model(s) to measure (default: the bundled default)")
    b.add_argument("--size", type=int, default=256)
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--iters", type=int, default=10, help="timed batches per measurement")
    add_device(b)
    b.add_argument("--no-train", action="store_true", help="inference only")
    b.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime path")
    b.add_argument("--compile", action="store_true", help="optimised path with torch.compile (eager if it fails)")
    b.add_argument("--photo-mp", type=float, help="also segment + measure a photo of this many megapixels")
    b.add_argument("--out", help="write <out>.json / .md / .png")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_bench)
