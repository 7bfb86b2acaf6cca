"""Hyperparameter search (Table 2): grid sampling, seeded plans, resume, TPE without repeats, real trials."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from sac.errors import ConfigError
from sac.study.grids import PAPER_CONFIGS
from sac.study.scale import Scale
from sac.study.search import plan_trials, run_search, search_grid


def _fake(calls: list, fail_at: int | None = None):
    """A deterministic objective: val F1 from the combination; raises KeyboardInterrupt at call ``fail_at``."""

    def objective(cfg):
        calls.append((cfg.loss, cfg.optim.lr, cfg.optim.batch_size, cfg.out))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        f1 = 0.3 + cfg.optim.lr * 100 + cfg.optim.batch_size / 100
        return {"val_f1": f1, "val_iou": f1 / (2 - f1)}

    return objective


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("config, expected", [(1, 30), (2, 5), (3, 8)])
def test_plan_fraction_gives_distinct_grid_combinations(config, expected):
    grid = search_grid(config)
    pc = PAPER_CONFIGS[config]
    assert len(grid) == pc.grid_size() == len(set(grid))
    plan = plan_trials(config)  # the paper's fraction for this config
    assert len(plan) == expected == math.ceil(pc.search_fraction * len(grid))
    assert len(set(plan)) == len(plan) and set(plan) <= set(grid)
    assert plan == plan_trials(config, seed=0)  # seeded: reproducible
    assert plan != plan_trials(config, seed=1)
    bigger = plan_trials(config, fraction=0.5)
    assert bigger[: len(plan)] == plan  # a larger fraction extends the same permutation
    assert len(plan_trials(config, fraction=1.0)) == len(grid)
    assert set(plan_trials(config, fraction=1.0)) == set(grid)


def test_plan_and_search_errors(tmp_path):
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="fraction"):
            plan_trials(1, fraction=bad)
    with pytest.raises(ConfigError, match="n_trials"):
        plan_trials(2, n_trials=22)
    with pytest.raises(ConfigError, match="unknown search configuration"):
        search_grid(4)
    with pytest.raises(ConfigError, match="sampler"):
        run_search(1, out=tmp_path, sampler="grid", objective=_fake([]))
    with pytest.raises(ConfigError, match="unknown model"):
        run_search(1, out=tmp_path, model="no_such_model", objective=_fake([]))


def test_search_resumes_without_rerunning_finished_trials(tmp_path):
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        run_search(2, n_trials=6, out=tmp_path, objective=_fake(calls, fail_at=3), progress=False)
    assert len(calls) == 3
    assert len(_rows(tmp_path / "trials.csv")) == 2  # the interrupted third is not a result
    interrupted = calls[2]

    calls2: list = []
    res = run_search(2, n_trials=6, out=tmp_path, objective=_fake(calls2), progress=False)
    assert len(calls2) == 4  # 6 planned - 2 finished
    assert interrupted in calls2  # retried in the same run folder (so training resumes its checkpoint)
    assert not {c[:3] for c in calls[:2]} & {c[:3] for c in calls2}
    plan = plan_trials(2, n_trials=6)
    rows = _rows(tmp_path / "trials.csv")
    assert len(rows) == 6 == len(res.trials)
    assert {(r["loss"], float(r["lr"]), int(r["batch_size"])) for r in rows} == set(plan)
    f1s = [float(r["val_f1"]) for r in rows]
    assert f1s == sorted(f1s, reverse=True)  # ranked by validation F1
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["best"]["val_f1"] == pytest.approx(max(f1s)) == pytest.approx(res.best["val_f1"])
    expected = max(plan, key=lambda c: 0.3 + c[1] * 100 + c[2] / 100)  # the fake objective's optimum
    assert (best["best"]["loss"], best["best"]["lr"], best["best"]["batch_size"]) == expected
    md = (tmp_path / "trials.md").read_text()
    assert "| 1 |" in md and "L_Dice" in md and md.count("\n| ") >= 6 + 2

    calls3: list = []
    run_search(2, n_trials=6, out=tmp_path, objective=_fake(calls3), progress=False)
    assert calls3 == []  # nothing left to do

    with pytest.raises(ConfigError, match="other settings"):  # another seed is another search
        run_search(2, n_trials=6, seed=1, out=tmp_path, objective=_fake([]), progress=False)


def test_search_retries_a_trial_left_running_by_a_killed_process(tmp_path):
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    run_search(2, n_trials=2, out=tmp_path, objective=_fake([]), progress=False)
    plan = plan_trials(2, n_trials=3)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "study.journal")))
    study = optuna.load_study(study_name="config2", storage=storage)
    pc = PAPER_CONFIGS[2]
    study.enqueue_trial({"loss": plan[2][0], "lr": plan[2][1], "batch_size": plan[2][2]})
    study.ask({"loss": CategoricalDistribution(pc.loss_specs()), "lr": CategoricalDistribution(pc.learning_rates),
               "batch_size": CategoricalDistribution(pc.batch_sizes)})  # then the process "dies"
    calls: list = []
    res = run_search(2, n_trials=3, out=tmp_path, objective=_fake(calls), progress=False)
    assert [c[:3] for c in calls] == [plan[2]]
    assert len(res.trials) == 3


def test_tpe_trains_distinct_combinations_reproducibly(tmp_path):
    seqs = []
    for k in range(2):
        calls: list = []
        res = run_search(2, n_trials=12, sampler="tpe", seed=3, out=tmp_path / str(k), objective=_fake(calls),
                         progress=False)
        combos = [c[:3] for c in calls]
        assert len(combos) == 12 == len(set(combos)) == len(res.trials)
        assert set(combos) <= set(search_grid(2))
        seqs.append(combos)
    assert seqs[0] == seqs[1]


def test_search_real_trials_then_resume_trains_nothing(tmp_path, data_root):
    base = {"data.train": "shared:CFD@train", "data.val": "shared:CFD@val", "device": "cpu",
            "checkpoint_every_steps": 1000}
    kw = dict(n_trials=2, epochs=1, scale=Scale(size=64, limit_train=8, limit_val=4), out=tmp_path, progress=False)
    res = run_search(3, base, **kw)
    assert len(res.trials) == 2
    for t in res.trials:
        assert Path(t["run"]).parent == tmp_path / "config3"
        summary = json.loads((Path(t["run"]) / "summary.json").read_text())
        assert summary["completed"] and summary["epochs_done"] == 1 and summary["train_images"] == 8
        assert summary["model"] == "unet_effnet_lite0" and summary["strategy"] == "norm"
        assert t["val_f1"] == pytest.approx(summary["best_val_f1"])
        assert t["val_iou"] == pytest.approx(summary["history"][-1]["val_iou"])
        assert t["loss"].startswith("bce+dice:") and t["lambda"] == float(t["loss"].split(":")[1])
    commands = {t["run"]: (Path(t["run"]) / "command.txt").read_text() for t in res.trials}
    res2 = run_search(3, base, **kw)
    assert [t["val_f1"] for t in res2.trials] == [t["val_f1"] for t in res.trials]
    for run, text in commands.items():  # no trial trained again
        assert (Path(run) / "command.txt").read_text() == text
    assert "8 images" in (tmp_path / "trials.md").read_text()


def test_search_cli_reports_bad_settings_in_one_line(tmp_path, capsys):
    from sac.cli import main

    assert main(["search", "2", "--n-trials", "0", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "n_trials" in err and "Traceback" not in err
