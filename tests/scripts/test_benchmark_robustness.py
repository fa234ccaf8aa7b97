"""The robustness benchmark's budget: fewer training patches get more epochs, never fewer optimiser steps."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmark_robustness")


def test_the_whole_split_keeps_the_bundles_epochs_and_validates_every_epoch(script):
    budget = script.training_budget(20, None)
    assert (budget.num_train, budget.epochs, budget.val_interval, budget.steps) == (1200, 20, 1, 760)


def test_fewer_patches_train_for_the_whole_splits_optimiser_steps(script):
    # the comparison the issue found unfair: 120 patches at 20 epochs were a tenth of the steps
    budget = script.training_budget(20, 120)
    assert (budget.num_train, budget.epochs, budget.val_interval, budget.steps) == (120, 190, 10, 760)
    assert budget.validations == 19
    smoke = script.training_budget(1, 64)  # benchmark_gpu.sh's smoke run: 38 steps, one validation at the end
    assert (smoke.epochs, smoke.val_interval, smoke.steps) == (19, 19, 38)


@pytest.mark.parametrize("num_train", [0, 5000])
def test_a_training_size_outside_the_split_is_refused_before_anything_trains(
    script, monkeypatch, capsys, tmp_path, num_train
):
    argv = ["benchmark_robustness.py", "--output", str(tmp_path), "--num-train", str(num_train), "--device", "cpu"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit):
        script.main()
    assert f"--num-train {num_train}: num_train must be an int in 1..1200, got {num_train}" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()
