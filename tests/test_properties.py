"""Property-based tests (hypothesis) of reading, metrics, tiling and measurement.

The strategies and checks live in ``tests/properties_lib.py`` (``benchmarks/fuzz.py`` runs the same ones with
many more examples and counts them). Here every property runs a modest, derandomised number of examples (the
"ci" profile of ``tests/conftest.py``); ``SAC_FUZZ_EXAMPLES=N`` runs N examples of each, and
``SAC_HYPOTHESIS_PROFILE=fuzz`` draws fresh ones on every run.

The ``@example`` cases pin the inputs that exposed bugs (each fixed in ``src/sac``):

- a mask covering the whole image but for an enclosed hole: ``measure_mask`` filled the hole after deciding
  the crop needed no padding, took the distance transform of a mask without background (≈ 1e4 everywhere)
  and died with ``ValueError: Maximum allowed size exceeded`` (``sac/measure/instance.py``);
- a zero-size mask: ``measure_mask`` died in ``scipy.ndimage.find_objects`` (``sac/measure/core.py``);
- a TIFF with EXIF orientation 5–8: ``image_size`` swapped width and height that Pillow's TIFF reader had
  already swapped, so it disagreed with ``read_image`` (``sac/data/io.py``); and when such a TIFF is
  uncompressed in a mode Pillow memory-maps (L, P, RGBA, CMYK, I;16), Pillow mapped the strip at the swapped
  size: ``read_image`` / ``read_mask`` returned scrambled, un-rotated pixels without an error
  (``sac/data/decode.py`` now has Pillow read the strip instead);
- ``overlap="0.5"`` / ``None`` for tiled inference: a ``TypeError`` deep in ``tile_starts`` instead of a
  ``ConfigError`` (``sac/engine/inference.py``);
- 4-D arrays given to the tolerance metrics: ``cv2.error`` instead of the documented ``ValueError``
  (``sac/metrics/tolerance.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import example, given, settings  # noqa: E402

from properties_lib import PROPERTIES, ImageSpec, n_examples  # noqa: E402


def _run(name: str, value) -> None:
    PROPERTIES[name].check(value)


# ------------------------------------------------------------------------------------------- reading


@settings(max_examples=n_examples(60))
@given(PROPERTIES["read_valid_image"].strategy)
@example(ImageSpec("pil", "TIFF", "RGB", 3, 5, seed=0, orientation=6))
@example(ImageSpec("pil", "TIFF", "L", 4, 9, seed=1, orientation=8, compression="tiff_deflate"))
@example(ImageSpec("pil", "PNG", "PT", 1, 1, seed=2, orientation=5))
@example(ImageSpec("pil", "TIFF", "L", 4, 7, seed=3, orientation=6))
@example(ImageSpec("pil", "TIFF", "I;16", 18, 1, seed=4623, orientation=8))
def test_valid_images_read_back_exactly(spec):
    _run("read_valid_image", spec)


@settings(max_examples=n_examples(80))
@given(PROPERTIES["read_mutated_image"].strategy)
def test_mutated_images_raise_only_data_errors(value):
    _run("read_mutated_image", value)


@settings(max_examples=n_examples(80))
@given(PROPERTIES["read_random_bytes"].strategy)
@example((b"", b"", ".png"))
@example((b"\x89PNG\r\n\x1a\n", b"\x00" * 40, ".png"))
def test_random_bytes_raise_only_data_errors(value):
    _run("read_random_bytes", value)


@settings(max_examples=n_examples(50))
@given(PROPERTIES["read_mask_round_trip"].strategy)
def test_binary_masks_round_trip_in_every_encoding(value):
    _run("read_mask_round_trip", value)


@settings(max_examples=n_examples(50))
@given(PROPERTIES["read_mask_threshold"].strategy)
def test_grey_masks_need_a_threshold(value):
    _run("read_mask_threshold", value)


# ------------------------------------------------------------------------------------------- metrics


@settings(max_examples=n_examples(60))
@given(PROPERTIES["metrics_pair"].strategy)
@example((np.zeros((3, 4), bool), np.zeros((3, 4), bool)))
@example((np.ones((1, 1), bool), np.zeros((1, 1), bool)))
def test_metric_ranges_symmetry_and_empty_convention(value):
    _run("metrics_pair", value)


@settings(max_examples=n_examples(50))
@given(PROPERTIES["metrics_pooled_single_image"].strategy)
def test_pooled_over_one_image_equals_per_image(value):
    _run("metrics_pooled_single_image", value)


@settings(max_examples=n_examples(40))
@given(PROPERTIES["metrics_pooled_dataset"].strategy)
def test_pooled_over_a_dataset_equals_summed_counts(value):
    _run("metrics_pooled_dataset", value)


@settings(max_examples=n_examples(60))
@given(PROPERTIES["metrics_odd_inputs"].strategy)
@example((np.zeros((2, 2, 2, 2), bool), np.ones((2, 2, 2, 2), bool), 2.0))
def test_metrics_reject_bad_arrays_with_value_error(value):
    _run("metrics_odd_inputs", value)


# -------------------------------------------------------------------------------------------- tiling


@settings(max_examples=n_examples(200))
@given(PROPERTIES["tiling_grid"].strategy)
@example((1, 8, 0.0))
@example((4097, 64, 0.25))
def test_tile_grid_covers_every_pixel_within_bounds(value):
    _run("tiling_grid", value)


_CASE = {"tile": 8, "overlap": 0.5, "batch_size": 3, "blend": "gaussian", "tta": True, "mode": "tiled", "c": 0.7,
         "weights": (1.0, -2.0, 0.5, 0.1), "seed": 0}


@settings(max_examples=n_examples(25))
@given(PROPERTIES["tiling_blend"].strategy)
@example({**_CASE, "h": 1, "w": 1})
@example({**_CASE, "h": 1, "w": 90, "blend": "cosine"})
@example({**_CASE, "h": 90, "w": 2, "overlap": 0.0, "tta": False})
def test_tiling_is_seamless_and_reproduces_per_pixel_models(case):
    _run("tiling_blend", case)


@settings(max_examples=n_examples(60))
@given(PROPERTIES["tiling_arguments"].strategy)
@example((np.zeros((10, 10, 3), np.uint8), {"tile": 16, "overlap": "0.5"}))
@example((np.zeros((10, 10, 3), np.uint8), {"tile": 16, "overlap": None}))
def test_tiling_rejects_bad_arguments_with_project_errors(value):
    _run("tiling_arguments", value)


# ------------------------------------------------------------------------------------------- measure

_KW = {"min_area_px": 20, "min_branch_px": 10, "width_method": "chord", "end_correction": True, "max_hole_px": 50,
       "smooth_px": 2.0}


def _full_with_hole() -> np.ndarray:
    m = np.ones((30, 40), bool)
    m[10, 10] = False
    return m


@settings(max_examples=n_examples(30))
@given(PROPERTIES["measure_no_crash"].strategy)
@example((_full_with_hole(), _KW))
@example((_full_with_hole(), {**_KW, "width_method": "edt"}))
@example((np.zeros((0, 5), bool), _KW))
@example((np.ones((1, 1), bool), {**_KW, "min_area_px": 1}))
def test_measure_mask_raises_only_project_errors(value):
    _run("measure_no_crash", value)


@settings(max_examples=n_examples(12))
@given(PROPERTIES["measure_rotation_flip"].strategy)
def test_measurement_is_invariant_under_rotation_and_flip(value):
    _run("measure_rotation_flip", value)
