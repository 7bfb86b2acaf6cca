"""One test module every registered model runs (the smp habit): a new model gets coverage by registering.

For every model: forward + backward at 256×256 and a forward at an odd size (300×420) give
``B×1×H×W`` logits. For every model × applicable strategy: one optimizer step changes only the
parameters the strategy trains, and the adapter file round-trips (``save_adapter`` → ``load_adapter``
gives the same outputs). Random initialisation throughout (no pretrained file needed).
"""

from __future__ import annotations

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
)

HUGE = {"sam_vit_l", "sam_vit_h"}  # 300–600 M parameters: checked on the meta device in test_sam.py
ALL = [m for m in list_models() if m not in HUGE]
# The smp architectures share one code path across EfficientNet-Lite0/1/2 (only widths differ): every
# architecture runs with Lite0, and Lite1/Lite2 run with U-Net, which keeps this module within the CI budget.
MODELS = [m for m in ALL if not m.endswith(("_effnet_lite1", "_effnet_lite2"))
          or m in ("unet_effnet_lite1", "unet_effnet_lite2")]


# Full-resolution attention / VGG16 decoders: seconds per forward on 2 CPU cores, so their odd-size check runs
# at half the size (still not a multiple of any stride).
HEAVY = {"crackformer", "deepcrack_zou"}


@functools.lru_cache(maxsize=4)
def _base_state(name: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in create_model(name, weights=None).state_dict().items()}


def _build(name: str) -> torch.nn.Module:
    model = create_model(name, weights=None)
    model.load_state_dict(_base_state(name))
    return model


def _cases() -> list[tuple[str, str]]:
    """Every (model, strategy) pair where the strategy applies (decided from the built model itself)."""
    out = []
    for name in MODELS:
        probe = create_model(name, weights=None)
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


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_any_size(name):
    torch.manual_seed(0)
    model = _build(name)
    train_mode(apply_strategy(model, "full"))
    x = torch.rand(1, 3, 256, 256)
    try:
        y = model(x)
    except ValueError as e:  # BatchNorm after global pooling (DeepLab's ASPP) needs batch >= 2 in training
        assert "more than 1 value per channel" in str(e)
        x = torch.rand(2, 3, 256, 256)
        y = model(x)
    assert y.shape == (x.shape[0], 1, 256, 256) and torch.isfinite(y).all()
    y.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    odd = (150, 210) if name in HEAVY else (300, 420)
    with torch.no_grad():
        z = model(torch.rand(1, 3, *odd))
    assert z.shape == (1, 1, *odd) and torch.isfinite(z).all()


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
