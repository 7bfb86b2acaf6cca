"""Ge et al.'s CrackSAM on SAM's image encoder: ``cracksam`` and ``cracksam_adapter``.

CrackSAM (Ge et al. 2024, Construction and Building Materials 431:136573; design read from the public
code, this is an independent implementation):

* LoRA on the **query and value** slices of every block's fused ``qkv`` Linear — two separate rank-r
  pairs per block (q and v), ``k`` untouched, no scaling, A Kaiming-uniform, B zero (:class:`QVLoRA`).
* ``cracksam_adapter`` adds, in every block, a bottleneck adapter (Linear dim→32, GELU, Linear 32→dim,
  with biases) *after* the attention (sequential: ``y + adapter(y)``) and one *parallel* to the MLP
  (``mlp(x) + 0.2·adapter(x)``). CrackSAM leaves the adapters at PyTorch's default Linear init; here the
  up-projection starts at zero so the injected model starts as the base model (a deliberate difference).
* The whole mask decoder and the prompt encoder train; the rest of the image encoder is frozen; no prompt.

``cracksam`` is what the paper's Table 5 row measures (its footnote: "PEFT Encoder with LoRA (r = 8),
Finetune Decoder and Prompt Encoder, No input prompt"; 4 M parameters, 4.507 %): LoRA r=8 without the
adapters. ``cracksam_adapter`` is CrackSAM's LoRA + Adapter combination the paper's text describes.

Injection: :mod:`sac.tuning.strategies.injection`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sac.models import SegmentationModel
from sac.tuning.registry import freeze, register_strategy
from sac.tuning.strategies.injection import injection_rng, plain_linear, set_submodule, targets_check


class QVLoRA(nn.Module):
    """A fused ``qkv`` Linear (``out = 3·in``) with LoRA on q and on v.

    ``qkv(x) + [B_q A_q x, 0, B_v A_v x]``: two independent rank-``r`` updates, k untouched, scaling 1.
    ``groups`` says how the output is ordered: 1 = ``[q | k | v]`` (SAM's ViT); H = ``[q_h | k_h | v_h]`` for
    each of H heads in turn (TinyViT), where the q and v updates are split by head the same way.
    """

    def __init__(self, base_layer: nn.Linear, r: int, groups: int = 1):
        super().__init__()
        dim = base_layer.in_features
        if base_layer.out_features != 3 * dim:
            raise ValueError(f"not a fused qkv Linear: {base_layer.in_features}→{base_layer.out_features}")
        if dim % groups:
            raise ValueError(f"qkv width {dim} is not divisible into {groups} groups")
        self.base_layer = base_layer
        self.r = r
        self.groups = groups
        kw = {"device": base_layer.weight.device, "dtype": base_layer.weight.dtype}
        self.lora_A_q = nn.Parameter(torch.empty(r, dim, **kw))
        self.lora_B_q = nn.Parameter(torch.zeros(dim, r, **kw))
        self.lora_A_v = nn.Parameter(torch.empty(r, dim, **kw))
        self.lora_B_v = nn.Parameter(torch.zeros(dim, r, **kw))
        nn.init.kaiming_uniform_(self.lora_A_q, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.lora_A_v, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        dq = F.linear(F.linear(x, self.lora_A_q), self.lora_B_q)
        dv = F.linear(F.linear(x, self.lora_A_v), self.lora_B_v)
        if self.groups == 1:
            return out + torch.cat([dq, torch.zeros_like(dq), dv], dim=-1)
        lead, g = dq.shape[:-1], self.groups
        dq, dv = dq.reshape(*lead, g, 1, -1), dv.reshape(*lead, g, 1, -1)
        delta = torch.cat([dq, torch.zeros_like(dq), dv], dim=-2)  # per head: q | k | v
        return out + delta.reshape(*lead, -1)


class BottleneckAdapter(nn.Module):
    """``scale · up(GELU(down(x)))`` with a ``dim → hidden → dim`` bottleneck (biases on both Linears).
    The up-projection starts at zero, so a fresh adapter adds nothing."""

    def __init__(self, dim: int, hidden: int, scale: float = 1.0, *, device: torch.device | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.down = nn.Linear(dim, hidden, device=device, dtype=dtype)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, dim, device=device, dtype=dtype)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.up(self.act(self.down(x)))


class SequentialAdapter(nn.Module):
    """``y = base(x); y + adapter(y)`` — an adapter after a sub-layer (CrackSAM: after attention)."""

    def __init__(self, base: nn.Module, adapter: nn.Module):
        super().__init__()
        self.base = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor, *args: Any) -> torch.Tensor:  # args: the sub-layer's own (TinyViT: extent)
        y = self.base(x, *args)
        return y + self.adapter(y)


class ParallelAdapter(nn.Module):
    """``base(x) + adapter(x)`` — an adapter beside a sub-layer (CrackSAM: beside the MLP)."""

    def __init__(self, base: nn.Module, adapter: nn.Module):
        super().__init__()
        self.base = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.adapter(x)


CRACKSAM_RANK = 8  # the paper's Table 5 footnote (CrackSAM's own default is 4)
CRACKSAM_ADAPTER_DIM = 32  # CrackSAM's default middle_dim
CRACKSAM_MLP_SCALE = 0.2  # CrackSAM's LoRA+Adapter model: the MLP adapter is scaled by 0.2, the attention one by 1


def _cracksam(model: SegmentationModel, strategy: str, adapters: bool) -> SegmentationModel:
    qkv_paths = model.lora_targets("qkv")
    for p in qkv_paths:
        plain_linear(model, p, strategy)
    freeze(model)
    injected: list[nn.Parameter] = []
    with injection_rng(model, strategy):
        for p in qkv_paths:
            groups = model.qkv_groups(p) if callable(getattr(model, "qkv_groups", None)) else 1
            m = QVLoRA(model.get_submodule(p), CRACKSAM_RANK, groups)
            set_submodule(model, p, m)
            injected += [m.lora_A_q, m.lora_B_q, m.lora_A_v, m.lora_B_v]
        if adapters:
            for kind, wrap, scale in (("attn", SequentialAdapter, 1.0), ("mlp", ParallelAdapter, CRACKSAM_MLP_SCALE)):
                for p in model.lora_targets(kind):
                    base = model.get_submodule(p)
                    ref = next(base.parameters())
                    dim = _block_width(base)
                    ad = BottleneckAdapter(dim, CRACKSAM_ADAPTER_DIM, scale, device=ref.device, dtype=ref.dtype)
                    set_submodule(model, p, wrap(base, ad))
                    injected += list(ad.parameters())
    for t in injected:
        t.requires_grad_(True)
    for part in model.part("decoder"):
        for t in part.parameters():
            t.requires_grad_(True)
    for name in getattr(model, "prompt_names", ()):
        for t in model.get_submodule(name).parameters():
            t.requires_grad_(True)
    return model


def _block_width(sublayer: nn.Module) -> int:
    """Token width of an attention or MLP sub-layer (its first Linear's input features)."""
    for m in sublayer.modules():
        if isinstance(m, nn.Linear):
            return m.in_features
    raise ValueError(f"{type(sublayer).__name__} has no Linear layer")


@register_strategy(
    "cracksam",
    description="Ge et al. (2024) CrackSAM as in the paper's Table 5: LoRA r=8 on q and v of every ViT block, "
                "mask decoder and prompt encoder train, no prompt",
    check=targets_check("qkv", decoder=True),
    paper={"label": "Ge et al. (2024) Method", "params": "4M", "pct": 4.507},
)
def cracksam(model: SegmentationModel) -> SegmentationModel:
    return _cracksam(model, "cracksam", adapters=False)


@register_strategy(
    "cracksam_adapter",
    description="CrackSAM's LoRA + Adapter combination: cracksam plus bottleneck adapters (dim 32) after the "
                "attention and beside the MLP of every ViT block",
    check=targets_check("qkv", "attn", "mlp", decoder=True),
)
def cracksam_adapter(model: SegmentationModel) -> SegmentationModel:
    return _cracksam(model, "cracksam_adapter", adapters=True)
