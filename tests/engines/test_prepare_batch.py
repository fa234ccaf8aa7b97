from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.engines import SupervisedTrainer

from monai_sre.engines import PrepareBatchRandSO3Rotate
from monai_sre.transforms import BatchRandSO3Rotate


def test_prepare_batch_rotates_the_images_and_leaves_the_labels():
    batch = {"image": torch.rand(4, 1, 12, 12, 12), "label": torch.tensor([0, 1, 2, 3])}
    prepare = PrepareBatchRandSO3Rotate(8, seed=2)
    image, label = prepare(batch, torch.device("cpu"), non_blocking=False)
    assert image.shape == (4, 1, 8, 8, 8) and torch.equal(label, batch["label"])
    torch.testing.assert_close(image, BatchRandSO3Rotate(8, seed=2)(batch["image"]))
    image, label = prepare((batch["image"], batch["label"]), "cpu")
    assert image.shape == (4, 1, 8, 8, 8) and torch.equal(label, batch["label"])
    image, label = prepare(batch["image"])
    assert image.shape == (4, 1, 8, 8, 8) and label is None
    prepare.set_random_state(2)
    torch.testing.assert_close(prepare(batch)[0], BatchRandSO3Rotate(8, seed=2)(batch["image"]))


def test_a_supervised_trainer_trains_on_rotated_crops():
    seen = []
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8**3, 2))
    network.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    data = [{"image": torch.rand(4, 1, 12, 12, 12), "label": torch.tensor([0, 1, 0, 1])} for _ in range(2)]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=data,
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
        loss_function=torch.nn.CrossEntropyLoss(),
        prepare_batch=PrepareBatchRandSO3Rotate(8, seed=0),
    )
    trainer.run()
    assert seen == [(4, 1, 8, 8, 8)] * 2 and np.isfinite(trainer.state.output[0]["loss"])


def test_a_bundle_config_builds_it_by_its_path():
    parser = ConfigParser({"prepare": {"_target_": "monai_sre.engines.PrepareBatchRandSO3Rotate", "roi_size": 8}})
    prepare = parser.get_parsed_content("prepare")
    assert isinstance(prepare, PrepareBatchRandSO3Rotate) and prepare.rotate.roi_size == 8


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="PrepareBatchRandSO3Rotate needs images"):
        PrepareBatchRandSO3Rotate(8, seed=0)({"reals": torch.rand(2, 1, 12, 12, 12)})  # a GAN batch: no pair


def test_public_names_do_not_clash_with_monai():
    """Bundle configs resolve short ``_target_`` names across monai* modules, and MONAI's class wins a clash."""
    import monai.engines

    from monai_sre import engines

    assert engines.__all__ == ["PrepareBatchRandSO3Rotate"] and all(hasattr(engines, n) for n in engines.__all__)
    assert not set(engines.__all__) & set(dir(monai.engines))
