"""sac.losses: hand-computed values, family relations, gradients, stability, spec parsing."""

from __future__ import annotations

import math

import pytest
import torch

from sac.errors import ConfigError
from sac.losses import (
    LOSS_FAMILIES,
    SegmentationLoss,
    bce_loss,
    build_loss,
    dice_loss,
)
from sac.study.grids import PAPER_CONFIGS

# 2×2 hand case: logits [[0, ln 3], [-ln 3, 0]] -> p = [[1/2, 3/4], [1/4, 1/2]], target [[1, 1], [0, 0]]
# BCE per pixel: -ln(1/2), -ln(3/4), -ln(1 - 1/4), -ln(1 - 1/2) -> mean = (ln 2 + ln 4/3) / 2 = ln(8/3) / 2
# Dice (smooth 1): Σpg = 1/2 + 3/4 = 5/4; Σp² = 1/4 + 9/16 + 1/16 + 1/4 = 9/8; Σg² = 2
#   1 - (2·5/4 + 1) / (9/8 + 2 + 1) = 1 - (7/2) / (33/8) = 1 - 28/33 = 5/33
#   without smoothing: 1 - (5/2) / (25/8) = 1 - 4/5 = 1/5
L3 = math.log(3.0)
LOGITS = torch.tensor([[[[0.0, L3], [-L3, 0.0]]]], dtype=torch.float64)
TARGET = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]], dtype=torch.float64)
BCE = math.log(8 / 3) / 2
DICE = 5 / 33


def test_hand_values():
    assert float(bce_loss(LOGITS, TARGET)) == pytest.approx(BCE, rel=1e-12)
    assert float(dice_loss(LOGITS, TARGET)) == pytest.approx(DICE, rel=1e-12)
    assert float(dice_loss(LOGITS, TARGET, smooth=1e-12)) == pytest.approx(1 / 5, rel=1e-9)
    assert float(build_loss("bce")(LOGITS, TARGET)) == pytest.approx(BCE, rel=1e-12)
    assert float(build_loss("dice")(LOGITS, TARGET)) == pytest.approx(DICE, rel=1e-12)
    assert float(build_loss("mix:0.2")(LOGITS, TARGET)) == pytest.approx(0.2 * BCE + 0.8 * DICE, rel=1e-12)
    assert float(build_loss("bce+dice:0.65")(LOGITS, TARGET)) == pytest.approx(BCE + 0.65 * DICE, rel=1e-12)
    d = build_loss({"family": "dice", "smooth": 1e-12})
    assert float(d(LOGITS, TARGET)) == pytest.approx(1 / 5, rel=1e-9)


def test_bce_is_mean_of_eq7_sum():
    # Eq. 7 is a sum over pixels; ours is that sum / N
    torch.manual_seed(0)
    x, y = torch.randn(2, 1, 5, 7, dtype=torch.float64), (torch.rand(2, 1, 5, 7) > 0.5).double()
    p = torch.sigmoid(x)
    eq7 = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum()
    assert float(bce_loss(x, y)) == pytest.approx(float(eq7) / y.numel(), rel=1e-12)


def test_dice_is_per_image_then_batch_mean():
    # second image: logits 0 (p = 1/2 on 4 px), empty target -> 1 - 1 / (4·1/4 + 0 + 1) = 1/2
    x = torch.cat([LOGITS, torch.zeros_like(LOGITS)])
    y = torch.cat([TARGET, torch.zeros_like(TARGET)])
    assert float(dice_loss(x, y)) == pytest.approx((DICE + 0.5) / 2, rel=1e-12)
    # pooled Dice over the batch would be 1 - (2.5+1)/(9/8+1+2+1) = 1 - 3.5/5.125, something else
    assert float(dice_loss(x, y)) != pytest.approx(1 - 3.5 / 5.125)


