"""SAM ViT attention through F.scaled_dot_product_attention (sac.models.sam.attention): the same outputs and
gradients as segment-anything's own module, windowed and global blocks, at the native and another size."""

from __future__ import annotations

import copy
from functools import partial

import pytest
import torch
from segment_anything.modeling import ImageEncoderViT
from segment_anything.modeling.image_encoder import Attention, Block
from torch import nn

from sac.models.sam.attention import (
    FusedAttention,
    WindowedBlock,
    use_fused_attention,
    use_reference_attention,
)


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


@pytest.mark.parametrize("size, fused_on_cpu", [(128, True), (128, False)])
def test_fused_attention_matches_the_reference(size, fused_on_cpu, monkeypatch):
    """SDPA (fused_on_cpu) or the reference product, in windowed blocks that run qkv / proj on the real tokens
    only (an 8×8 grid in 3×3 windows: padded windows) — the reference function, outputs and gradients."""
    ref = _encoder()
    fused = copy.deepcopy(ref)
    assert use_fused_attention(fused) == 3
    assert [type(b) for b in fused.blocks] == [WindowedBlock, Block, WindowedBlock]
    assert ref.state_dict().keys() == fused.state_dict().keys()
    monkeypatch.setattr(FusedAttention, "fused_on_cpu", fused_on_cpu)
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


def _flops(model: nn.Module, x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def test_windowed_blocks_skip_the_padding_of_sam_vit_b_at_256():
    """ViT-B at 256 px: a 16×16 grid in 14×14 windows. Same outputs as segment-anything's blocks, about 30 % fewer
    FLOPs (qkv and proj no longer run on the 528 padded tokens of each windowed block)."""
    from sac.models import create_model

    torch.manual_seed(0)
    model = create_model("sam_vit_b", weights=None).eval()
    enc = model.sam.image_encoder
    assert sum(type(b) is WindowedBlock for b in enc.blocks) == 8  # the 4 global blocks keep segment-anything's
    ref = copy.deepcopy(enc)
    use_reference_attention(ref)
    assert not any(isinstance(m, (WindowedBlock, FusedAttention)) for m in ref.modules())
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.allclose(enc(x), ref(x), atol=1e-4, rtol=1e-4)
    fast, slow = _flops(enc, x), _flops(ref, x)
    assert fast < 0.75 * slow, (fast, slow)


@pytest.mark.parametrize("strategy", ["cracksam", "cracksam_adapter"])
def test_windowed_blocks_with_lora_and_adapters(strategy):
    """LoRA on qkv keeps the fast block (LoRA adds nothing to a zero token); an adapter wrapping the attention
    makes the block fall back to segment-anything's forward. Either way: the reference function."""
    from sac.models import create_model
    from sac.tuning import apply_strategy

    torch.manual_seed(0)
    model = apply_strategy(create_model("sam_vit_b", weights=None, input_size=64), strategy).eval()
    with torch.no_grad():  # give LoRA's zero-initialised B matrices values, so the update is not nothing
        for p in model.parameters():
            if p.requires_grad and p.abs().sum() == 0:
                p.normal_(0, 0.02)
    ref = copy.deepcopy(model)
    use_reference_attention(ref)
    x = torch.rand(1, 3, 80, 80)  # a 5×5 grid in 14×14 windows
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-4, rtol=1e-4)
