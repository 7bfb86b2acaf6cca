"""The paper's Table 5 LoRA variants on SAM's image encoder (``peft.inject_adapter_in_model``).

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

Injection: :mod:`sac.tuning.strategies.injection`.
"""

from __future__ import annotations

from collections.abc import Callable

from sac.models import SegmentationModel
from sac.tuning.registry import freeze, register_strategy
from sac.tuning.strategies.injection import injection_rng, plain_linear, targets_check


def _peft_lora(model: SegmentationModel, targets: list[str], r: int, strategy: str) -> SegmentationModel:
    # peft takes seconds to import (it loads transformers' machinery): only when a LoRA strategy is applied
    from peft import LoraConfig, inject_adapter_in_model

    for t in targets:
        plain_linear(model, t, strategy)
    freeze(model)
    config = LoraConfig(r=r, lora_alpha=r, target_modules=list(targets), lora_dropout=0.0, bias="none")
    with injection_rng(model, strategy):
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


def _make_lora(name: str, kind: str, last_n: int, r: int) -> Callable[[SegmentationModel], SegmentationModel]:
    def fn(model: SegmentationModel) -> SegmentationModel:
        return _peft_lora(model, model.lora_targets(kind, last_n), r, name)

    fn.__name__ = name
    fn.__doc__ = f"LoRA (r={r}) on {_WHAT[kind]} of the last {last_n} ViT block(s); only LoRA A/B train."
    return fn


for _name, _kind, _n, _r, _label, _params, _pct in LORA_VARIANTS:
    register_strategy(
        _name,
        description=f"LoRA r={_r} (peft, alpha={_r}) on {_WHAT[_kind]} of the last {_n} ViT block"
                    f"{'s' if _n > 1 else ''}; only the LoRA matrices train",
        check=targets_check(_kind, last_n=_n),
        paper={"label": _label, "params": _params, "pct": _pct},
    )(_make_lora(_name, _kind, _n, _r))

