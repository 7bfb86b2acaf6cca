"""The two DeepCrack models of the paper's Table 3, both on a VGG16 encoder.

``deepcrack_zou`` — DeepCrackZ: Zou et al., "DeepCrack: Learning Hierarchical Convolutional Features for
Crack Detection", IEEE TIP 28(3), 2019. A SegNet-style encoder–decoder: the VGG16 encoder (13 convs,
a 2×2 max-pool with indices after each of the 5 stages) and a mirrored decoder (max-unpooling with those
indices, then 2–3 convs whose last one narrows to the next stage's width). At each scale the encoder and
decoder features are concatenated and turned into a side output; the five side maps are fused by a conv.
As in the authors' public PyTorch code — the version the SAC paper measured (31M parameters, 137 GFLOPs at
256², no normalization layer) — the default side branch upsamples the concatenation to the input size, then
applies a 3×3 conv (→64) + ReLU and a 3×3 conv (→1), and the fusion is a 3×3 conv. ``side_head="1x1"`` gives
the lighter branch the TIP paper describes (1×1 conv at the stage's scale, then bilinear upsampling, 1×1
fusion). There are no BatchNorm layers (the TIP paper's SegNet-style BN is absent from the code and from
the SAC paper's Table 3), so the ``norm`` strategy refuses this model.

``deepcrack_liu`` — DeepCrackL: Liu et al., "DeepCrack: A deep hierarchical feature learning architecture
for crack segmentation", Neurocomputing 338, 2019 (public code: yhlleo/DeepSegmentor). HED-like: the VGG16
encoder with BatchNorm after every conv, a 1×1 conv side output on the last conv of each stage (deeply
supervised), upsampled to the input size and fused by a 1×1 conv. 14.7M parameters, 8,448 BN affine
parameters (0.057 %), 20 GFLOPs at 256² — the Table 3 row.

Both use HED's input convention (BGR, 0…255, Caffe means) so that ``weights="default"`` — the VGG16
encoder of HED (BSDS500) — sees what it was trained on.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sac.models.base import SideOutputModel, batchnorm_input_stats
from sac.models.checkpoints import load_sac_state
from sac.models.hed import (
    HED_SOURCE,
    VGG16_STAGE_CHANNELS,
    VGG16_STAGES,
    VGG16Trunk,
    default_hed_file,
    hed_preprocess,
    load_hed_h5,
    load_hed_sides,
    upsample_to,
)
from sac.models.registry import register_model

# Decoder stage i mirrors encoder stage i; its last conv narrows to the width of stage i-1 (stage 1 keeps 64).
_DECODER_OUT = (64, 64, 128, 256, 512)


def _decoder_stage(index: int) -> nn.Sequential:
    """Decoder convs of stage ``index`` (1…5): the encoder stage's widths, last conv narrowed."""
    stage = VGG16_STAGES[index - 1]
    width = stage[-1][2]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for j in range(len(stage)):
        cout = _DECODER_OUT[index - 1] if j == len(stage) - 1 else width
        layers[f"deconv{index}_{j + 1}"] = nn.Conv2d(width, cout, 3, padding=1)
        layers[f"relu{index}_{j + 1}"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


class ZouSide(nn.Module):
    """Side output of DeepCrackZ at one scale, from the concatenated encoder + decoder features.

    ``"conv"`` (public code / SAC paper): upsample to the input size, 3×3 conv → 64 + ReLU, 3×3 conv → 1.
    ``"1x1"`` (TIP paper's figure): 1×1 conv → 1 at the stage's scale, then upsample.
    """

    def __init__(self, cin: int, head: str):
        super().__init__()
        self.head = head
        if head == "conv":
            self.reduce = nn.Sequential(nn.Conv2d(cin, 64, 3, padding=1), nn.ReLU(inplace=True))
            self.score = nn.Conv2d(64, 1, 3, padding=1)
        else:
            self.score = nn.Conv2d(cin, 1, 1)

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = torch.cat([enc, dec], 1)
        if self.head == "conv":
            return self.score(self.reduce(upsample_to(x, size)))
        return upsample_to(self.score(x), size)


class DeepCrackZou(SideOutputModel):
    """DeepCrackZ (Zou et al., TIP 2019). See the module docstring.

    Arguments:
        side_head: ``"conv"`` (default; the public code, as in the SAC paper) or ``"1x1"`` (TIP paper).
    """

    encoder_names = ("encoder",)
    decoder_names = ("decoder", "sides", "fuse")
    pad_multiple = 32  # five 2×2 poolings with indices

    def __init__(self, side_head: str = "conv"):
        super().__init__()
        if side_head not in ("conv", "1x1"):
            raise ValueError(f"side_head must be 'conv' or '1x1', got {side_head!r}")
        self.side_head = side_head
        self.encoder = VGG16Trunk()
        self.decoder = nn.ModuleList(_decoder_stage(i) for i in range(1, 6))
        self.sides = nn.ModuleList(ZouSide(VGG16_STAGE_CHANNELS[i] + _DECODER_OUT[i], side_head) for i in range(5))
        k = 3 if side_head == "conv" else 1
        self.fuse = nn.Conv2d(5, 1, k, padding=k // 2)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return hed_preprocess(x)

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        size = (x.shape[-2], x.shape[-1])
        enc_feats, indices = [], []
        for stage in self.encoder.stages:
            x = stage(x)
            enc_feats.append(x)
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        dec_feats: list[torch.Tensor] = []
        for i in reversed(range(5)):
            x = F.max_unpool2d(x, indices[i], 2, 2, output_size=enc_feats[i].shape[-2:])
            x = self.decoder[i](x)
            dec_feats.insert(0, x)
        sides = [side(e, d, size) for side, e, d in zip(self.sides, enc_feats, dec_feats, strict=True)]
        return self.fuse(torch.cat(sides, 1)), sides


class DeepCrackLiu(SideOutputModel):
    """DeepCrackL (Liu et al., Neurocomputing 2019). See the module docstring.

    Unlike Liu's code, the 3×3 convs keep their bias so HED's biases load (4,224 parameters; BN makes
    them redundant in training, but with fresh BN statistics in eval mode the HED-initialised network
    computes HED's function, up to BN's eps), and the side / fusion 1×1 convs have a bias as HED's do
    (6 parameters).
    """

    encoder_names = ("encoder",)
    decoder_names = ("sides", "fuse")
    pad_multiple = 1  # HED-style: ceil-mode pooling, side maps resized to the input size
    hed_init: bool = False  # the builder loaded HED's weights: data_init makes the BatchNorms identities

    def __init__(self) -> None:
        super().__init__()
        self.encoder = VGG16Trunk(batch_norm=True)
        self.sides = nn.ModuleList(nn.Conv2d(c, 1, 1) for c in VGG16_STAGE_CHANNELS)
        self.fuse = nn.Conv2d(5, 1, 1)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return hed_preprocess(x)

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> list[str]:
        """HED-initialised: make every fresh BatchNorm start as the identity on HED's activations.

        Fresh BN (γ=1, β=0) standardises each channel in training mode, so the pretrained layers after it
        would see inputs on another scale than HED's and full tuning starts from a broken network (measured:
        test F1 0.19 after 2 epochs against 0.66 from random init). Setting running mean / var to the
        channel statistics of HED's activations on training images, γ = √(var + eps) and β = mean makes
        BN(x) = x in eval mode and ≈ x in training mode, so training starts from HED's edge detector.
        A random-initialised model is left as it is."""
        if not self.hed_init:
            return []
        bns = [(n, m) for n, m in self.named_modules() if isinstance(m, nn.BatchNorm2d)]
        for _, m in bns:  # identity in eval mode before the pass: fresh statistics 0 / 1
            m.reset_parameters()
        stats = batchnorm_input_stats(self, x, bns)
        names = []
        for n, m in bns:
            mean, var = stats[n]
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.weight.copy_(torch.sqrt(var + m.eps))
            m.bias.copy_(mean)
            names += [f"{n}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
        return names

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        size = (x.shape[-2], x.shape[-1])
        sides = [upsample_to(conv(f), size) for conv, f in zip(self.sides, self.encoder(x), strict=True)]
        return self.fuse(torch.cat(sides, 1)), sides


_PAPER_Z = {"name": "DeepCrackZ", "params": 31e6, "norm": None, "norm_pct": 0.0, "flops_g": 137.46,
            "pretrained_on": "CrackTree260"}
_PAPER_L = {"name": "DeepCrackL", "params": 15e6, "norm": "BN", "norm_pct": 0.057, "flops_g": 20.09,
            "pretrained_on": "DeepCrack"}
_PRETRAINED = "HED VGG16 (BSDS500) encoder"


def _hed_encoder_init(model: SideOutputModel, *, with_sides: bool) -> None:
    path, sha = default_hed_file()
    arrays = load_hed_h5(path)
    model.encoder.load_vgg16({k: torch.from_numpy(v) for k, v in arrays.items()})
    if with_sides:
        load_hed_sides(model.sides, model.fuse, arrays)
    what = "VGG16 encoder + side outputs + fusion" if with_sides else "VGG16 encoder"
    model.origin.weights_info = {"sha256": sha, "source": f"{HED_SOURCE}, {what}"}


@register_model(
    "deepcrack_zou", family="deepcrack",
    description="DeepCrackZ (Zou et al., TIP 2019): SegNet-style VGG16 encoder-decoder with max-unpooling, "
                "5 encoder+decoder side outputs fused; no norm layers; default = HED VGG16 encoder",
    pretrained=f"{_PRETRAINED}: the 13 encoder convs; decoder, side branches and fusion random",
    default_available=True, paper=_PAPER_Z,
)
def build_deepcrack_zou(weights: str | Path | None = None, side_head: str = "conv") -> DeepCrackZou:
    model = DeepCrackZou(side_head=side_head)
    if weights == "default":
        _hed_encoder_init(model, with_sides=False)
    elif weights is not None:
        load_sac_state(model, Path(weights), "deepcrack_zou")
    return model


@register_model(
    "deepcrack_liu", family="deepcrack",
    description="DeepCrackL (Liu et al., Neurocomputing 2019): HED-like VGG16+BN with 5 deeply supervised "
                "1×1 side outputs fused by a 1×1 conv; default = HED VGG16 encoder, sides and fusion",
    pretrained=f"{_PRETRAINED}: the 13 convs, the 5 side outputs and the fusion (BatchNorm layers set to the "
               "identity on HED's activations from training images when training starts)",
    default_available=True, paper=_PAPER_L,
)
def build_deepcrack_liu(weights: str | Path | None = None) -> DeepCrackLiu:
    model = DeepCrackLiu()
    if weights == "default":
        _hed_encoder_init(model, with_sides=True)
        model.hed_init = True  # training starts with data_init: BN as the identity on HED's activations
    elif weights is not None:
        load_sac_state(model, Path(weights), "deepcrack_liu")
    return model
