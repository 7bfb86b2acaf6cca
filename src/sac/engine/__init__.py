"""Train / evaluate / predict loops (each one public function)."""

from sac.engine.calibrate import calibrate_threshold
from sac.engine.config import TrainConfig, load_config
from sac.engine.evaluate import evaluate, results_table
from sac.engine.inference import predict_probability
from sac.engine.loading import BUNDLED, DEFAULT_ADAPTER, describe_model, load_model, model_threshold
from sac.engine.predict import predict
from sac.engine.run_dir import RunDir, RunStatus, RunSummary
from sac.engine.runtime import resolve_device
from sac.engine.trainer import DatasetCache, Trainer, build_datasets, build_model, train

__all__ = ["BUNDLED", "DEFAULT_ADAPTER", "DatasetCache", "RunDir", "RunStatus", "RunSummary", "TrainConfig", "Trainer",
           "build_datasets", "build_model", "calibrate_threshold", "describe_model", "evaluate", "load_config",
           "load_model", "model_threshold", "predict", "predict_probability", "resolve_device", "results_table",
           "train"]
