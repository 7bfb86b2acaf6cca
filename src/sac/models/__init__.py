"""Model registry (``create_model``, ``list_models``, ``model_info``) and the model contract."""

from sac.models.base import SegmentationModel
from sac.models.registry import ModelInfo, create_model, list_models, model_info, register_model

__all__ = ["ModelInfo", "SegmentationModel", "create_model", "list_models", "model_info", "register_model"]
