"""The one model contract: ``B×3×H×W`` RGB float in [0, 1] in, ``B×1×H×W`` logits out, any H×W.

Every registered model subclasses :class:`SegmentationModel`. It owns its input normalisation
(``preprocess``) so callers never guess, pads to the multiple its architecture needs and crops
back, and names its parts (``encoder``/``decoder`` submodule paths) so tuning strategies can
find them without knowing the architecture. Where a model comes from (registry name, base weights,
strategy, adapter) is its :class:`Origin`, also readable under the older ``sac_*`` attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import torch
import torch.nn.functional as F
from torch import nn

T = TypeVar("T")


@dataclass
class Origin:
    """Where a model comes from, as recorded by the functions that make it. ``None``: not set.

    Arguments:
        name: registry name (``create_model``).
        base: how to rebuild the base model: ``weights``, ``init_seed``, ``kwargs`` and, for a loaded file, its
            ``sha256`` and ``source`` (``create_model``).
        weights_info: ``sha256`` and ``source`` of the weight file the builder loaded.
        strategy: the tuning strategy applied (``sac.tuning.apply_strategy``).
        adapter: metadata of the adapter file the model was loaded from, with its ``path`` (``load_adapter``).
        threshold: the calibrated probability threshold stored in that adapter.
        data_init: state-dict names :meth:`SegmentationModel.data_init` set (they travel in every adapter).
    """

    name: str | None = None
    base: dict[str, Any] = field(default_factory=dict)
    weights_info: dict[str, str] | None = None
    strategy: str | None = None
    adapter: dict[str, Any] | None = None
    threshold: float | None = None
    data_init: list[str] = field(default_factory=list)


class OriginAlias(Generic[T]):
    """``model.sac_<field>``: the older name of ``model.origin.<field>``. Reading it raises AttributeError while
    the field is ``None``, as before :class:`Origin` existed, so ``getattr(model, "sac_…", default)`` still
    returns ``default`` for a field nothing has set."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.field = name.removeprefix("sac_")

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> OriginAlias[T]: ...

    @overload
    def __get__(self, obj: SegmentationModel, objtype: type | None = None) -> T: ...

    def __get__(self, obj: SegmentationModel | None, objtype: type | None = None) -> OriginAlias[T] | T:
        if obj is None:
            return self
        value = getattr(obj.origin, self.field)
        if value is None:
            raise AttributeError(f"{type(obj).__name__}.{self.name} is not set")
        return value

    def __set__(self, obj: SegmentationModel, value: T) -> None:
        setattr(obj.origin, self.field, value)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``x`` (``B×C×H×W``) at the bottom and right to the next multiple of ``multiple``: reflect, or
    replicate where the padding is not shorter than the side (reflect cannot pad that much).

    Arguments:
        x: the batch.
        multiple: side multiple wanted (1: unchanged).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    return F.pad(x, (0, pw, 0, ph), mode="reflect" if (ph < h and pw < w) else "replicate")


