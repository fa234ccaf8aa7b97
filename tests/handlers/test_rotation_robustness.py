from __future__ import annotations

import json

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator

from monai_sre import create_model
from monai_sre.handlers import RotationRobustnessHandler


def _loader():
    generator = torch.Generator().manual_seed(0)
    items = [
        {"image": torch.randn(1, 10, 10, 10, generator=generator), "label": torch.tensor([i % 2])} for i in range(8)
    ]
    return DataLoader(Dataset(items), batch_size=4)


def test_handler_runs_protocols_after_an_evaluator_and_publishes_metrics(tmp_path):
    network = create_model("sre_resnet_light", num_classes=2)
    evaluator = SupervisedEvaluator(device=torch.device("cpu"), val_data_loader=_loader(), network=network)
    handler = RotationRobustnessHandler(protocols=["grid48", "haar-3"], output_dir=tmp_path)
    handler.attach(evaluator)
    evaluator.run()
    metrics = evaluator.state.metrics
    assert abs(metrics["grid48_accuracy_gap"]) < 1e-9 and "haar-3_auc_mean" in metrics
    saved = json.loads((tmp_path / "robustness_grid48.json").read_text())
    assert saved["num_samples"] == 8 and len(saved["cases"]) == 48
    assert (tmp_path / "robustness_haar-3.png").exists()
    network.train()
    handler(evaluator)  # run directly: the handler restores the mode it found
    assert network.training


def test_handler_rejects_unknown_events():
    with pytest.raises(ValueError, match="event must be 'COMPLETED' or 'EPOCH_COMPLETED', got 'ITERATION'"):
        RotationRobustnessHandler(event="ITERATION")


class _Tiny(torch.nn.Module):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.linear, self.fail = torch.nn.Linear(1, 2), fail

    def forward(self, x):
        if self.fail and not self.training:
            raise RuntimeError("failing on purpose")
        return self.linear(x.mean((2, 3, 4)))


def _engine(epoch: int = 3):
    import logging
    from types import SimpleNamespace

    return SimpleNamespace(state=SimpleNamespace(epoch=epoch, metrics={}), logger=logging.getLogger("test"))


def test_per_epoch_reports_go_to_epoch_folders_and_the_mode_is_restored_on_failure(tmp_path):
    handler = RotationRobustnessHandler(
        ["flips"], tmp_path, network=_Tiny(), data_loader=_loader(), event="EPOCH_COMPLETED", crop_size=8
    )
    engine = _engine()
    handler(engine)
    assert (tmp_path / "epoch_3" / "robustness_flips.csv").exists() and "flips_accuracy_mean" in engine.state.metrics
    assert "flips_accuracy_upright" not in engine.state.metrics and handler.reports["flips"].num_samples == 8
    failing = _Tiny(fail=True)
    with pytest.raises(RuntimeError, match="failing on purpose"):
        RotationRobustnessHandler(["flips"], tmp_path, network=failing, data_loader=_loader())(_engine())
    assert failing.training
    with pytest.raises(ValueError, match="needs a network and data"):
        RotationRobustnessHandler(["flips"], tmp_path)(_engine())
