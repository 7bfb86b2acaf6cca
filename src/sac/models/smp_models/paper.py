"""The paper's Table 3 library models, pretrained weights user-supplied (nothing is ever downloaded).

``unet_r50`` (smp U-Net, ResNet-50), ``segformer_b0`` (smp SegFormer, MiT-B0), ``deeplabv3plus_r50`` /
``deeplabv3plus_r101`` (smp DeepLabV3+) and ``deeplabv3_r50`` / ``deeplabv3_r101`` (torchvision DeepLabV3).
The paper's "DeepLabv3+" rows (42 M / 61 M parameters, COCO2017 pretraining, 43.39 / 62.84 G) are exactly
torchvision's COCO ``deeplabv3_resnet50/101`` counted with their auxiliary head and 21 classes, so the Table 3
numbers are attached to the ``deeplabv3_*`` models (built here with the aux head off and 1 class).

A user file given as ``weights`` is recognised by its keys (:class:`~sac.models.checkpoints.Layout`): a full state
dict of the SAC model, the encoder's ImageNet classifier (torchvision ResNet, NVlabs/smp MiT-B0), or the
torchvision COCO DeepLabV3 checkpoint (everything but the 21-class output layer; its backbone also fits the smp
ResNet models). Anything else is a :class:`~sac.errors.WeightsError` naming the file and what does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import torchvision
from torch import nn

from sac.models.base import SegmentationModel
from sac.models.checkpoints import (
    Layout,
    find_user_file,
    full_state_layout,
    load_weights_file,
    set_weights_info,
)
from sac.models.registry import register_model
from sac.models.smp_models.wrappers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SMPSegmentation,
    TorchvisionDeepLabV3,
    no_options,
)

_TV_URL = "https://download.pytorch.org/models/"
_RESNET_FILES = {
    "resnet50": ["resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth"],
    "resnet101": ["resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth", "resnet101-cd907fc2.pth"],
}
_COCO_FILES = {"resnet50": "deeplabv3_resnet50_coco-cd0a2569.pth", "resnet101": "deeplabv3_resnet101_coco-586e9e4e.pth"}
_MIT_FILES = ["mit_b0.pth"]
_USER_FILE = "user-supplied file, never downloaded"

#: Every model name this module registers, in registration order.
PAPER_MODEL_NAMES: list[str] = []


@dataclass(frozen=True)
class PaperModel:
    """How to build one of these models and which files its ``weights`` may be.

    Arguments:
        name: registry name.
        make: the network as a :class:`SegmentationModel`, randomly initialised.
        layouts: the checkpoint layouts a weights file may have.
        default_file: the user-supplied file ``weights="default"`` loads (a WeightsError saying where to get it).
    """

    name: str
    make: Callable[[], SegmentationModel]
    layouts: Callable[[], list[Layout]]
    default_file: Callable[[], Path]


def build_paper_model(spec: PaperModel, weights: str | Path | None, **kwargs: Any) -> SegmentationModel:
    """The one builder of these models.

    Arguments:
        spec: which model.
        weights: ``None`` (random), ``"default"`` (the user-supplied pretrained file) or a path.
        kwargs: none are accepted.
    """
    no_options(spec.name, kwargs)
    model = spec.make()
    if weights is None:
        return model
    path = spec.default_file() if weights == "default" else Path(weights)
    set_weights_info(model, path, load_weights_file(model, path, spec.layouts()))
    return model


# ------------------------------------------------------------------------------------ the networks
def _smp_net(cls: Callable[..., nn.Module], encoder: str) -> SMPSegmentation:
    return SMPSegmentation(cls(encoder_name=encoder, encoder_weights=None, classes=1), mean=IMAGENET_MEAN,
                           std=IMAGENET_STD)


def _tv_deeplab(depth: str) -> TorchvisionDeepLabV3:
    fn = {"resnet50": torchvision.models.segmentation.deeplabv3_resnet50,
          "resnet101": torchvision.models.segmentation.deeplabv3_resnet101}[depth]
    return TorchvisionDeepLabV3(fn(weights=None, weights_backbone=None, num_classes=1, aux_loss=False))


# ------------------------------------------------------------------------------ layouts and files
def _resnet_layouts(depth: str) -> list[Layout]:
    return [
        full_state_layout(f"{depth} encoder"),
        Layout(f"ImageNet {depth} classifier (torchvision {_RESNET_FILES[depth][0]} / smp-hub layout)", "net.encoder",
               strip=("encoder.", "module."), allow_unexpected=("fc.",)),
        Layout(f"torchvision COCO DeepLabV3 checkpoint ({_COCO_FILES[depth]}): its backbone only", "net.encoder",
               strip=("backbone.",), allow_unexpected=("classifier.", "aux_classifier.")),
    ]


def _resnet_file(depth: str) -> Path:
    v1, _, v2 = _RESNET_FILES[depth]
    return find_user_file(
        _RESNET_FILES[depth], f"ImageNet {depth} weights",
        f"Get torchvision's ImageNet {depth} ({_TV_URL}{v1}, IMAGENET1K_V1, which smp's 'imagenet' weights "
        f"are; or {_TV_URL}{v2}, IMAGENET1K_V2); its file name embeds its sha256 prefix, which is checked.")


def _mit_layouts() -> list[Layout]:
    return [
        full_state_layout("MiT-B0 encoder"),
        Layout("MiT-B0 ImageNet-1k encoder (NVlabs SegFormer mit_b0.pth / smp-hub mit_b0.imagenet layout; "
               "mmsegmentation's converted mit_b0_*.pth and HF transformers nvidia/mit-b0 use other key names)",
               "net.encoder", strip=("encoder.", "module.", "backbone."), allow_unexpected=("head.",)),
    ]


def _mit_file() -> Path:
    return find_user_file(
        _MIT_FILES, "MiT-B0 ImageNet-1k encoder weights",
        "Get mit_b0.pth from the NVlabs SegFormer release (ImageNet-1k pretrained MiT weights), or "
        "model.safetensors of the Hugging Face repo smp-hub/mit_b0.imagenet (pass that one as a path).")


def _tv_layouts(depth: str) -> list[Layout]:
    return [
        full_state_layout(f"torchvision DeepLabV3-{depth}, 1 class"),
        Layout(f"torchvision COCO DeepLabV3-{depth} checkpoint ({_COCO_FILES[depth]}; the output layer "
               "classifier.4 is re-initialised for 1 class, the aux head dropped)", "net",
               strip=("module.",), allow_unexpected=("aux_classifier.",), skip=("classifier.4.",)),
        Layout(f"ImageNet {depth} classifier (torchvision {_RESNET_FILES[depth][0]} layout): backbone only",
               "net.backbone", strip=("module.",), allow_unexpected=("fc.",)),
    ]


def _coco_file(depth: str) -> Path:
    return find_user_file(
        [_COCO_FILES[depth]], f"torchvision's COCO DeepLabV3-{depth} checkpoint",
        f"Get {_TV_URL}{_COCO_FILES[depth]} (COCO train2017 with the 20 VOC classes, the paper's pretraining); "
        "its file name embeds its sha256 prefix, which is checked.")


def _smp_resnet(name: str, cls: Callable[..., nn.Module], depth: str) -> PaperModel:
    return PaperModel(name, partial(_smp_net, cls, depth), partial(_resnet_layouts, depth), partial(_resnet_file, depth))


def _torchvision(name: str, depth: str) -> PaperModel:
    return PaperModel(name, partial(_tv_deeplab, depth), partial(_tv_layouts, depth), partial(_coco_file, depth))


def _register(spec: PaperModel, family: str, **entry: Any) -> None:
    register_model(spec.name, family=family, **entry)(partial(build_paper_model, spec))
    PAPER_MODEL_NAMES.append(spec.name)


# -------------------------------------------------------------------------------------- registry
_register(
    _smp_resnet("unet_r50", smp.Unet, "resnet50"), "smp",
    description="smp U-Net on ResNet-50 (BatchNorm) — the paper's U-Net row (32.5 M params, 0.170 % norm)",
    pretrained=f"ImageNet-1k ResNet-50 encoder: torchvision resnet50-0676ba61.pth (smp's 'imagenet') or "
               f"resnet50-11ad3fa6.pth ({_USER_FILE}) + fresh decoder",
    paper={"name": "U-Net", "architecture": "CNN", "backbone": "FCN (ResNet-50 encoder)", "norm": "BN",
           "params": 32.5e6, "norm_pct": 0.170, "flops_g": 38.35, "time_s": 0.156, "pretrained": "ImageNet1K"},
)
_register(
    PaperModel("segformer_b0", partial(_smp_net, smp.Segformer, "mit_b0"), _mit_layouts, _mit_file), "smp",
    description="smp SegFormer on MiT-B0 (LayerNorm encoder, BatchNorm decoder) — the paper's SegFormer row",
    pretrained=f"MiT-B0 ImageNet-1k encoder: NVlabs mit_b0.pth or smp-hub/mit_b0.imagenet ({_USER_FILE}) "
               "+ fresh decoder",
    paper={"name": "SegFormer", "architecture": "Transformer", "backbone": "MiT-B0", "norm": "BN & LN",
           "params": 3.7e6, "norm_pct": 0.207, "flops_g": 15.73, "time_s": 0.147, "pretrained": "ImageNet1K"},
)
_register(
    _smp_resnet("deeplabv3plus_r50", smp.DeepLabV3Plus, "resnet50"), "smp",
    description="smp DeepLabV3+ on ResNet-50 (26.7 M params; the architecture the paper names — its Table 3 "
                "numbers are torchvision DeepLabV3, see deeplabv3_r50)",
    pretrained=f"ImageNet-1k ResNet-50 encoder (torchvision resnet50-0676ba61.pth, {_USER_FILE}) + fresh decoder; "
               "the COCO deeplabv3_resnet50_coco-cd0a2569.pth backbone is also accepted as a path",
)
_register(
    _smp_resnet("deeplabv3plus_r101", smp.DeepLabV3Plus, "resnet101"), "smp",
    description="smp DeepLabV3+ on ResNet-101 (45.7 M params; the architecture the paper names — its Table 3 "
                "numbers are torchvision DeepLabV3, see deeplabv3_r101)",
    pretrained=f"ImageNet-1k ResNet-101 encoder (torchvision resnet101-63fe2227.pth, {_USER_FILE}) + fresh decoder; "
               "the COCO deeplabv3_resnet101_coco-586e9e4e.pth backbone is also accepted as a path",
)
_register(
    _torchvision("deeplabv3_r50", "resnet50"), "torchvision",
    description="torchvision DeepLabV3-ResNet50, 1 class, aux head off (39.6 M) — the paper's 'DeepLabv3+ ResNet50' "
                "row: 42.0 M / 0.136 % norm / COCO2017 are this model counted with its aux head and 21 classes",
    pretrained=f"COCO train2017 (VOC classes): torchvision deeplabv3_resnet50_coco-cd0a2569.pth ({_USER_FILE}); "
               "output layer re-initialised for 1 class",
    paper={"name": "DeepLabv3+ (ResNet50)", "architecture": "CNN", "backbone": "ResNet50", "norm": "BN",
           "params": 42e6, "norm_pct": 0.136, "flops_g": 43.39, "time_s": 0.189, "pretrained": "COCO2017"},
)
_register(
    _torchvision("deeplabv3_r101", "resnet101"), "torchvision",
    description="torchvision DeepLabV3-ResNet101, 1 class, aux head off (58.6 M) — the paper's 'DeepLabv3+ "
                "ResNet101' row: 61.0 M / COCO2017 are this model counted with its aux head and 21 classes",
    pretrained=f"COCO train2017 (VOC classes): torchvision deeplabv3_resnet101_coco-586e9e4e.pth ({_USER_FILE}); "
               "output layer re-initialised for 1 class",
    paper={"name": "DeepLabv3+ (ResNet101)", "architecture": "CNN", "backbone": "ResNet101", "norm": "BN",
           "params": 61e6, "norm_pct": 0.180, "flops_g": 62.84, "time_s": 0.227, "pretrained": "COCO2017"},
)
