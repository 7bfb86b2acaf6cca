"""Training losses on logits: the three families of the paper's Table 2 (plus plain BCE).

``build_loss(spec)`` turns a spec into an ``nn.Module`` called as ``loss(logits, target)``:

- ``mix:λ`` = ``λ·L_BCE + (1 − λ)·L_Dice``, λ in [0, 1]: Table 2 config 1 (λ = 0 is config 2);
- ``dice`` = ``L_Dice`` (identical to ``mix:0``): Table 2 config 2;
- ``bce+dice:λ`` = ``L_BCE + λ·L_Dice``, λ >= 0: Table 2 config 3, the paper's best is λ = 0.65
  (Table 4), the default of the training config;
- ``bce`` = ``L_BCE`` (identical to ``mix:1``): not in the paper's search, for comparison.

A spec is a string (``"bce+dice:0.65"``, ``"mix:0.2"``, ``"dice"``, ``"bce"``; case and spaces
ignored) or a dict ``{"family": "bce+dice", "lambda": 0.65}`` (optional ``"smooth"``). Invalid specs
raise :class:`sac.errors.ConfigError` with ``where="loss"``.

Definitions (``p = sigmoid(logit)``, ``g`` the target in [0, 1]):

- ``L_BCE``: ``F.binary_cross_entropy_with_logits`` (log-sum-exp form, finite for any logit),
  **averaged** over all pixels of the batch. The paper's Eq. 7 writes a *sum* over the N pixels;
  the mean is that sum divided by N, which only rescales the loss (and, with AdamW, hardly changes
  training) but keeps BCE on the same O(1) scale as Dice whatever the image size, which is what makes
  the λ of the hybrid losses meaningful.
- ``L_Dice`` (Eq. 8, squared denominators, Milletari et al. 2016), **per image** then averaged over
  the batch: ``1 − (2·Σ p·g + ε) / (Σ p² + Σ g² + ε)``, sums over each image's pixels. Per image, so
  a large crack in one image does not drown a thin one in another (batch sizes 2–8 as in the paper).
  ``ε = smooth = 1.0`` (in numerator and denominator), because: it is never 0/0 (an empty mask and
  an empty prediction give exactly 0 loss, not NaN); for a crack-free image the loss is
  ``Σp² / (Σp² + 1)``, which still pushes stray positives down with a useful gradient (with
  ``ε = 1e-6`` that image's loss would be ≈ 1 and flat as soon as a handful of pixels fire, i.e. a
  constant penalty with no signal); and for crack images, whose masks have hundreds to thousands of
  positive pixels at 256², ε = 1 biases the ratio by well under 1 %.

Both are computed in float32 (float64 stays float64) even when the logits come from bf16/fp16
autocast. ``target`` may be ``B×1×H×W`` or ``B×H×W`` (bool, integer or float); ``logits`` ``B×1×H×W``
(or any ``B×…`` shape matching the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sac.errors import ConfigError

__all__ = [
    "LOSS_FAMILIES",
    "LossFamily",
    "SegmentationLoss",
    "bce_loss",
    "build_loss",
    "dice_loss",
]

DEFAULT_SMOOTH = 1.0


@dataclass(frozen=True)
class LossFamily:
    """A loss family: its formula, whether it needs λ and λ's allowed range, its Table 2 configs."""

    name: str
    formula: str
    needs_lambda: bool
    lambda_range: tuple[float, float] | None
    paper_configs: tuple[int, ...]
    description: str


LOSS_FAMILIES: dict[str, LossFamily] = {
    "mix": LossFamily("mix", "λ·L_BCE + (1 − λ)·L_Dice", True, (0.0, 1.0), (1, 2),
                      "convex mix; λ weights BCE; λ = 0 is pure Dice (config 2), λ = 1 pure BCE"),
    "dice": LossFamily("dice", "L_Dice", False, None, (2,), "soft Dice with squared denominators (Eq. 8)"),
    "bce+dice": LossFamily("bce+dice", "L_BCE + λ·L_Dice", True, (0.0, math.inf), (3,),
                           "BCE plus λ-weighted Dice; λ weights Dice; the paper's best is λ = 0.65"),
    "bce": LossFamily("bce", "L_BCE", False, None, (), "binary cross-entropy on logits (Eq. 7, averaged)"),
}


