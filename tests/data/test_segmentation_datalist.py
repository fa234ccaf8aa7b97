from __future__ import annotations

import json
import re
import shutil

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from monai_sre.data.segmentation_datalist import load_segmentation_datalist


def _labels(intensities: np.ndarray) -> np.ndarray:
    """Classes 0/1/2 from a volume's intensities (below the 60th percentile, to the 85th, above)."""
    return np.digitize(intensities, np.percentile(intensities, [60, 85])).astype(np.uint8)


def _sitk_copy(array_xyz: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_xyz.transpose(2, 1, 0)))
    image.CopyInformation(reference)
    return image


@pytest.fixture
def volumes(tmp_path, anatomical_nii):
    """The real T1 as ``t1.nii`` and ``t1.nrrd`` (SimpleITK) with label maps derived from it: ``seg.nii.gz`` (uint8,
    nibabel, the image's affine) and ``seg.mha`` (SimpleITK); returns ``(folder, image, labels)``."""
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    image = nib.load(tmp_path / "t1.nii")
    labels = _labels(np.asarray(image.dataobj))
    nib.save(nib.Nifti1Image(labels, image.affine), tmp_path / "seg.nii.gz")
    t1 = sitk.ReadImage(str(tmp_path / "t1.nii"))
    sitk.WriteImage(_sitk_copy(np.asarray(image.dataobj).astype(np.int16), t1), str(tmp_path / "t1.nrrd"))
    sitk.WriteImage(_sitk_copy(labels, t1), str(tmp_path / "seg.mha"))
    return tmp_path, image, labels


def _write_json(folder, *entries, key="training"):
    (folder / "data.json").write_text(json.dumps({key: list(entries)}))
    return folder / "data.json"


def test_good_json_datalist_loads_with_absolute_paths_across_formats(volumes):
    folder, _, _ = volumes
    pairs = [("t1.nii", "seg.nii.gz"), ("t1.nrrd", "seg.mha"), ("t1.nii", "seg.mha"), ("t1.nrrd", "seg.nii.gz")]
    entries = [{"image": image, "label": label, "subject": "s1"} for image, label in pairs]
    items = load_segmentation_datalist(_write_json(folder, *entries), num_classes=3)
    expected = [{"image": str(folder / i), "label": str(folder / seg), "subject": "s1"} for i, seg in pairs]
    assert items == expected  # NIfTI (nibabel) and NRRD/MHA (SimpleITK) grids compare in one convention


def test_good_csv_with_a_split_column_and_base_dir(volumes):
    folder, _, _ = volumes
    (folder / "lists").mkdir()
    rows = "image,label,split\nt1.nii,seg.nii.gz,train\nt1.nrrd,seg.mha,val\nt1.nii,seg.mha,train\n"
    (folder / "lists" / "data.csv").write_text(rows)
    training = load_segmentation_datalist(folder / "lists" / "data.csv", base_dir=folder, num_classes=3)
    assert [(r["image"], r["label"]) for r in training] == [
        (str(folder / "t1.nii"), str(folder / "seg.nii.gz")),
        (str(folder / "t1.nii"), str(folder / "seg.mha")),
    ]
    validation = load_segmentation_datalist(folder / "lists" / "data.csv", "validation", base_dir=folder)
    assert validation == [{"image": str(folder / "t1.nrrd"), "label": str(folder / "seg.mha"), "split": "val"}]


def test_a_dicom_series_with_label_maps_written_by_both_readers(tmp_path, ct_series):
    series = sitk.ImageSeriesReader()
    series.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(ct_series)))
    ct = series.Execute()
    labels = _sitk_copy(_labels(sitk.GetArrayFromImage(ct).transpose(2, 1, 0)), ct)
    sitk.WriteImage(labels, str(tmp_path / "seg.nrrd"))
    sitk.WriteImage(labels, str(tmp_path / "seg.nii.gz"))  # read back with nibabel: RAS, as the series is compared
    entries = [{"image": str(ct_series), "label": "seg.nrrd"}, {"image": str(ct_series), "label": "seg.nii.gz"}]
    assert len(load_segmentation_datalist(_write_json(tmp_path, *entries), num_classes=3)) == 2


def _shifted(image, labels):
    affine = image.affine.copy()
    affine[2, 3] += 2.0  # one voxel along z
    return nib.Nifti1Image(labels, affine)


def _respaced(image, labels):
    affine = image.affine.copy()
    affine[2, 2] = 2.2
    return nib.Nifti1Image(labels, affine)


