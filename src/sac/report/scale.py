"""The scale statement under every table: what the numbers come from (training, evaluation, hardware)."""

from __future__ import annotations

from typing import Any

from sac.report.collect import RunData
from sac.report.table import values

__all__ = ["PAPER_SCALE", "RANDOM_NOTE", "scale_statement"]

PAPER_SCALE = ("Paper: OmniCrack30k (22,158 train / 13,277 val / 4,582 test images) at 256×256, zero-shot on "
               "Road420, Facade390 and Concrete3k, trained on GPUs.")
RANDOM_NOTE = "† random initialisation (no pretrained weights available here): not comparable with the paper's models."


def _training_scale(trained: list[RunData], tuned: list[RunData], imported: list[RunData]) -> str:
    """``Scale: ...``: epochs, images and size of the runs trained here (or that nothing was trained)."""
    epochs = [((r.config or {}).get("optim") or {}).get("epochs") for r in tuned]
    n_train = [(r.summary or {}).get("train_images") for r in tuned]
    n_val = [(r.summary or {}).get("val_images") for r in tuned]
    train_specs = [((r.config or {}).get("data") or {}).get("train") for r in tuned]
    sizes = [r.size for r in trained]
    if tuned:
        line = (f"Scale: {values(epochs)} epoch(s), {values(n_train)} training / {values(n_val)} validation "
                f"images ({values(train_specs)}) at {values(sizes)} px")
    elif len(imported) < len(trained):
        line = f"Scale: no training (the models as they are), inference at {values(sizes)} px"
    else:
        line = f"Scale: inference at {values(sizes)} px"
    if tuned and len(tuned) + len(imported) < len(trained):
        line += " ('none' runs: not trained)"
    return line


def _imported_note(r: RunData) -> str:
    """How an adapter trained elsewhere was trained, from its config."""
    c = r.config or {}
    return (f"{r.label} [{r.strategy}]: an adapter trained elsewhere and evaluated here "
            f"({(c.get('optim') or {}).get('epochs')} epochs on {(c.get('data') or {}).get('train')} "
            f"at {(c.get('data') or {}).get('size')} px, batch {(c.get('optim') or {}).get('batch_size')}, "
            f"lr {(c.get('optim') or {}).get('lr')})")


def _evaluation_scale(trained: list[RunData], zero_shot: bool) -> str | None:
    """Images, specs and protocol of the test (or zero-shot) evaluations; ``None`` without any."""
    ev = [r.eval_zeroshot if zero_shot else r.eval_test for r in trained]
    ev = [e for e in ev if e]
    if not ev:
        return None
    specs = sorted({s for e in ev for s in (e.get("key") or {}).get("specs", [])})
    return (f"{'zero-shot' if zero_shot else 'test'}: {values(e['overall']['n_images'] for e in ev)} images "
            f"({', '.join(specs) or '?'}), {values(e.get('protocol') for e in ev)} protocol")


def _hardware(trained: list[RunData], suites: dict[str, dict[str, Any]]) -> str:
    """``Hardware: ...`` from the runs' devices and the last suite's hardware record."""
    devices = values((r.summary or {}).get("device") for r in trained)
    hw = [e.get("hardware", {}) for e in suites.values() if e.get("hardware")]
    if not hw:
        return f"Hardware: {devices}."
    h = hw[-1]
    return (f"Hardware: {devices} ({h.get('gpu') or 'no GPU'}), {h.get('cpu_count')} CPU cores, torch "
            f"{h.get('torch')}, {h.get('platform')}.")


def scale_statement(runs: list[RunData], suites: dict[str, dict[str, Any]], zero_shot: bool = False) -> list[str]:
    """One line stating the scale the numbers of ``runs`` come from, one on hardware, then notes.

    Arguments:
        runs: the runs behind a table or figure.
        suites: the suite records (:func:`~sac.report.collect.read_suites`), for the hardware.
        zero_shot: state the zero-shot evaluation instead of the test one.
    """
    trained = [r for r in runs if r.trained]
    imported = [r for r in trained if (r.summary or {}).get("imported_from")]  # adapter runs: trained elsewhere
    # not the "none" (untrained) runs, nor the imported ones (their summary says trained: false too)
    tuned = [r for r in trained if (r.summary or {}).get("trained", True)]
    parts = [_training_scale(trained, tuned, imported)] + [_imported_note(r) for r in imported]
    evaluation = _evaluation_scale(trained, zero_shot)
    if evaluation is not None:
        parts.append(evaluation)
    lines = ["; ".join(parts) + ".", _hardware(trained, suites), PAPER_SCALE]
    if any(r.random_init for r in runs):
        lines.append(RANDOM_NOTE)
    return lines
