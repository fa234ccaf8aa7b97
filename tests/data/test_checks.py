from __future__ import annotations

import re
import shutil

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from monai_sre.data import VolumeCheck, VolumeInfo, check_image_readable, check_volume, check_volumes


def _nifti(path, data, affine=None):
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)
    return path


@pytest.fixture
def anatomical(anatomical_nii):
    """The real T1 volume's voxels (33 x 41 x 25, int16) and affine."""
    image = nib.load(anatomical_nii)
    return np.asarray(image.dataobj), image.affine


def test_good_volumes_report_shape_spacing_and_range(tmp_path, anatomical_nii, ct_series):
    info = check_volume(anatomical_nii)
    assert isinstance(info, VolumeInfo)
    assert info.shape == (33, 41, 25) and info.channels == 1 and info.spacing == (2.0, 2.0, 2.0)
    assert (info.minimum, info.maximum) == (-610.0, 30393.0)
    # the same voxels through SimpleITK (MHA, NRRD) and through nibabel's gzip stream
    image = sitk.ReadImage(str(anatomical_nii))
    for name in ("t1.mha", "t1.nrrd", "t1.nii.gz"):
        sitk.WriteImage(image, str(tmp_path / name), useCompression=name.endswith(".gz"))
        assert check_volume(tmp_path / name).shape == (33, 41, 25), name
    series = check_volume(ct_series)
    assert series.shape == (16, 16, 5) and series.spacing[2] == pytest.approx(2.5)
    # NIfTI is checked in its stored type (no float64 copy of a large CT); the range reported is scaled
    scaled = nib.Nifti1Image(np.asarray(nib.load(anatomical_nii).dataobj), np.eye(4))
    scaled.header.set_slope_inter(-0.5, 100.0)
    nib.save(scaled, tmp_path / "scaled.nii.gz")
    info = check_volume(tmp_path / "scaled.nii.gz")
    assert info.dtype == "int16" and (info.minimum, info.maximum) == (-0.5 * 30393 + 100, -0.5 * -610 + 100)


@pytest.mark.parametrize("name", ["t1.nii.gz", "t1.nii"])
def test_truncated_nifti_passes_the_header_check_but_not_the_full_read(tmp_path, anatomical_nii, truncate, name):
    """Half a file still has its header: the header check passes and the full read names the file (ITK would read
    it without an error and fill the missing half with garbage, so NIfTI is read with nibabel, as LoadImage does)."""
    path = truncate(anatomical_nii, tmp_path / name)
    assert check_image_readable(path) == (33, 41, 25)
    pattern = rf"cannot use image '{re.escape(str(path))}': truncated: its image data end early .*complete NIfTI file"
    with pytest.raises(ValueError, match=pattern):
        check_volume(path)


def _write(kind: str, folder, anatomical_nii, anatomical, example4d_nii, dicom_files, truncate):
    """A bad input of the given kind; returns its path and a pattern for the reason."""
    data, affine = anatomical
    if kind == "truncated_mha":
        path = folder / "t1.mha"
        sitk.WriteImage(sitk.ReadImage(str(anatomical_nii)), str(path))
        truncate(path, path)
        return path, r"image data unreadable \(truncated, damaged.*expected a complete MetaImage file"
    if kind == "truncated_nrrd":
        path = folder / "t1.nrrd"
        sitk.WriteImage(sitk.ReadImage(str(anatomical_nii)), str(path), useCompression=True)
        truncate(path, path)
        return path, r"truncated: its image data end early \(expected 67650 bytes.*expected a complete NRRD file"
    if kind == "4d":
        path = shutil.copy(example4d_nii, folder / "fmri.nii.gz")
        return path, r"2 channels or time points \(a 4D image, 128x96x24x2\); expected a single 3D volume"
    if kind == "2d":
        path = _nifti(folder / "slice.nii.gz", data[:, :, 12], affine)
        return path, r"a 2D image \(33x41\); expected a single 3D volume"
    if kind == "single_slice_dicom":
        return dicom_files / "CT_small.dcm", r"a single slice \(128x128x1 voxels: one along axis 2\); expected a 3D"
    if kind == "multi_component":
        path = folder / "vector.mha"
        image = sitk.ReadImage(str(anatomical_nii))
        sitk.WriteImage(sitk.Compose([image, image]), str(path))
        return path, r"2 channels or time points \(a multi-component image, 33x41x25 with 2 components per voxel\)"
    if kind == "nan":
        values = data.astype(np.float32)
        values[10:12, 20, 12] = np.nan
        values[0, 0, 0] = -np.inf
        path = _nifti(folder / "nan.nii.gz", values, affine)
        return path, r"2 NaN and 1 infinite values among its 33,825 voxels; expected finite intensities"
    if kind == "blank":
        path = _nifti(folder / "blank.nii.gz", np.zeros_like(data), affine)
        return path, r"blank: all its 33,825 finite voxels are 0; expected varying intensities"
    if kind == "text":
        path = folder / "notes.nii.gz"
        path.write_text("subject 12: rescan requested\n")
        return path, r"text, not image data \(it starts 'subject 12: rescan requested'\); expected a complete NIfTI"
    if kind == "empty":
        path = folder / "empty.mha"
        path.write_bytes(b"")
        return path, r"empty \(0 bytes\); expected a complete MetaImage file"
    if kind == "damaged_dicom":
        path = truncate(dicom_files / "CT_small.dcm", folder / "ct.dcm", 0.3)
        return path, r"not an image that any reader recognises \(damaged, or of another type\); expected .*DICOM"
    raise AssertionError(kind)


