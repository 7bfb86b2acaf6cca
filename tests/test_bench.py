"""``sac bench`` runs every path in its own process and writes JSON / markdown / plot (tiny sizes: a smoke test
of the machinery, never a timed test)."""

from __future__ import annotations

import json

import pytest

from sac.cli import main


@pytest.mark.timeout(600)
def test_bench_writes_every_path(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--model", "default", "--size", "64", "--batch", "1", "--iters", "1", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert [r["path"] for r in res["rows"]] == ["reference", "optimised", "onnx"]
    assert all(r["infer_img_s"] > 0 and r["peak_rss_mb"] > 0 for r in res["rows"])
    assert all(r["train_img_s"] > 0 for r in res["rows"][:2])
    assert res["command"].startswith("sac bench") and res["settings"]["size"] == 64
    md = out.with_suffix(".md").read_text()
    assert "| default | onnx |" in md and out.with_suffix(".png").stat().st_size > 1000
    assert "× ref" in capsys.readouterr().out


def test_reference_path_uses_segment_anythings_attention():
    from segment_anything.modeling.image_encoder import Attention

    from sac.engine.bench import _reference
    from sac.models import create_model
    from sac.models.sam.attention import FusedAttention

    model = create_model("sam_vit_b", weights=None, input_size=64)
    assert any(type(m) is FusedAttention for m in model.modules())
    _reference(model)
    assert not any(type(m) is FusedAttention for m in model.modules())
    assert any(type(m) is Attention for m in model.modules())
