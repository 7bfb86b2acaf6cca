"""Adapter files: the tensors a strategy trains (plus BatchNorm statistics where they change),
as safetensors, with metadata to rebuild and check the base model.

Metadata (all strings in the safetensors header):
    format            "sac-adapter/1"
    model             registry name
    strategy          tuning strategy
    base_weights      what ``create_model(weights=...)`` was given ("default", a file name, or "" = random)
    base_sha256       sha256 of the base weight file, "" when none
    init_seed         seed of the random initialisation of the base
    model_kwargs      JSON of the builder keyword arguments (e.g. SAM input size)
    frozen_sha256     sha256 over every tensor the adapter does *not* hold — loading recomputes it on
                      the rebuilt base, so a different base (other checkpoint, other seed) is an error
    config, metrics   JSON of the training configuration and final metrics
    threshold         optional: the probability threshold the model is meant to be used at (chosen on
                      validation data, e.g. by ``sac calibrate``); ``evaluate`` / ``predict`` use it unless
                      given another. Absent: 0.5.
    threshold_source  optional: how it was chosen (data, rule, score)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from sac.errors import AdapterError, ConfigError
from sac.files import atomic_path
from sac.models import SegmentationModel, create_model
from sac.tuning.bn_policy import batch_stat_layers
from sac.tuning.registry import apply_strategy, strategy_bn_policy

FORMAT = "sac-adapter/1"


def adapter_state(model: SegmentationModel) -> dict[str, torch.Tensor]:
    """Tensors of ``model`` the strategy changes: trainable parameters, the tensors ``data_init`` set, and the
    running statistics of the BatchNorm layers that follow batch statistics under the strategy."""
    out = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    if model.origin.data_init:  # set from data when training started (SegmentationModel.data_init): not in the base
        own = model.state_dict(keep_vars=True)
        out.update({n: own[n].detach() for n in model.origin.data_init})
    for mname, m in batch_stat_layers(model, strategy_bn_policy(model)):
        for bname, b in m.named_buffers(recurse=False):
            if b is not None:
                out[f"{mname}.{bname}" if mname else bname] = b.detach()
    return out


def frozen_fingerprint(model: SegmentationModel, exclude: set[str]) -> str:
    """sha256 over every state tensor not in ``exclude`` (name, dtype, shape, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if name in exclude or not isinstance(t, torch.Tensor):
            continue
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_adapter(model: SegmentationModel, path: str | Path, *, config: dict | None = None,
                 metrics: dict | None = None, dtype: torch.dtype | None = None,
                 threshold: float | None = None, threshold_source: str | None = None) -> Path:
    """Write the adapter of a tuned model (atomically). ``dtype`` optionally casts floating tensors
    (e.g. ``torch.float16`` for a full-model adapter); ``threshold`` stores the probability threshold the
    model should be used at (see the module docstring)."""
    origin = model.origin
    if origin.name is None or origin.strategy is None:
        raise ValueError("save_adapter needs a model from create_model + apply_strategy")
    state = adapter_state(model)
    tensors = {}
    for k, v in state.items():
        v = v.detach().cpu().contiguous()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.clone()
    base = origin.base
    meta = {
        "format": FORMAT,
        "model": origin.name,
        "strategy": origin.strategy,
        "base_weights": base.get("weights") or "",
        "base_sha256": base.get("sha256") or "",
        "init_seed": str(base.get("init_seed", 0)),
        "model_kwargs": json.dumps(base.get("kwargs", {})),
        "frozen_sha256": frozen_fingerprint(model, set(state)),
        "config": json.dumps(config or {}, default=str),
        "metrics": json.dumps(metrics or {}, default=float),
    }
    if threshold is not None:
        meta["threshold"] = repr(_check_threshold(threshold, path))
        meta["threshold_source"] = threshold_source or ""
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def _check_threshold(value: Any, where: str | Path) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise AdapterError(where, f"threshold {value!r} is not a number") from None
    if not 0.0 < t < 1.0:
        raise AdapterError(where, f"threshold {t} is outside (0, 1)")
    return t


def set_adapter_threshold(path: str | Path, threshold: float | None, source: str = "") -> Path:
    """Rewrite an adapter file with ``threshold`` in its metadata (``None`` removes it); tensors unchanged."""
    path = Path(path)
    read_adapter_metadata(path)  # a SAC adapter, or an AdapterError naming the file
    raw = {k: v for k, v in _raw_metadata(path).items() if k not in ("threshold", "threshold_source")}
    if threshold is not None:
        raw["threshold"] = repr(_check_threshold(threshold, path))
        raw["threshold_source"] = source
    tensors = load_file(str(path))
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=raw)
    return path


