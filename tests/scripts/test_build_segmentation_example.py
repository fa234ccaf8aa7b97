from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")
pytest.importorskip("scipy")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_segmentation_example.py"
KEYS = ("training", "validation", "test")
PATIENTS = {"brain1", "brain2", "breast1", "lung1", "lung2"}


def _nilearn_template_present() -> bool:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        return False
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return all((data / f"mni_icbm152_{n}_tal_nlin_sym_09a_converted.nii.gz").is_file() for n in ("t1", "gm", "wm"))


def _datalist(folder: Path) -> dict[str, list[dict]]:
    content = json.loads((folder / "datalist.json").read_text())
    return {key: content[key] for key in KEYS}


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("build_segmentation_example")


@pytest.fixture(scope="module")
def tissue_example(script, tmp_path_factory):
    """The tissue example, written once by the command line (in this process)."""
    if not _nilearn_template_present():
        pytest.skip("nilearn's MNI ICBM152 2009 files are not installed (`pip install --no-deps nilearn`).")
    output = tmp_path_factory.mktemp("seg_tissue") / "example"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [str(SCRIPT), "--output", str(output)])
        script.main()
    return output


@pytest.fixture(scope="module")
def tissue_volumes(tissue_example):
    """Per split, ``(image, label)`` nibabel images of its slabs; and the whole volume's pair."""
    out = {key: [] for key in KEYS}
    for key, items in _datalist(tissue_example).items():
        for item in items:
            out[key].append((nib.load(tissue_example / item["image"]), nib.load(tissue_example / item["label"])))
    whole = tuple(nib.load(tissue_example / "whole_brain" / f"mni152_t1_2mm{s}.nii.gz") for s in ("", "_label"))
    return out, whole


def _y_extent(image) -> tuple[float, float]:
    """World y (mm) of the slab's posterior and anterior faces (voxel boundaries, not centres)."""
    n = image.shape[1]
    ys = [(image.affine @ [0, j, 0, 1])[1] for j in (-0.5, n - 0.5)]
    return min(ys), max(ys)


