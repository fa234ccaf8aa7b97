from __future__ import annotations

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
