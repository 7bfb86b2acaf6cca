"""Built-in strategies: ``none``, ``full``, ``decoder``, ``norm``, ``norm_frozen_stats``.

The SAM-specific strategies (six LoRA variants, ``cracksam``) are registered in
:mod:`sac.tuning.lora`, imported at the end of this module.
"""

from __future__ import annotations

from torch import nn

from sac.models.norms import is_batchnorm, norm_modules
from sac.tuning.registry import freeze, register_strategy


def _has_norms(model: nn.Module) -> str | None:
    for _, m in norm_modules(model):
        if any(True for _ in m.parameters(recurse=False)):
            return None
    return ("the model has no normalization layers with affine parameters, so there is nothing for "
            "norm-only tuning to train (as the paper's Table 7 notes for DeepCrackZ); use 'full' or 'decoder'")


def _has_bn(model: nn.Module) -> str | None:
    reason = _has_norms(model)
    if reason:
        return reason
    if not any(is_batchnorm(m) for m in model.modules()):
        return "the model has no BatchNorm layers, so frozen-statistics norm tuning equals 'norm'"
    return None


def _has_decoder(model: nn.Module) -> str | None:
    if not getattr(model, "decoder_names", ()):
        return "the model does not name a decoder part"
    return None


@register_strategy("none", description="no training: the pretrained model as it is (evaluation only)",
                   paper={"label": "No Finetuning"})
def none(model: nn.Module) -> nn.Module:
    freeze(model)
    return model


@register_strategy("full", description="every parameter trains (BN statistics update)", frozen_bn="none",
                   paper={"label": "Full tuning"})
def full(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(True)
    return model


@register_strategy("decoder", description="decoder/head trains, encoder frozen (encoder BN statistics fixed)",
                   check=_has_decoder, paper={"label": "Finetune Decoder"})
def decoder(model: nn.Module) -> nn.Module:
    freeze(model)
    for part in model.part("decoder"):
        for p in part.parameters():
            p.requires_grad_(True)
    return model


def _norm_only(model: nn.Module) -> nn.Module:
    freeze(model)
    for _, m in norm_modules(model):
        for p in m.parameters(recurse=False):
            p.requires_grad_(True)
    return model


@register_strategy(
    "norm",
    description="the paper's method: only normalization affine γ/β train (BN/GN/LN); BN batch statistics "
                "are used in training and the running statistics update (the paper's Eq. 1)",
    check=_has_norms, frozen_bn="none", paper={"label": "Tune Layer Norms"},
)
def norm(model: nn.Module) -> nn.Module:
    return _norm_only(model)


@register_strategy(
    "norm_frozen_stats",
    description="as 'norm', but BatchNorm layers keep their pretrained running statistics (eval mode); "
                "only γ/β change",
    check=_has_bn, frozen_bn="all",
)
def norm_frozen_stats(model: nn.Module) -> nn.Module:
    return _norm_only(model)
