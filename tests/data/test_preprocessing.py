from __future__ import annotations

import pytest
import torch

from monai_sre.data import SimpleITKReader, classification_preprocessing


def test_mr_preset_resamples_isotropically_and_normalises(anatomical_nii):
    out = classification_preprocessing("mr", spacing=1.0, spatial_size=48)({"image": str(anatomical_nii)})["image"]
    assert out.shape == (1, 48, 48, 48)
    assert out.min() >= -1 and out.max() <= 1 and out.max() > 0.9


def test_ct_preset_windows_hounsfield_units_on_a_real_series(ct_series):
    preset = classification_preprocessing(
        "ct", spacing=2.0, spatial_size=16, reader=SimpleITKReader(), random_rotation=True
    )
    out = preset({"image": str(ct_series)})["image"]
    assert out.shape == (1, 16, 16, 16) and isinstance(out, torch.Tensor)
    assert out.min() >= -1 and out.max() <= 1


def test_crop_after_rotation_and_meta_for_savers(anatomical_nii):
    preset = classification_preprocessing("mr", spacing=2.0, spatial_size=28, random_rotation=True, crop_size=16,
                                          track_meta=True)  # fmt: skip
    out = preset({"image": str(anatomical_nii)})["image"]
    assert out.shape == (1, 16, 16, 16)
    assert out.meta["filename_or_obj"].endswith("anatomical.nii")


def test_rotation_prob_rotates_that_share_of_samples_and_leaves_the_others_upright(anatomical_nii):
    upright = classification_preprocessing("mr", spacing=2.0, spatial_size=28, crop_size=16)
    expected = upright({"image": str(anatomical_nii)})["image"]
    for prob, upright_share in ((0.0, 1.0), (0.5, None), (1.0, 0.0)):
        preset = classification_preprocessing("mr", spacing=2.0, spatial_size=28, random_rotation=True, crop_size=16,
                                              rotation_prob=prob)  # fmt: skip
        preset.set_random_state(seed=0)
        kept = [torch.equal(preset({"image": str(anatomical_nii)})["image"], expected) for _ in range(12)]
        if upright_share is None:
            assert 0 < sum(kept) < len(kept)  # some rotated, some upright (seeded)
        else:
            assert sum(kept) == upright_share * len(kept)


def test_a_rotation_prob_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match=r"rotation_prob must be a probability in \[0, 1\], got 1\.5"):
        classification_preprocessing(random_rotation=True, rotation_prob=1.5)
