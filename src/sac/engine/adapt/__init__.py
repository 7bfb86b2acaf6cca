"""Few-shot adaptation to a user's own site: ``sac adapt PHOTOS_WITH_MASKS --out site.safetensors``.

From a handful (3–20) of labelled photos of one site, the paper's method tunes a few ten thousand
normalization parameters of a pretrained crack model in minutes on a laptop:

1. **Check** the folder like ``sac data check`` (every problem named) and refuse when there is too little
   crack to learn from (:data:`MIN_CRACK_PIXELS` in all, in at least one photo).
2. **Before**: the starting model (the bundled default, an adapter or a registry model) predicts every photo
   exactly as ``sac predict`` would (resize up to 512 px, 256-px tiles above), scored at its own threshold.
3. **Cross-validation** (K = :data:`CV_FOLDS` folds of photos, when there are at least 2): for each fold the
   recipe tunes a copy of the model on the other photos and predicts the held-out ones, so every photo gets a
   prediction from a model that never saw it. The threshold is the F1-best one over those held-out
   predictions, and the "after" score is nested (each fold is scored at the threshold chosen on the other
   folds), so neither is tuned to the pixels it is scored on.
4. **Final model**: the recipe tunes the model on every photo; the adapter is written (atomically) on the
   same base as the starting model — one merged file, holding the starting adapter's tensors too — with the
   cross-validated threshold and the before / after scores in its metadata. It works wherever a model is
   named (``sac predict / evaluate --model site.safetensors``, :func:`sac.engine.load_model`).

The recipe (:class:`Recipe`: steps, learning rate per strategy, augmentation) was chosen by the few-shot
experiment ``configs/paper/few_shot.yaml`` (see ``reports/few_shot``).

Training views follow inference: a photo that ``sac predict`` resizes is resized to the model's size, a large
one is cut into random native-resolution crops (half of them centred on crack pixels), then flipped, rotated,
slightly scaled and jittered in brightness / contrast.
"""

from sac.engine.adapt.api import adapt, adapt_photos
from sac.engine.adapt.photos import Photo, Views, check_enough_crack, enough_crack, load_photos
from sac.engine.adapt.recipe import CV_FOLDS, MIN_CRACK_PIXELS, THRESHOLDS, AdaptResult, Recipe
from sac.engine.adapt.scores import cross_validated, make_folds, score_at
from sac.engine.adapt.tune import predict_photos, prepare, tune

__all__ = ["CV_FOLDS", "MIN_CRACK_PIXELS", "THRESHOLDS", "AdaptResult", "Photo", "Recipe", "Views", "adapt",
           "adapt_photos", "check_enough_crack", "cross_validated", "enough_crack", "load_photos", "make_folds",
           "predict_photos", "prepare", "score_at", "tune"]
