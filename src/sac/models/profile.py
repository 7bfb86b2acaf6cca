"""Model size and cost: parameters, norm parameters, FLOPs/MACs of one forward.

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts the matmul-like
operators (convolutions, linear layers, attention, ...) and counts one multiply-add as **2** FLOPs.
Elementwise work (BatchNorm, activations, additions, interpolation) is not counted. Papers usually quote
*MACs* under the name "FLOPs" (thop / ptflops / fvcore / torchvision's ``_ops``), so both are reported:
``gmacs = gflops / 2``.

The paper's Table 3 "FLOPs (G)" column is MACs: its DeepLabv3+ rows (43.39 G, 62.84 G at 256×256) match
torchvision's DeepLabV3-ResNet50/101 *with* the aux head and 21 classes (the model whose parameter counts,
42.0 M / 61.0 M, it lists) at 43.3 / 62.7 GMACs here, where the FLOP count would be twice that. Its U-Net
(38.35) and SegFormer (15.73) entries match neither count of the smp models whose parameter counts they list
(10.6 and 1.75 GMACs), so those were measured some other way (another input size or counter).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sac.models.norms import count_parameters, norm_kinds
from sac.models.registry import create_model, model_info


def count_flops(model: nn.Module, size: int = 256) -> float:
    """GFLOPs (1 multiply-add = 2 FLOPs) of one forward of ``model`` on a ``1×3×size×size`` input.

    The forward runs for real, in eval mode and without gradients, on the model's device; the model's
    train/eval state is restored afterwards. Halve the result for GMACs.
    """
    try:
        p = next(model.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    x = torch.rand(1, 3, size, size, device=device, dtype=dtype)
    was_training = model.training
    # FlopCounterMode's module tracker hooks every module output that requires grad; a module that returns
    # a parameter itself (SAM's prompt encoder returns its no-mask embedding) breaks it, so freeze meanwhile.
    grads = {p: p.requires_grad for p in model.parameters()}
    model.eval().requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for p, g in grads.items():
            p.requires_grad_(g)
    return counter.get_total_flops() / 1e9


def model_summary(name: str, size: int = 256, *, flops: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Size and cost of registered model ``name`` (random init; nothing is loaded or downloaded).

    Returns ``name``, ``params``, ``norm_params`` (affine γ/β of every norm layer), ``norm_pct``
    (percent of all parameters), ``norm_kinds`` (``BN``/``GN``/``LN``), ``size``, ``gflops`` and ``gmacs``
    (None when ``flops=False``) and the paper's Table 3 row (``paper``, None if it has none).
    ``kwargs`` go to the model builder.
    """
    info = model_info(name)
    model = create_model(name, weights=None, **kwargs)
    counts = count_parameters(model)
    gflops = count_flops(model, size) if flops else None
    return {
        "name": name,
        "params": counts["total"],
        "norm_params": counts["norm"],
        "norm_pct": 100.0 * counts["norm"] / counts["total"] if counts["total"] else 0.0,
        "norm_kinds": norm_kinds(model),
        "size": size,
        "gflops": gflops,
        "gmacs": None if gflops is None else gflops / 2,
        "paper": dict(info.paper) if info.paper else None,
    }
