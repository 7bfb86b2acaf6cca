"""One test module every registered model runs (the smp habit): a new model gets coverage by registering.

For every model: forward + backward at 128×128 and a forward at an odd size (150×210, not a multiple of any
stride) give ``B×1×H×W`` logits; one model of each family also runs at the training size (256×256, and
300×420). For every model × applicable strategy: one optimizer step changes only the parameters the strategy
trains, and the adapter file round-trips (``save_adapter`` → ``load_adapter`` gives the same outputs). Random
initialisation throughout (no pretrained file needed). Each model is built once per module and copied per test
(building ResNet-101 or ViT-B costs seconds on 2 CPU cores); the strategy cases are found on the meta device.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from sac.models import create_model, list_models, model_info
from sac.tuning import (
    apply_strategy,
    list_strategies,
    load_adapter,
    save_adapter,
    strategy_applies,
    train_mode,
    weightless_model,
)

HUGE = {"sam_vit_l", "sam_vit_h"}  # 300–600 M parameters: checked on the meta device in test_sam.py
ALL = [m for m in list_models() if m not in HUGE]
# The smp architectures share one code path across EfficientNet-Lite0/1/2 (only widths differ): every
# architecture runs with Lite0, and Lite1/Lite2 run with U-Net, which keeps this module within the CI budget.
MODELS = [m for m in ALL if not m.endswith(("_effnet_lite1", "_effnet_lite2"))
          or m in ("unet_effnet_lite1", "unet_effnet_lite2")]
# ResNet-101 backbones differ from ResNet-50 only in the number of blocks: their forward / backward runs
# here, and every strategy runs on the ResNet-50 models of the same architecture.
SAME_PATH_AS = {"deeplabv3_r101": "deeplabv3_r50", "deeplabv3plus_r101": "deeplabv3plus_r50"}
STRATEGY_MODELS = [m for m in MODELS if m not in SAME_PATH_AS]
# One model of each family at the training size and an odd size above it.
NATIVE = ["unet_effnet_lite0", "deeplabv3_r50", "deepcrack_liu", "crackformer", "hed", "sam_vit_t"]


@functools.lru_cache(maxsize=2)
def _base(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, weights=None)


def _build(name: str) -> torch.nn.Module:
    return copy.deepcopy(_base(name))


def _cases() -> list[tuple[str, str]]:
    """Every (model, strategy) pair where the strategy applies (decided from the built model itself)."""
    out = []
    for name in STRATEGY_MODELS:
        probe = weightless_model(name)
        out += [(name, s) for s in list_strategies() if strategy_applies(probe, s) is None]
    return out


def test_registry_is_complete():
    names = list_models()
    assert len(ALL) - len(MODELS) == 20  # 10 architectures × Lite1/Lite2, same code path as Lite0
    for expected in ("unet_effnet_lite0", "sam_vit_b", "sam_vit_l", "sam_vit_h", "deepcrack_zou", "deepcrack_liu",
                     "crackformer", "hed", "segformer_b0", "unet_r50", "deeplabv3_r50", "deeplabv3_r101",
                     "deeplabv3plus_r50", "deeplabv3plus_r101"):
        assert expected in names
    for n in names:
        info = model_info(n)
        assert info.name == n and n == n.lower() and " " not in n and info.description


def _forward_backward(name: str, size: int, odd: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = _build(name)
    train_mode(apply_strategy(model, "full"))
    x = torch.rand(1, 3, size, size)
    try:
        y = model(x)
    except ValueError as e:  # BatchNorm after global pooling (DeepLab's ASPP) needs batch >= 2 in training
        assert "more than 1 value per channel" in str(e)
        x = torch.rand(2, 3, size, size)
        y = model(x)
    assert y.shape == (x.shape[0], 1, size, size) and torch.isfinite(y).all()
    y.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    with torch.no_grad():
        z = model(torch.rand(1, 3, *odd))
    assert z.shape == (1, 1, *odd) and torch.isfinite(z).all()


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_any_size(name):
    _forward_backward(name, 128, (150, 210))


@pytest.mark.parametrize("name", NATIVE)
def test_forward_backward_training_size(name):
    _forward_backward(name, 256, (300, 420))


def test_native_covers_every_family():
    assert {model_info(n).family for n in NATIVE} == {model_info(n).family for n in ALL}
    assert set(SAME_PATH_AS) <= set(MODELS) and set(SAME_PATH_AS.values()) <= set(STRATEGY_MODELS)
    for big, small in SAME_PATH_AS.items():
        assert type(weightless_model(big)) is type(weightless_model(small))


@pytest.mark.parametrize("name,strategy", _cases())
def test_strategy_step_and_adapter(name, strategy, tmp_path):
    torch.manual_seed(0)
    model = apply_strategy(_build(name), strategy)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    if trainable:
        train_mode(model)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
        x = torch.rand(2, 3, 64, 64)
        target = (torch.rand(2, 1, 64, 64) > 0.9).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
        loss.backward()
        opt.step()
    after = dict(model.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n].detach())}
    assert changed <= trainable, f"frozen parameters changed: {sorted(changed - trainable)[:5]}"
    moved = {n for n, p in model.named_parameters() if p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0}
    assert moved <= changed, f"parameters with gradients did not change: {sorted(moved - changed)[:5]}"
    if strategy == "none":
        assert not trainable
        return
    assert trainable
    path = save_adapter(model, tmp_path / "a.safetensors")
    again = load_adapter(path)
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), again.eval()(x), atol=1e-5)