BAD_FILES = [
    "truncated_mha",
    "truncated_nrrd",
    "4d",
    "2d",
    "single_slice_dicom",
    "multi_component",
    "nan",
    "blank",
    "text",
    "empty",
    "damaged_dicom",
]


@pytest.mark.parametrize("kind", BAD_FILES)
def test_each_bad_file_is_named_with_the_reason_and_what_was_expected(
    tmp_path, anatomical_nii, anatomical, example4d_nii, dicom_files, truncate, kind
):
    path, reason = _write(kind, tmp_path, anatomical_nii, anatomical, example4d_nii, dicom_files, truncate)
    with pytest.raises(ValueError, match=rf"^cannot use image '{re.escape(str(path))}': {reason}"):
        check_volume(path)


@pytest.mark.parametrize(
    "series, reason",
    [
        ("77654033/CT2", r"4 slices are unevenly spaced \(1.25 to 202.50 mm apart.*missing or duplicated"),
        ("98892003/MR700", r"7 slices have 7 different orientations .*expected one orientation for every slice"),
        ("98892003/MR2", r"3 DICOM series in one folder \(3, 3, 1 slices\); expected one"),
        ("98892003", r"no DICOM series in the folder; expected a folder holding one DICOM series"),
    ],
)
def test_bad_dicom_series_folders_are_named(dicom_files, series, reason):
    folder = dicom_files / "dicomdirtests" / series
    with pytest.raises(ValueError, match=rf"cannot use image '{re.escape(str(folder))}': .*{reason}"):
        check_volume(folder)


def test_a_damaged_slice_is_not_silently_left_out_of_its_series(tmp_path, ct_series, truncate):
    """GDCM drops a slice it cannot parse from the series without a word (the rest reads as 4 slices)."""
    folder = shutil.copytree(ct_series, tmp_path / "series")
    truncate(ct_series / "2693", folder / "2693", 0.9)
    with pytest.raises(ValueError, match=r"DICOM file\(s\) '2693' in the folder cannot be read as slices"):
        check_volume(folder)


def test_options_accept_what_the_defaults_reject(tmp_path, example4d_nii, anatomical):
    assert check_volume(example4d_nii, channels=None).channels == 2
    assert check_volume(example4d_nii, channels=2).shape == (128, 96, 24)
    with pytest.raises(ValueError, match=r"1 channels or time points \(a single-channel image, 33x41x25\); expected a"):
        check_volume(_nifti(tmp_path / "t1.nii.gz", *anatomical), channels=2)
    blank = _nifti(tmp_path / "blank.nii.gz", np.full((4, 5, 6), 7, np.uint8))
    assert check_volume(blank, allow_constant=True).minimum == 7.0
    assert check_volume(_nifti(tmp_path / "slice.nii.gz", anatomical[0][:, :, 3]), spatial_dims=2).shape == (33, 41)
    with pytest.raises(FileNotFoundError, match=r"image not found: '.*gone.nii.gz'; expected an image file or"):
        check_volume(tmp_path / "gone.nii.gz")


def test_a_mixed_folder_keeps_the_good_volumes_and_names_every_bad_one(
    tmp_path, anatomical_nii, anatomical, example4d_nii, dicom_files, ct_series, truncate
):
    good = [str(shutil.copy(anatomical_nii, tmp_path / "a.nii")), str(ct_series)]
    bad = {}
    for kind in ("4d", "nan", "text", "truncated_mha"):
        path, reason = _write(kind, tmp_path, anatomical_nii, anatomical, example4d_nii, dicom_files, truncate)
        bad[str(path)] = reason
    bad[str(truncate(anatomical_nii, tmp_path / "cut.nii.gz"))] = "truncated: its image data end early"
    bad[str(tmp_path / "gone.nii.gz")] = "not found; expected an image file or a folder holding one DICOM series"
    paths = [good[0], *bad, good[1]]
    items = [{"image": path, "id": index} for index, path in enumerate(paths)]

    result = check_volumes(items, on_error="return")
    assert isinstance(result, VolumeCheck)
    assert result.good == [items[0], items[-1]]  # the items themselves, in order
    assert [path for path, _ in result.bad] == list(bad)
    for path, reason in result.bad:
        assert re.match(bad[path], reason), (path, reason)
    good_paths, bad_paths = check_volumes(paths, on_error="return")  # plain paths; unpacks as a pair
    assert good_paths == good and len(bad_paths) == 6

    with pytest.raises(ValueError, match=r"^6 of 8 volumes cannot be used:\n") as raised:
        check_volumes(items)
    message = str(raised.value)
    assert all(f"  - '{path}': " in message for path in bad) and good[0] not in message
    assert check_volumes(good) == VolumeCheck(good, [])


def test_check_volumes_rejects_malformed_items(tmp_path, anatomical_nii):
    with pytest.raises(ValueError, match=r"item 1 has no 'image' \(the image path\); it has \['path'\]"):
        check_volumes([{"image": str(anatomical_nii)}, {"path": "x.nii"}])
    with pytest.raises(ValueError, match="on_error must be .raise. or .return., got .ignore."):
        check_volumes([str(anatomical_nii)], on_error="ignore")
    assert check_volumes(anatomical_nii).good == [anatomical_nii]  # one path is one item
