"""Segment Any Crack (SAC): crack segmentation by normalization-only tuning of pretrained models.

Public entry points (each one function, see DEVELOPERS.md):

- ``sac.models.create_model(name, weights=None)``
- ``sac.tuning.apply_strategy(model, name)``
- ``sac.engine.train / evaluate / predict``
"""

__version__ = "0.1.0"
