from __future__ import annotations

import json
import shutil

import pytest

from monai_sre.data import list_volumes, load_classification_datalist
from monai_sre.data.readers import IMAGE_SUFFIXES


def test_json_and_csv_datalists_resolve_and_check_real_files(tmp_path, anatomical_nii, ct_series):
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    datalist = {"training": [{"image": "t1.nii", "label": 1}, {"image": str(ct_series), "label": 0}], "validation": []}
    (tmp_path / "data.json").write_text(json.dumps(datalist))
    items = load_classification_datalist(tmp_path / "data.json", num_classes=2)
    assert items[0] == {"image": str(tmp_path / "t1.nii"), "label": 1} and items[1]["image"] == str(ct_series)
    (tmp_path / "data.csv").write_text(f"image,label,subject\nt1.nii,0,s1\n{ct_series},1,s2\n")
    rows = load_classification_datalist(tmp_path / "data.csv")
    assert rows[0]["subject"] == "s1" and rows[1]["label"] == 1


@pytest.mark.parametrize(
    "entry, error, message",
    [
        ({"image": "t1.nii", "label": 3}, ValueError, r"entry 0 of '.*': label 3 is outside 0..1"),
        ({"image": "t1.nii", "label": "two"}, ValueError, "label must be an integer, got 'two'"),
        ({"image": "gone.nii.gz", "label": 0}, FileNotFoundError, r"entry 0 .*image not found: '.*gone.nii.gz'"),
        ({"image": "bad.nii.gz", "label": 0}, ValueError, r"entry 0 .*cannot read image '.*bad.nii.gz'"),
        ({"label": 0}, ValueError, r"entry 0 .* needs 'image' and 'label'"),
    ],
)
def test_bad_entries_fail_before_training_with_the_entry_named(tmp_path, anatomical_nii, entry, error, message):
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    (tmp_path / "bad.nii.gz").write_bytes(b"corrupt")
    (tmp_path / "data.json").write_text(json.dumps({"training": [entry]}))
    with pytest.raises(error, match=message):
        load_classification_datalist(tmp_path / "data.json", num_classes=2)


def test_malformed_datalists(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_classification_datalist(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"training": []}))
    with pytest.raises(ValueError, match="has no key 'test'"):
        load_classification_datalist(tmp_path / "b.json", key="test")
    with pytest.raises(ValueError, match="has no entries"):
        load_classification_datalist(tmp_path / "b.json")
    (tmp_path / "c.csv").write_text("path,class\nx.nii,0\n")
    with pytest.raises(ValueError, match=r"needs 'image' and 'label' columns, got \['path', 'class'\]"):
        load_classification_datalist(tmp_path / "c.csv")
    with pytest.raises(FileNotFoundError, match="datalist not found"):
        load_classification_datalist(tmp_path / "none.json")


def test_list_volumes_finds_readable_images_and_series_in_a_folder(tmp_path, anatomical_nii, ct_series):
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(anatomical_nii, folder / "b.nii")
    shutil.copytree(ct_series, folder / "series")
    (folder / "notes.txt").write_text("not an image")
    items = list_volumes(folder)
    assert [item["image"] for item in items] == [str(folder / "b.nii"), str(folder / "series")]
    assert ".nii.gz" in IMAGE_SUFFIXES and ".nrrd" in IMAGE_SUFFIXES and ".mha" in IMAGE_SUFFIXES
    (tmp_path / "list.csv").write_text("image\ninputs/b.nii\n")
    assert list_volumes(tmp_path / "list.csv")[0]["image"] == str(folder / "b.nii")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no volumes in '.*empty' \(looked for .nii, .nii.gz"):
        list_volumes(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="inference input not found"):
        list_volumes(tmp_path / "nowhere")
    (tmp_path / "bad.csv").write_text("path\ninputs/b.nii\n")
    with pytest.raises(ValueError, match=r"needs 'image' column, got \['path'\]"):
        list_volumes(tmp_path / "bad.csv")
