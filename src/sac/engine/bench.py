"""``sac bench``: training and inference speed, reference and optimised paths side by side, in one run.

For every model (``--model``, repeatable: a bundled name, an adapter or a registry name) at ``size`` px:

* **reference** — the plain path: float32, eager, contiguous memory format, the libraries' own modules
  (SAM attention as segment-anything computes it), AdamW without fused kernels;
* **optimised** — what SAC runs: BatchNorms folded into their convolutions for inference
  (:func:`sac.engine.fold.fold_batchnorm`), channels-last weights and tiles on the CPU (``fast_layout``), bf16 autocast
  for inference on GPUs and on CPUs with native bf16 (AMX / AVX-512 BF16; ``sac predict``'s ``--amp auto``), bf16
  training and fused AdamW on GPUs (CPU training stays float32, as ``sac train`` runs it), SAM attention through
  SDPA on GPUs, ``torch.compile`` with ``--compile`` (a failure to compile falls back to eager and is recorded);
* **onnx** — inference with onnxruntime (CPU only, ``sac export``'s graph).

Inference: images/s over ``iters`` batches of ``batch`` random ``size``×``size`` images after warm-up.
Training: images/s of the ``norm`` strategy (the paper's method) with BCE on random masks. On a GPU the model
FLOPs utilisation (MFU) = achieved FLOP/s (3 × forward FLOPs per training image, 1 × per inference image, from
``count_flops``) / the card's dense bf16 peak. Each model runs in its own process, so its peak memory (CPU:
max RSS; GPU: max allocated) is its own. With ``--photo-mp`` the same is done for a photo of that many
megapixels (tiled from a real example photo): segmentation + measurement wall time and peak RSS, reference
(no channels-last) and optimised. Results: ``<out>.json`` (device, versions, settings, rows), ``<out>.md`` and
``<out>.png``. Timings are only comparable on an otherwise idle machine.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

# dense bf16 peak FLOP/s by GPU name (vendor data sheets; SXM parts)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "images"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(fn, n: int, warmup: int, dev: torch.device) -> float:
    for _ in range(warmup):
        fn()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    _sync(dev)
    return time.perf_counter() - t0


def _reference(model: torch.nn.Module) -> None:
    """The libraries' own modules: SAM attention and windowed blocks back to segment-anything's classes."""
    try:
        from sac.models.sam.attention import use_reference_attention
    except ImportError:  # pragma: no cover
        return
    use_reference_attention(model)


def run_model(spec: str, path: str, *, size: int, batch: int, iters: int, warmup: int, device: str,
              train: bool, compile_: bool) -> dict[str, Any]:
    """One (model, path) row, measured in this process."""
    from sac.engine import load_model
    from sac.engine.fold import fold_batchnorm
    from sac.engine.inference import fast_layout
    from sac.engine.runtime import autocast, cpu_has_native_bf16, resolve_device
    from sac.losses import build_loss
    from sac.models.profile import count_flops
    from sac.tuning import apply_strategy

    dev = resolve_device(device)
    row: dict[str, Any] = {"model": spec, "path": path, "size": size, "batch": batch}
    if path == "onnx":
        if dev.type != "cpu":
            return {**row, "note": "onnxruntime runs on the CPU here"}
        from sac.engine.onnx import onnx_model_for

        model = onnx_model_for(load_model(spec), size=size)
    else:
        model = load_model(spec).to(dev).eval()
        if path == "reference":
            _reference(model)
        else:
            model = fold_batchnorm(model, size=size)
    x = torch.rand(batch, 3, size, size, device=dev)
    opt_path = path == "optimised"
    amp = autocast(dev, "auto", cpu_auto=True) if opt_path else nullcontext()  # inference
    row["bf16"] = bool(opt_path and (dev.type == "cuda" or cpu_has_native_bf16()))
    layout = fast_layout(model, dev) if (opt_path and path != "onnx") else nullcontext(model)
    fwd = model
    if opt_path and compile_:
        try:
            fwd = torch.compile(model)
            with torch.inference_mode(), amp:
                fwd(x)
            row["compiled"] = True
        except Exception as e:  # noqa: BLE001 - recorded; the eager model is measured instead
            fwd, row["compiled"] = model, f"failed, eager used: {type(e).__name__}"
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    with layout:
        xi = x.contiguous(memory_format=torch.channels_last) if opt_path and dev.type == "cpu" else x

        def infer() -> None:
            with torch.inference_mode(), amp:
                fwd(xi)

        row["infer_img_s"] = batch * iters / _timed(infer, iters, warmup, dev)
        if train and path != "onnx":
            tmodel = apply_strategy(load_model(spec), "norm").to(dev).train()
            if path == "reference":
                _reference(tmodel)
            params = [p for p in tmodel.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(params, lr=1e-4, fused=opt_path and dev.type == "cuda")
            loss_fn = build_loss("bce")
            y = (torch.rand(batch, 1, size, size, device=dev) > 0.9).float()
            tl = fast_layout(tmodel, dev) if opt_path else nullcontext(tmodel)
            with tl:
                def step() -> None:
                    with autocast(dev, "auto") if opt_path else nullcontext():  # bf16 on GPUs only
                        out = tmodel(xi)
                    loss = loss_fn(out.float(), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

                row["train_img_s"] = batch * max(1, iters // 2) / _timed(step, max(1, iters // 2), 1, dev)
    if dev.type == "cuda":
        row["peak_mem_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
        name = torch.cuda.get_device_name(dev)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        if peak and path != "onnx":
            gflop = count_flops(load_model(spec).to(dev), size=size)
            row["gflop_per_image"] = gflop
            row["mfu_infer"] = row["infer_img_s"] * gflop * 1e9 / peak
            if "train_img_s" in row:
                row["mfu_train"] = row["train_img_s"] * 3 * gflop * 1e9 / peak
    else:
        row["peak_rss_mb"] = _peak_rss_mb()
    return row


def run_photo(spec: str, path: str, megapixels: float, device: str) -> dict[str, Any]:
    """Segment + measure one photo of ``megapixels`` built from a real example photo (tiled), in this process."""
    from sac.data import read_image
    from sac.engine import load_model, model_threshold
    from sac.engine.fold import fold_batchnorm
    from sac.engine.inference import predict_probability
    from sac.engine.runtime import resolve_device
    from sac.measure import measure_mask

    src = read_image(sorted(EXAMPLES.glob("*.jpg"))[0])
    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(megapixels * 1e6 / w))
    photo = np.tile(src, (h // src.shape[0] + 1, w // src.shape[1] + 1, 1))[:h, :w]
    dev = resolve_device(device)
    model = load_model(spec).eval()
    if path == "reference":
        _reference(model)
    else:
        model = fold_batchnorm(model)
    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    opt = path == "optimised"
    prob = predict_probability(model, photo, mode="tiled", device=dev, progress=False, channels_last=opt,
                               amp="auto" if opt else "off")
    t1 = time.perf_counter()
    meas = measure_mask(prob >= model_threshold(model))
    t2 = time.perf_counter()
    return {"model": spec, "path": path, "photo": f"{w}x{h}", "megapixels": w * h / 1e6,
            "segment_s": t1 - t0, "measure_s": t2 - t1, "total_s": t2 - t0, "cracks": meas.totals["count"],
            "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": base_rss}


def _child(kind: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh process (its own peak memory); returns its row."""
    cmd = [sys.executable, "-m", "sac.engine.bench", kind, json.dumps(kwargs)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    if r.returncode != 0:
        return {**{k: kwargs[k] for k in ("spec", "path") if k in kwargs}, "error": r.stderr.strip()[-500:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench(models: list[str], *, size: int = 256, batch: int = 8, iters: int = 10, warmup: int = 2,
          device: str = "auto", train: bool = True, onnx: bool = True, compile_: bool = False,
          photo_mp: float | None = None, out: str | Path | None = None, progress: bool = True,
          command: str | None = None) -> dict[str, Any]:
    """Every model × path (and the photo), each in its own process; the results, also written to ``out``."""
    from sac.engine.runtime import cpu_has_native_bf16, resolve_device
    from sac.files import atomic_write_json, atomic_write_text

    dev = resolve_device(device)
    paths = ["reference", "optimised"] + (["onnx"] if onnx and dev.type == "cpu" else [])
    rows, photos = [], []
    for spec in models:
        for path in paths:
            if progress:
                print(f"[bench] {spec} {path}", file=sys.stderr, flush=True)
            rows.append(_child("model", {"spec": spec, "path": path, "size": size, "batch": batch, "iters": iters,
                                         "warmup": warmup, "device": device, "train": train,
                                         "compile_": compile_}))
        if photo_mp:
            for path in ("reference", "optimised"):
                if progress:
                    print(f"[bench] {spec} {photo_mp:g} MP photo, {path}", file=sys.stderr, flush=True)
                photos.append(_child("photo", {"spec": spec, "path": path, "megapixels": photo_mp,
                                               "device": device}))
    result = {"device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
              "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
              "cpu_native_bf16": cpu_has_native_bf16(),
              "settings": {"size": size, "batch": batch, "iters": iters, "warmup": warmup, "train": train,
                           "compile": compile_, "photo_mp": photo_mp}, "rows": rows, "photos": photos,
              "command": command}
    if out is not None:
        out = Path(out)
        atomic_write_json(out.with_suffix(".json"), result)
        atomic_write_text(out.with_suffix(".md"), table(result))
        _plot(result, out.with_suffix(".png"))
    return result


def _version(mod: str) -> str | None:
    try:
        return __import__(mod).__version__
    except ImportError:
        return None


def table(result: dict[str, Any]) -> str:
    """Markdown tables: per model and path (ratio to the reference), and the photo."""
    def f(v: Any, fmt: str = ".1f") -> str:
        return "—" if v is None else format(v, fmt)

    s = result["settings"]
    lines = ([f"`{result['command']}`", ""] if result.get("command") else []) + [
             f"Device: {result['gpu'] or result['cpu']} ({result['device']}, {result['threads']} threads), torch "
             f"{result['torch']}, onnxruntime {result['onnxruntime']}; {s['size']} px, batch {s['batch']}"
             + ("" if result.get("cpu_native_bf16") is None or result["device"] != "cpu" else
                f"; native bf16 on this CPU: {'yes' if result['cpu_native_bf16'] else 'no'}") + ".", "",
             "reference = float32, eager, the libraries' modules; optimised = BatchNorms folded, channels-last, "
             "bf16 where the device has it (inference; CPU training stays float32), SDPA + fused AdamW on GPUs; "
             "onnx = onnxruntime, float32. Photo: segment (tiled, default overlap) + measure, model loaded.", "",
             "| model | path | infer img/s | × ref | train img/s (norm) | × ref | peak MB | MFU infer | MFU train |",
             "|---|---|---|---|---|---|---|---|---|"]
    ref = {r["model"]: r for r in result["rows"] if r.get("path") == "reference"}
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r.get('model')} | {r.get('path')} | error: {r['error'][-80:]} |||||||")
            continue
        b = ref.get(r["model"], {})
        xi = r.get("infer_img_s") / b["infer_img_s"] if b.get("infer_img_s") and r.get("infer_img_s") else None
        xt = r.get("train_img_s") / b["train_img_s"] if b.get("train_img_s") and r.get("train_img_s") else None
        mem = r.get("peak_mem_mb", r.get("peak_rss_mb"))
        lines.append(f"| {r['model']} | {r['path']} | {f(r.get('infer_img_s'))} | {f(xi, '.2f')} | "
                     f"{f(r.get('train_img_s'))} | {f(xt, '.2f')} | {f(mem, '.0f')} | "
                     f"{f(r.get('mfu_infer'), '.1%')} | {f(r.get('mfu_train'), '.1%')} |")
    if result["photos"]:
        lines += ["", "| model | photo | path | segment s | measure s | total s | peak RSS MB |", "|---|---|---|---|---|---|---|"]
        for p in result["photos"]:
            if "error" in p:
                lines.append(f"| {p.get('model')} | | {p.get('path')} | error: {p['error'][-80:]} ||||")
                continue
            lines.append(f"| {p['model']} | {p['photo']} | {p['path']} | {p['segment_s']:.1f} | {p['measure_s']:.1f} | "
                         f"{p['total_s']:.1f} | {p['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if "infer_img_s" in r]
    if not rows:
        return
    models = list(dict.fromkeys(r["model"] for r in rows))
    paths = list(dict.fromkeys(r["path"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(models), 3.2))
    wbar = 0.8 / len(paths)
    for j, p in enumerate(paths):
        vals = [next((r["infer_img_s"] for r in rows if r["model"] == m and r["path"] == p), 0) for m in models]
        ax.bar(np.arange(len(models)) + j * wbar, vals, wbar, label=p)
    ax.set_xticks(np.arange(len(models)) + wbar * (len(paths) - 1) / 2, models)
    ax.set_ylabel("inference images / s")
    ax.set_title(f"{result['gpu'] or result['cpu']}, {result['settings']['size']} px")
    ax.legend()
    fig.tight_layout()
    from sac.files import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":  # a child measurement: python -m sac.engine.bench model|photo JSON
    kind, kw = sys.argv[1], json.loads(sys.argv[2])
    out = run_model(**kw) if kind == "model" else run_photo(**kw)
    print(json.dumps(out, default=float))
