"""Model registry (``create_model``, ``list_models``, ``model_info``) and the model contract."""

from sac.models.base import Origin, SegmentationModel
from sac.models.norms import (
           count_parameters,
           is_batchnorm,
           is_norm,
           norm_kinds,
           norm_modules,
           norm_parameter_names,
)
from sac.models.registry import ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "Origin", "SegmentationModel", "count_parameters", "create_model", "is_batchnorm", "is_norm", "list_models",
           "model_info", "norm_kinds", "norm_modules", "norm_parameter_names", "register_model"]
