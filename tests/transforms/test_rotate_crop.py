"""The old module of the fused rotation + crop: every name resolves to its new home, with one warning."""

from __future__ import annotations

import importlib

import pytest

from monai_sre import deprecation, transforms

NEW_HOMES = {
    "RandSO3RotateCrop": "monai_sre.transforms.array",
    "RandSO3RotateCropD": "monai_sre.transforms.dictionary",
    "RandSO3RotateCropDict": "monai_sre.transforms.dictionary",
    "RandSO3RotateCropd": "monai_sre.transforms.dictionary",
    "inverse_rotate_crop": "monai_sre.transforms.functional",
    "rotate_crop": "monai_sre.transforms.functional",
    "grid_theta": "monai_sre.transforms.geometry",
    "resample": "monai_sre.transforms.geometry",
    "resolve_roi_size": "monai_sre.transforms.geometry",
    "rotate_crop_index_map": "monai_sre.transforms.geometry",
}


@pytest.mark.parametrize("name, module", sorted(NEW_HOMES.items()))
def test_old_names_warn_once_and_resolve_to_the_new_objects(name, module, monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    old = importlib.import_module("monai_sre.transforms.rotate_crop")
    with pytest.warns(FutureWarning, match=rf"rotate_crop\.{name} is deprecated .* use {module}\.{name}"):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(module), name)
    if hasattr(transforms, name):  # the package-level names are unchanged
        assert getattr(transforms, name) is value


def test_from_import_of_the_old_module_still_works(recwarn):
    from monai_sre.transforms.rotate_crop import RandSO3RotateCropd

    assert RandSO3RotateCropd is transforms.RandSO3RotateCropd
    with pytest.raises(ImportError):
        from monai_sre.transforms.rotate_crop import Missing  # noqa: F401


def test_the_package_rotate_crop_stays_the_function():
    """The deprecated module shares the function's name: loading it must not replace the function in the package."""
    importlib.import_module("monai_sre.transforms.rotate_crop")
    assert callable(transforms.rotate_crop) and transforms.rotate_crop.__module__ == "monai_sre.transforms.functional"