class SegmentationModel(nn.Module):
    """Base class of every SAC model.

    Class attributes a subclass sets:
        encoder_names: dotted submodule paths that form the encoder (frozen by ``decoder``).
        decoder_names: dotted submodule paths that form the decoder / head (trained by ``decoder``).
        pad_multiple: inputs are padded (reflect) to a multiple of this and the logits cropped back.

    Every instance has an :class:`Origin` (``model.origin``), filled by ``create_model``, ``apply_strategy`` and
    ``load_adapter``; ``model.sac_name``, ``sac_base``, ``sac_weights_info``, ``sac_strategy``, ``sac_adapter``,
    ``sac_threshold`` and ``sac_data_init`` are its fields under their older names.
    """

    encoder_names: tuple[str, ...] = ()
    decoder_names: tuple[str, ...] = ()
    pad_multiple: int = 1

    origin: Origin
    sac_name: OriginAlias[str] = OriginAlias()
    sac_base: OriginAlias[dict[str, Any]] = OriginAlias()
    sac_weights_info: OriginAlias[dict[str, str]] = OriginAlias()
    sac_strategy: OriginAlias[str] = OriginAlias()
    sac_adapter: OriginAlias[dict[str, Any]] = OriginAlias()
    sac_threshold: OriginAlias[float] = OriginAlias()
    sac_data_init: OriginAlias[list[str]] = OriginAlias()

    def __init__(self) -> None:
        super().__init__()
        self.origin = Origin()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Map RGB in [0, 1] to what the network expects (mean/std, BGR, ...). Identity by default."""
        return x

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Network on a preprocessed, padded batch; returns ``B×1×h×w`` logits at the padded size."""
        raise NotImplementedError

    def padded_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` checked (``B×3×H×W``), preprocessed and padded to ``pad_multiple``: what the network runs on."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} expects a B×3×H×W RGB batch, got shape {tuple(x.shape)}")
        return pad_to_multiple(self.preprocess(x), self.pad_multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp = self.padded_input(x)
        h, w = x.shape[-2:]
        y = self.forward_logits(xp)
        if y.shape[-2:] != xp.shape[-2:]:
            y = F.interpolate(y, size=tuple(xp.shape[-2:]), mode="bilinear", align_corners=False)
        return y[..., :h, :w]

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Crack probability ``B×1×H×W`` in eval mode, without gradients. Every submodule's train / eval
        state is restored afterwards as it was (a strategy may keep some BatchNorms in eval mode while
        training: ``sac.tuning.train_mode``)."""
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            with torch.no_grad():
                return torch.sigmoid(self(x))
        finally:
            for m, mode in modes:
                m.training = mode

    def data_init(self, x: torch.Tensor) -> list[str]:
        """Data-dependent initialisation, run by the trainer once before the first step of a fresh run
        on a seeded batch of training images ``x`` (RGB in [0, 1]), with the model already in its strategy's
        training mode (``sac.tuning.train_mode``: the BatchNorms whose statistics will follow the batch are
        the ones in training mode). Returns the state-dict names it set: they differ from the rebuilt base
        model, so every adapter of the model stores them. Nothing by default."""
        return []

    def part(self, role: str) -> list[nn.Module]:
        """Submodules of a role (``"encoder"`` or ``"decoder"``)."""
        names = {"encoder": self.encoder_names, "decoder": self.decoder_names}[role]
        return [self.get_submodule(n) for n in names]


class SideOutputModel(SegmentationModel):
    """A :class:`SegmentationModel` with deeply supervised side outputs.

    Subclasses implement :meth:`forward_all` (preprocessed, padded batch → fused logits and the list of
    side logits, all at the padded input size). :meth:`forward_sides` runs it on RGB input with the same
    preprocessing, padding and cropping as :meth:`forward`, for trainers that supervise the sides.
    """

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:  # pragma: no cover
        raise NotImplementedError

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[0]

    def forward_sides(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(fused, [side1, …, side5])`` logits, each ``B×1×H×W`` at the input size."""
        fused, sides = self.forward_all(self.padded_input(x))
        h, w = x.shape[-2:]
        return fused[..., :h, :w], [s[..., :h, :w] for s in sides]


@torch.no_grad()
def batchnorm_input_stats(model: nn.Module, x: torch.Tensor, bns: list[tuple[str, nn.Module]]
                          ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-channel mean and (biased) variance of what each BatchNorm in ``bns`` receives when ``model`` runs
    on the RGB batch ``x`` in eval mode (the model's own function). The model's modes are restored."""
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(name: str):
        def fn(_m: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            t = inp[0].float()
            stats[name] = (t.mean(dim=(0, 2, 3)), t.var(dim=(0, 2, 3), unbiased=False))
        return fn

    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_pre_hook(hook(n)) for n, m in bns]
    model.eval()
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return stats


@torch.no_grad()
def recentre_batchnorm(model: nn.Module, x: torch.Tensor, bns: list[tuple[str, nn.Module]]) -> list[str]:
    """Give each BatchNorm in ``bns`` the channel statistics of its input on ``x`` as running statistics and
    change γ, β so that its eval-mode function stays exactly what it was:
    ``γ' = γ·s'/s``, ``β' = β + γ·(μ' − μ)/s`` with ``s = √(var + eps)``. In training mode the layer then
    normalises with batch statistics close to those running ones, so it starts close to the pretrained
    function instead of standardising every channel. Returns the state-dict names it set."""
    stats = batchnorm_input_stats(model, x, bns)
    names = []
    for n, m in bns:
        mean, var = (t.to(m.running_mean.dtype) for t in stats[n])
        s_old = torch.sqrt(m.running_var + m.eps)
        s_new = torch.sqrt(var + m.eps)
        gamma = m.weight if m.weight is not None else torch.ones_like(mean)
        if m.bias is not None:
            m.bias.add_(gamma * (mean - m.running_mean) / s_old)
        if m.weight is not None:
            m.weight.mul_(s_new / s_old)
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
        names += [f"{n}.{k}" for k in ("weight", "bias", "running_mean", "running_var")
                  if getattr(m, k, None) is not None]
    return names
