from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_sre.data import TISSUE_CLASSES, load_classification_datalist, load_tissue_arrays
from monai_sre.data.readers import SimpleITKReader

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_classification_example.py"
SPLITS = {"train": ("train", "training", 20), "val": ("validation", "validation", 8), "test": ("test", "test", 8)}


def _script():
    """The script as a module (``scripts/`` is not a package: load the file by path)."""
    spec = importlib.util.spec_from_file_location("build_classification_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def arrays():
    return load_tissue_arrays()


@pytest.fixture(scope="module")
def tissue_example(script, tmp_path_factory):
    """The default tissue example, written by the command line (run in this process: torch is imported once)."""
    output = tmp_path_factory.mktemp("tissue") / "example"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [str(SCRIPT), "--output", str(output)])
        script.main()
    return output


def test_datalists_load_for_every_split_balanced_and_alike_in_json_and_csv(tissue_example):
    names = {}
    for folder, key, per_class in SPLITS.values():
        from_json = load_classification_datalist(tissue_example / "datalist.json", key=key, num_classes=4)
        from_csv = load_classification_datalist(tissue_example / f"{folder}.csv", num_classes=4)
        assert [(i["image"], i["label"]) for i in from_json] == [(i["image"], i["label"]) for i in from_csv]
        assert np.bincount([i["label"] for i in from_json]).tolist() == [per_class] * 4
        assert all(TISSUE_CLASSES[i["label"]] == i["class"] for i in from_csv)
        assert {Path(i["image"]).parent for i in from_json} == {tissue_example / folder}
        names[folder] = {Path(i["image"]).name for i in from_json}
    assert sorted(p.name for p in tissue_example.glob("*/*")) == sorted(set().union(*names.values()))
    assert json.loads((tissue_example / "classes.json").read_text()) == list(TISSUE_CLASSES)
    assert (tissue_example / "class_names.txt").read_text().splitlines() == list(TISSUE_CLASSES)
    assert "Louis Collins" in (tissue_example / "NOTICE").read_text()