def test_empty_masks_are_finite_and_sensible():
    y = torch.zeros(2, 1, 8, 8)
    confident_neg = torch.full((2, 1, 8, 8), -100.0)
    assert float(dice_loss(confident_neg, y)) == 0.0  # empty target, empty prediction: no loss
    stray = confident_neg.clone()
    stray[:, :, 0, :4] = 100.0  # 4 firing pixels: Σp² = 4 -> loss 4/5, with a gradient
    stray.requires_grad_(True)
    d = dice_loss(stray, y)
    assert float(d.detach()) == pytest.approx(4 / 5)
    d.backward()
    assert torch.isfinite(stray.grad).all()
    mild = torch.full((1, 1, 8, 8), 0.0, requires_grad=True)  # p = 1/2 everywhere, empty target
    dice_loss(mild, torch.zeros(1, 1, 8, 8)).backward()
    assert (mild.grad > 0).all()  # pushes the stray positives down


def test_family_relations_are_exact():
    torch.manual_seed(1)
    x = torch.randn(3, 1, 6, 6)
    y = (torch.rand(3, 1, 6, 6) > 0.7).float()
    assert torch.equal(build_loss("mix:1")(x, y), build_loss("bce")(x, y))
    assert torch.equal(build_loss("mix:0")(x, y), build_loss("dice")(x, y))
    assert torch.equal(build_loss("bce+dice:0")(x, y), build_loss("bce")(x, y))
    b, d = float(bce_loss(x, y)), float(dice_loss(x, y))
    for lam in (0.01, 0.3, 0.65, 0.95):
        assert float(build_loss(f"mix:{lam}")(x, y)) == pytest.approx(lam * b + (1 - lam) * d, rel=1e-6)
        assert float(build_loss(f"bce+dice:{lam}")(x, y)) == pytest.approx(b + lam * d, rel=1e-6)
    parts = build_loss("bce+dice:0.65").parts(x, y)
    assert float(parts["bce"]) == pytest.approx(b) and float(parts["dice"]) == pytest.approx(d)
    assert float(parts["loss"]) == pytest.approx(b + 0.65 * d)


