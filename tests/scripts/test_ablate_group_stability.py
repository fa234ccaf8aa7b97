"""The stability ablation's command line: what it refuses before anything trains."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("ablate_group_stability")


def test_nothing_to_run_is_refused(script, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["ablate_group_stability.py", "--output", str(tmp_path), "--variants"])
    with pytest.raises(SystemExit):
        script.main()
    assert "nothing to run: name --variants or a --subset-seed" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_every_variant_changes_one_thing_of_the_default_recipe(script):
    for name, (model, rate) in script.VARIANTS.items():
        assert model.name == f"{script.BASE}, {name}" and model.augment and model.trained_as is None
        assert (rate == 0.003) == (name == "lr 0.003") and (not model.overrides) == (name == "lr 0.003")
