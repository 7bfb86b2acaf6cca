"""Any-size inference (sac.engine.inference) with tiny deterministic fake models."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from sac.engine.inference import predict_probability, tile_starts, window_1d
from sac.errors import ConfigError, DataError
from sac.models import SegmentationModel


class Pointwise(SegmentationModel):
    """Logits are a per-pixel function of the RGB values: tiling must reproduce whole-image inference."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(6.0))
        self.calls: list[tuple[int, ...]] = []

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        return self.gain * (x[:, :1] - 0.6 * x[:, 1:2] - 0.3 * x[:, 2:3]) + 0.2


class ColumnRamp(SegmentationModel):
    """Logits = a ramp over the input's columns (ignores content): not mirror-symmetric."""

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        w = x.shape[-1]
        ramp = torch.linspace(-3.0, 3.0, w, device=x.device)
        return ramp.expand(x.shape[0], 1, x.shape[-2], w).clone()


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _whole(model: nn.Module, img: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        return torch.sigmoid(model(x))[0, 0].numpy()


@pytest.mark.parametrize("blend", ["gaussian", "cosine"])
@pytest.mark.parametrize("hw", [(300, 420), (100, 80), (64, 64), (257, 130), (65, 200)])
def test_tiled_equals_whole_image_for_pointwise_model(hw, blend):
    model = Pointwise()
    img = _image(*hw)
    whole = _whole(model, img)
    model.calls.clear()
    prob = predict_probability(model, img, tile=64, overlap=0.25, batch_size=5, blend=blend, progress=False)
    assert prob.shape == hw and prob.dtype == np.float32
    np.testing.assert_allclose(prob, whole, atol=2e-6, rtol=0)
    # every window is the native size (smaller photos are padded, never upscaled) and batches are bounded
    assert model.calls and all(c[1:] == (3, 64, 64) and 1 <= c[0] <= 5 for c in model.calls)
    ys, xs = tile_starts(max(hw[0], 64), 64, 0.25), tile_starts(max(hw[1], 64), 64, 0.25)
    assert sum(c[0] for c in model.calls) == len(ys) * len(xs)


def test_tile_grid_covers_with_overlap():
    for n in (64, 65, 100, 300, 1000, 4097):
        s = tile_starts(n, 64, 0.25)
        assert s[0] == 0 and s[-1] == max(n - 64, 0)
        if len(s) > 1:
            assert np.all(np.diff(s) <= 48) and np.all(np.diff(s) > 0)  # overlap ≥ 25 % of the tile
    g = window_1d(64, "gaussian")
    c = window_1d(64, "cosine")
    for w in (g, c):
        assert w.max() == pytest.approx(1.0, abs=1e-3) and w.min() >= 1e-3 and np.allclose(w, w[::-1])
    with pytest.raises(ConfigError):
        window_1d(64, "box")


def test_blending_normalises_weights_for_constant_prediction():
    """Overlapping tiles predicting the same value must blend to exactly that value (weights sum right)."""

    class Const(SegmentationModel):
        def forward_logits(self, x):
            return torch.full((x.shape[0], 1, *x.shape[-2:]), 0.7)

    prob = predict_probability(Const(), _image(333, 517), tile=64, overlap=0.5, progress=False)
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-0.7)), atol=1e-6)


def test_tta_symmetric_model_unchanged_and_flips_are_undone():
    model = Pointwise()
    img = _image(150, 190, seed=3)
    a = predict_probability(model, img, tile=64, tta=False, progress=False)
    b = predict_probability(model, img, tile=64, tta=True, progress=False)
    np.testing.assert_allclose(a, b, atol=2e-6)  # per-pixel model commutes with flips
    # an asymmetric model: the mirrored prediction must be mirrored back before averaging
    ramp = torch.sigmoid(torch.linspace(-3.0, 3.0, 64)).numpy()
    expected = (2 * ramp + ramp[::-1]) / 3  # identity + vertical flip see the ramp, the h-flip mirrors it
    out = predict_probability(ColumnRamp(), _image(64, 64), mode="resize", tile=64, tta=True, progress=False)
    np.testing.assert_allclose(out, np.broadcast_to(expected, (64, 64)), atol=1e-6)
    out = predict_probability(ColumnRamp(), _image(64, 64), mode="resize", tile=64, tta=False, progress=False)
    np.testing.assert_allclose(out, np.broadcast_to(ramp, (64, 64)), atol=1e-6)


def test_resize_mode_shape_and_values():
    model = Pointwise()
    img = np.empty((300, 700, 3), np.uint8)
    img[:] = (200, 40, 90)
    prob = predict_probability(model, img, mode="resize", tile=64, progress=False)
    assert model.calls == [(1, 3, 64, 64)]
    assert prob.shape == (300, 700) and prob.dtype == np.float32
    np.testing.assert_allclose(prob, _whole(model, img[:1, :1])[0, 0], atol=1e-6)


