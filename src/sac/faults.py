"""Fault injection for the crash tests: the process kills itself (``SIGKILL``, no clean-up of any kind) the n-th
time it reaches a named point.

    SAC_FAULT="checkpoint.write:2" sac train ...     # killed inside the second checkpoint write

Points: ``train.step`` (between a step's backward pass and its optimizer update), ``train.validation`` (after the
first validation batch), ``checkpoint.write`` (the new checkpoint fully written to its temporary file, not yet
renamed over the old one), ``predict.photo`` (a photo's outputs written, its row not yet). Several points:
``"train.step:3,checkpoint.write:1"``. Unset (always, outside ``tests/test_crash.py``) each point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

__all__ = ["point"]


def _plan(spec: str) -> dict[str, int]:
    plan = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, n = item.partition(":")
        plan[name] = int(n or 1)
    return plan


_PLAN = _plan(os.environ.get("SAC_FAULT", ""))
_HITS: Counter[str] = Counter()


def point(name: str) -> None:
    """Die here (SIGKILL) if ``SAC_FAULT`` asks for this point and this is its n-th visit."""
    if name in _PLAN:
        _HITS[name] += 1
        if _HITS[name] == _PLAN[name]:
            os.kill(os.getpid(), signal.SIGKILL)
