from __future__ import annotations

import json

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.inferers import SimpleInferer

from monai_sre import create_model
from monai_sre.handlers import RotationRobustnessHandler, SegmentationRobustnessHandler


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


# segmentation -----------------------------------------------------------------------------------------------------


class _PerVoxel(torch.nn.Module):
    """3-class logits of each voxel's intensity (a 1x1x1 convolution written out): exactly grid-equivariant."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([-1.0, 0.0, 1.0]))
        self.bias = torch.nn.Parameter(torch.tensor([-0.5, 0.0, -0.5]))  # class 1 where |x| < 0.5

    def forward(self, x):
        return x * self.weight.reshape(1, 3, 1, 1, 1) + self.bias.reshape(1, 3, 1, 1, 1)


def _segmentation_loader():
    images = torch.randn(4, 1, 6, 6, 6, generator=torch.Generator().manual_seed(0))
    labels = _PerVoxel()(images).argmax(1, keepdim=True).float().detach()
    return DataLoader(Dataset([{"image": i, "label": y} for i, y in zip(images, labels)]), batch_size=2)


class _CountingInferer(SimpleInferer):
    calls = 0

    def __call__(self, inputs, network, *args, **kwargs):
        self.calls += 1
        return super().__call__(inputs, network, *args, **kwargs)


def test_segmentation_handler_after_an_evaluator_writes_reports_and_dice_metrics(tmp_path):
    inferer = _CountingInferer()
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=_segmentation_loader(), network=_PerVoxel(), inferer=inferer
    )
    SegmentationRobustnessHandler(["grid48"], tmp_path, class_names=["bg", "a", "b"]).attach(evaluator)
    SegmentationRobustnessHandler(["haar-2"], tmp_path, labels="map_back").attach(evaluator)
    evaluator.run()
    metrics = evaluator.state.metrics
    assert (
        metrics["grid48_dice_mean"] == 1.0 and metrics["grid48_dice_worst"] == 1.0 and metrics["grid48_dice_gap"] == 0
    )
    assert metrics["grid48_dice_a_mean"] == 1.0 and metrics["grid48_agreement_worst"] == 1.0
    assert "grid48_dice_upright" not in metrics and "grid48_dice_worst_case" not in metrics
    assert 0 < metrics["haar-2_map_back_dice_mean"] < 1 and "haar-2_map_back_dice_2_worst" in metrics
    saved = json.loads((tmp_path / "robustness_grid48.json").read_text())
    assert saved["task"] == "segmentation" and saved["num_samples"] == 4 and len(saved["cases"]) == 48
    assert saved["settings"]["labels"] == "rotate" and saved["summary"]["dice_b_mean"] == 1.0
    assert {p.name for p in tmp_path.glob("robustness_haar-2_map_back.*")} == {
        f"robustness_haar-2_map_back.{s}" for s in ("json", "csv", "png")
    }
    assert inferer.calls == 2 + 2 * 49 + 2 * 3  # the evaluator's own pass, then every case through its inferer


def test_segmentation_handler_per_epoch_with_its_own_network_and_data(tmp_path):
    network = _PerVoxel()
    handler = SegmentationRobustnessHandler(
        ["flips"], tmp_path, network=network, data_loader=_segmentation_loader(), event="EPOCH_COMPLETED", crop_size=4
    )
    engine = _engine(epoch=2)
    handler(engine)
    assert (tmp_path / "epoch_2" / "robustness_flips.csv").exists() and engine.state.metrics["flips_dice_mean"] == 1.0
    assert handler.reports["flips"].settings["crop_size"] == [4, 4, 4] and network.training
    with pytest.raises(ValueError, match="map_back"):
        SegmentationRobustnessHandler(labels="backwards")
    with pytest.raises(ValueError, match="SegmentationRobustnessHandler needs a network and data"):
        SegmentationRobustnessHandler(["flips"], tmp_path)(_engine())
