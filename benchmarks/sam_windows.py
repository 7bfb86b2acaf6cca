"""What SAM's 14-px windows cost at 256 px, and what running qkv / proj on the real tokens only saves.

At 256 px the ViT's token grid is 16×16; segment-anything pads it to 28×28 for its 14×14 windows, so in every
windowed block ``qkv`` and ``proj`` run on 784 tokens for 256 real ones (the MLP and the global blocks do not
pad). ``sac.models.sam.attention.WindowedBlock`` computes the same function with those two layers on the real
tokens (the padded windows are filled with ``qkv(0)``, what a zero token gives). This script counts the FLOPs of
one forward of each image encoder both ways (``torch.utils.flop_counter``: matrix products, 2 FLOPs per
multiply-add), checks the outputs agree, and times the forward and a norm-only training step of ``sam_vit_b``
(random weights: none are available here) on this machine's CPU.

    python benchmarks/sam_windows.py                 # FLOPs of vit_b / vit_l / vit_h, timing of vit_b
    python benchmarks/sam_windows.py --no-timing     # FLOPs only (seconds; any load on the machine is fine)

Writes ``benchmarks/results/sam_windows.{md,json}``. Timings are comparable only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def flops(module, x) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


def timed(fn, iters: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--variants", nargs="+", default=["sam_vit_b", "sam_vit_l", "sam_vit_h"])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from sac.files import atomic_write_json, atomic_write_text
    from sac.models import create_model
    from sac.models.sam.attention import use_reference_attention
    from sac.tuning import apply_strategy

    torch.manual_seed(0)
    x1 = torch.rand(1, 3, args.size, args.size)
    rows = []
    for name in args.variants:
        model = create_model(name, weights=None, input_size=args.size).eval()
        enc = model.sam.image_encoder
        ref = copy.deepcopy(enc)
        use_reference_attention(ref)
        f_ref, f_new = flops(ref, x1), flops(enc, x1)
        with torch.no_grad():
            diff = float((enc(x1) - ref(x1)).abs().max())
        row = {"model": name, "size": args.size, "gflop_reference": f_ref / 1e9, "gflop_windowed": f_new / 1e9,
               "saved": 1 - f_new / f_ref, "max_abs_diff": diff}
        print(f"{name}: {f_ref / 1e9:.1f} → {f_new / 1e9:.1f} GFLOP per image encoder forward "
              f"({100 * row['saved']:.0f} % fewer), max |Δ| {diff:.1e}", flush=True)
        if not args.no_timing and name == "sam_vit_b":
            xb = torch.rand(args.batch, 3, args.size, args.size)
            for label, swap in (("reference", True), ("windowed", False)):
                m = apply_strategy(create_model(name, weights=None, input_size=args.size), "norm")
                if swap:
                    use_reference_attention(m)
                params = [p for p in m.parameters() if p.requires_grad]
                opt = torch.optim.AdamW(params, lr=1e-4)

                def step(m=m, opt=opt, xb=xb):
                    loss = m(xb).float().square().mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

                m.eval()
                with torch.no_grad():
                    infer = timed(lambda m=m, xb=xb: m(xb), args.iters)
                m.train()
                train = timed(step, args.iters)
                row[f"infer_img_s_{label}"] = args.batch / infer
                row[f"train_img_s_{label}"] = args.batch / train
                print(f"  {label}: inference {args.batch / infer:.2f} img/s, norm-only training "
                      f"{args.batch / train:.2f} img/s", flush=True)
        rows.append(row)

    lines = ["# SAM's windows at 256 px: reference vs qkv / proj on the real tokens",
             "", f"`python benchmarks/sam_windows.py` — torch {torch.__version__}, {platform.machine()}, "
             f"{torch.get_num_threads()} threads, batch {args.batch}, random weights.", "",
             "| model | GFLOP / forward, reference | windowed blocks on real tokens | saved | max abs diff |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['gflop_reference']:.1f} | {r['gflop_windowed']:.1f} | "
                     f"{100 * r['saved']:.0f} % | {r['max_abs_diff']:.1e} |")
    timing = [r for r in rows if "infer_img_s_reference" in r]
    if timing:
        lines += ["", "| model (CPU) | inference img/s ref → windowed | norm-only training img/s ref → windowed |",
                  "|---|---|---|"]
        for r in timing:
            lines.append(f"| {r['model']} | {r['infer_img_s_reference']:.2f} → {r['infer_img_s_windowed']:.2f} "
                         f"({r['infer_img_s_windowed'] / r['infer_img_s_reference']:.2f}×) | "
                         f"{r['train_img_s_reference']:.2f} → {r['train_img_s_windowed']:.2f} "
                         f"({r['train_img_s_windowed'] / r['train_img_s_reference']:.2f}×) |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "sam_windows.md", "\n".join(lines) + "\n")
    atomic_write_json(RESULTS / "sam_windows.json", {"args": vars(args), "rows": rows})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
