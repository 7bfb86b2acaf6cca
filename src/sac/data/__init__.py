"""Reading crack photos and masks safely, finding datasets, serving them to training.

- :mod:`sac.data.io`: :func:`read_image`, :func:`read_mask`, :func:`write_mask_png`, ...
- :mod:`sac.data.datasets`: :class:`Sample`, :func:`samples_from` (folder / shared / OmniCrack30k),
  :class:`CrackDataset`
- :mod:`sac.data.check`: :func:`check_dataset`, :func:`format_report` (``sac data check``)
- :mod:`sac.data.transforms`: resizing and augmentation
"""

from sac.data.check import CheckReport, check_dataset, format_report
from sac.data.datasets import (
    SHARED_SPLITS,
    CrackDataset,
    DataSpec,
    Sample,
    folder_samples,
    omnicrack_samples,
    parse_spec,
    samples_from,
    shared_samples,
)
from sac.data.io import (
    IMAGE_EXTENSIONS,
    image_size,
    is_image_file,
    read_image,
    read_mask,
    write_image_png,
    write_mask_png,
)
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