# --------------------------------------------------------------------------------- pure functions
def _prepare(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.dim() < 2:
        raise ValueError(f"logits must be B×1×H×W (or B×…), got shape {tuple(logits.shape)}")
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    if target.dim() == logits.dim() - 1 and logits.shape[1] == 1:
        target = target.unsqueeze(1)
    if target.shape != logits.shape:
        raise ValueError(f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}")
    return logits, target.to(dtype=logits.dtype)


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits, mean over every pixel of the batch (Eq. 7 / N)."""
    logits, target = _prepare(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="mean")


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = DEFAULT_SMOOTH) -> torch.Tensor:
    """Soft Dice loss (Eq. 8, squared denominators) per image with ``smooth`` in numerator and
    denominator, averaged over the batch."""
    logits, target = _prepare(logits, target)
    p = torch.sigmoid(logits)
    dims = tuple(range(1, p.dim()))
    inter = (p * target).sum(dims)
    den = (p * p).sum(dims) + (target * target).sum(dims)
    return (1.0 - (2.0 * inter + smooth) / (den + smooth)).mean()


# --------------------------------------------------------------------------------- the module
def _fmt(x: float) -> str:
    return repr(float(x))


class SegmentationLoss(nn.Module):
    """``w_bce·L_BCE + w_dice·L_Dice`` of one family (see the module docstring); build with
    :func:`build_loss`. ``spec`` is the canonical string (``build_loss(loss.spec)`` rebuilds it when
    ``smooth`` is the default; ``config`` always does)."""

    def __init__(self, family: str, lam: float | None = None, smooth: float = DEFAULT_SMOOTH):
        super().__init__()
        family, lam, smooth = _validate(family, lam, smooth)
        self.family, self.lam, self.smooth = family, lam, smooth
        if family == "mix":
            self.w_bce, self.w_dice = lam, 1.0 - lam
        elif family == "bce+dice":
            self.w_bce, self.w_dice = 1.0, lam
        elif family == "dice":
            self.w_bce, self.w_dice = 0.0, 1.0
        else:  # bce
            self.w_bce, self.w_dice = 1.0, 0.0

    @property
    def spec(self) -> str:
        return self.family if self.lam is None else f"{self.family}:{_fmt(self.lam)}"

    @property
    def config(self) -> dict[str, Any]:
        return {"family": self.family, "lambda": self.lam, "smooth": self.smooth}

    @property
    def formula(self) -> str:
        terms = []
        if self.w_bce:
            terms.append("L_BCE" if self.w_bce == 1.0 else f"{_fmt(self.w_bce)}*L_BCE")
        if self.w_dice:
            terms.append("L_Dice" if self.w_dice == 1.0 else f"{_fmt(self.w_dice)}*L_Dice")
        return " + ".join(terms) or "0"

    def parts(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "bce", "dice"}`` (each component even when its weight is 0), for logging."""
        bce = bce_loss(logits, target)
        dice = dice_loss(logits, target, self.smooth)
        return {"loss": self.w_bce * bce + self.w_dice * dice, "bce": bce, "dice": dice}

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # components with weight 0 are skipped, so mix:0 is exactly dice and mix:1 exactly bce
        total = None
        if self.w_bce:
            total = self.w_bce * bce_loss(logits, target)
        if self.w_dice:
            d = self.w_dice * dice_loss(logits, target, self.smooth)
            total = d if total is None else total + d
        if total is None:  # unreachable with validated families; keep the graph connected anyway
            total = logits.sum() * 0.0
        return total

    def extra_repr(self) -> str:
        s = f"{self.spec!r}: {self.formula}"
        return s if self.smooth == DEFAULT_SMOOTH else f"{s}, smooth={_fmt(self.smooth)}"


def _validate(family: Any, lam: Any, smooth: Any) -> tuple[str, float | None, float]:
    if not isinstance(family, str):
        raise ConfigError("loss", f"family must be a string, got {family!r}")
    fam = family.strip().lower()
    if fam not in LOSS_FAMILIES:
        raise ConfigError("loss", f"unknown loss family {family!r}; known: {', '.join(LOSS_FAMILIES)} "
                                  "(e.g. 'bce+dice:0.65', 'mix:0.2', 'dice', 'bce')")
    info = LOSS_FAMILIES[fam]
    if info.needs_lambda:
        if lam is None:
            raise ConfigError("loss", f"{fam!r} needs λ ({info.formula}), e.g. '{fam}:"
                                      f"{'0.65' if fam == 'bce+dice' else '0.2'}'")
        lam = _number(lam, f"λ of {fam!r}")
        lo, hi = info.lambda_range
        if not lo <= lam <= hi or not math.isfinite(lam):
            rng = f"[{lo:g}, {hi:g}]" if math.isfinite(hi) else f">= {lo:g} and finite"
            raise ConfigError("loss", f"λ of {fam!r} must be {rng}, got {lam:g}")
    elif lam is not None:
        raise ConfigError("loss", f"{fam!r} takes no λ (got {lam!r}); use 'mix:λ' or 'bce+dice:λ' to weight it")
    smooth = _number(smooth, "smooth")
    if not (smooth > 0 and math.isfinite(smooth)):
        raise ConfigError("loss", f"smooth must be a positive number, got {smooth:g}")
    return fam, (None if lam is None else float(lam)), float(smooth)


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool):
        raise ConfigError("loss", f"{what} must be a number, got {x!r}")
    try:
        v = float(x.strip() if isinstance(x, str) else x)
    except (TypeError, ValueError):
        raise ConfigError("loss", f"{what} must be a number, got {x!r}") from None
    if math.isnan(v):
        raise ConfigError("loss", f"{what} must be a number, got NaN")
    return v


def build_loss(spec: str | dict[str, Any]) -> SegmentationLoss:
    """A loss module from ``"bce+dice:0.65"``, ``"mix:0.2"``, ``"dice"``, ``"bce"`` or
    ``{"family": ..., "lambda": ..., "smooth": ...}``. Raises ``ConfigError("loss", ...)``."""
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise ConfigError("loss", "empty loss spec; use e.g. 'bce+dice:0.65', 'mix:0.2', 'dice' or 'bce'")
        fam, sep, lam_s = text.partition(":")
        if sep and not lam_s.strip():
            raise ConfigError("loss", f"{spec!r}: missing λ after ':'")
        return SegmentationLoss(fam, lam_s if sep else None)
    if isinstance(spec, dict):
        unknown = set(spec) - {"family", "lambda", "smooth"}
        if unknown:
            raise ConfigError("loss", f"unknown keys {sorted(unknown)}; expected 'family', 'lambda', 'smooth'")
        if "family" not in spec:
            raise ConfigError("loss", "a loss dict needs 'family' (one of " + ", ".join(LOSS_FAMILIES) + ")")
        return SegmentationLoss(spec["family"], spec.get("lambda"), spec.get("smooth", DEFAULT_SMOOTH))
    raise ConfigError("loss", f"a loss spec is a string or a dict, got {type(spec).__name__}")
