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
    # --models "plain light, SO(3)" (the README's command) does not pull in the 48x evaluation
    assert [name for name in models if "plain light, SO(3)" in name] == ["plain light, SO(3) augmentation"]
