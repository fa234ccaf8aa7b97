from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from monai.transforms import LoadImage

from monai_sre.data import SimpleITKReader, check_image_readable


def _load(path, reader):
    return LoadImage(reader=reader, image_only=True)(str(path))


def test_simpleitk_reader_matches_nibabel_on_a_real_nifti(anatomical_nii):
    ours, theirs = _load(anatomical_nii, SimpleITKReader()), _load(anatomical_nii, "NibabelReader")
    assert ours.shape == theirs.shape == (33, 41, 25)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_allclose(ours.affine, theirs.affine)


def test_simpleitk_and_itk_readers_agree_on_a_real_dicom_series(ct_series):
    ours, theirs = _load(ct_series, SimpleITKReader()), _load(ct_series, "ITKReader")
    assert ours.shape == (16, 16, 5)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_allclose(ours.affine, theirs.affine)
    assert check_image_readable(ct_series) == (16, 16, 5)


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_itk_reader_reads_nrrd_and_mha_of_real_anatomy(anatomical_nii, tmp_path, suffix):
    converted = tmp_path / f"anatomical{suffix}"
    sitk.WriteImage(sitk.ReadImage(str(anatomical_nii)), str(converted))
    reference = _load(anatomical_nii, "NibabelReader")
    for reader in ("ITKReader", SimpleITKReader()):
        image = _load(converted, reader)
        np.testing.assert_allclose(np.asarray(image), np.asarray(reference))
        np.testing.assert_allclose(image.affine, reference.affine, atol=1e-5)


def test_unreadable_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="image not found: '.*missing.nii.gz'"):
        check_image_readable(tmp_path / "missing.nii.gz")
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b definitely not a volume")
    with pytest.raises(ValueError, match="cannot read image '.*corrupt.nii.gz'"):
        check_image_readable(corrupt)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no dicom here")
    with pytest.raises(ValueError, match="cannot read image '.*empty': no DICOM series"):
        check_image_readable(tmp_path / "empty")