def _raw_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def read_adapter_metadata(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise AdapterError(path, "adapter file does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise AdapterError(path, f"not a safetensors adapter file ({e})") from None
    if meta.get("format") != FORMAT:
        raise AdapterError(path, f"not a SAC adapter (format {meta.get('format')!r}, expected {FORMAT!r})")
    out: dict[str, Any] = dict(meta)
    for k in ("config", "metrics", "model_kwargs"):
        out[k] = json.loads(meta.get(k) or "{}")
    out["init_seed"] = int(meta.get("init_seed") or 0)
    out["threshold"] = _check_threshold(meta["threshold"], path) if meta.get("threshold") else None
    return out


def load_adapter(path: str | Path, weights: str | Path | None = "from-metadata",
                 map_location: str = "cpu") -> SegmentationModel:
    """Rebuild ``base + adapter``: create the base model named in the metadata, apply the strategy,
    load the adapter tensors, and check the base is the one the adapter was trained on.

    Arguments:
        path: the adapter file.
        weights: base weights to use; by default what the metadata records (``"default"``, random, or
            the file name — a user-supplied file must then be given here explicitly).
        map_location: device the model is moved to.
    """
    path = Path(path)
    meta = read_adapter_metadata(path)
    model = apply_strategy(_base_model(path, meta, weights), meta["strategy"])
    tensors = load_file(str(path), device="cpu")
    _load_into(path, meta, model, tensors)
    extra = set(tensors) - set(adapter_state(model))
    if extra:  # data-initialised tensors stay part of the adapter when it is saved again
        model.origin.data_init = sorted(extra)
    model.origin.adapter = {**meta, "path": str(path)}
    if meta["threshold"] is not None:
        model.origin.threshold = meta["threshold"]
    return model.to(map_location)


def _base_model(path: Path, meta: dict[str, Any], weights: str | Path | None) -> SegmentationModel:
    """The base model the adapter names, built on ``weights`` (``"from-metadata"``: those it records), with the
    sha256 of its weights checked against the one recorded."""
    if weights == "from-metadata":
        w = meta["base_weights"] or None
        if w not in (None, "default") and not Path(w).is_file():
            raise AdapterError(path, f"was trained on base weights {w!r}, which are not found; "
                                     "pass the base checkpoint explicitly (--weights)")
        weights = w
    try:
        model = create_model(meta["model"], weights=weights, init_seed=meta["init_seed"], **meta["model_kwargs"])
    except ConfigError as e:  # the metadata names a model (or settings) this SAC does not have
        raise AdapterError(path, f"its metadata asks for a model this SAC cannot build: {e}") from None
    base_sha = model.origin.base.get("sha256") or ""
    if meta["base_sha256"] and base_sha and base_sha != meta["base_sha256"]:
        raise AdapterError(path, f"base weights mismatch: adapter expects sha256 {meta['base_sha256'][:16]}…, "
                                 f"got {base_sha[:16]}…")
    return model


def _load_into(path: Path, meta: dict[str, Any], model: SegmentationModel, tensors: dict[str, torch.Tensor]) -> None:
    """Copy the adapter's tensors into the tuned base after checking that they fit it and that every other
    tensor is the one the adapter was trained with (``frozen_sha256``)."""
    own = model.state_dict()
    unknown = [k for k in tensors if k not in own]
    bad = [k for k in tensors if k in own and own[k].shape != tensors[k].shape]
    if unknown or bad:
        raise AdapterError(path, f"does not fit model {meta['model']!r} with strategy {meta['strategy']!r}: "
                                 f"{len(unknown)} unknown tensors (e.g. {unknown[:2]}), {len(bad)} shape mismatches "
                                 f"(e.g. {bad[:2]})")
    missing = sorted(set(adapter_state(model)) - set(tensors))
    if missing:
        raise AdapterError(path, f"is missing {len(missing)} of the tensors strategy {meta['strategy']!r} trains on "
                                 f"model {meta['model']!r} (e.g. {missing[:2]})")
    if frozen_fingerprint(model, set(tensors)) != meta["frozen_sha256"]:
        raise AdapterError(path, "base model mismatch: the frozen weights differ from those the adapter was "
                                 "trained on (another checkpoint, seed or library version)")
    with torch.no_grad():
        for k, v in tensors.items():
            own[k].copy_(v.to(own[k].dtype))
