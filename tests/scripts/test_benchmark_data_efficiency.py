"""The tissue comparison's model list: what ``--models`` selects and how the grid-averaged model is built."""

from __future__ import annotations

import pytest

from monai_sre.comparison import Comparison

AVERAGED = "plain light + grid averaging, SO(3) augmentation"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmark_data_efficiency")


def test_the_grid_averaged_model_evaluates_plain_light_with_augmentation(script, tmp_path):
    models = {m.name: m for m in script.MODELS}
    averaged = models[AVERAGED]
    source = models[averaged.trained_as]
    assert source.name == "plain light, SO(3) augmentation" and source.augment and averaged.augment
    assert averaged.overrides == {**source.overrides, "grid_average": True}
    # the comparison accepts the list as the script builds it (trained_as names a model that trains itself)
    Comparison(script.BUNDLE, tmp_path, script.MODELS, fractions=[1.0], seeds=[0], protocols=["haar-64"])
    # --models "plain light, SO(3) augmentation" (docs/comparison.md's command): that model alone, a full name
    # selecting only itself; a part of names selects every model it is part of
    assert [name for name in models if script._selects("plain light, SO(3) augmentation", name)] == [
        "plain light, SO(3) augmentation"
    ]
    assert [name for name in models if script._selects("half upright", name)] == [
        "group light (O, regular), SO(3) augmentation, half upright",
        "plain light, SO(3) augmentation, half upright",
    ]


def test_every_augmented_recipe_states_its_share_of_rotated_patches(script):
    """The rows keep their meaning whatever the bundle's default ``rotation_prob``: every run gets ``ALL_ROTATED``,
    and the half-upright models override it for training."""
    half = [m for m in script.MODELS if m.training_overrides]
    assert script.common_overrides(None) == {"rotation_prob": 1.0}
    assert script.common_overrides("cuda") == {"rotation_prob": 1.0, "device": "$torch.device('cuda')"}
    assert [m.training_overrides for m in half] == [{"rotation_prob": 0.5}] * 2
    assert all(m.name.endswith(", half upright") and m.augment for m in half)
