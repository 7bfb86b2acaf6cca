"""The few-shot experiment of a suite: adapt a base model to a target domain from k labelled photos.

A suite file with a ``few_shot`` section (``configs/paper/few_shot.yaml``) trains its ``runs`` first — the
base models, e.g. one per target trained on every *other* shared training split (leave one domain out) —
and then, for every target, every k and every seeded draw, adapts the target's base with every strategy
using the few-shot recipe of ``sac adapt`` (:mod:`sac.engine.adapt`, no cross-validation: the base's threshold)
and evaluates it on the target's test photos::

    few_shot:
      k: [0, 1, 3, 5, 10, 20]          # labelled photos (0 = the base as it is)
      draws: 3                         # seeded draws of the k photos from the target's pool
      strategies: [norm, decoder, full, lora_qkv_last4_r16]
      recipe: {steps: 60}              # sac.engine.adapt.Recipe fields (default: the shipped recipe)
      recipes:                         # optional recipe search: k, draws, strategies and recipe variants,
        k: 5                           #   scored on the target's *validation* photos (never its test)
        draws: 2
        strategies: [norm, decoder]
        variants: [{steps: 30}, {steps: 60}, {steps: 120, lr_scale: 0.5}]
      targets:
        - {name: CFD, base: base_without_CFD, pool: "shared:CFD@train", val: "shared:CFD@val", test: "shared:CFD@test"}
        - {name: MCS, base: base_all, pool: {spec: "shared:MCS@zeroshot", first: 46},
           test: {spec: "shared:MCS@zeroshot", skip: 46}}

``base`` is the folder name of one of the suite's runs (its best adapter). ``pool`` / ``val`` / ``test`` are
sample specs, or ``{spec, first | skip}`` to take the first N photos in id order or all but them. A draw takes
k photos with cracks from the pool (seeded by target, k and draw; a draw with too little crack to learn from,
as ``sac adapt`` would refuse it, is drawn again). Each result is one JSON file
``<out>/few_shot/<target>/<grid>/<strategy>__k<k>__d<draw>.json`` written atomically, so an interrupted
experiment resumes where it stopped; :func:`collect_few_shot` reads them back for ``sac report``. Every result
is claimed before it is computed (:func:`sac.files.claim`), so several workers can share one experiment:
``OMP_NUM_THREADS=1 sac suite FILE --out DIR`` started twice on 2 cores (about 1.2x the throughput of one
2-thread process) or on machines sharing ``DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sac.data import Sample, read_image, read_mask, samples_from
from sac.engine import RunDir, evaluate
from sac.engine.adapt import Photo, Recipe, adapt_photos, enough_crack
from sac.errors import ConfigError
from sac.files import atomic_write_json, claim
from sac.models import count_parameters
from sac.tuning import load_adapter, strategy_info

_KEYS = {"k", "draws", "strategies", "recipe", "recipes", "targets"}
_TARGET_KEYS = {"name", "base", "pool", "val", "test"}


@dataclass
class Target:
    name: str
    base: str
    pool: Any
    test: Any
    val: Any = None


@dataclass
class FewShot:
    k: list[int]
    draws: int
    strategies: list[str]
    recipe: dict[str, Any]
    targets: list[Target]
    recipes: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def _photo_counts(raw: dict[str, Any], path: Path) -> tuple[list[int], int]:
    """``(k, draws)``: the photo counts (each >= 0) and the draws per count (>= 1)."""
    k = raw.get("k", [0, 1, 3, 5, 10, 20])
    if not isinstance(k, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in k):
        raise ConfigError(path, f"few_shot.k: expected a list of photo counts >= 0, got {k!r}")
    draws = raw.get("draws", 3)
    if not isinstance(draws, int) or draws < 1:
        raise ConfigError(path, f"few_shot.draws: expected a positive integer, got {draws!r}")
    return list(k), draws


def _strategies_and_recipe(raw: dict[str, Any], path: Path) -> tuple[list[str], dict[str, Any]]:
    """The registered strategies and the recipe's fields (a recipe with a learning rate for each)."""
    strategies = raw.get("strategies", ["norm"])
    if not isinstance(strategies, list) or not strategies:
        raise ConfigError(path, "few_shot.strategies: expected a list of strategy names")
    for s in strategies:
        try:
            strategy_info(s)
        except ConfigError as e:
            raise ConfigError(path, f"few_shot.strategies: {e.problem}") from None
    recipe = dict(raw.get("recipe") or {})
    _check_recipe(recipe, path, "few_shot.recipe")
    for s in strategies:
        try:
            Recipe(**recipe).lr_for(s)
        except ConfigError as e:
            raise ConfigError(path, f"few_shot.strategies: {e.problem}") from None
    return list(strategies), recipe