def test_tissue_datalists_classes_summary_and_notice(tissue_example, script):
    datalist = _datalist(tissue_example)
    assert [len(datalist[k]) for k in KEYS] == [2, 1, 1]
    with (tissue_example / "datalist.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{**item, "split": key} for key in KEYS for item in datalist[key]]
    for item in (i for items in datalist.values() for i in items):
        assert not Path(item["image"]).is_absolute()
        assert (tissue_example / item["image"]).is_file() and (tissue_example / item["label"]).is_file()
        assert item["image"].endswith("_image.nii.gz") and item["label"] == item["image"].replace("_image", "_label")
    # every volume written is in the datalist, except the whole brain
    listed = {i[k] for items in datalist.values() for i in items for k in ("image", "label")}
    written = {str(p.relative_to(tissue_example)) for p in tissue_example.glob("*/*.nii.gz")}
    assert written - listed == {"whole_brain/mni152_t1_2mm.nii.gz", "whole_brain/mni152_t1_2mm_label.nii.gz"}
    assert json.loads((tissue_example / "classes.json").read_text()) == [
        "background",
        "csf",
        "grey_matter",
        "white_matter",
    ]
    notice = (tissue_example / "NOTICE").read_text(encoding="utf-8")
    assert "Copyright (C) 1993–2004 Louis Collins, McConnell Brain Imaging Centre" in notice
    assert "nilearn" in notice and "BSD" in notice
    summary = json.loads((tissue_example / "summary.json").read_text(encoding="utf-8"))
    assert "in no split" in summary["whole_brain"]["note"]
    assert summary["spacing_mm"] == [2.0, 2.0, 2.0] and summary["shape"] == [98, 116, 94]
    assert min(summary["gap_planes"].values()) >= script.MIN_GAP


def test_the_example_shipped_in_the_bundle_is_the_scripts_output(tissue_example):
    """bundles/sre_segmentation/data/tissue_example (the bundle's default datalist and the data of its weights) is
    what the script writes: the same files, datalists and voxels on the same grids."""
    shipped = REPO / "bundles" / "sre_segmentation" / "data" / "tissue_example"
    files = sorted(str(p.relative_to(tissue_example)) for p in tissue_example.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file())
    for name in ("datalist.json", "datalist.csv", "classes.json", "NOTICE"):
        assert (shipped / name).read_text() == (tissue_example / name).read_text(), name
    for name in (f for f in files if f.endswith(".nii.gz")):
        built, ship = nib.load(tissue_example / name), nib.load(shipped / name)
        np.testing.assert_array_equal(np.asarray(ship.dataobj), np.asarray(built.dataobj), err_msg=name)
        np.testing.assert_array_equal(ship.affine, built.affine, err_msg=name)


def test_tissue_label_maps_match_their_images(tissue_volumes):
    per_split, whole = tissue_volumes
    for image, label in [pair for pairs in per_split.values() for pair in pairs] + [whole]:
        assert image.shape == label.shape
        np.testing.assert_array_equal(image.affine, label.affine)
        assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
        np.testing.assert_allclose(image.header.get_zooms(), [2.0, 2.0, 2.0])
        labels = np.asanyarray(label.dataobj)
        assert labels.dtype == np.uint8 and set(np.unique(labels).tolist()) <= {0, 1, 2, 3}


def test_every_class_in_every_split_with_a_reasonable_count(tissue_example, tissue_volumes):
    per_split, _ = tissue_volumes
    summary = json.loads((tissue_example / "summary.json").read_text(encoding="utf-8"))
    for key in KEYS:
        counts = sum(np.bincount(np.asanyarray(label.dataobj).reshape(-1), minlength=4) for _, label in per_split[key])
        assert counts.min() >= 1000, (key, counts)
        assert list(summary["splits"][key]["voxels_per_class"].values()) == counts.tolist()
    for _, label in per_split["validation"] + per_split["test"]:
        assert label.shape[1] >= 16


def test_splits_are_disjoint_in_world_space_with_the_gap(tissue_volumes):
    per_split, _ = tissue_volumes
    slabs = sorted((*_y_extent(label), key) for key, pairs in per_split.items() for _, label in pairs)
    assert [key for *_, key in slabs] == ["training", "validation", "test", "training"]  # posterior to anterior
    for (_, high, key0), (low, _, key1) in zip(slabs, slabs[1:]):
        assert key0 != key1
        assert low - high >= 8.0 - 1e-6, (key0, key1, low - high)  # at least 4 free 2 mm planes
    # every slab spans the whole volume across (x and z): only y differs from the whole volume's geometry
    for _, label in (pair for pairs in per_split.values() for pair in pairs):
        assert label.shape[0] == 98 and label.shape[2] == 94


def test_slabs_reassemble_the_whole_volume_at_their_positions(tissue_volumes):
    per_split, (whole_image, whole_label) = tissue_volumes
    labels, image = np.asanyarray(whole_label.dataobj), np.asanyarray(whole_image.dataobj)
    covered = np.zeros(labels.shape[1], int)
    for slab_image, slab_label in (pair for pairs in per_split.values() for pair in pairs):
        to_whole = np.linalg.inv(whole_label.affine) @ slab_label.affine  # slab voxel -> whole voxel
        np.testing.assert_allclose(to_whole[:3, :3], np.eye(3), atol=1e-6)
        offset = to_whole[:3, 3]
        np.testing.assert_allclose(offset, np.round(offset), atol=1e-6)
        x, y, z = np.round(offset).astype(int)
        assert x == z == 0
        n = slab_label.shape[1]
        np.testing.assert_array_equal(np.asanyarray(slab_label.dataobj), labels[:, y : y + n])
        np.testing.assert_array_equal(np.asanyarray(slab_image.dataobj), image[:, y : y + n])
        covered[y : y + n] += 1
    assert covered.max() == 1  # no plane in two slabs


def test_whole_volume_geometry_and_labels_agree_with_the_template_and_the_embedded_labels(tissue_volumes, load_script):
    from monai_sre.data.tissue_segmentation import TISSUE_SEGMENTATION_ASSET

    embedded_builder = load_script("build_embedded_dataset")
    _, (whole_image, whole_label) = tissue_volumes
    template = nib.load(embedded_builder.nilearn_data_dir() / embedded_builder.TEMPLATE.format("t1"))
    # a 2 mm voxel's centre is the mean of the centres of the eight 1 mm voxels it averages
    for index in ([0, 0, 0], [10, 57, 40], [97, 115, 93]):
        block = np.array([[2 * i + d for i, d in zip(index, ds)] for ds in np.ndindex(2, 2, 2)])
        expected = nib.affines.apply_affine(template.affine, block).mean(axis=0)
        np.testing.assert_allclose(nib.affines.apply_affine(whole_label.affine, index), expected)
    t1 = np.asanyarray(template.dataobj)[:196, :232, :188].astype(float)
    means = t1.reshape(98, 2, 116, 2, 94, 2).mean(axis=(1, 3, 5))
    assert np.abs(np.asanyarray(whole_image.dataobj) - means).max() <= 0.5 + 1e-9
    # the embedded segmentation labels (same grid, same brain mask) are sub-classes of these where set:
    # cortical and deep GM (GM > 0.6) are grey matter, WM > 0.8 white matter, internal CSF (GM, WM < 0.2) CSF
    labels = np.asanyarray(whole_label.dataobj)
    with np.load(TISSUE_SEGMENTATION_ASSET) as stored:
        embedded = stored["labels"]
    assert embedded.shape == labels.shape
    for theirs, ours in ((1, 2), (2, 2), (3, 3), (4, 1)):
        assert (labels[embedded == theirs] == ours).all(), theirs
    brain = labels > 0
    assert 0.5e6 < brain.sum() * 8 < 2.5e6  # the brain mask holds 0.5-2.5 litres (in mm^3)


def test_slab_rules_and_refusals(script, tissue_volumes, tmp_path):
    labels = np.asanyarray(tissue_volumes[1][1].dataobj)
    assert script.check_slabs(script.SLABS, labels) == {
        "training/validation": 4,
        "validation/test": 4,
        "test/training": 4,
    }
    bad = {
        "free planes": (("training", "a", 0, 37), ("validation", "b", 40, 55), ("test", "c", 60, 77)),
        "thick": (("training", "a", 0, 35), ("validation", "b", 40, 50), ("test", "c", 60, 77)),
        "no slab": (("training", "a", 0, 35), ("validation", "b", 40, 55)),
        "fewer than 1000 voxels": (("training", "a", 0, 35), ("validation", "b", 40, 55), ("test", "c", 100, 115)),
        "bounds": (("training", "a", 0, 35), ("validation", "b", 40, 55), ("test", "c", 60, 120)),
    }
    for message, slabs in bad.items():
        with pytest.raises(ValueError, match=message):
            script.check_slabs(slabs, labels)
    # a non-empty output is refused; --overwrite removes only what the script writes
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    (tmp_path / "out" / "train").mkdir()
    (tmp_path / "out" / "train" / "old_image.nii.gz").write_text("old")
    with pytest.raises(FileExistsError, match="--overwrite"):
        script.prepare_output(tmp_path / "out", overwrite=False)
    script.prepare_output(tmp_path / "out", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt", "test", "train", "validation"]
    assert not any((tmp_path / "out" / "train").iterdir())


# -- lesions -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lesion_sources(pyradiomics_sdist, load_script, tmp_path_factory):
    """The sdist, and its data/ and LICENSE.txt extracted into a folder."""
    pytest.importorskip("SimpleITK")
    folder = tmp_path_factory.mktemp("pyradiomics_data")
    load_script("build_classification_example")._extract_lesion_files(pyradiomics_sdist, folder)
    return pyradiomics_sdist, folder


@pytest.fixture(scope="module")
def lesion_example(lesion_sources, script, tmp_path_factory):
    """The default lesion example (fold 0), written from the sdist."""
    output = tmp_path_factory.mktemp("seg_lesions") / "example"
    script.build_lesion_example(lesion_sources[0], output)
    return output


def _patient(path: str) -> str:
    return Path(path).name.split("_")[0]


def test_lesion_splits_are_by_patient(lesion_example):
    datalist = _datalist(lesion_example)
    patients = {key: {_patient(i["image"]) for i in items} for key, items in datalist.items()}
    assert patients == {"training": {"brain1", "breast1", "lung1"}, "validation": {"lung2"}, "test": {"brain2"}}
    for items in datalist.values():
        assert all(_patient(i["label"]) == _patient(i["image"]) for i in items)
    with (lesion_example / "datalist.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{**item, "split": key} for key in KEYS for item in datalist[key]]
    assert json.loads((lesion_example / "classes.json").read_text()) == ["background", "lesion"]
    assert "Harvard Medical School" in (lesion_example / "NOTICE").read_text()
    summary = json.loads((lesion_example / "summary.json").read_text())
    assert summary["fold"] == 0 and {v["patient"] for v in summary["volumes"]} == PATIENTS


def test_lesion_labels_are_0_1_with_a_lesion_and_keep_the_geometry(lesion_example, lesion_sources):
    import SimpleITK as sitk

    from monai_sre.data.readers import SimpleITKReader

    data = lesion_sources[1] / "data"
    for item in (i for items in _datalist(lesion_example).values() for i in items):
        image, label = (
            sitk.ReadImage(str(lesion_example / item["image"])),
            sitk.ReadImage(str(lesion_example / item["label"])),
        )
        assert item["image"].endswith(".nrrd") and item["label"].endswith(".nrrd")
        assert image.GetPixelID() == sitk.sitkInt16 and label.GetPixelID() == sitk.sitkUInt8
        for g in ("GetSize", "GetSpacing", "GetOrigin", "GetDirection"):
            assert getattr(image, g)() == getattr(label, g)(), g
        mask = sitk.GetArrayFromImage(label)
        assert set(np.unique(mask).tolist()) == {0, 1}
        patient = _patient(item["image"])
        original = sitk.ReadImage(str(data / f"{patient}_image.nrrd"))
        original_mask = sitk.GetArrayFromImage(sitk.ReadImage(str(data / f"{patient}_label.nrrd")))
        assert mask.sum() == np.count_nonzero(original_mask)  # the whole lesion is inside the crop
        np.testing.assert_allclose(image.GetSpacing(), original.GetSpacing())
        np.testing.assert_allclose(image.GetDirection(), original.GetDirection())
        # a lesion voxel of the crop sits at the world position of a lesion voxel of the original, same intensity
        for z, y, x in np.argwhere(mask)[[0, -1]]:
            point = image.TransformIndexToPhysicalPoint((int(x), int(y), int(z)))
            i, j, k = original.TransformPhysicalPointToIndex(point)
            assert original_mask[k, j, i] != 0
            assert original.GetPixel(i, j, k) == image.GetPixel(int(x), int(y), int(z))
        # and the crop is a box of the original's voxels, no resampling
        start = original.TransformPhysicalPointToIndex(image.GetOrigin())
        box = sitk.RegionOfInterest(original, image.GetSize(), start)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(box), sitk.GetArrayFromImage(image))
        # the lung CTs (512 x 512 slices) are cropped to a box around the lesion
        if patient.startswith("lung"):
            assert max(image.GetSize()[:2]) < 256
    # the package's reader (the one a bundle uses) reads the NRRD label in x, y, z order with 0/1 values
    reader = SimpleITKReader()
    voxels, meta = reader.get_data(reader.read(str(lesion_example / "test" / "brain2_label.nrrd")))
    assert voxels.shape == tuple(sitk.ReadImage(str(lesion_example / "test" / "brain2_label.nrrd")).GetSize())
    assert set(np.unique(voxels).tolist()) == {0, 1}


def test_the_command_line_builds_the_fold_asked_for(script, lesion_sources, tmp_path):
    # the folds themselves (lesion_split) are the classification example's: tested in test_build_classification_example
    splits = [script.lesion_split(k) for k in range(5)]
    output = tmp_path / "fold2"  # from the extracted data/ folder
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            sys, "argv", [str(SCRIPT), "--output", str(output), "--lesions", str(lesion_sources[1]), "--fold", "2"]
        )
        script.main()
    patients = {key: sorted(_patient(i["image"]) for i in items) for key, items in _datalist(output).items()}
    assert patients == {key: sorted(names) for key, names in splits[2].items()}
    assert json.loads((output / "summary.json").read_text())["fold"] == 2


def test_lesion_crop_box(script):
    lesion = np.zeros((10, 40, 50), bool)  # z, y, x
    lesion[4:6, 10:12, 20:30] = True
    start, size = script.lesion_crop_box(lesion, (1.0, 2.0, 5.0), 8.0)  # margins 8, 4, 2 voxels (x, y, z)
    assert start == [12, 6, 2] and size == [26, 10, 6]
    assert script.lesion_crop_box(lesion, (1.0, 1.0, 1.0), 100.0) == ([0, 0, 0], [50, 40, 10])  # clipped
    assert script.lesion_crop_box(lesion, (1.0, 1.0, 1.0), None) == ([0, 0, 0], [50, 40, 10])
    with pytest.raises(ValueError, match="no lesion voxel"):
        script.lesion_crop_box(np.zeros_like(lesion), (1.0, 1.0, 1.0), 8.0)
