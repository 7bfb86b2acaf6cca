"""The wrappers that make a library network a :class:`~sac.models.SegmentationModel`: per-channel input
normalisation, one output class, the padding the encoder needs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sac.models.base import SegmentationModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF-Lite convention of the EfficientNet-Lite checkpoints: (255·x − 127) / 128 == (x − 127/255) / (128/255).
TFLITE_MEAN = (127 / 255,) * 3
TFLITE_STD = (128 / 255,) * 3


class Normalized(SegmentationModel):
    """Shared part: per-channel ``(x − mean) / std`` in ``preprocess`` (non-persistent buffers, so they
    follow ``.to(device)`` but are not part of the state dict)."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.pixel_mean) / self.pixel_std


class SMPSegmentation(Normalized):
    """An smp model (``self.net``) with 1 output class.

    ``pad_multiple`` is the encoder's output stride (what smp checks inputs against). ``min_size`` pads
    small inputs further (replicate) for decoders that pool the deepest feature map several times (PAN).
    """

    encoder_names = ("net.encoder",)
    decoder_names = ("net.decoder", "net.segmentation_head")

    def __init__(self, net: nn.Module, *, mean: tuple[float, ...], std: tuple[float, ...], min_size: int = 0):
        super().__init__(mean, std)
        self.net = net
        self.pad_multiple = int(net.encoder.output_stride)
        self.min_size = min_size

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = max(0, self.min_size - h), max(0, self.min_size - w)
        if ph or pw:
            y = self.net(F.pad(x, (0, pw, 0, ph), mode="replicate"))
            return y[..., :h, :w]
        return self.net(x)


class TorchvisionDeepLabV3(Normalized):
    """torchvision ``deeplabv3_resnet50/101`` (output stride 8, no aux head) with 1 output class."""

    encoder_names = ("net.backbone",)
    decoder_names = ("net.classifier",)
    pad_multiple = 8

    def __init__(self, net: nn.Module):
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        self.net = net

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]


def no_options(name: str, kwargs: dict[str, object]) -> None:
    """TypeError when a builder that takes no options gets some."""
    if kwargs:
        raise TypeError(f"{name} takes no options, got {sorted(kwargs)}")
