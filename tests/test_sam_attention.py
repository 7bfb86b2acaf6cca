"""SAM ViT attention through F.scaled_dot_product_attention (sac.models.sam.attention): the same outputs and
gradients as segment-anything's own module, windowed and global blocks, at the native and another size."""

from __future__ import annotations

import copy
from functools import partial

import pytest
import torch
from segment_anything.modeling import ImageEncoderViT
from segment_anything.modeling.image_encoder import Attention
from torch import nn

from sac.models.sam.attention import FusedAttention, use_fused_attention


def _encoder() -> ImageEncoderViT:
    torch.manual_seed(0)
    enc = ImageEncoderViT(img_size=128, patch_size=16, embed_dim=64, depth=3, num_heads=4, mlp_ratio=2,
                          norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True, window_size=3,
                          global_attn_indexes=(1,), out_chans=32)
    with torch.no_grad():  # segment-anything zero-initialises the tables: give them values to test
        for m in enc.modules():
            if isinstance(m, Attention):
                m.rel_pos_h.normal_(0, 0.5)
                m.rel_pos_w.normal_(0, 0.5)
    return enc.eval()


@pytest.mark.parametrize("size", [128])  # an 8×8 grid in 3×3 windows: padded windows
def test_fused_attention_matches_the_reference(size, monkeypatch):
    ref = _encoder()
    fused = copy.deepcopy(ref)
    assert use_fused_attention(fused) == 3
    assert ref.state_dict().keys() == fused.state_dict().keys()
    monkeypatch.setattr(FusedAttention, "fused_on_cpu", True)
    x = torch.rand(2, 3, size, size, requires_grad=True)
    y_ref = ref(x)
    x2 = x.detach().clone().requires_grad_(True)
    y = fused(x2)
    assert torch.allclose(y, y_ref, atol=2e-5, rtol=1e-4)
    y_ref.square().mean().backward()
    y.square().mean().backward()
    assert torch.allclose(x2.grad, x.grad, atol=1e-6, rtol=1e-3)
    for (n, a), (_, b) in zip(ref.named_parameters(), fused.named_parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6, rtol=1e-3), n


def test_sam_vit_b_uses_it_at_any_input_size(monkeypatch):
    from sac.models import create_model

    torch.manual_seed(0)
    model = create_model("sam_vit_b", weights=None, input_size=64).eval()
    attn = [m for m in model.modules() if isinstance(m, Attention)]
    assert attn and all(type(m) is FusedAttention for m in attn)
    with torch.no_grad():
        for m in attn:
            m.rel_pos_h.normal_(0, 0.5)
            m.rel_pos_w.normal_(0, 0.5)
    for size in (64, 96):  # native, and another size: interpolated position embedding and tables
        x = torch.rand(1, 3, size, size)
        with torch.no_grad():
            ref = model(x)  # the CPU keeps the reference product
            monkeypatch.setattr(FusedAttention, "fused_on_cpu", True)
            fused = model(x)
            monkeypatch.setattr(FusedAttention, "fused_on_cpu", False)
        assert torch.allclose(fused, ref, atol=1e-4, rtol=1e-3), size