@pytest.mark.parametrize("spec", ["bce", "dice", "mix:0.2", "bce+dice:0.65"])
def test_gradcheck_float64(spec):
    torch.manual_seed(2)
    loss = build_loss(spec)
    x = torch.randn(2, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    y_hard = (torch.rand(2, 1, 4, 5) > 0.5).double()
    y_soft = torch.rand(2, 1, 4, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: loss(t, y_hard), (x,))
    assert torch.autograd.gradcheck(lambda t: loss(t, y_soft), (x,))


@pytest.mark.parametrize("spec", ["bce", "dice", "mix:0.2", "bce+dice:0.65"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stable_with_extreme_logits(spec, dtype):
    loss = build_loss(spec)
    y = torch.zeros(2, 1, 8, 8)
    y[:, :, 2:4, :] = 1.0
    x = torch.where(torch.rand(2, 1, 8, 8) > 0.5, 100.0, -100.0).to(dtype).requires_grad_(True)
    v = loss(x, y)
    assert v.dtype == torch.float32 and torch.isfinite(v)
    v.backward()
    assert torch.isfinite(x.grad.float()).all()
    # perfectly right and perfectly wrong extremes
    right = (y * 200 - 100).to(dtype)
    wrong = (100 - y * 200).to(dtype)
    assert float(loss(right, y)) == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(float(loss(wrong, y))) and float(loss(wrong, y)) > 0.5


def test_target_shapes_and_dtypes():
    x = torch.randn(2, 1, 5, 5)
    y = torch.rand(2, 5, 5) > 0.5
    loss = build_loss("bce+dice:0.65")
    a = loss(x, y)  # B×H×W bool target
    b = loss(x, y.unsqueeze(1).float())
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="does not match"):
        loss(x, torch.zeros(2, 1, 5, 4))
    with pytest.raises(ValueError):
        loss(torch.zeros(5), torch.zeros(5))


@pytest.mark.parametrize("spec, match", [
    ("focal", "unknown loss family 'focal'"),
    ("focal:2", "unknown loss family"),
    ("mix", "needs λ"),
    ("bce+dice", "needs λ"),
    ("mix:", "missing λ"),
    ("mix:abc", "must be a number"),
    ("mix:nan", "NaN"),
    ("mix:1.5", r"\[0, 1\]"),
    ("mix:-0.1", r"\[0, 1\]"),
    ("bce+dice:-1", ">= 0"),
    ("bce+dice:inf", "finite"),
    ("dice:0.5", "takes no λ"),
    ("bce:1", "takes no λ"),
    ("", "empty"),
    ({"lambda": 0.2}, "needs 'family'"),
    ({"family": "mix", "lambda": 0.2, "weight": 1}, "unknown keys"),
    ({"family": "mix", "lambda": True}, "must be a number"),
    ({"family": "dice", "smooth": 0}, "smooth"),
    ({"family": 3}, "must be a string"),
    (0.65, "string or a dict"),
])
def test_build_loss_errors(spec, match):
    with pytest.raises(ConfigError, match=match) as e:
        build_loss(spec)
    assert e.value.where == "loss"


def test_spec_repr_and_roundtrip():
    loss = build_loss("  BCE+Dice:0.65 ")
    assert isinstance(loss, SegmentationLoss) and isinstance(loss, torch.nn.Module)
    assert loss.spec == "bce+dice:0.65"
    assert "bce+dice:0.65" in repr(loss) and "L_BCE + 0.65*L_Dice" in repr(loss)
    assert build_loss("mix:0.2").formula == "0.2*L_BCE + 0.8*L_Dice"
    assert build_loss("dice").spec == "dice" and repr(build_loss("dice")).endswith("('dice': L_Dice)")
    for spec in ("bce", "dice", "mix:0.05", "bce+dice:0.95", "mix:0.123456789"):
        assert build_loss(build_loss(spec).spec).spec == spec
    d = build_loss({"family": "bce+dice", "lambda": 0.65})
    assert d.spec == "bce+dice:0.65" and build_loss(d.config).config == d.config
    assert build_loss({"family": "mix", "lambda": "0.2"}).lam == 0.2  # YAML may give strings


def test_loss_families_and_paper_grids():
    assert set(LOSS_FAMILIES) == {"mix", "dice", "bce+dice", "bce"}
    c1, c2, c3 = PAPER_CONFIGS[1], PAPER_CONFIGS[2], PAPER_CONFIGS[3]
    assert (c1.family, c2.family, c3.family) == ("mix", "dice", "bce+dice")
    assert c1.lambdas == (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
    assert c1.learning_rates == (1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 1e-3, 2e-3) == c2.learning_rates
    assert c3.lambdas == tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
    assert c3.learning_rates == (5e-4, 7e-4, 9e-4, 1.1e-3, 1.3e-3)
    assert c1.batch_sizes == c2.batch_sizes == c3.batch_sizes == (2, 4, 8)
    assert (c1.grid_size(), c2.grid_size(), c3.grid_size()) == (147, 21, 150)
    assert c3.best["lambda"] == 0.65 and c3.best["lambda"] in c3.lambdas
    assert c2.loss_specs() == ["dice"]
    for n, cfg in PAPER_CONFIGS.items():
        assert n in LOSS_FAMILIES[cfg.family].paper_configs
        for s in cfg.loss_specs():
            assert build_loss(s).family == cfg.family  # every grid point is a valid spec
    # Table 2 writes config 2 as config 1's formula with λ = 0
    x, y = torch.randn(1, 1, 4, 4), (torch.rand(1, 1, 4, 4) > 0.5).float()
    assert torch.equal(build_loss("mix:0")(x, y), build_loss(c2.loss_specs()[0])(x, y))
