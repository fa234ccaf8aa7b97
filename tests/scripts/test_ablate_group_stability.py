"""The stability ablation's command line: what it refuses before anything trains."""

from __future__ import annotations

import json
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
        # a variant on another group names the network it trains, the others the change to the base recipe
        expected = "group light (Oh, rotations), SO(3) augmentation, half upright" if name.startswith("Oh") else None
        assert model.name == (expected or f"{script.BASE}, {name}") and model.augment and model.trained_as is None
        changed = {**model.overrides, **model.training_overrides}
        assert (rate == 0.003) == (name == "lr 0.003") and (not changed) == (name == "lr 0.003")
    default_network = json.loads((script.BUNDLE / "configs" / "inference.json").read_text())["network_def"]
    assert script.VARIANTS["dropout"][0].overrides == {"network_def": {**default_network, "dropout": 0.2}}
    assert script.VARIANTS["weight decay"][0].training_overrides == {"optimizer#weight_decay": 0.05}
    oh, centre = script.VARIANTS["Oh rotations, half upright"][0], script.VARIANTS["centre column, half upright"][0]
    assert oh.overrides == {"network_def": {**default_network, "group": "Oh", "space": "rotations"}}
    assert centre.overrides == {"network_def": {**default_network, "centre_features": True}}
    assert oh.training_overrides == centre.training_overrides == {"rotation_prob": 0.5}
    # half upright changes the bundle's rotation_prob, which every other run pins to 1 (all patches rotated)
    assert "rotation_prob" in json.loads((script.BUNDLE / "configs" / "train.json").read_text())
    assert script.VARIANTS["half upright"][0].training_overrides == {"rotation_prob": 0.5}
    assert script.ALL_ROTATED == {"rotation_prob": 1.0}


def test_a_fixed_subsample_keeps_the_variants_recipe_and_names_the_subsample(script):
    baseline, rate = script.on_subsample(None, 4)
    assert (baseline.name, baseline.overrides, rate) == (
        f"{script.BASE}, subsample of seed 4",
        {"subset_seed": 4},
        0.001,
    )
    model, _ = script.on_subsample("rotated validation", 3)
    assert model.name == f"{script.BASE}, rotated validation, subsample of seed 3"
    assert model.overrides == {"subset_seed": 3}
    assert model.training_overrides == script.VARIANTS["rotated validation"][0].training_overrides


def test_the_plain_control_trains_plain_light_at_its_own_rate_on_the_same_subsample(script):
    model, rate = script.on_subsample("plain light", 4)
    assert model.name == "plain light, SO(3) augmentation, subsample of seed 4" and rate == 0.003 and model.augment
    assert (
        model.overrides["network_def"]
        == json.loads((script.BUNDLE / "configs" / "plain_resnet.json").read_text())["network_def"]
    )
    assert model.overrides["subset_seed"] == 4


def test_the_plain_half_upright_control_is_the_plain_control_with_the_variants_training(script):
    plain, rate = script.CONTROLS["plain light"]
    model, half_rate = script.CONTROLS["plain light, half upright"]
    assert (model.overrides, model.augment, half_rate) == (plain.overrides, True, rate)
    assert model.training_overrides == script.VARIANTS["half upright"][0].training_overrides


def test_the_network_variants_of_the_default_recipe_change_the_network_and_keep_half_upright(script):
    default_network = json.loads((script.BUNDLE / "configs" / "inference.json").read_text())["network_def"]
    changes = {
        "dropout, half upright": {"dropout": 0.2},
        "max orientation pool, half upright": {"orientation_pool": "max"},
        "wide head, half upright": {"block_inplanes": [1, 2, 4, 16]},
        "wide stem, half upright": {"block_inplanes": [2, 2, 4, 8]},
    }
    for name, change in changes.items():
        model, rate = script.VARIANTS[name]
        assert model.overrides == {"network_def": {**default_network, **change}} and rate == 0.001
        assert model.training_overrides == {"rotation_prob": 0.5} and model.augment


def test_the_recipe_variants_of_the_default_recipe_keep_the_network_and_half_upright(script):
    changes = {
        "label smoothing, half upright": {"loss#label_smoothing": 0.1},
        "weight averaging, half upright": {"weight_averaging_decay": 0.995},
    }
    for name, change in changes.items():
        model, rate = script.VARIANTS[name]
        assert model.overrides == {} and rate == 0.001 and model.augment
        assert model.training_overrides == {"rotation_prob": 0.5, **change}
    # the averaging variant is the earlier one's option on the default recipe, not a second setting
    assert script.VARIANTS["weight averaging"][0].training_overrides == {"weight_averaging_decay": 0.995}
