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
from segment_anything.modeling.image_encoder import Attention, Block, add_decomposed_rel_pos, get_rel_pos
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
        b, h, w, _ = x.shape
        return self.proj(self.attend(self.qkv(x), (h, w)))

    def attend(self, qkv: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Attention of ``qkv`` (``B×h×w×3C``, the ``qkv`` layer's output) over its ``h×w`` tokens: ``B×h×w×C``,
        before ``proj``. The reference product on the CPU (unless ``fused_on_cpu``), else SDPA with the bias."""
        h, w = size
        b = qkv.shape[0]
        qkv = qkv.reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # B × heads × N × C
        if qkv.device.type == "cpu" and not self.fused_on_cpu:  # segment-anything's own arithmetic
            q2, k2, v2 = (t.reshape(b * self.num_heads, h * w, -1) for t in (q, k, v))
            attn = (q2 * self.scale) @ k2.transpose(-2, -1)
            if self.use_rel_pos:
                attn = add_decomposed_rel_pos(attn, q2, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
            y = (attn.softmax(dim=-1) @ v2).view(b, self.num_heads, h * w, -1)
        else:
            bias = rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (h, w)).to(q.dtype) if self.use_rel_pos else None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return y.permute(0, 2, 1, 3).reshape(b, h, w, -1)


class WindowedBlock(Block):
    """segment-anything's windowed ``Block`` with the token-wise layers run on the real tokens only.

    The reference zero-pads the normalised tokens to a multiple of the window and runs ``qkv`` and ``proj`` on
    every padded token; at 256 px SAM's 16×16 grid in 14×14 windows is 784 tokens for 256 real ones. A zero token
    gives ``qkv(0)`` (the bias; a LoRA on ``qkv`` adds nothing to it), so here ``qkv`` runs on the real tokens and
    the windows are padded with ``qkv(0)`` instead — the same keys and values, which still take part in the
    windows' attention exactly as in the reference — and ``proj`` runs after the padding is cropped (it is
    token-wise too). Same function, about 30 % fewer FLOPs for ViT-B at 256 px (``benchmarks/sam_windows.py``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.window_size <= 0 or not isinstance(self.attn, FusedAttention):
            return super().forward(x)  # an adapter wrapping the attention (cracksam_adapter) sees every token
        shortcut = x
        x = self.norm1(x)
        b, h, w, c = x.shape
        ws = self.window_size
        hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
        qkv = self.attn.qkv(x)
        if (hp, wp) != (h, w):
            fill = self.attn.qkv(x.new_zeros(1, 1, 1, c))  # a zero-padded token's q, k and v
            padded = fill.expand(b, hp, wp, qkv.shape[-1]).clone()
            padded[:, :h, :w] = qkv
            qkv = padded
        nh, nw = hp // ws, wp // ws
        windows = qkv.view(b, nh, ws, nw, ws, -1).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, ws, ws, -1)
        y = self.attn.attend(windows, (ws, ws))
        y = y.view(b, nh, nw, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)[:, :h, :w]
        x = shortcut + self.attn.proj(y)
        return x + self.mlp(self.norm2(x))


def use_fused_attention(module: nn.Module) -> int:
    """Swap every segment-anything image-encoder ``Attention`` in ``module`` for :class:`FusedAttention` and
    every windowed ``Block`` for :class:`WindowedBlock` (in place, parameters kept); returns how many
    attentions."""
    n = 0
    for m in module.modules():
        if type(m) is Attention:
            m.__class__ = FusedAttention
            n += 1
        elif type(m) is Block and m.window_size > 0:
            m.__class__ = WindowedBlock
    return n


def use_reference_attention(module: nn.Module) -> None:
    """Undo :func:`use_fused_attention`: segment-anything's own classes (the reference path of ``sac bench``)."""
    for m in module.modules():
        if type(m) is FusedAttention:
            m.__class__ = Attention
        elif type(m) is WindowedBlock:
            m.__class__ = Block
