from __future__ import annotations

import pytest

from monai_sre.comparison import EqualStepsBudget


def test_every_fraction_of_the_tissue_split_gets_the_100_percent_steps():
    """The tissue bundle: 1200 training patches, batch 32, 20 epochs = 760 steps; 2 % used to get 20 epochs of 1
    step (20 steps) under the old protocol."""
    budget = EqualStepsBudget(num_train=1200, batch_size=32, epochs=20)
    assert budget.total_steps == 760
    for size, epochs in [(24, 760), (60, 380), (120, 190), (300, 76), (600, 40), (1200, 20)]:
        run = budget.for_size(size)
        assert (run.epochs, run.steps) == (epochs, 760), size
        assert run.epochs % run.val_interval == 0  # the last epoch validates
        assert 19 <= run.validations <= 20


def test_steps_stay_within_half_a_validation_interval():
    budget = EqualStepsBudget(num_train=1000, batch_size=24, epochs=7, validations=5)
    for size in range(1, 1001, 37):
        run = budget.for_size(size)
        per_epoch = -(-size // 24)
        assert abs(run.steps - budget.total_steps) <= run.val_interval * per_epoch / 2 + per_epoch, size
        assert run.validations <= 5 and run.epochs % run.val_interval == 0


@pytest.mark.parametrize("kwargs", [{"num_train": 0}, {"batch_size": 2.5}, {"epochs": True}, {"validations": -1}])
def test_bad_budgets_raise_naming_the_value(kwargs):
    arguments = {"num_train": 10, "batch_size": 2, "epochs": 3, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        EqualStepsBudget(**arguments)


@pytest.mark.parametrize("size", [0, 11, 2.0])
def test_subset_sizes_outside_the_split_raise(size):
    with pytest.raises(ValueError, match="num_train must be an int in 1..10"):
        EqualStepsBudget(10, 2, 3).for_size(size)