def _recipe_search(raw: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The optional ``recipes`` section: ``{k, draws, strategies, variants}`` with valid recipe variants."""
    recipes = raw.get("recipes")
    if recipes is None:
        return None
    if not isinstance(recipes, dict) or not isinstance(recipes.get("variants"), list) \
            or set(recipes) - {"k", "draws", "strategies", "variants"}:
        raise ConfigError(path, "few_shot.recipes: expected {k, draws, strategies, variants: [...]}")
    for i, v in enumerate(recipes["variants"]):
        _check_recipe({kk: vv for kk, vv in v.items() if kk != "lr_scale"}, path, f"few_shot.recipes.variants[{i}]")
    return recipes


def _targets(raw: dict[str, Any], path: Path, run_names: set[str]) -> list[Target]:
    """The targets, each with a base among the suite's runs (at least one target)."""
    targets = []
    for i, t in enumerate(raw.get("targets") or []):
        where = f"few_shot.targets[{i}]"
        if not isinstance(t, dict) or set(t) - _TARGET_KEYS or not {"name", "base", "pool", "test"} <= set(t):
            raise ConfigError(path, f"{where}: expected {{name, base, pool, test[, val]}}, got {t!r}")
        if t["base"] not in run_names:
            raise ConfigError(path, f"{where}.base: {t['base']!r} is not a run of this suite "
                                    f"(its runs: {', '.join(sorted(run_names))})")
        targets.append(Target(str(t["name"]), str(t["base"]), t["pool"], t["test"], t.get("val")))
    if not targets:
        raise ConfigError(path, "few_shot.targets: at least one target is needed")
    return targets


def parse_few_shot(raw: Any, path: Path, run_names: set[str]) -> FewShot:
    """Validate a suite's ``few_shot`` section (ConfigError naming the file and the key).

    Arguments:
        raw: the section as read from the suite file.
        path: the suite file (named in errors).
        run_names: the suite's run folder names (each target's ``base`` must be one).
    """
    if not isinstance(raw, dict):
        raise ConfigError(path, "few_shot: expected a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(path, f"few_shot: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    k, draws = _photo_counts(raw, path)
    strategies, recipe = _strategies_and_recipe(raw, path)
    recipes = _recipe_search(raw, path)
    return FewShot(k=k, draws=draws, strategies=strategies, recipe=recipe, targets=_targets(raw, path, run_names),
                   recipes=recipes)


def _check_recipe(recipe: dict[str, Any], path: Path, where: str) -> None:
    names = {f.name for f in dataclasses.fields(Recipe)}
    unknown = set(recipe) - names
    if unknown:
        raise ConfigError(path, f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(names))}")


def _samples(spec: Any, path: Path) -> list:
    if isinstance(spec, str):
        return sorted(samples_from(spec), key=lambda s: s.id)
    if isinstance(spec, dict) and isinstance(spec.get("spec"), str) and set(spec) <= {"spec", "first", "skip"}:
        out = sorted(samples_from(spec["spec"]), key=lambda s: s.id)
        if "first" in spec:
            out = out[: int(spec["first"])]
        if "skip" in spec:
            out = out[int(spec["skip"]):]
        return out
    raise ConfigError(path, f"few_shot: a sample set is a spec or {{spec, first | skip}}, got {spec!r}")


def load_samples(samples: list[Sample]) -> list[Photo]:
    return [Photo(s.id, read_image(s.image), read_mask(s.mask)) for s in samples]


def draw_photos(pool: list, k: int, seed_key: str) -> list:
    """k photos with cracks from ``pool`` (seeded by ``seed_key``); a draw with too little crack to learn from
    is drawn again (up to 100 times)."""
    with_crack = [p for p in pool if p.mask.any()]
    if len(with_crack) < k:
        raise ConfigError("few_shot.k", f"{k} photos asked, the pool has {len(with_crack)} with cracks")
    rng = random.Random(zlib.crc32(seed_key.encode()))
    for _ in range(100):
        picked = rng.sample(with_crack, k)
        if enough_crack(picked):
            return picked
    return picked


def _result_path(out: Path, target: str, grid: str, strategy: str, k: int, draw: int) -> Path:
    return out / "few_shot" / target / grid / f"{strategy}__k{k}__d{draw}.json"


def _evaluate(model, samples: list, size: int, device: str) -> dict[str, float]:
    res = evaluate(model, samples, protocol="native", inference="resize", size=size, device=device, fast=True,
                   progress=False)
    o = res["overall"]
    return {k: float(o[k]) for k in ("precision", "recall", "f1", "iou", "ods")} | {"threshold": res["threshold"],
                                                                                   "images": int(o["n_images"])}


def run_few_shot(fs: FewShot, suite_path: Path, out: Path, *, device: str = "auto", progress: bool = True) -> int:
    """Run every missing few-shot result of the suite (resumable); returns how many were computed."""
    done = 0
    for t in fs.targets:
        base_path = RunDir(out / t.base).adapter_best
        if not base_path.is_file():
            raise ConfigError(base_path, f"few-shot target {t.name}: its base run {t.base} has no adapter yet")
        base = load_adapter(base_path)
        test = _samples(t.test, suite_path)
        pool = load_samples(_samples(t.pool, suite_path))
        grids: list[tuple[str, list[int], list[str], list[dict[str, Any]], list, int]] = []
        if fs.recipes and t.val is not None:
            val = _samples(t.val, suite_path)
            variants = [dict(v) for v in fs.recipes["variants"]]
            grids.append(("recipes", [int(fs.recipes.get("k", 5))], list(fs.recipes.get("strategies", fs.strategies)),
                          variants, val, int(fs.recipes.get("draws", fs.draws))))
        grids.append(("main", fs.k, fs.strategies, [dict(fs.recipe)], test, fs.draws))
        for grid, ks, strategies, variants, eval_samples, n_draws in grids:
            for variant in variants:
                scale = float(variant.pop("lr_scale", 1.0))
                recipe = Recipe(**{**fs.recipe, **variant})
                if scale != 1.0:
                    recipe = dataclasses.replace(recipe, lr={k: v * scale for k, v in recipe.lr.items()})
                tag = "" if grid == "main" else "__" + _variant_tag(variant, scale)
                for k in ks:
                    for d in range(n_draws if k > 0 else 1):
                        picked = draw_photos(pool, k, f"{t.name}|{k}|{d}") if k > 0 else []
                        for s in strategies if k > 0 else ["base"]:
                            p = _result_path(out, t.name, grid, s + tag, k, d)
                            if p.is_file():
                                continue
                            with claim(p) as mine:
                                if not mine or p.is_file():  # another worker has it, or finished it meanwhile
                                    continue
                                if progress:
                                    print(f"[few-shot] {t.name} {grid} {s}{tag} k={k} draw {d}", file=sys.stderr,
                                          flush=True)
                                rec = _one(base, picked, s, recipe, eval_samples, device, k, d, t, grid, tag, scale)
                                atomic_write_json(p, rec)
                                done += 1
    return done


def _variant_tag(variant: dict[str, Any], scale: float) -> str:
    parts = [f"{k}{v}" for k, v in sorted(variant.items())]
    if scale != 1.0:
        parts.append(f"lrx{scale:g}")
    return "_".join(parts) or "default"


def _one(base, photos: list, strategy: str, recipe, eval_samples: list, device: str, k: int, draw: int,
         t: Target, grid: str, tag: str, scale: float) -> dict[str, Any]:
    rec: dict[str, Any] = {"target": t.name, "grid": grid, "strategy": strategy, "variant": tag.lstrip("_") or None,
                           "k": k, "draw": draw, "photos": [p.name for p in photos], "recipe": dataclasses.asdict(recipe),
                           "lr_scale": scale, "eval_images": len(eval_samples)}
    if k == 0:
        t0 = time.perf_counter()
        rec.update(score=_evaluate(base, eval_samples, recipe.size, device), seconds=0.0,
                   trainable_params=0, adapter_bytes=None, eval_seconds=time.perf_counter() - t0)
        return rec
    with tempfile.TemporaryDirectory(prefix="sac-fewshot-") as tmp:
        out = Path(tmp) / "a.safetensors"
        res = adapt_photos(base, photos, out, strategy=strategy, recipe=recipe, folds=0, seed=draw,
                           device=device, progress=False)
        model = load_adapter(out)
        t0 = time.perf_counter()
        rec.update(score=_evaluate(model, eval_samples, recipe.size, device), seconds=res.seconds,
                   trainable_params=count_parameters(model)["trainable"], adapter_bytes=res.adapter_bytes,
                   eval_seconds=time.perf_counter() - t0)
    return rec


# ------------------------------------------------------------------------------------------- report
def collect_few_shot(runs_dir: Path) -> list[dict[str, Any]]:
    """Every few-shot result under ``runs_dir/few_shot`` (see the module docstring)."""
    root = Path(runs_dir) / "few_shot"
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.glob("*/*/*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def summarise(rows: list[dict[str, Any]], grid: str = "main") -> list[dict[str, Any]]:
    """Mean ± std (population, over draws) of F1 / IoU / ODS / seconds / adapter KB per target, strategy, recipe
    variant (the recipe search's; "" in the main grid) and k; the k = 0 row (the base) is repeated for every
    strategy."""
    rows = [r for r in rows if r.get("grid", "main") == grid]
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["strategy"], r.get("variant") or "", r["k"]), []).append(r)
    strategies = sorted({(s, v) for (_, s, v, _) in groups if s != "base"})
    for (tgt, s, v, k), rs in list(groups.items()):
        if s == "base":
            for st, var in strategies:
                groups.setdefault((tgt, st, var, 0), rs)
            del groups[(tgt, s, v, k)]
    out = []
    for (tgt, s, v, k), rs in sorted(groups.items()):
        f1 = np.array([r["score"]["f1"] for r in rs])
        out.append({"target": tgt, "strategy": s, "variant": v, "k": k, "n": len(rs), "f1_mean": float(f1.mean()),
                    "f1_std": float(f1.std()), "iou_mean": float(np.mean([r["score"]["iou"] for r in rs])),
                    "ods_mean": float(np.mean([r["score"]["ods"] for r in rs])),
                    "seconds_mean": float(np.mean([r["seconds"] for r in rs])),
                    "trainable_params": int(max(r["trainable_params"] for r in rs)),
                    "adapter_kb": float(np.mean([r["adapter_bytes"] / 1024 for r in rs])) if k > 0 else None})
    return out
