"""The typed origin of a model (``model.origin`` and its ``sac_*`` names), the BatchNorm policy of strategies, and
``sac.tuning.parameter_table`` (counts on the meta device equal counts on real models)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sac.models import SegmentationModel, count_parameters, create_model, norm_kinds
from sac.models.base import pad_to_multiple
from sac.tuning import BnPolicy, apply_strategy, parameter_table, strategy_info, train_mode


class Tiny(SegmentationModel):
    decoder_names = ("head",)

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.head = nn.Conv2d(3, 1, 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bn(x))


def test_unset_origin_fields_read_as_absent_under_their_old_names():
    m = Tiny()
    assert m.origin.name is None and m.origin.base == {} and m.origin.data_init == []
    assert not hasattr(m, "sac_name") and getattr(m, "sac_threshold", 0.5) == 0.5
    assert getattr(m, "sac_strategy", "full") == "full" and m.sac_data_init == [] and m.sac_base == {}
    m.sac_threshold = 0.3
    assert m.origin.threshold == 0.3 and m.sac_threshold == 0.3
    assert copy.deepcopy(m).origin == m.origin and copy.deepcopy(m).origin is not m.origin


def test_registry_and_strategies_fill_the_origin():
    m = apply_strategy(create_model("unet_effnet_lite0", init_seed=3), "decoder")
    assert (m.origin.name, m.origin.strategy, m.origin.base["init_seed"]) == ("unet_effnet_lite0", "decoder", 3)
    assert m.sac_name == "unet_effnet_lite0" and m.sac_strategy == "decoder" and m.sac_base is m.origin.base


def test_pad_to_multiple_reflects_and_replicates_when_too_short():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    assert pad_to_multiple(x, 1) is x
    assert pad_to_multiple(x, 4).shape[-2:] == (4, 4)
    assert torch.equal(pad_to_multiple(x, 4)[..., :3, 3], x[..., :3, 1])  # reflect across the last column
    assert pad_to_multiple(x, 8).shape[-2:] == (8, 8)
    assert torch.equal(pad_to_multiple(x, 8)[..., 7, :3], x[..., 2, :])  # replicate: 5 rows of padding for 3


def test_strategies_declare_a_bn_policy_and_train_mode_follows_it():
    assert strategy_info("norm").frozen_bn is BnPolicy.UPDATE_ALL == "none"
    assert strategy_info("norm_frozen_stats").frozen_bn is BnPolicy.FREEZE_ALL
    assert strategy_info("decoder").frozen_bn is BnPolicy.FROZEN_ONLY
    for strategy, bn_trains in (("norm", True), ("norm_frozen_stats", False), ("decoder", False), ("full", True)):
        m = train_mode(apply_strategy(Tiny(), strategy), True)
        assert m.training and m.bn.training is bn_trains
        assert not train_mode(m, False).bn.training


@pytest.mark.parametrize("name", ["unet_effnet_lite0", "deepcrack_liu", "segformer_b0", "sam_vit_t"])
def test_parameter_table_counts_what_real_models_count(name):
    rows = parameter_table([name], ["none", "norm", "decoder", "lora_qkv_last2_r8"])
    real = create_model(name, **({"input_size": 256} if name.startswith("sam") else {}))
    for row in rows:
        c = count_parameters(apply_strategy(copy.deepcopy(real), row["strategy"]))
        assert (row["total_params"], row["trainable_params"], row["norm_params"]) == (c["total"], c["trainable"],
                                                                                      c["norm"])
        assert row["norm_kinds"] == "+".join(norm_kinds(real))
    assert [r["strategy"] for r in rows][-1] == ("lora_qkv_last2_r8" if name == "sam_vit_t" else "decoder")
