"""Train / evaluate / predict loops (each one public function)."""

from sac.engine.common import DEFAULT_MODEL, describe_model, load_model, resolve_device
from sac.engine.config import TrainConfig, load_config
from sac.engine.evaluate import evaluate, results_table
from sac.engine.predict import predict
from sac.engine.train import train

__all__ = ["DEFAULT_MODEL", "TrainConfig", "describe_model", "evaluate", "load_config", "load_model", "predict",
           "resolve_device", "results_table", "train"]
