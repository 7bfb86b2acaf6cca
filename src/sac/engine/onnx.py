"""ONNX export of any model or adapter, and ONNX Runtime inference through the same tiling / measurement code.

``export_onnx(model, path)`` writes the model as it predicts — preprocessing, network, the adapter's tensors merged
into the weights — with the TorchScript exporter (``dynamo=False``: it needs no extra package) at opset
:data:`OPSET`. Input ``image``: ``B×3×H×W`` float RGB in [0, 1]; output ``logits``: ``B×1×H×W``. The batch axis
is dynamic; height and width are dynamic for sizes that are multiples of the model's ``pad_multiple`` (the traced
graph has no padding branch), and :class:`OnnxModel` pads other sizes itself exactly as the model would
(``pad_to_multiple``), so every size works — for graphs that generalise at all: :func:`export_onnx` checks, and
marks a graph that only reproduces the model at its export size (SAM's windowed encoders) as fixed-size. The model's origin (name, strategy, adapter, threshold) and its pad
multiple travel in the file's metadata.

``OnnxModel(path)`` is an ``nn.Module`` running the file with onnxruntime (CPU, as many threads as torch uses),
so ``predict_probability`` / ``sac predict --engine onnx`` tile, blend, threshold and measure exactly as with
PyTorch.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sac.errors import ConfigError
from sac.files import atomic_path
from sac.models.base import Origin, pad_to_multiple

OPSET = 17
PARITY_ATOL = 1e-3  # logits; the CPU kernels of the two runtimes differ in summation order


def export_onnx(model: nn.Module, path: str | Path, *, size: int = 256) -> Path:
    """Write ``model`` (eval mode, float32, CPU) as ONNX to ``path`` atomically; traced at ``size``×``size``.

    The export is checked before it is kept: onnxruntime's logits at ``size`` (batch 2) must match PyTorch's
    within :data:`PARITY_ATOL`, else :class:`~sac.errors.ConfigError`. It is then tried at a second size; a
    graph that does not give the same logits there (window partitions traced as constants, as in SAM's
    encoders) is marked fixed-size, and :class:`OnnxModel` refuses other sizes with a message instead of
    returning garbage."""
    import onnx

    path = Path(path)
    if path.suffix != ".onnx":
        raise ConfigError(path, "the ONNX file must end in .onnx")
    model = model.eval().float().cpu()
    pm = int(getattr(model, "pad_multiple", 1))
    meta = {"sac_origin": json.dumps(_origin_dict(model), default=str), "sac_pad_multiple": str(pm),
            "sac_export_size": str(size), "sac_opset": str(OPSET), "sac_torch": torch.__version__}
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches (see the module doc)
        torch.onnx.export(model, (torch.rand(1, 3, size, size),), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                        "logits": {0: "batch", 2: "height", 3: "width"}})
        gen = torch.Generator().manual_seed(0)
        err = _max_error(model, tmp, torch.rand(2, 3, size, size, generator=gen))
        if err is None or err > PARITY_ATOL:
            raise ConfigError(path, f"the exported graph does not reproduce the model at {size}×{size} "
                                    f"(max |Δ logits| {err}); not written")
        other = size + 2 * max(pm, 16)
        err2 = _max_error(model, tmp, torch.rand(1, 3, other, size + max(pm, 16), generator=gen))
        meta["sac_dynamic_size"] = "1" if err2 is not None and err2 <= PARITY_ATOL else "0"
        meta["sac_parity_max_abs"] = f"{err:.3g}"
        proto = onnx.load(str(tmp))
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(proto, str(tmp))
    return path


def _max_error(model: nn.Module, onnx_path: Path, x: torch.Tensor) -> float | None:
    """max |Δ| between PyTorch's and onnxruntime's logits on ``x``; ``None`` when onnxruntime fails."""
    import onnxruntime as ort

    ref = model(x).numpy()
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # a size the graph cannot run is an answer here, not an error to print
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        out = sess.run(["logits"], {"image": x.numpy()})[0]
    except Exception:  # noqa: BLE001 - a graph that cannot run at this size
        return None
    return float(np.abs(out - ref).max()) if out.shape == ref.shape else None


def _origin_dict(model: nn.Module) -> dict[str, Any]:
    origin = getattr(model, "origin", None)
    if origin is None:
        return {}
    d = dataclasses.asdict(origin)
    if d.get("adapter"):
        d["adapter"] = {k: v for k, v in d["adapter"].items() if k in ("path", "strategy", "threshold", "model")}
    return d


class OnnxModel(nn.Module):
    """An exported model run by onnxruntime, usable wherever a ``SegmentationModel`` is used for inference."""

    def __init__(self, path: str | Path, threads: int | None = None):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a dev dependency
            raise ConfigError(path, "ONNX inference needs onnxruntime: pip install onnxruntime") from e
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(self.path, "no such ONNX file")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types for bad files
            raise ConfigError(self.path, f"not a model onnxruntime can load: {e}") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        self.pad_multiple = int(meta.get("sac_pad_multiple", 1))
        self.export_size = int(meta.get("sac_export_size", 0))
        self.dynamic_size = meta.get("sac_dynamic_size", "1") == "1"
        origin = json.loads(meta.get("sac_origin", "{}"))
        self.origin = Origin(**{k: v for k, v in origin.items() if k in {f.name for f in dataclasses.fields(Origin)}})
        if self.origin.adapter is not None:
            self.origin.adapter = {**self.origin.adapter, "onnx": str(self.path)}
        self.origin.name = f"{self.origin.name or 'model'} (ONNX Runtime)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if not self.dynamic_size and (h, w) != (self.export_size, self.export_size):
            raise ConfigError(self.path, f"this ONNX graph runs at {self.export_size}×{self.export_size} only (its "
                                         f"model's shapes were traced as constants); got {h}×{w}. Use "
                                         f"--tile {self.export_size}, or export again with --size")
        xp = pad_to_multiple(x.float(), self.pad_multiple)
        y = self.session.run(["logits"], {"image": np.ascontiguousarray(xp.detach().cpu().numpy())})[0]
        return torch.from_numpy(y[..., :h, :w]).to(x.device)

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x))


def onnx_model_for(model: nn.Module, size: int = 256) -> OnnxModel:
    """``model`` exported to a temporary file and loaded with onnxruntime (``sac predict --engine onnx``)."""
    with tempfile.TemporaryDirectory(prefix="sac-onnx-") as tmp:
        return OnnxModel(export_onnx(model, Path(tmp) / "model.onnx", size=size))
