"""CrackFormer (Liu, Miao, Mertz, Xu, Kong, ICCV 2021, "CrackFormer: Transformer Network for Fine-Grained
Crack Detection"), written from the paper and the block design of the authors' public code (CrackFormer-II).

A SegNet-like encoder–decoder whose VGG-style conv layers are replaced by *self-attention blocks*:

* :class:`AttentionBottleneck` — 1×1 conv down to a quarter of the width, a transformer block
  (:class:`LocalSelfAttention` + :class:`ConvFFN`, each residual), 1×1 conv back up, plus a shortcut;
  GroupNorm (groups of 4 channels) everywhere, GELU activations.
* :class:`LocalSelfAttention` — efficient attention with 1×1 conv projections (a lambda layer): a global
  *content* term (keys softmax-normalised over positions, so its cost is linear in H·W) plus a local
  *position* term (a learned 7×7 embedding applied to the values), read out by multi-head queries.
* encoder: a 3×3 stem conv (3→64, the shape of VGG16 conv1_1) then 1/2/3/3/3 blocks at widths
  64/128/256/512/512, a 2×2 max-pool with indices after each of the 5 stages; the decoder mirrors it with
  max-unpooling (3/3/3/2/2 blocks, the last block of each stage narrowing to the next stage's width).
* *scaling-attention* (:class:`ScalingAttention`) at each scale: the intermediate encoder and decoder
  features of that scale are summed, GELU, 3×3 conv + GN, 3×3 conv + GN, sigmoid — a gate multiplied
  onto the side branch (concat(encoder, decoder) → 3×3 conv → 64 + ReLU), which a 3×3 conv turns into a
  side logit, upsampled to the input size; a 1×1 conv fuses the five side logits.

Sizes match the paper's Table 3 row exactly: 4,960,411 parameters, 39,560 GroupNorm affine parameters
(0.797 %). The public code also builds a GroupNorm (``bn2``) after each transformer block that its
forward never calls; the Table 3 count includes it, and here it is applied (GN → GELU after the block, the
usual bottleneck order) so that every norm layer the ``norm`` strategy trains is used.

Input: RGB normalised to [-1, 1] (``(x - 0.5) / 0.5``, the authors' loader). ``weights="default"``
initialises only the stem conv from HED's conv1_1 (HED's BGR/Caffe-mean input convention folded into the
kernel and bias, exact except on the 1-pixel zero-padded border); the other 4.96M parameters — all of the
attention blocks — have no pretrained source and stay random.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sac.models.base import SideOutputModel
from sac.models.checkpoints import load_sac_state
from sac.models.hed import (
    HED_MEANS_BGR,
    HED_SOURCE,
    default_hed_file,
    load_hed_h5,
    upsample_to,
)
from sac.models.registry import register_model


def _gn(channels: int) -> nn.GroupNorm:
    """GroupNorm with groups of 4 channels (as in the reference code)."""
    return nn.GroupNorm(channels // 4, channels)


def _fan_out_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class LocalSelfAttention(nn.Module):
    """Efficient self-attention with conv projections (content + local position lambdas).

    For queries ``q`` (heads × k per pixel), keys ``σ(K)`` (k, softmax over all pixels) and values ``v``
    (dim / heads per pixel), the output per head and pixel ``n`` is
    ``q_n · (σ(K) vᵀ)  +  q_n · (Σ_{o ∈ m×m} E_o v_{n+o})`` — global context in O(HW) plus a learned local
    positional interaction.

    Arguments:
        dim: input = output channels (a multiple of ``heads``).
        heads: query heads; the output concatenates them.
        key_dim: k, the key/query depth.
        window: m, size of the local position embedding.
    """

    def __init__(self, dim: int, heads: int = 4, key_dim: int = 16, window: int = 7):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be a multiple of heads {heads}")
        self.heads, self.key_dim, self.value_dim, self.window = heads, key_dim, dim // heads, window
        self.queries = nn.Sequential(nn.Conv2d(dim, key_dim * heads, 1, bias=False), _gn(key_dim * heads))
        self.keys = nn.Sequential(nn.Conv2d(dim, key_dim, 1, bias=False), _gn(key_dim))
        self.values = nn.Sequential(nn.Conv2d(dim, self.value_dim, 1, bias=False), _gn(self.value_dim))
        self.embedding = nn.Parameter(torch.randn(key_dim, 1, window, window))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        n, k, v = h * w, self.key_dim, self.value_dim
        q = self.queries(x).reshape(b, self.heads, k, n)
        keys = self.keys(x).reshape(b, k, n).softmax(dim=-1)
        values = self.values(x)
        content = torch.einsum("bkn,bvn->bkv", keys, values.reshape(b, v, n))
        out = torch.einsum("bhkn,bkv->bhvn", q, content)
        # Position lambdas: each value channel convolved with each of the k m×m embeddings.
        pos = F.conv2d(values.reshape(b * v, 1, h, w), self.embedding, padding=self.window // 2)
        pos = pos.reshape(b, v, k, n)
        out = out + torch.einsum("bhkn,bvkn->bhvn", q, pos)
        return out.reshape(b, self.heads * v, h, w)


class ConvFFN(nn.Module):
    """Feed-forward part of the transformer block: 1×1 conv to dim/4, grouped 3×3 conv (4 channels per
    group), GELU, 1×1 conv back; GroupNorm after each conv; dropout."""

    def __init__(self, dim: int, drop: float = 0.3):
        super().__init__()
        hidden = dim // 4
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = _gn(hidden)
        self.local = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden // 4)
        self.norm2 = _gn(hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm3 = _gn(dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm2(self.local(self.norm1(self.fc1(x))))
        x = self.drop(F.gelu(x))
        return self.drop(self.norm3(self.fc2(x)))


class TransformerBlock(nn.Module):
    """``x + attention(x)``, then ``x + ffn(x)``."""

    def __init__(self, dim: int, drop: float = 0.3):
        super().__init__()
        self.attn = LocalSelfAttention(dim)
        self.ffn = ConvFFN(dim, drop)
        _fan_out_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.ffn(x)


class AttentionBottleneck(nn.Module):
    """CrackFormer's self-attention block (replaces a 3×3 conv + ReLU of the SegNet/VGG layout).

    ``GELU(GELU(GN(conv1×1_up(GELU(GN(TB(GELU(GN(conv1×1_down(x))))))))) + shortcut(x))``, hidden width
    ``max(cin, cout) / 4``; the shortcut is the identity or a 1×1 conv + GN when the width changes.
    """

    def __init__(self, cin: int, cout: int, drop: float = 0.3):
        super().__init__()
        hidden = max(cin, cout) // 4
        self.reduce = nn.Conv2d(cin, hidden, 1, bias=False)
        self.norm1 = _gn(hidden)
        self.block = TransformerBlock(hidden, drop)
        self.norm2 = _gn(hidden)
        self.expand = nn.Conv2d(hidden, cout, 1, bias=False)
        self.norm3 = _gn(cout)
        self.shortcut = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), _gn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.norm1(self.reduce(x)))
        y = F.gelu(self.norm2(self.block(y)))
        y = F.gelu(self.norm3(self.expand(y)))
        return F.gelu(y + self.shortcut(x))


class ConvReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)


class ScalingAttention(nn.Module):
    """Gate of one scale: ``sigmoid(GN(conv3×3(GN(conv3×3(GELU(Σ features))))))``, 64 channels."""

    def __init__(self, cin: int, cout: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm1 = _gn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.norm2 = _gn(cout)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = F.gelu(torch.stack(feats).sum(0))
        return torch.sigmoid(self.norm2(self.conv2(self.norm1(self.conv1(x)))))


class SideBranch(nn.Module):
    """concat(encoder, decoder) → 3×3 conv → 64 + ReLU → × scaling-attention gate → 3×3 conv → 1 → upsample."""

    def __init__(self, cin: int):
        super().__init__()
        self.reduce = ConvReLU(cin, 64)
        self.score = nn.Conv2d(64, 1, 3, padding=1)

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, gate: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
        x = self.reduce(torch.cat([enc, dec], 1)) * gate
        return upsample_to(self.score(x), size)


# (in, out) of each layer, stage by stage; the encoder's first layer is the 3×3 stem conv.
_ENCODER = (((3, 64), (64, 64)),
            ((64, 128), (128, 128)),
            ((128, 256), (256, 256), (256, 256)),
            ((256, 512), (512, 512), (512, 512)),
            ((512, 512), (512, 512), (512, 512)))
_DECODER = (((64, 64), (64, 64)),
            ((128, 128), (128, 64)),
            ((256, 256), (256, 256), (256, 128)),
            ((512, 512), (512, 512), (512, 256)),
            ((512, 512), (512, 512), (512, 512)))


class CrackFormer(SideOutputModel):
    """CrackFormer (ICCV 2021). See the module docstring.

    Arguments:
        drop: dropout probability inside the transformer blocks' feed-forward part (0.3 in the reference).
    """

    encoder_names = ("encoder",)
    decoder_names = ("decoder", "attention", "sides", "fuse")
    pad_multiple = 32  # five 2×2 poolings with indices

    def __init__(self, drop: float = 0.3):
        super().__init__()
        self.encoder = nn.ModuleList(
            nn.ModuleList(ConvReLU(ci, co) if (s == 0 and j == 0) else AttentionBottleneck(ci, co, drop)
                          for j, (ci, co) in enumerate(stage))
            for s, stage in enumerate(_ENCODER))
        self.decoder = nn.ModuleList(
            nn.ModuleList(AttentionBottleneck(ci, co, drop) for ci, co in stage) for stage in _DECODER)
        self.attention = nn.ModuleList(ScalingAttention(stage[-1][1]) for stage in _ENCODER)
        self.sides = nn.ModuleList(SideBranch(e[-1][1] + d[-1][1]) for e, d in zip(_ENCODER, _DECODER, strict=True))
        self.fuse = nn.Conv2d(5, 1, 1)

    @property
    def stem(self) -> nn.Conv2d:
        """The 3×3 stem conv (3→64), the one layer shaped like VGG16 conv1_1."""
        return self.encoder[0][0].conv

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) / 0.5

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        size = (x.shape[-2], x.shape[-1])
        enc_feats: list[list[torch.Tensor]] = []
        indices = []
        for stage in self.encoder:
            feats = []
            for layer in stage:
                x = layer(x)
                feats.append(x)
            enc_feats.append(feats)
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        dec_feats: list[list[torch.Tensor]] = []
        for i in reversed(range(5)):
            x = F.max_unpool2d(x, indices[i], 2, 2, output_size=enc_feats[i][-1].shape[-2:])
            feats = []
            for layer in self.decoder[i]:
                x = layer(x)
                feats.append(x)
            dec_feats.insert(0, feats)
        sides = []
        for i in range(5):
            gate = self.attention[i](enc_feats[i][:-1] + dec_feats[i][:-1])
            sides.append(self.sides[i](enc_feats[i][-1], dec_feats[i][-1], gate, size))
        return self.fuse(torch.cat(sides, 1)), sides

    @torch.no_grad()
    def load_hed_stem(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Set the stem from HED's conv1_1 (BGR, 0…255 minus Caffe means), folded for [-1, 1] RGB input.

        HED sees ``u = 255·x_bgr − mean``; here ``z = 2·x_rgb − 1``, so ``u_c = 127.5·z_c' + (127.5 − mean_c)``
        with ``c'`` the RGB index of BGR channel ``c``: scale the kernel by 127.5 and flip its input channels,
        and add the kernel applied to the constant ``127.5 − mean`` to the bias.
        """
        offset = 127.5 - torch.tensor(HED_MEANS_BGR, dtype=weight.dtype)
        self.stem.weight.copy_(127.5 * weight.flip(1))
        self.stem.bias.copy_(bias + (weight.sum(dim=(2, 3)) * offset).sum(1))


