"""What the commands share: JSON output, the argument groups several commands use, the scale flags."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sac.files import json_default
from sac.measure import check_gradable, scale_from_reference
from sac.study.scale import Scale


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=json_default))


def add_output(p: argparse.ArgumentParser, quiet: bool = True) -> None:
    """``--json`` (machine-readable output) and ``--quiet`` (no progress)."""
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress bars or messages on stderr")


def add_model(p: argparse.ArgumentParser) -> None:
    """``--model`` / ``--weights``: which model a command runs."""
    p.add_argument("--model", default="default",
                   help="'default' or 'sac-t' (bundled models, see their cards), an adapter .safetensors, an exported .onnx (inference), "
                        "or a registry name (sac models)")
    p.add_argument("--weights", help="base weights for a registry name / adapter: 'default', 'none' or a file")


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    p.add_argument("--device", default=default, help="auto (a GPU if there is one), cpu, cuda or cuda:N")


def add_amp(p: argparse.ArgumentParser, auto: str) -> None:
    p.add_argument("--amp", choices=["auto", "bf16", "off"], default="auto",
                   help=f"auto: {auto}; bf16: bf16 autocast on any device; off: float32 everywhere")


def add_threshold(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--threshold", type=float, default=None,
                   help=f"{what} (default: the model's calibrated threshold, else 0.5)")


def add_mm_scale(p: argparse.ArgumentParser) -> None:
    """``--mm-per-px`` / ``--reference``: millimetres per pixel, given or from a reference length."""
    p.add_argument("--mm-per-px", type=float, help="the photo's scale, millimetres per pixel")
    p.add_argument("--reference", type=float, nargs=2, metavar=("PX", "MM"),
                   help="scale from a reference: a length of PX pixels is MM millimetres")
    p.add_argument("--standard", help="grade each crack's width under a rule set: en1992-1-1:<exposure> "
                                      "(x0, xc1..xc4, xd1, xd2, xs1..xs3, prestressed), aci224r:<exposure> "
                                      "(dry-air, humid, deicing, seawater, water-retaining) or bre251; needs a scale "
                                      "(sac measure --list-standards)")


def mm_per_px(args: argparse.Namespace) -> float | None:
    """The scale of ``add_mm_scale``'s flags; a ``--standard`` is checked against it (known, and a scale given)."""
    scale = args.mm_per_px if args.mm_per_px is not None else (
        scale_from_reference(*args.reference) if args.reference else None)
    if getattr(args, "standard", None):
        check_gradable(args.standard, scale)
    return scale


def add_scale(p: argparse.ArgumentParser, *, evaluation: bool) -> None:
    """The scale flags of ``sac suite`` and ``sac search`` (:class:`~sac.study.scale.Scale`)."""
    p.add_argument("--limit-train", type=int, help="a seeded subset of N training images (0 = all)")
    p.add_argument("--limit-val", type=int, help="a seeded subset of N validation images (0 = all)")
    if evaluation:
        p.add_argument("--limit-test", type=int, help="evaluate on a seeded subset of N test images per spec")
        p.add_argument("--limit-zeroshot", type=int, help="the same for the zero-shot specs (default: --limit-test)")
        p.add_argument("--batch-size", type=int, help="training batch size of every run")
    p.add_argument("--size", type=int, help="training / evaluation image size in px")
    add_device(p, default=None)


def scale_from(args: argparse.Namespace) -> Scale:
    """The :class:`Scale` of the parsed scale flags (flags not given stay unset)."""
    values = {k: getattr(args, k, None) for k in Scale.keys()}
    return Scale(**values)
