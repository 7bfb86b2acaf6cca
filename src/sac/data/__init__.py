"""Reading crack photos and masks safely, finding datasets, serving them to training.

- :mod:`sac.data.io`: :func:`read_image`, :func:`read_mask`, :func:`write_mask_png`, ... (built on
  :mod:`sac.data.decode`; masks in :mod:`sac.data.masks`)
- :mod:`sac.data.sources`: :func:`samples_from` (one spec for every source) over
  :mod:`sac.data.folders` (:class:`Sample`, :func:`folder_samples`), :mod:`sac.data.shared`
  (:func:`shared_samples`) and :mod:`sac.data.omnicrack` (:func:`omnicrack_samples`)
- :mod:`sac.data.dataset`: :class:`CrackDataset` (decoded in threads by :mod:`sac.data.parallel`)
- :mod:`sac.data.check`: :func:`check_dataset`, :func:`format_report` (``sac data check``)
- :mod:`sac.data.transforms`: resizing and augmentation
"""

from sac.data.check import CheckReport, check_dataset, format_report
from sac.data.dataset import CrackDataset
from sac.data.folders import Sample, folder_samples
from sac.data.io import (
    IMAGE_EXTENSIONS,
    image_size,
    is_image_file,
    read_image,
    write_image_png,
    write_mask_png,
)
from sac.data.masks import read_mask
from sac.data.omnicrack import omnicrack_samples
from sac.data.shared import SHARED_SPLITS, shared_samples
from sac.data.sources import DataSpec, parse_spec, samples_from
from sac.data.transforms import MASK_RESIZE_METHODS, build_augmentation, resize_image, resize_mask

__all__ = [
    "IMAGE_EXTENSIONS",
    "MASK_RESIZE_METHODS",
    "SHARED_SPLITS",
    "CheckReport",
    "CrackDataset",
    "DataSpec",
    "Sample",
    "build_augmentation",
    "check_dataset",
    "folder_samples",
    "format_report",
    "image_size",
    "is_image_file",
    "omnicrack_samples",
    "parse_spec",
    "read_image",
    "read_mask",
    "resize_image",
    "resize_mask",
    "samples_from",
    "shared_samples",
    "write_image_png",
    "write_mask_png",
]
