"""Train / evaluate / predict loops (each one public function)."""

from sac.engine.calibrate import calibrate_threshold
from sac.engine.config import TrainConfig, load_config
from sac.engine.evaluate import evaluate, results_table
from sac.engine.loading import DEFAULT_ADAPTER, describe_model, load_model, model_threshold
from sac.engine.predict import predict
from sac.engine.runtime import resolve_device
from sac.engine.train import train

__all__ = ["DEFAULT_ADAPTER", "TrainConfig", "calibrate_threshold", "describe_model", "evaluate", "load_config",
           "load_model", "model_threshold", "predict", "resolve_device", "results_table", "train"]
