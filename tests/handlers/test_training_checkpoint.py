from __future__ import annotations

import logging

import pytest
import torch
from ignite.engine import Engine, Events

from monai_sre.handlers import TrainingCheckpoint

BASE_RATE = 0.1


def _run(folder, max_epochs: int, schedule_epochs: int, resume: bool = False):
    """A trainer of a linear layer with a per-epoch cosine schedule over ``schedule_epochs``, checkpointed in
    ``folder``; returns its optimizer after ``max_epochs``."""
    torch.manual_seed(0)
    network = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(network.parameters(), lr=BASE_RATE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=schedule_epochs)

    def step(engine, batch):
        optimizer.zero_grad()
        network(batch).square().mean().backward()
        optimizer.step()

    trainer = Engine(step)
    # the schedule steps before the checkpoint is saved, as in the bundles (LrScheduleHandler comes first)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: scheduler.step())
    TrainingCheckpoint(folder, network, optimizer, lr_scheduler=scheduler, resume=resume).attach(trainer)
    trainer.run([torch.randn(4, 3) for _ in range(2)], max_epochs=max_epochs)
    return optimizer


def test_a_resume_past_the_stopped_runs_length_warns_that_its_restored_schedule_climbs_back(tmp_path, caplog):
    """The bundles refuse such a resume (``run_settings.json``); used on its own, the handler says what happens."""
    assert _run(tmp_path, 2, 2).param_groups[0]["lr"] == pytest.approx(0.0)  # the cosine schedule's end
    with caplog.at_level(logging.WARNING, logger="monai_sre.handlers.training_checkpoint"):
        resumed = _run(tmp_path, 4, 4, resume=True)  # a new schedule of 4 epochs is built, the old one restored
    assert (
        f"'{tmp_path / 'checkpoint_epoch=2.pt'}' was saved by a run of 2 epochs and this run goes on to 4; the "
        "learning-rate scheduler restored from it keeps the stopped run's schedule" in caplog.text
    )
    assert resumed.param_groups[0]["lr"] == pytest.approx(BASE_RATE)  # back at the full rate, as the warning says


def test_a_resume_within_the_stopped_runs_length_does_not_warn(tmp_path, caplog):
    _run(tmp_path, 2, 2)
    with caplog.at_level(logging.WARNING, logger="monai_sre.handlers.training_checkpoint"):
        _run(tmp_path, 2, 2, resume=True)
    assert "was saved by a run of" not in caplog.text
