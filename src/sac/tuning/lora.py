"""SAM-specific strategies of the paper's Table 5: six LoRA variants and Ge et al.'s CrackSAM.

They apply to models that expose ``lora_targets(kind, last_n) -> list[str]`` (dotted submodule paths;
``sac.models.sam``). Modules are injected by the strategy function itself, so
:func:`sac.tuning.adapter.load_adapter` (create_model → apply_strategy → load tensors) rebuilds them.
Injection draws its random initial values from a private torch RNG seeded from the model's
``init_seed`` and the strategy name, so it is deterministic and leaves the global RNG untouched.

LoRA variants (``peft.inject_adapter_in_model``, ``lora_alpha = r`` i.e. scaling 1 like SAMed/CrackSAM,
no dropout, no bias; A Kaiming-uniform, B zero, so the model starts as the base model). Only the LoRA
A/B matrices train; on ViT-B:

=========================  ===========================================  =========
strategy                   target                                       trainable
=========================  ===========================================  =========
``lora_mlp2_last1_r8``     ``mlp.lin2`` of the last block, r=8          30,720
``lora_mlp2_last1_r16``    same, r=16                                   61,440
``lora_qkv_last2_r8``      ``attn.qkv`` of the last 2 blocks, r=8       49,152
``lora_qkv_last2_r16``     same, r=16                                   98,304
``lora_qkv_last4_r8``      ``attn.qkv`` of the last 4 blocks, r=8       98,304
``lora_qkv_last4_r16``     same, r=16                                   196,608
=========================  ===========================================  =========

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
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sac.errors import StrategyError
from sac.tuning.registry import freeze, register_strategy

LORA_MARK = "lora_"


# --------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _injection_rng(model: nn.Module, strategy: str) -> Iterator[None]:
    """A private torch RNG for the random initial values of injected modules."""
    seed = int(getattr(model, "sac_base", {}).get("init_seed", 0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((seed * 1_000_003 + zlib.crc32(strategy.encode())) % (2**63))
        yield


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _linear_at(model: nn.Module, path: str, strategy: str) -> nn.Linear:
    m = model.get_submodule(path)
    if type(m) is not nn.Linear:
        raise StrategyError(getattr(model, "sac_name", type(model).__name__),
                            f"strategy {strategy!r}: {path} is a {type(m).__name__}, not a plain Linear "
                            "(was a strategy already applied to this model?)")
    return m


def _targets_check(*kinds: str, last_n: int | None = None, decoder: bool = False) -> Callable[[nn.Module], str | None]:
    def check(model: nn.Module) -> str | None:
        if not callable(getattr(model, "lora_targets", None)):
            return ("the model exposes no transformer blocks for LoRA/adapters (lora_targets); these strategies "
                    "are for SAM (sam_vit_t/b/l/h)")
        for kind in kinds:
            try:
                model.lora_targets(kind, last_n)
            except ValueError as e:
                return str(e)
        if decoder and not getattr(model, "decoder_names", ()):
            return "the model does not name a decoder part"
        return None

    return check


# ---------------------------------------------------------------------------------- LoRA (peft)
def _peft_lora(model: nn.Module, targets: list[str], r: int, strategy: str) -> nn.Module:
    from peft import LoraConfig, inject_adapter_in_model

    for t in targets:
        _linear_at(model, t, strategy)
    freeze(model)
    config = LoraConfig(r=r, lora_alpha=r, target_modules=list(targets), lora_dropout=0.0, bias="none")
    with _injection_rng(model, strategy):
        model = inject_adapter_in_model(config, model)
    for name, p in model.named_parameters():
        p.requires_grad_(".lora_A." in name or ".lora_B." in name)
    return model


LORA_VARIANTS: list[tuple[str, str, int, int, str, str, float]] = [
    # name, kind, last_n, r, Table 5 label, params, % params
    ("lora_mlp2_last1_r8", "mlp2", 1, 8, "PEFT Encoder, LoRA - 2nd Linear of MLP, last ViT block, r = 8",
     "30.7K", 0.0339),
    ("lora_mlp2_last1_r16", "mlp2", 1, 16, "PEFT Encoder, LoRA - 2nd Linear of MLP last ViT block, r = 16",
     "61K", 0.0679),
    ("lora_qkv_last2_r8", "qkv", 2, 8, "PEFT Encoder, LoRA - Attn. QKV, last 2 ViT blocks, r = 8", "49K", 0.0543),
    ("lora_qkv_last2_r16", "qkv", 2, 16, "PEFT Encoder, LoRA - Attn. QKV, last 2 ViT blocks, r = 16", "98K", 0.109),
    ("lora_qkv_last4_r8", "qkv", 4, 8, "PEFT Encoder, LoRA - Attn. QKV, last 4 ViT blocks, r = 8", "98K", 0.109),
    ("lora_qkv_last4_r16", "qkv", 4, 16, "PEFT Encoder, LoRA - Attn. QKV, last 4 ViT blocks, r = 16", "197K", 0.217),
]

_WHAT = {"mlp2": "the 2nd Linear of the MLP", "qkv": "the attention qkv Linear"}


def _make_lora(name: str, kind: str, last_n: int, r: int) -> Callable[[nn.Module], nn.Module]:
    def fn(model: nn.Module) -> nn.Module:
        return _peft_lora(model, model.lora_targets(kind, last_n), r, name)

    fn.__name__ = name
    fn.__doc__ = f"LoRA (r={r}) on {_WHAT[kind]} of the last {last_n} ViT block(s); only LoRA A/B train."
    return fn


for _name, _kind, _n, _r, _label, _params, _pct in LORA_VARIANTS:
    register_strategy(
        _name,
        description=f"LoRA r={_r} (peft, alpha={_r}) on {_WHAT[_kind]} of the last {_n} ViT block"
                    f"{'s' if _n > 1 else ''}; only the LoRA matrices train",
        check=_targets_check(_kind, last_n=_n),
        paper={"label": _label, "params": _params, "pct": _pct},
    )(_make_lora(_name, _kind, _n, _r))


# ------------------------------------------------------------------------------------- CrackSAM
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

    def __init__(self, dim: int, hidden: int, scale: float = 1.0, *, device=None, dtype=None):
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


def _cracksam(model: nn.Module, strategy: str, adapters: bool) -> nn.Module:
    qkv_paths = model.lora_targets("qkv")
    for p in qkv_paths:
        _linear_at(model, p, strategy)
    freeze(model)
    injected: list[nn.Module] = []
    with _injection_rng(model, strategy):
        for p in qkv_paths:
            groups = model.qkv_groups(p) if callable(getattr(model, "qkv_groups", None)) else 1
            m = QVLoRA(model.get_submodule(p), CRACKSAM_RANK, groups)
            _set_submodule(model, p, m)
            injected += [m.lora_A_q, m.lora_B_q, m.lora_A_v, m.lora_B_v]
        if adapters:
            for kind, wrap, scale in (("attn", SequentialAdapter, 1.0), ("mlp", ParallelAdapter, CRACKSAM_MLP_SCALE)):
                for p in model.lora_targets(kind):
                    base = model.get_submodule(p)
                    ref = next(base.parameters())
                    dim = _block_width(base)
                    ad = BottleneckAdapter(dim, CRACKSAM_ADAPTER_DIM, scale, device=ref.device, dtype=ref.dtype)
                    _set_submodule(model, p, wrap(base, ad))
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
    check=_targets_check("qkv", decoder=True),
    paper={"label": "Ge et al. (2024) Method", "params": "4M", "pct": 4.507},
)
def cracksam(model: nn.Module) -> nn.Module:
    return _cracksam(model, "cracksam", adapters=False)


@register_strategy(
    "cracksam_adapter",
    description="CrackSAM's LoRA + Adapter combination: cracksam plus bottleneck adapters (dim 32) after the "
                "attention and beside the MLP of every ViT block",
    check=_targets_check("qkv", "attn", "mlp", decoder=True),
)
def cracksam_adapter(model: nn.Module) -> nn.Module:
    return _cracksam(model, "cracksam_adapter", adapters=True)
