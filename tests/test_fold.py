"""BatchNorm folding for inference (sac.engine.fold): same outputs, the caller's model untouched, refused
where a convolution's output is read by something besides its BatchNorm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sac.engine.fold import fold_batchnorm
from sac.models import create_model


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def _n_bn(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name", ["unet_effnet_lite0", "sam_vit_t"])
def test_folded_copy_matches_and_leaves_the_model_alone(name):
    torch.manual_seed(0)
    model = create_model(name, weights=None).eval()
    _randomise_bn(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n = _n_bn(model)
    folded = fold_batchnorm(model, size=256)
    assert n > 0 and _n_bn(folded) == 0  # every BatchNorm follows a convolution in these models
    x = torch.rand(2, 3, 256, 256)
    with torch.inference_mode():
        ref, got = model(x), folded(x)
    assert torch.allclose(ref, got, atol=1e-4 * max(1.0, float(ref.abs().max())), rtol=0)
    assert _n_bn(model) == n and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert getattr(folded, "origin", None) == getattr(model, "origin", None)


class ConvReadTwice(nn.Module):
    """The convolution's raw output is read by its BatchNorm AND by the residual sum: folding would change
    the sum, so the check refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv(x)
        return self.bn(c) + c


def test_folding_that_would_change_the_output_is_refused(capsys):
    model = ConvReadTwice().eval()
    _randomise_bn(model)
    out = fold_batchnorm(model, size=32)
    assert _n_bn(out) == 1 and "running it unfolded" in capsys.readouterr().err
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), out(x))


def test_a_model_without_batchnorm_comes_back_uncopied():
    model = nn.Sequential(nn.Conv2d(3, 1, 3, padding=1)).train()
    out = fold_batchnorm(model)
    assert out is model and not model.training
