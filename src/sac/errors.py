"""Errors a user can cause. Each names the file (or setting) and the problem.

The CLI catches :class:`SACError` and prints one line, exiting non-zero; everything else
is a bug and keeps its Python traceback.
"""

from __future__ import annotations

from pathlib import Path


class SACError(Exception):
    """Base class of every user-facing error."""

    def __init__(self, where: str | Path | None, problem: str):
        self.where = str(where) if where is not None else None
        self.problem = problem
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


class DataError(SACError):
    """A photo, mask or dataset folder that cannot be used (corrupt, wrong size, non-binary, ...)."""


class WeightsError(SACError):
    """A checkpoint / weight file that is missing, truncated, of another model, or fails its checksum."""


class ConfigError(SACError):
    """An invalid configuration file or option."""


class StrategyError(SACError):
    """A tuning strategy that does not apply to a model (e.g. ``norm`` on a model without norms)."""


class AdapterError(SACError):
    """An adapter file that does not fit the base model it is loaded onto."""


class OutputError(SACError):
    """A file or folder SAC cannot write: a full disk, a read-only folder, a file where a folder should be."""
