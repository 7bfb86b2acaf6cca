"""Finding normalization layers by what they are, not by their attribute names.

A module is a normalization layer when it is a torch BatchNorm / GroupNorm / LayerNorm /
InstanceNorm (or a subclass, e.g. timm's ``BatchNormAct2d``), or when it is a leaf module whose
class name ends in ``Norm``/``Norm2d``/``NormNd`` and whose only parameters are a 1-D ``weight``
and/or ``bias`` (e.g. segment-anything's ``LayerNorm2d``, which subclasses ``nn.Module`` directly).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

_TORCH_NORMS = (_BatchNorm, nn.GroupNorm, nn.LayerNorm, _InstanceNorm, nn.LocalResponseNorm)
_NAME_RE = re.compile(r"(Layer|Batch|Group|Instance|RMS)?Norm(\d?d|\dd)?$")


def is_norm(module: nn.Module) -> bool:
    if isinstance(module, _TORCH_NORMS):
        return True
    if hasattr(nn, "RMSNorm") and isinstance(module, nn.RMSNorm):
        return True
    if any(True for _ in module.children()):
        return False
    if not _NAME_RE.search(type(module).__name__):
        return False
    params = dict(module.named_parameters(recurse=False))
    return bool(params) and set(params) <= {"weight", "bias"} and all(p.ndim == 1 for p in params.values())


def is_batchnorm(module: nn.Module) -> bool:
    return isinstance(module, _BatchNorm)


def norm_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, m in model.named_modules():
        if is_norm(m):
            yield name, m


def norm_parameter_names(model: nn.Module) -> list[str]:
    """Dotted names of every affine parameter (γ, β) of every normalization layer."""
    out = []
    for name, m in norm_modules(model):
        for pname, _ in m.named_parameters(recurse=False):
            out.append(f"{name}.{pname}" if name else pname)
    return out


def norm_kinds(model: nn.Module) -> list[str]:
    """Short names of the norm kinds present: ``BN``, ``GN``, ``LN`` (paper's Table 3 column)."""
    kinds = set()
    for _, m in norm_modules(model):
        if isinstance(m, _BatchNorm):
            kinds.add("BN")
        elif isinstance(m, nn.GroupNorm):
            kinds.add("GN")
        elif isinstance(m, _InstanceNorm):
            kinds.add("IN")
        else:
            kinds.add("LN")
    return sorted(kinds)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """``total`` / ``trainable`` / ``norm`` (affine γ, β of every norm layer) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    params = dict(model.named_parameters())
    norm = sum(params[n].numel() for n in norm_parameter_names(model) if n in params)
    return {"total": total, "trainable": trainable, "norm": norm}
