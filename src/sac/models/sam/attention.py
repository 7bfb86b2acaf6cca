"""SAM ViT attention through ``F.scaled_dot_product_attention`` (fused kernels on GPUs).

segment-anything's ``Attention`` materialises ``softmax(q·kᵀ·scale + rel_pos)`` as a ``(B·heads)×N×N`` tensor.
:class:`FusedAttention` computes the same function with PyTorch's fused attention: the decomposed relative
position term of SAM (Li et al., MViTv2: ``rel_h[q_row, k_row] + rel_w[q_col, k_col]`` from the *unscaled*
query and the interpolated tables of ``get_rel_pos``) is passed as an additive ``attn_mask`` bias of shape
``B×heads×N×N``, and SDPA's default scale ``1/√head_dim`` equals segment-anything's ``scale``. Parameters and
state-dict names are unchanged (the class of each module is swapped in place), so checkpoints, adapters, LoRA
(which wraps ``qkv``) and CrackSAM work as before. The fused path runs where it is faster — on GPUs; on the
CPU the reference product is kept (PyTorch's CPU SDPA with a float mask is slower than the explicit product,
as measured for TinyViT in :mod:`sac.models.sam.tinyvit`). ``tests/test_sam_attention.py`` checks both paths
give the reference outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention, get_rel_pos
from torch import nn


def rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """SAM's decomposed relative-position term as an additive bias ``B×heads×N×N`` (``q``: ``B×heads×N×C``)."""
    h, w = size
    rh = get_rel_pos(h, h, rel_pos_h)  # h × h × C
    rw = get_rel_pos(w, w, rel_pos_w)  # w × w × C
    b, nh, n, c = q.shape
    r_q = q.reshape(b * nh, h, w, c)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
    return (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(b, nh, n, n)


class FusedAttention(Attention):
    """segment-anything's ``Attention`` with its forward through ``F.scaled_dot_product_attention``."""

    fused_on_cpu = False  # the tests set it to check the fused path against the reference on the CPU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and not self.fused_on_cpu:
            return super().forward(x)
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # B × heads × N × C
        bias = rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (h, w)).to(q.dtype) if self.use_rel_pos else None
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(y.permute(0, 2, 1, 3).reshape(b, h, w, -1))


def use_fused_attention(module: nn.Module) -> int:
    """Swap every segment-anything image-encoder ``Attention`` in ``module`` for :class:`FusedAttention`
    (in place, parameters kept); returns how many."""
    n = 0
    for m in module.modules():
        if type(m) is Attention:
            m.__class__ = FusedAttention
            n += 1
    return n