_PAPER = {"name": "CrackFormer", "params": 5e6, "norm": "GN", "norm_pct": 0.797, "flops_g": 22.71,
          "pretrained_on": "CrackTree260"}


@register_model(
    "crackformer", family="crackformer",
    description="CrackFormer (Liu et al., ICCV 2021): SegNet-like encoder-decoder of local self-attention "
                "blocks with GroupNorm, scaling-attention gated side outputs fused; default initialises only "
                "the 3×3 stem conv from HED conv1_1 (the attention blocks have no pretrained source)",
    pretrained="HED VGG16 (BSDS500) conv1_1 into the stem conv only; the other 4.96M parameters random",
    default_available=True, paper=_PAPER,
)
def build_crackformer(weights: str | Path | None = None, drop: float = 0.3) -> CrackFormer:
    model = CrackFormer(drop=drop)
    if weights == "default":
        path, sha = default_hed_file()
        arrays = load_hed_h5(path)
        model.load_hed_stem(torch.from_numpy(arrays["conv1_1.weight"]), torch.from_numpy(arrays["conv1_1.bias"]))
        model.origin.weights_info = {"sha256": sha, "source": f"{HED_SOURCE}, conv1_1 only (stem conv)"}
    elif weights is not None:
        load_sac_state(model, Path(weights), "crackformer")
    return model
