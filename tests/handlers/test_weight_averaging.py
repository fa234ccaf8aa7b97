"""WeightAveraging: the average's arithmetic, what the validator sees, and a resumed run keeping the average."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events

from monai_sre.handlers import TrainingCheckpoint, WeightAveraging


def _network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def _trainer(network: torch.nn.Module) -> Engine:
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)

    def step(engine, batch):
        network.train()
        optimizer.zero_grad()
        loss = network(batch).square().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer = Engine(step)
    trainer.optimizer = optimizer
    return trainer


def _copy(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def _batches(n: int = 4) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(5, 3, generator=generator) for _ in range(n)]


def test_the_average_follows_the_documented_update():
    network = _network()
    averaging = WeightAveraging(network, decay=0.9)
    trainer = _trainer(network)
    averaging.attach(trainer)
    expected = None
    snapshots = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: snapshots.append(_copy(network)))
    trainer.run(_batches(), max_epochs=1)
    for n, weights in enumerate(snapshots):
        if expected is None:
            expected = weights
            continue
        d = min(0.9, (1 + n) / (10 + n))  # n updates so far
        expected = {k: (d * e + (1 - d) * weights[k]) if e.is_floating_point() else weights[k].clone()
                    for k, e in expected.items()}  # fmt: skip
    assert averaging.updates == 4
    for name, value in expected.items():
        torch.testing.assert_close(averaging.average[name], value, rtol=1e-6, atol=1e-7)
    assert averaging.average["1.num_batches_tracked"].item() == 4  # integer buffers are copied, not averaged
    assert not torch.equal(averaging.average["0.weight"], network.state_dict()["0.weight"])


def test_the_validator_sees_the_average_and_training_resumes_from_its_own_weights():
    network = _network()
    seen = []
    validator = Engine(lambda engine, batch: seen.append(network[0].weight.detach().clone()))
    averaging = WeightAveraging(network, validator=validator, decay=0.5)
    trainer = _trainer(network)
    averaging.attach(trainer)
    after_validation = []

    def validate(engine):
        before = network[0].weight.detach().clone()
        validator.run([0], max_epochs=1)
        after_validation.append((before, network[0].weight.detach().clone()))

    trainer.add_event_handler(Events.EPOCH_COMPLETED, validate)
    trainer.run(_batches(), max_epochs=2)
    assert len(seen) == 2
    torch.testing.assert_close(seen[-1], averaging.average["0.weight"], rtol=0, atol=0)
    for before, after in after_validation:
        torch.testing.assert_close(after, before, rtol=0, atol=0)  # the training weights are put back
        assert not torch.equal(after, seen[-1])


def test_a_resumed_run_keeps_the_average(tmp_path):
    network = _network()
    averaging = WeightAveraging(network, decay=0.9)
    trainer = _trainer(network)
    averaging.attach(trainer)
    TrainingCheckpoint(tmp_path, network, trainer.optimizer, weight_averaging=averaging).attach(trainer)
    trainer.run(_batches(), max_epochs=1)
    saved = {k: v.clone() for k, v in averaging.average.items()}

    network = _network()
    resumed = WeightAveraging(network, decay=0.9)
    trainer = _trainer(network)
    TrainingCheckpoint(tmp_path, network, trainer.optimizer, resume=True, weight_averaging=resumed).attach(trainer)
    trainer.add_event_handler(Events.STARTED, lambda e: e.terminate())  # load only
    trainer.run(_batches(), max_epochs=2)
    assert resumed.updates == 4
    for name, value in saved.items():
        torch.testing.assert_close(resumed.average[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9", True])
def test_a_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match=rf"decay must be None or a number in \[0, 1\), got {decay!r}"):
        WeightAveraging(torch.nn.Linear(1, 1), decay=decay)


def test_no_decay_attaches_nothing_and_saves_nothing(tmp_path):
    network = _network()
    averaging = WeightAveraging(network, decay=None)
    trainer = _trainer(network)
    averaging.attach(trainer)
    checkpoint = TrainingCheckpoint(tmp_path, network, trainer.optimizer, weight_averaging=averaging)
    trainer.run(_batches(), max_epochs=1)
    assert not averaging.enabled and averaging.updates == 0 and averaging.average is None
    assert "weight_averaging" not in checkpoint.objects


def test_resuming_with_averaging_from_a_checkpoint_without_it_is_refused_and_the_reverse_warns(tmp_path, caplog):
    network = _network()
    trainer = _trainer(network)
    TrainingCheckpoint(tmp_path / "plain", network, trainer.optimizer).attach(trainer)
    trainer.run(_batches(), max_epochs=1)
    averaging = WeightAveraging(network, decay=0.9)
    with pytest.raises(ValueError, match=r"checkpoint_epoch=1.pt' was saved by a run without weight averaging, but "
                       r"this run averages \(--weight_averaging_decay 0.9\); resume with --weight_averaging_decay "
                       "null"):  # fmt: skip
        TrainingCheckpoint(tmp_path / "plain", network, trainer.optimizer, resume=True,
                           weight_averaging=averaging).attach(_trainer(network))  # fmt: skip

    trainer = _trainer(network)
    averaging.attach(trainer)
    TrainingCheckpoint(tmp_path / "averaged", network, trainer.optimizer, weight_averaging=averaging).attach(trainer)
    trainer.run(_batches(), max_epochs=1)
    with caplog.at_level("WARNING"):
        TrainingCheckpoint(tmp_path / "averaged", network, trainer.optimizer, resume=True,
                           weight_averaging=WeightAveraging(network, decay=None)).attach(_trainer(network))  # fmt: skip
    assert "holds a weight average that this run does not continue" in caplog.text