def test_volumes_are_the_dataset_patches_placed_where_they_were_cut(tissue_example, arrays, script):
    reader = SimpleITKReader()
    for split, (folder, _, _) in SPLITS.items():
        with (tissue_example / f"{folder}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        for number, row in enumerate(rows):
            index = int(Path(row["image"]).name.split("_")[1].split(".")[0])  # the patch's index in its split
            assert int(row["label"]) == arrays[f"{split}_labels"][index, 0]
            image = nib.load(tissue_example / row["image"])
            data = np.asanyarray(image.dataobj)
            assert data.dtype == np.uint8 and data.shape == (30, 30, 30)
            np.testing.assert_array_equal(data, arrays[f"{split}_images"][index])
            # the centre voxel lands on the centre's position in the 2 mm template
            centre = arrays[f"{split}_centers"][index]
            np.testing.assert_allclose(image.affine @ [15, 15, 15, 1], arrays["affine"] @ [*centre, 1])
            np.testing.assert_allclose(image.affine, script.patch_affine(arrays["affine"], centre, 30))
            assert image.header["qform_code"] == image.header["sform_code"] == 2
            if number < 3:  # SimpleITK reads the same voxels with the same RAS affine
                voxels, meta = reader.get_data(reader.read(str(tissue_example / row["image"])))
                np.testing.assert_array_equal(voxels, data)
                np.testing.assert_allclose(meta["affine"], image.affine, atol=1e-5)
                np.testing.assert_allclose(meta["spacing"], [2.0, 2.0, 2.0])


def test_same_bytes_every_run(tissue_example, script, tmp_path):
    # the command line wrote the first; the function writes the second
    script.build_tissue_example(tmp_path / "again")
    first, second = _hashes(tissue_example), _hashes(tmp_path / "again")
    assert len(first) == 7 + 4 * (20 + 8 + 8) and first == second  # 7: datalists, class names, NOTICE


def test_options_and_refusals(script, tmp_path):
    rows = script.build_tissue_example(tmp_path / "small", per_class=(2, 1, 1), formats=("csv",))
    assert {folder: len(items) for folder, items in rows.items()} == {"train": 8, "validation": 4, "test": 4}
    assert not (tmp_path / "small" / "datalist.json").exists() and (tmp_path / "small" / "test.csv").is_file()
    with pytest.raises(FileExistsError, match="--overwrite"):
        script.build_tissue_example(tmp_path / "small", per_class=(1, 1, 1))
    script.build_tissue_example(tmp_path / "small", per_class=(1, 1, 1), formats=("json",), overwrite=True)
    assert sorted(p.name for p in (tmp_path / "small").iterdir()) == [
        "NOTICE",
        "class_names.txt",
        "classes.json",
        "datalist.json",
        "test",
        "train",
        "validation",
    ]
    assert len(list((tmp_path / "small").glob("*/*.nii.gz"))) == 3 * 4
    with pytest.raises(ValueError, match="between 1 and 100, got 101"):
        script.build_tissue_example(tmp_path / "big", per_class=(1, 101, 1))


@pytest.fixture(scope="module")
def lesion_example(pyradiomics_sdist, script, tmp_path_factory):
    output = tmp_path_factory.mktemp("lesions") / "example"
    script.build_lesion_example(pyradiomics_sdist, output)
    return output


def test_lesion_example_is_balanced_split_by_patient_and_keeps_each_volumes_geometry(lesion_example):
    import SimpleITK as sitk

    patients = {}
    for folder, key, count in (("train", "training", 12), ("validation", "validation", 4), ("test", "test", 4)):
        items = load_classification_datalist(lesion_example / "datalist.json", key=key, num_classes=2)
        rows = load_classification_datalist(lesion_example / f"{folder}.csv", num_classes=2)
        assert [(i["image"], i["label"]) for i in items] == [(r["image"], r["label"]) for r in rows]
        assert np.bincount([i["label"] for i in items]).tolist() == [count, count]
        patients[folder] = {r["patient"] for r in rows}
    assert patients == {"train": {"brain1", "breast1", "lung1"}, "validation": {"lung2"}, "test": {"brain2"}}
    assert json.loads((lesion_example / "classes.json").read_text()) == ["background", "lesion"]
    assert "Harvard Medical School" in (lesion_example / "NOTICE").read_text()
    # crops keep their volume's own spacing and direction (no resampling), and int16 intensities
    brain = sitk.ReadImage(str(lesion_example / "test" / "brain2_lesion_00.nrrd"))
    np.testing.assert_allclose(brain.GetSpacing(), [0.78125, 0.78125, 6.5], rtol=1e-5)
    np.testing.assert_allclose(brain.GetDirection(), [1, 0, 0, 0, -1, 0, 0, 0, 1])
    assert brain.GetPixelID() == sitk.sitkInt16 and brain.GetSize() == (51, 51, 6)
    lung = sitk.ReadImage(str(lesion_example / "validation" / "lung2_background_00.nrrd"))
    np.testing.assert_allclose(lung.GetSpacing(), [0.627, 0.627, 5.0], atol=1e-3)


def test_lesion_crops_hold_the_lesion_or_none_of_it(lesion_example, pyradiomics_sdist, script, tmp_path):
    import SimpleITK as sitk

    # the same bytes again, this time from the sdist's data/ folder rather than the tarball
    script._extract_lesion_files(pyradiomics_sdist, tmp_path)
    script.build_lesion_example(tmp_path / "data", tmp_path / "again")
    assert _hashes(lesion_example) == _hashes(tmp_path / "again")
    for patient, folder in (("brain2", "test"), ("lung2", "validation")):
        mask = sitk.ReadImage(str(tmp_path / "data" / f"{patient}_label.nrrd"))
        for path in sorted((lesion_example / folder).glob(f"{patient}_*.nrrd")):
            crop = sitk.ReadImage(str(path))
            index = mask.TransformPhysicalPointToIndex(crop.GetOrigin())
            inside = sitk.GetArrayFromImage(sitk.RegionOfInterest(mask, crop.GetSize(), index)) > 0
            assert inside.any() == ("_lesion_" in path.name), path.name


def test_folds_rotate_the_held_out_patient(script):
    splits = [script.lesion_split(k) for k in range(5)]
    patients = set(script.FOLD_ORDER)
    assert splits[0] == {"training": ("brain1", "breast1", "lung1"), "validation": ("lung2",), "test": ("brain2",)}
    assert sorted(s["test"][0] for s in splits) == sorted(patients)  # each patient tested once
    for k, split in enumerate(splits):
        assert split["validation"] == splits[(k + 1) % 5]["test"]
        assert set(split["training"]) == patients - set(split["validation"]) - set(split["test"])
    with pytest.raises(ValueError, match="between 0 and 4, got 5"):
        script.lesion_split(5)


def test_lesion_folds_move_whole_patients_and_keep_their_crops(lesion_example, pyradiomics_sdist, script, tmp_path):
    with pytest.raises(ValueError, match="between 0 and 4, got 5"):
        script.build_lesion_example(pyradiomics_sdist, tmp_path / "bad", fold=5)
    assert not (tmp_path / "bad").exists()  # refused before anything is written
    script.build_lesion_example(pyradiomics_sdist, tmp_path / "fold2", formats=("csv",), fold=2)
    rows = {folder: load_classification_datalist(tmp_path / "fold2" / f"{folder}.csv", num_classes=2)
            for folder in ("train", "validation", "test")}  # fmt: skip
    assert {folder: {r["patient"] for r in items} for folder, items in rows.items()} == {
        "train": {"brain2", "lung1", "lung2"},
        "validation": {"breast1"},
        "test": {"brain1"},
    }
    # a patient's crops are the same bytes in every fold: only their split changes
    moved = {path.name: path for path in (tmp_path / "fold2").glob("*/*.nrrd")}
    first = {path.name: path for path in lesion_example.glob("*/*.nrrd")}
    assert sorted(moved) == sorted(first)
    assert all(moved[name].read_bytes() == first[name].read_bytes() for name in first)
