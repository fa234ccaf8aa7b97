"""Every classification bundle rotates its training samples the same way: ``--augment_rotation`` switches the random
SO(3) rotation on or off, ``--rotation_prob`` is the share of samples it rotates (the others stay upright)."""

from __future__ import annotations

import json

import pytest
from monai.bundle import ConfigParser

from monai_sre.transforms import RandSO3RotateCropd
from tests.bundles.conftest import REPO, TRAIN, assert_fails_with, bundle_config
from tests.bundles.test_weight_averaging_option import CLASSIFICATION_BUNDLES


def _rotation(bundle: str, **overrides) -> RandSO3RotateCropd:
    parser = ConfigParser()
    parser.read_config(bundle_config(bundle, *TRAIN))
    parser.update({"bundle_root": str(REPO / "bundles" / bundle), **overrides})
    (rotation,) = [t for t in parser.get_parsed_content("train#preprocessing").transforms
                   if isinstance(t, RandSO3RotateCropd)]  # fmt: skip
    return rotation


@pytest.mark.parametrize("bundle", CLASSIFICATION_BUNDLES)
def test_rotation_prob_sets_the_share_of_rotated_training_samples(bundle):
    default = json.loads((REPO / "bundles" / bundle / "configs" / "train.json").read_text())["rotation_prob"]
    augmented = _rotation(bundle, augment_rotation=True).prob
    assert augmented == default
    assert _rotation(bundle, augment_rotation=True, rotation_prob=0.25).prob == 0.25
    assert _rotation(bundle, augment_rotation="true", rotation_prob="0.75").prob == 0.75  # the command line's strings
    if bundle != "sre_classification":  # there augment_rotation false leaves the rotation out of the pipeline
        assert _rotation(bundle, augment_rotation="false", rotation_prob=0.25).prob == 0.0
    assert_fails_with(ValueError, r"--rotation_prob must be a probability in \[0, 1\], got 1\.5", _rotation, bundle,
                      augment_rotation=True, rotation_prob=1.5)  # fmt: skip
