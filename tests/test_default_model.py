"""The bundled default model: it ships, loads offline, is small, is really trained (it finds the cracks of
the example photos, which come from MCS, a set it never saw), and `make demo`'s command works."""

from __future__ import annotations

import json
from pathlib import Path

from sac.cli import main
from sac.data import folder_samples
from sac.engine import evaluate, load_model
from sac.engine.loading import DEFAULT_ADAPTER
from sac.tuning import read_adapter_metadata

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_default_model_ships_small_with_its_card():
    assert DEFAULT_ADAPTER.is_file(), "src/sac/assets/default.safetensors is missing (python benchmarks/default_model.py)"
    assert DEFAULT_ADAPTER.stat().st_size < 8 * 2**20
    meta = read_adapter_metadata(DEFAULT_ADAPTER)
    assert meta["model"] == "unet_effnet_lite0" and meta["strategy"] == "decoder"
    card = (DEFAULT_ADAPTER.parent / "MODEL_CARD.md").read_text()
    assert "benchmarks/default_model.py" in card and "MCS" in card


def test_default_model_finds_the_cracks_of_the_example_photos():
    model = load_model("default")
    res = evaluate(model, folder_samples(EXAMPLES), device="cpu", progress=False, fast=True)
    assert res["overall"]["n_images"] == len(list((EXAMPLES / "images").iterdir()))
    untrained = evaluate(load_model("unet_effnet_lite0"), folder_samples(EXAMPLES), device="cpu", progress=False,
                         fast=True)  # the same network before training: ImageNet encoder, random decoder
    f1, f1_untrained = res["overall"]["f1"], untrained["overall"]["f1"]
    assert f1 > 0.25 and f1 > f1_untrained + 0.2, (f1, f1_untrained)


def test_make_demo_command(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["predict", str(EXAMPLES / "images"), "--model", "default", "--out", str(out), "--measure",
                 "--quiet", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(list((EXAMPLES / "images").iterdir()))
    for r in rows:
        stem = Path(r["photo"]).stem
        assert (out / f"{stem}_mask.png").is_file() and (out / f"{stem}_overlay.png").is_file()
        assert r["crack_count"] >= 1 and r["total_length_px"] > 0
    assert (out / "summary.md").is_file()

