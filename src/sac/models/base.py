"""The one model contract: ``B×3×H×W`` RGB float in [0, 1] in, ``B×1×H×W`` logits out, any H×W.

Every registered model subclasses :class:`SegmentationModel`. It owns its input normalisation
(``preprocess``) so callers never guess, pads to the multiple its architecture needs and crops
back, and names its parts (``encoder``/``decoder`` submodule paths) so tuning strategies can
find them without knowing the architecture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationModel(nn.Module):
    """Base class of every SAC model.

    Class attributes a subclass sets:
        encoder_names: dotted submodule paths that form the encoder (frozen by ``decoder``).
        decoder_names: dotted submodule paths that form the decoder / head (trained by ``decoder``).
        pad_multiple: inputs are padded (reflect) to a multiple of this and the logits cropped back.
    """

    encoder_names: tuple[str, ...] = ()
    decoder_names: tuple[str, ...] = ()
    pad_multiple: int = 1

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Map RGB in [0, 1] to what the network expects (mean/std, BGR, ...). Identity by default."""
        return x

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Network on a preprocessed, padded batch; returns ``B×1×h×w`` logits at the padded size."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} expects a B×3×H×W RGB batch, got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        m = self.pad_multiple
        ph, pw = (-h) % m, (-w) % m
        x = self.preprocess(x)
        if ph or pw:
            mode = "reflect" if (ph < h and pw < w) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        y = self.forward_logits(x)
        if y.shape[-2:] != (h + ph, w + pw):
            y = F.interpolate(y, size=(h + ph, w + pw), mode="bilinear", align_corners=False)
        return y[..., :h, :w]

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Crack probability ``B×1×H×W`` in eval mode, without gradients."""
        was_training = self.training
        self.eval()
        try:
            return torch.sigmoid(self(x))
        finally:
            self.train(was_training)

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
