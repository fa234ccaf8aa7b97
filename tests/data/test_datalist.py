from __future__ import annotations

import json
import logging
import re
import shutil

import pytest

from monai_sre.data import (
    VolumeCheck,
    class_names,
    list_volumes,
    load_classification_datalist,
    split_readable_volumes,
)
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


def test_a_csv_split_column_selects_the_rows_of_each_split(tmp_path, anatomical_nii):
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    rows = "image,label,split\nt1.nii,0,train\nt1.nii,1,Training\nt1.nii,1,val\nt1.nii,0,test\n"
    (tmp_path / "data.csv").write_text(rows)
    labels = {key: [r["label"] for r in load_classification_datalist(tmp_path / "data.csv", key, check_images=False)]
              for key in ("training", "validation", "test")}  # fmt: skip
    assert labels == {"training": [0, 1], "validation": [1], "test": [0]}
    (tmp_path / "odd.csv").write_text(rows + "t1.nii,0,holdout\n")
    with pytest.raises(ValueError, match=r"unknown value\(s\) \['holdout'\] in its 'split' column"):
        load_classification_datalist(tmp_path / "odd.csv", "test", check_images=False)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"image": "t1.nii", "label": 3}, r"entry 0: label 3 is outside 0..1"),
        ({"image": "t1.nii", "label": "two"}, "entry 0: label must be an integer, got 'two'"),
        ({"image": "gone.nii.gz", "label": 0}, r"entry 0: image '.*gone.nii.gz': not found"),
        ({"image": "bad.nii.gz", "label": 0}, r"entry 0: image '.*bad.nii.gz': text, not image data"),
        ({"label": 0}, r"entry 0: needs 'image' and 'label'"),
    ],
)
def test_bad_entries_fail_before_training_with_the_entry_named(tmp_path, anatomical_nii, entry, message):
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    (tmp_path / "bad.nii.gz").write_bytes(b"corrupt")
    (tmp_path / "data.json").write_text(json.dumps({"training": [entry]}))
    with pytest.raises(
        ValueError, match=rf"1 of 1 entry of datalist '.*data.json' \(training\) cannot be used:\n.*{message}"
    ):
        load_classification_datalist(tmp_path / "data.json", num_classes=2)


def test_every_bad_entry_is_listed_in_one_error(tmp_path, anatomical_nii, example4d_nii, ct_series, truncate):
    """Training reads every image completely before the first step: one error lists all bad entries."""
    shutil.copy(anatomical_nii, tmp_path / "t1.nii")
    truncate(anatomical_nii, tmp_path / "cut.nii.gz")
    shutil.copy(example4d_nii, tmp_path / "fmri.nii.gz")
    rows = ["t1.nii,0", "cut.nii.gz,1", f"{ct_series},1", "fmri.nii.gz,0", "gone.nii,1", "cut.nii.gz,7", "t1.nii,1"]
    (tmp_path / "data.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError) as raised:
        load_classification_datalist(tmp_path / "data.csv", num_classes=2)
    lines = str(raised.value).splitlines()
    assert re.match(r"4 of 7 entries of datalist '.*data.csv' \(training\) cannot be used:", lines[0])
    assert [line.split(":")[0] for line in lines[1:]] == ["  - entry 1", "  - entry 3", "  - entry 4", "  - entry 5"]
    assert re.search(r"cut.nii.gz': truncated: its image data end early", lines[1])
    assert re.search(r"fmri.nii.gz': 2 channels or time points \(a 4D image", lines[2])
    assert re.search(r"gone.nii': not found", lines[3])
    assert re.search(r"entry 5: label 7 is outside 0..1; image '.*cut.nii.gz': truncated", lines[4])
    # without reading images, only labels and missing files are checked
    (tmp_path / "data.csv").write_text("image,label\n" + "\n".join(rows[:4] + rows[6:]) + "\n")
    assert len(load_classification_datalist(tmp_path / "data.csv", check_images=False)) == 5
    with pytest.raises(ValueError, match=r"^1 of 5 entries .*:\n  - entry 1: image '.*cut.nii.gz': truncated.*\.$"):
        load_classification_datalist(tmp_path / "data.csv", channels=None)  # 4D accepted, truncation not


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


def test_inference_predicts_the_good_volumes_and_names_the_bad_ones(
    tmp_path, anatomical_nii, example4d_nii, ct_series, truncate, caplog
):
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(anatomical_nii, folder / "a.nii")
    truncate(anatomical_nii, folder / "b.nii.gz")
    shutil.copy(example4d_nii, folder / "c.nii.gz")
    (folder / "d.nii.gz").write_text("not an image")
    shutil.copytree(ct_series, folder / "series")
    (folder / ".ipynb_checkpoints").mkdir()  # hidden entries are not inputs
    good = [{"image": str(folder / "a.nii")}, {"image": str(folder / "series")}]

    with pytest.raises(ValueError, match=r"^3 of 5 volumes cannot be used:\n") as raised:
        list_volumes(folder)  # the default: nothing runs
    assert all(f"'{folder / name}': " in str(raised.value) for name in ("b.nii.gz", "c.nii.gz", "d.nii.gz"))

    result = split_readable_volumes(folder)
    assert isinstance(result, VolumeCheck) and result.good == good
    assert [(path, reason.split(" ")[0]) for path, reason in result.bad] == [
        (str(folder / "b.nii.gz"), "truncated:"),
        (str(folder / "c.nii.gz"), "2"),
        (str(folder / "d.nii.gz"), "text,"),
    ]

    with caplog.at_level(logging.WARNING, logger="monai_sre.data.datalist"):
        assert list_volumes(folder, on_error="skip") == good
    assert "3 of 5 volumes cannot be used" in caplog.text and "the other 2 are used" in caplog.text

    (tmp_path / "list.csv").write_text("image\ninputs/b.nii.gz\ninputs/gone.nii\n")
    with pytest.raises(ValueError, match=r"^2 of 2 volumes cannot be used:.*\n.*\n  - '.*gone.nii': not found"):
        list_volumes(tmp_path / "list.csv", on_error="skip")  # nothing usable: an error, not an empty list
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip', got 'return'"):
        list_volumes(folder, on_error="return")


def test_class_names_from_arguments_files_or_the_datalists_labels(tmp_path):
    assert class_names(None, 3) == ["class_0", "class_1", "class_2"]
    assert class_names(["bg", "a"], None) == ["bg", "a"]  # the count follows the names
    (tmp_path / "names.txt").write_text("bg\na\n\n")
    assert class_names(tmp_path / "names.txt", 2) == ["bg", "a"]
    decathlon = tmp_path / "dataset.json"
    decathlon.write_text(json.dumps({"labels": {"1": "csf", "0": "background", "2": "grey matter"}, "training": []}))
    assert class_names(None, None, datalist=decathlon) == ["background", "csf", "grey matter"]
    assert class_names(None, 3, datalist=decathlon) == ["background", "csf", "grey matter"]
    assert class_names(["x", "y"], None, datalist=decathlon) == ["x", "y"]  # given names win
    with pytest.raises(ValueError, match=r"class_names must be 2 distinct names \(num_classes\), got \['background'"):
        class_names(None, 2, datalist=decathlon)
    decathlon.write_text(json.dumps({"labels": {"0": "background", "2": "tumour"}}))
    with pytest.raises(ValueError, match=r"'labels' must map the class indices 0..N-1 to names, got \{'0'"):
        class_names(None, None, datalist=decathlon)
    decathlon.write_text(json.dumps({"training": []}))  # no labels, no count
    with pytest.raises(ValueError, match="num_classes"):
        class_names(None, None, datalist=decathlon)