def test_memory_is_bounded_by_the_output():
    """No full-size float copy of the photo and one full-size accumulator: the numpy peak stays close to the
    float32 output (a naive version converting the photo to float would need 3× that)."""
    h, w, tile, bs = 1024, 1536, 128, 4
    model = Pointwise()
    img = _image(h, w)
    predict_probability(model, img[:128, :128], tile=tile, progress=False)  # warm-up allocations
    model.calls.clear()
    tracemalloc.start()
    try:
        prob = predict_probability(model, img, tile=tile, batch_size=bs, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out_bytes = 4 * h * w
    assert peak < out_bytes + 2 * bs * tile * tile * 4 + (2 << 20), (peak, out_bytes)
    assert max(c[0] for c in model.calls) <= bs and prob.shape == (h, w)


def test_model_mode_restored_and_errors():
    model = Pointwise().train()
    predict_probability(model, _image(70, 70), tile=64, progress=False)
    assert model.training
    with pytest.raises(DataError):
        predict_probability(model, _image(70, 70).astype(np.float32), tile=64)
    with pytest.raises(DataError):
        predict_probability(model, _image(70, 70)[..., 0], tile=64)
    with pytest.raises(ConfigError):
        predict_probability(model, _image(70, 70), tile=64, mode="auto")
    with pytest.raises(ConfigError):
        predict_probability(model, _image(70, 70), tile=64, overlap=1.0)
    with pytest.raises(ConfigError):
        predict_probability(model, _image(70, 70), tile=64, batch_size=0)


def test_progress_bar_auto(capsys):
    img = _image(200, 200)
    predict_probability(Pointwise(), img, tile=64, overlap=0.25, progress=None)  # 4×4 = 16 tiles: no bar
    assert "tiles" not in capsys.readouterr().err
    predict_probability(Pointwise(), _image(260, 260), tile=64, overlap=0.25, progress=None)  # 25 tiles
    assert "tiles" in capsys.readouterr().err
    predict_probability(Pointwise(), _image(260, 260), tile=64, progress=False)
    assert "tiles" not in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cpu_and_gpu_agree():
    img = _image(300, 420)
    cpu = predict_probability(Pointwise(), img, tile=64, device="cpu", progress=False)
    gpu = predict_probability(Pointwise(), img, tile=64, device="cuda", amp=False, progress=False)
    np.testing.assert_allclose(cpu, gpu, atol=1e-5)
    bf16 = predict_probability(Pointwise(), img, tile=64, device="cuda", progress=False)
    np.testing.assert_allclose(cpu, bf16, atol=2e-2)


def test_channels_last_on_cpu_gives_the_same_probabilities_and_restores_the_model(monkeypatch):
    import contextlib

    import sac.engine.inference as tiling
    from sac.engine.inference import fast_layout
    from sac.models import create_model

    torch.manual_seed(0)
    model = create_model("unet_effnet_lite0", weights=None).eval()
    img = (np.random.default_rng(0).random((200, 300, 3)) * 255).astype(np.uint8)
    fast = predict_probability(model, img, tile=128, overlap=0.25, amp="off")
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))
    assert conv.weight.is_contiguous()  # restored after the call
    monkeypatch.setattr(tiling, "fast_layout", lambda m, d: contextlib.nullcontext(m))  # the reference
    plain = predict_probability(model, img, tile=128, overlap=0.25, amp="off")
    monkeypatch.undo()
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    with fast_layout(model, torch.device("cpu")):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        predict_probability(model, img, tile=128)  # nested (evaluate / predict around their loops) ...
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # ... leaves the outer layout


class DtypeProbe(Pointwise):
    """Records the dtype its convolution-free matmul runs in (autocast shows in the output's dtype)."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(3, 1)
        self.dtypes: list[torch.dtype] = []

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mix(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        self.dtypes.append(out.dtype)
        return out


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_follows_amp_and_the_cpu(monkeypatch, native):
    """``amp="auto"``: bf16 on a CPU with native bf16 for inference (predict, the page), never for ``evaluate``
    (``cpu_auto=False``) and never on a CPU that would only emulate it; "bf16" forces it, "off" forbids it."""
    import sac.engine.runtime as runtime

    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    img = _image(100, 120)
    runs = {}
    for amp, cpu_auto in [("auto", True), ("auto", False), ("bf16", False), ("off", True)]:
        torch.manual_seed(0)
        m = DtypeProbe()
        runs[amp, cpu_auto] = predict_probability(m, img, tile=64, amp=amp, cpu_auto=cpu_auto, progress=False)
        assert set(m.dtypes) == {torch.bfloat16 if (amp == "bf16" or (amp, cpu_auto, native) == ("auto", True, True))
                                 else torch.float32}, (amp, cpu_auto)
    np.testing.assert_allclose(runs["bf16", False], runs["off", True], atol=2e-2)  # bf16 keeps 8 bits of mantissa


def test_bf16_masks_agree_with_float32_on_a_real_photo():
    """The default model on an example photo, tiled: bf16 and float32 probabilities differ by bf16 rounding
    only, and the masks agree on all but a handful of pixels at the threshold."""
    from pathlib import Path

    from sac.data import read_image
    from sac.engine import load_model, model_threshold

    photo = sorted((Path(__file__).resolve().parents[1] / "examples" / "images").glob("*.jpg"))[0]
    img = read_image(photo)
    model = load_model("default")
    ref = predict_probability(model, img, mode="tiled", amp="off", progress=False)
    bf = predict_probability(model, img, mode="tiled", amp="bf16", progress=False)
    thr = model_threshold(model)
    assert np.abs(ref - bf).max() < 0.1
    assert np.mean((ref >= thr) != (bf >= thr)) < 2e-3
