"""Choosing the probability threshold of a model on validation data (and storing it in its adapter).

A crack model's output at 0.5 is not always its best mask: the bundled U-Net's zero-shot F1 on MCS is
0.32 at 0.5 but its ODS (the best threshold for the set) 0.61. :func:`calibrate_threshold` picks the
threshold that maximises F1 pooled over the given *validation* samples (the ODS threshold, 0.01 steps, at
each mask's native resolution) — never on test or zero-shot data — and :func:`sac.tuning.set_adapter_threshold`
stores it in the adapter, where ``evaluate`` / ``predict`` pick it up (``--threshold`` overrides).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sac.engine.evaluate import evaluate


def calibrate_threshold(model: nn.Module, samples: list, *, protocol: str = "native", inference: str = "resize",
                        size: int = 256, batch_size: int = 8, device: str = "auto",
                        progress: bool = True) -> dict[str, Any]:
    """The F1-maximising threshold on ``samples`` (validation data): ``{"threshold", "f1_at_threshold",
    "f1_at_0.5", "n_images", "datasets", "source"}``. The counts come from one evaluation pass (the
    threshold histograms of :class:`sac.metrics.SegmentationMetrics`)."""
    res = evaluate(model, samples, protocol=protocol, inference=inference, size=size, batch_size=batch_size,
                   device=device, fast=True, progress=progress, threshold=0.5)
    o = res["overall"]
    t = float(o["ods_threshold"])
    t = min(max(t, 0.01), 0.99)
    names = sorted(res["datasets"])
    return {"threshold": t, "f1_at_threshold": float(o["ods"]), "f1_at_0.5": float(o["f1"]),
            "n_images": int(o["n_images"]), "datasets": names,
            "source": f"ODS threshold (best pooled F1) on {int(o['n_images'])} validation images of "
                      f"{', '.join(names)} ({protocol} protocol, {inference} at {size} px): "
                      f"F1 {o['f1']:.3f} at 0.5 → {o['ods']:.3f} at {t:.2f}"}
