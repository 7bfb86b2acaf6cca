"""The few-shot recipe, its constants and the result of an adaptation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sac.errors import ConfigError

MIN_CRACK_PIXELS = 200  # at the photos' own resolution, over all photos
CV_FOLDS = 2  # 2 tuning rounds + the final one: 10 photos in under 5 minutes on 2 CPU cores (see Recipe)
THRESHOLDS = np.arange(1, 100) / 100.0


@dataclass(frozen=True)
class Recipe:
    """The few-shot recipe. Defaults: the choice of the recipe search ``configs/paper/few_shot_recipe.yaml``
    (``reports/few_shot/recipe_search.md``: k = 5 photos, 2 draws, norm and decoder, scored on the targets'
    validation photos). Mean validation F1 over targets, draws and both strategies rose with the step budget
    (CFD + Ceramic: 50 steps 0.395, 100 steps 0.416, 200 steps 0.427), and the learning rates of the real-SAM
    study (x1) beat x0.3 and matched x3 (CFD). 200 steps would add 0.011 F1 at twice the time: with the
    cross-validation's extra rounds, ``sac adapt`` on 10 photos could not finish in 5 minutes on 2 CPU cores
    (a norm step of SAM-T at 256 px, batch 4, takes 0.9 s there), so the budget is 100 steps and
    :data:`CV_FOLDS` = 2."""

    steps: int = 100
    batch_size: int = 4
    lr: dict[str, float] = field(default_factory=lambda: {
        "norm": 1e-2, "norm_frozen_stats": 3e-3, "decoder": 3e-4, "full": 1e-4, "lora": 1e-3, "cracksam": 3e-4})
    weight_decay: float = 5e-5
    warmup_steps: int = 10
    loss: str = "bce+dice:0.65"
    size: int = 256  # the model's native size (crops / resized views)
    tile_above: int = 512  # photos larger than this are cut into crops, as sac predict tiles them
    crack_centred: float = 0.5  # share of crops centred on a crack pixel

    def lr_for(self, strategy: str) -> float:
        key = "lora" if strategy.startswith("lora_") else strategy
        if key not in self.lr:
            raise ConfigError("strategy", f"the few-shot recipe has no learning rate for {strategy!r}; "
                                          f"known: {', '.join(sorted(self.lr))}")
        return float(self.lr[key])


@dataclass
class AdaptResult:
    path: Path | None
    strategy: str
    photos: int
    crack_pixels: int
    before: dict[str, float]
    after_cv: dict[str, float] | None
    threshold: float
    threshold_source: str
    seconds: float
    adapter_bytes: int | None
    trainable_params: int
    recipe: dict[str, Any]
    folds: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path) if self.path else None
        return d