def _outside(image, labels):
    labels = labels.copy()
    labels[0, 0, :2] = (3, 7)
    return nib.Nifti1Image(labels, image.affine)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda im, lab: nib.Nifti1Image(lab[:, :, :-1], im.affine),
            r"label map of 33x41x24 voxels, image of 33x41x25",
        ),
        (
            _shifted,
            r"geometry differs from the image's: origin \(32, -40, -14\) vs the image's \(32, -40, -16\) mm \(RAS\)",
        ),
        (_respaced, r"geometry differs from the image's: spacing \(2, 2, 2.2\) vs the image's \(2, 2, 2\) mm;"),
        (_outside, r"label values \[3, 7\] outside 0..2 \(num_classes 3\)"),
        (lambda im, lab: nib.Nifti1Image(lab * np.float32(0.5), im.affine), r"not integers .*e.g. 0.5: interpolated"),
        (lambda im, lab: nib.Nifti1Image(np.zeros_like(lab), im.affine), r"label map empty: no foreground voxel"),
        (lambda im, lab: nib.Nifti1Image(np.stack([lab, lab], -1), im.affine), r"label map: 2 channels or time"),
    ],
    ids=["shape", "origin", "spacing", "outside", "fractions", "empty", "4d"],
)
def test_a_bad_label_map_is_refused_and_named(volumes, make, message):
    folder, image, labels = volumes
    nib.save(make(image, labels), folder / "bad.nii.gz")
    path = _write_json(folder, {"image": "t1.nii", "label": "seg.nii.gz"}, {"image": "t1.nii", "label": "bad.nii.gz"})
    pattern = r"1 of 2 entries of datalist '.*data.json' \(training\) cannot be used:\n  - entry 1: image '.*t1.nii', "
    with pytest.raises(ValueError, match=rf"{pattern}label '.*bad.nii.gz': .*{message}"):
        load_segmentation_datalist(path, num_classes=3)


def test_truncated_and_missing_label_maps_and_missing_keys(volumes, truncate):
    folder, _, _ = volumes
    truncate(folder / "seg.nii.gz", folder / "cut.nii.gz")
    for entry, message in [
        ({"image": "t1.nii", "label": "cut.nii.gz"}, r"label '.*cut.nii.gz': label map: truncated: its image data"),
        ({"image": "t1.nii", "label": "gone.nii.gz"}, r"label '.*gone.nii.gz': label map: not found"),
        ({"image": "t1.nii"}, r"needs 'image' and 'label', got \['image'\]"),
    ]:
        with pytest.raises(ValueError, match=rf"^1 of 1 entry .*:\n  - entry 0: .*{message}"):
            load_segmentation_datalist(_write_json(folder, entry))


def test_every_bad_entry_is_named_in_one_error(volumes, truncate):
    folder, image, labels = volumes
    truncate(folder / "t1.nii", folder / "cut_t1.nii.gz")
    nib.save(_outside(image, labels.astype(np.float32) * np.float32(0.5)), folder / "worse.nii.gz")
    nib.save(nib.Nifti1Image(labels[:, :, :-1], image.affine), folder / "short.nii.gz")
    entries = [
        {"image": "t1.nii", "label": "seg.nii.gz"},
        {"image": "cut_t1.nii.gz", "label": "gone.nii.gz"},
        {"image": "t1.nrrd", "label": "seg.mha"},
        {"image": "t1.nrrd", "label": "worse.nii.gz"},
        {"label": "seg.nii.gz"},
        {"image": "t1.nii", "label": "short.nii.gz"},
    ]
    with pytest.raises(ValueError) as raised:
        load_segmentation_datalist(_write_json(folder, *entries), num_classes=3)
    lines = str(raised.value).splitlines()
    assert re.match(r"4 of 6 entries of datalist '.*data.json' \(training\) cannot be used:$", lines[0])
    assert [line.split(":")[0] for line in lines[1:]] == [f"  - entry {i}" for i in (1, 3, 4, 5)]
    assert f"image '{folder / 'cut_t1.nii.gz'}', label '{folder / 'gone.nii.gz'}': image: truncated" in lines[1]
    assert "label map: not found" in lines[1]  # every reason of an entry, the image's and the label map's
    assert f"image '{folder / 't1.nrrd'}', label '{folder / 'worse.nii.gz'}': label values not integers" in lines[2]
    assert "label values [3, 7] outside 0..2" in lines[2]
    assert "needs 'image' and 'label'" in lines[3] and f"label '{folder / 'short.nii.gz'}'" in lines[4]
    # without reading images, only missing files are refused
    assert len(load_segmentation_datalist(_write_json(folder, entries[0], entries[3]), check_images=False)) == 2
    with pytest.raises(ValueError, match=r"^1 of 2 entries .*\n  - entry 1: .*gone.nii.gz': label not found\.$"):
        load_segmentation_datalist(_write_json(folder, entries[0], entries[1]), check_images=False)


def test_malformed_datalists(tmp_path):
    for path in (None, ""):
        with pytest.raises(ValueError, match="no datalist given"):
            load_segmentation_datalist(path)
    with pytest.raises(FileNotFoundError, match="datalist not found: '.*none.json'"):
        load_segmentation_datalist(tmp_path / "none.json")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="'.*a.json' is not valid JSON"):
        load_segmentation_datalist(tmp_path / "a.json")
    with pytest.raises(ValueError, match=r"'.*data.json' \(validation\) has no entries"):
        load_segmentation_datalist(_write_json(tmp_path, key="validation"), "validation")
    (tmp_path / "c.csv").write_text("image,mask\nx.nii,y.nii\n")
    with pytest.raises(ValueError, match=r"needs 'image' and 'label' columns, got \['image', 'mask'\]"):
        load_segmentation_datalist(tmp_path / "c.csv")
    with pytest.raises(ValueError, match="num_classes must be a positive int or None, got 0"):
        load_segmentation_datalist(tmp_path / "c.csv", num_classes=0)
