"""The strategies every model may have: ``none``, ``full``, ``decoder``, ``norm``, ``norm_frozen_stats``.

The SAM-specific ones are in :mod:`sac.tuning.strategies.lora` (six LoRA variants) and
:mod:`sac.tuning.strategies.cracksam`.
"""

from __future__ import annotations

from sac.models import SegmentationModel
from sac.models.norms import is_batchnorm, norm_modules
from sac.tuning.bn_policy import BnPolicy
from sac.tuning.registry import freeze, register_strategy


def _has_norms(model: SegmentationModel) -> str | None:
    for _, m in norm_modules(model):
        if any(True for _ in m.parameters(recurse=False)):
            return None
    return ("the model has no normalization layers with affine parameters, so there is nothing for "
            "norm-only tuning to train (as the paper's Table 7 notes for DeepCrackZ); use 'full' or 'decoder'")


def _has_bn(model: SegmentationModel) -> str | None:
    reason = _has_norms(model)
    if reason:
        return reason
    if not any(is_batchnorm(m) for m in model.modules()):
        return "the model has no BatchNorm layers, so frozen-statistics norm tuning equals 'norm'"
    return None


def _has_decoder(model: SegmentationModel) -> str | None:
    if not model.decoder_names:
        return "the model does not name a decoder part"
    return None


@register_strategy("none", description="no training: the pretrained model as it is (evaluation only)",
                   paper={"label": "No Finetuning"})
def none(model: SegmentationModel) -> SegmentationModel:
    freeze(model)
    return model


@register_strategy("full", description="every parameter trains (BN statistics update)", frozen_bn=BnPolicy.UPDATE_ALL,
                   paper={"label": "Full tuning"})
def full(model: SegmentationModel) -> SegmentationModel:
    for p in model.parameters():
        p.requires_grad_(True)
    return model


@register_strategy("decoder", description="decoder/head trains, encoder frozen (encoder BN statistics fixed)",
                   check=_has_decoder, paper={"label": "Finetune Decoder"})
def decoder(model: SegmentationModel) -> SegmentationModel:
    freeze(model)
    for part in model.part("decoder"):
        for p in part.parameters():
            p.requires_grad_(True)
    return model


def _norm_only(model: SegmentationModel) -> SegmentationModel:
    freeze(model)
    for _, m in norm_modules(model):
        for p in m.parameters(recurse=False):
            p.requires_grad_(True)
    return model


@register_strategy(
    "norm",
    description="the paper's method: only normalization affine γ/β train (BN/GN/LN); BN batch statistics "
                "are used in training and the running statistics update (the paper's Eq. 1)",
    check=_has_norms, frozen_bn=BnPolicy.UPDATE_ALL, paper={"label": "Tune Layer Norms"},
)
def norm(model: SegmentationModel) -> SegmentationModel:
    return _norm_only(model)


@register_strategy(
    "norm_frozen_stats",
    description="as 'norm', but BatchNorm layers keep their pretrained running statistics (eval mode); "
                "only γ/β change",
    check=_has_bn, frozen_bn=BnPolicy.FREEZE_ALL,
)
def norm_frozen_stats(model: SegmentationModel) -> SegmentationModel:
    return _norm_only(model)
