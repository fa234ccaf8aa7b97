from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.bundle import ConfigParser, verify_metadata

from monai_sre.networks.nets import sre_unet_light
from tests.bundles.conftest import (
    EVALUATE,
    INFER,
    MULTI_GPU_TRAIN,
    REPO,
    SCHEMA,
    SEGMENTATION_CLASSES,
    TRAIN,
    assert_fails_with,
    assert_onnx_export_matches,
    audit_and_evaluation,
    bundle_config,
    run_workflow,
)

BUNDLE = "sre_segmentation"
META = REPO / "bundles" / BUNDLE / "configs" / "metadata.json"


def test_metadata_verifies_against_the_local_schema():
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA))


def test_shipped_weights_reproduce_the_documented_metrics_and_keep_grid_symmetries_exact(tmp_path):
    """The evaluate command with no arguments: the shipped weights (``models/``, trained on the shipped tissue
    example) on the example's whole test slab, as the metadata's ``eval_metrics`` record them (golden values), and
    the label maps of the flipped slab are the flipped label map."""
    eval_dir = tmp_path / "eval"
    run_workflow(BUNDLE, EVALUATE, rotation_protocols=["flips"], eval_dir=str(eval_dir))
    golden = json.loads(META.read_text())["eval_metrics"]
    report = json.loads((eval_dir / "robustness_flips.json").read_text())
    assert report["upright"]["dice"] == pytest.approx(golden["test_mean_dice_upright"], abs=5e-4)
    for name in SEGMENTATION_CLASSES[1:]:
        assert report["upright"][f"dice_{name}"] == pytest.approx(golden[f"test_dice_{name}_upright"], abs=5e-4)
    assert report["summary"]["agreement_worst"] == 1.0 and report["summary"]["dice_gap"] == pytest.approx(0, abs=1e-12)


def test_the_shipped_run_names_its_data_relative_to_the_bundle():
    """models/training_domain.json: the shipped model's domain; its datalist is the bundle's own example, found
    wherever the bundle lies, and training with no arguments reads the same datalist and class names."""
    from monai_sre.runs import read_training_domain

    domain = read_training_domain(REPO / "bundles" / BUNDLE / "models")
    assert domain["datalist"] == str(REPO / "bundles" / BUNDLE / "data" / "tissue_example" / "datalist.json")
    assert (domain["classes"], domain["model_name"], domain["spacing"], domain["patch_size"]) == (
        SEGMENTATION_CLASSES, "sre_unet_light", 2.0, 16,
    )  # fmt: skip
    parser = ConfigParser()
    parser.read_config(bundle_config(BUNDLE, *TRAIN))
    parser["bundle_root"] = str(REPO / "bundles" / BUNDLE)
    assert Path(parser.get_parsed_content("datalist")).resolve() == Path(domain["datalist"])
    assert parser.get_parsed_content("classes") == SEGMENTATION_CLASSES  # from the datalist's decathlon labels


COLIN27 = Path("/usr/share/mricron/templates/ch2bet.nii.gz")


@pytest.mark.skipif(not COLIN27.is_file(), reason="needs mricron-data (Colin27)")
def test_the_shipped_model_segments_a_brain_it_was_not_trained_on(tmp_path):
    """inference.json alone on skull-stripped Colin27 (1 mm, another brain and scanner than the template): the label
    map lies on Colin27's grid, the brain is labelled, white matter is the brightest tissue, CSF the darkest."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(COLIN27, inputs / COLIN27.name)
    run_workflow(BUNDLE, INFER, workflow_type="infer", dataset_dir=str(inputs), output_dir=str(tmp_path / "out"))
    t1 = np.asarray(nib.load(COLIN27).dataobj).astype(float)
    labels = np.asarray(nib.load(tmp_path / "out" / "ch2bet_seg.nii.gz").dataobj)
    assert labels.shape == t1.shape
    brain = t1 > 0
    assert (labels[brain] > 0).mean() > 0.9 and (labels[~brain] > 0).mean() < 0.02
    fractions = np.bincount(labels[brain], minlength=4) / brain.sum()
    assert fractions[1:].min() > 0.02, fractions  # every tissue is found
    median = [np.median(t1[brain & (labels == k)]) for k in (1, 2, 3)]  # CSF < grey matter < white matter in T1
    assert median[0] < median[1] < median[2], median


def test_training_writes_the_best_model_a_resumable_checkpoint_and_the_training_domain(segmentation_run):
    assert (segmentation_run / "models" / "model.pt").is_file()
    assert list((segmentation_run / "models").glob("checkpoint_epoch=2.pt"))
    domain = json.loads((segmentation_run / "training_domain.json").read_text())
    assert domain["classes"] == SEGMENTATION_CLASSES
    assert (domain["model_name"], domain["patch_size"], domain["orientation"], domain["spacing"]) == (
        "sre_unet_light", 16, "RAS", 2.0,
    )  # fmt: skip
    assert 150 < domain["extent_mm"][0] <= domain["extent_mm"][1] < 250  # slabs of a 196 x 232 x 188 mm brain


def test_training_patches_are_balanced_by_class_and_rotated_with_their_labels(segmentation_example):
    """The training pipeline as the bundle builds it: every class is about as likely at a patch centre (the scarce
    CSF, 1 % of the slab, too), also where a class lies at the slab's edge; and image and label map are rotated
    together: labels stay whole classes, and they follow the image (grey matter darker than white matter in T1
    whatever the rotation)."""
    from monai_sre.data import segmentation_preprocessing

    datalist = json.loads((segmentation_example / "datalist.json").read_text())
    item = {key: str(segmentation_example / value) for key, value in datalist["training"][0].items()}
    for rotate, least in ((False, 30), (True, 15)):  # of 200, 50 expected per class; a rotated patch's centre
        transform = segmentation_preprocessing(  # voxel (8, 8, 8) is 0.9 voxels from the rotation's centre
            patch_size=16, num_classes=4, num_samples=200, random_rotation=rotate
        )
        transform.set_random_state(0)
        patches = transform(item)
        counts = np.bincount([int(p["label"][0, 8, 8, 8]) for p in patches], minlength=4)
        assert counts.min() >= least, counts  # background is 86 % of the slab's voxels
    grey, white = [], []
    for patch in patches:
        labels, image = patch["label"][0], patch["image"][0]
        assert set(torch.unique(labels).tolist()) <= {0.0, 1.0, 2.0, 3.0} and patch["image"].shape == (1, 16, 16, 16)
        grey.append(image[labels == 2])
        white.append(image[labels == 3])
    assert torch.cat(grey).median() < torch.cat(white).median() - 0.2


def test_evaluation_scores_whole_test_volumes_and_grid_symmetries_are_exact(segmentation_run):
    eval_dir = segmentation_run / "eval"
    run_workflow(BUNDLE, EVALUATE, run_dir=str(segmentation_run), rotation_protocols=["grid48", "haar-4"])
    metrics = dict(line.split(",") for line in (eval_dir / "metrics.csv").read_text().splitlines())
    assert 0 <= float(metrics["test_mean_dice"]) <= 1
    grid = json.loads((eval_dir / "robustness_grid48.json").read_text())
    assert len(grid["cases"]) == 48
    assert grid["summary"]["agreement_worst"] == 1.0  # the default network and the symmetric windows: exact
    assert grid["summary"]["dice_gap"] == pytest.approx(0, abs=1e-12)
    assert grid["upright"]["dice"] == pytest.approx(float(metrics["test_mean_dice"]), abs=1e-6)
    assert {f"dice_{name}" for name in SEGMENTATION_CLASSES[1:]} <= set(grid["upright"])
    haar = json.loads((eval_dir / "robustness_haar-4.json").read_text())
    assert len(haar["cases"]) == 4 and 0 <= haar["summary"]["agreement_mean"] <= 1


def _inputs(folder: Path, example: Path) -> dict[str, str]:
    """Test volumes in three formats and grids, plus bad ones; returns {bad file name: pattern of its refusal}."""
    test = json.loads((example / "small_datalist.json").read_text())["test"][0]
    shutil.copy(example / test["image"], folder / "slab.nii.gz")
    image = sitk.ReadImage(str(example / test["image"]))
    sitk.WriteImage(image, str(folder / "slab.nrrd"))
    reoriented = sitk.Resample(  # LPS storage order and 1.5 mm voxels: the prediction must come back on this grid
        sitk.DICOMOrient(image, "LPS"), [round(n * 2 / 1.5) for n in image.GetSize()], sitk.Transform(),
        sitk.sitkLinear, image.GetOrigin(), [1.5] * 3, image.GetDirection(),
    )  # fmt: skip
    sitk.WriteImage(reoriented, str(folder / "resampled.mha"))
    good = folder / "slab.nii.gz"
    (folder / "cut.nii.gz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (folder / "notes.nii").write_text("not an image\n")
    big = np.zeros((150, 150, 150), np.float32)
    big[20:130, 20:130, 20:130] = 1 + np.arange(110)[:, None, None]
    nib.save(nib.Nifti1Image(big, np.diag([4.0, 4.0, 4.0, 1.0])), folder / "whole_body.nii.gz")  # 600 mm
    return {
        "cut.nii.gz": "truncated",
        "notes.nii": "text, not image data",
        "whole_body.nii.gz": "spans 600 mm, much larger than the volumes the model was trained on",
    }


def test_inference_writes_label_maps_on_each_inputs_own_grid_and_refuses_each_bad_input(
    segmentation_run, segmentation_example, tmp_path
):
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    refusals = _inputs(inputs, segmentation_example)
    with pytest.raises(SystemExit) as exit_info:
        run_workflow(BUNDLE, INFER, workflow_type="infer", run_dir=str(segmentation_run), dataset_dir=str(inputs),
                     output_dir=str(out))  # fmt: skip
    message = str(exit_info.value.code)
    assert message.startswith("3 of 6 inputs were refused; the other 3 were predicted")
    for name, pattern in refusals.items():
        assert f"'{inputs / name}': " in message and pattern in message
    for name in ("slab.nii.gz", "slab.nrrd", "resampled.mha"):
        source = sitk.ReadImage(str(inputs / name))
        stem = name.split(".")[0]
        label_map = sitk.ReadImage(str(out / f"{stem}_seg.nii.gz"))
        assert label_map.GetSize() == source.GetSize()
        np.testing.assert_allclose(label_map.GetSpacing(), source.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(label_map.GetOrigin(), source.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(label_map.GetDirection(), source.GetDirection(), atol=1e-6)
        assert set(np.unique(sitk.GetArrayFromImage(label_map))) <= {0, 1, 2, 3}
    # the same anatomy on a finer, reoriented grid gets the same labels, up to resampling at tissue borders
    same = sitk.Resample(sitk.ReadImage(str(out / "resampled_seg.nii.gz")), sitk.ReadImage(str(inputs / "slab.nrrd")),
                         sitk.Transform(), sitk.sitkNearestNeighbor)  # fmt: skip
    agreement = np.mean(
        sitk.GetArrayFromImage(same) == sitk.GetArrayFromImage(sitk.ReadImage(str(out / "slab_seg.nii.gz")))
    )
    assert agreement > 0.8


def _bad_datalist(example: Path, folder: Path) -> Path:
    """The example's datalist with three bad training entries (and the good ones): a label map of another shape,
    one with values outside the 4 classes, and a truncated one."""
    datalist = json.loads((example / "small_datalist.json").read_text())
    good = {key: example / value for key, value in datalist["training"][0].items()}
    label = nib.load(good["label"])
    values = np.asarray(label.dataobj)
    nib.save(nib.Nifti1Image(values[:, :-1], label.affine), folder / "short_label.nii.gz")
    outside = values.copy()
    outside[0, 0, :2] = [5, 9]
    nib.save(nib.Nifti1Image(outside, label.affine), folder / "outside_label.nii.gz")
    data = good["label"].read_bytes()
    (folder / "cut_label.nii.gz").write_bytes(data[: len(data) // 2])
    datalist["training"] += [{"image": str(good["image"]), "label": str(folder / name)}
                             for name in ("short_label.nii.gz", "outside_label.nii.gz", "cut_label.nii.gz")]  # fmt: skip
    datalist["training"] = [{key: str(example / value) for key, value in entry.items()}
                            for entry in datalist["training"]]  # fmt: skip
    for split in ("validation", "test"):
        datalist[split] = [{key: str(example / value) for key, value in entry.items()} for entry in datalist[split]]
    path = folder / "bad.json"
    path.write_text(json.dumps(datalist))
    return path


def test_a_datalist_with_bad_label_maps_is_refused_before_training_naming_every_bad_entry(
    segmentation_example, tmp_path
):
    run = tmp_path / "run"
    datalist = _bad_datalist(segmentation_example, tmp_path)
    with pytest.raises(Exception) as info:
        run_workflow(BUNDLE, TRAIN, datalist=str(datalist), num_classes=4, run_dir=str(run))
    chain, error = [], info.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    message = next(m for m in chain if "cannot be used" in m)
    assert "3 of 5 entries" in message
    assert "entry 2:" in message and "short_label.nii.gz" in message and "98x35x94 voxels, image of 98x36x94" in message
    assert "entry 3:" in message and "[5, 9] outside 0..3" in message
    assert "entry 4:" in message and "truncated" in message
    assert not (run / "models").exists()
    assert_fails_with(ValueError, "pass --num_classes N", run_workflow, BUNDLE, TRAIN,  # a CSV names no classes
                      datalist=str(segmentation_example / "datalist.csv"), run_dir=str(run))  # fmt: skip


def test_a_second_run_into_the_same_folder_is_refused_unless_resumed_or_overwritten(segmentation_run):
    assert_fails_with(ValueError, "already holds an earlier run.*--resume true.*--overwrite true", run_workflow, BUNDLE, TRAIN, run_dir=str(segmentation_run),
                      datalist=json.loads((segmentation_run / "training_domain.json").read_text())["datalist"],
                      num_classes=4)  # fmt: skip


@pytest.mark.skipif(importlib.util.find_spec("torch.distributed") is None, reason="torch.distributed missing")
def test_two_process_ddp_training_on_cpu(segmentation_example, tmp_path):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "-m", "monai.bundle", "run", "--config_file", str(bundle_config(BUNDLE, *MULTI_GPU_TRAIN)),
        "--datalist", str(segmentation_example / "small_datalist.json"), "--num_classes", "4", "--max_epochs", "1",
        "--patch_size", "16", "--samples_per_volume", "2", "--model_name", "sre_unet_light", "--val_interval", "1",
        "--run_dir", str(tmp_path / "run"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "models" / "model.pt").exists()
    assert json.loads((tmp_path / "run" / "training_domain.json").read_text())["model_name"] == "sre_unet_light"


def test_a_classification_network_is_refused_by_name(segmentation_example, tmp_path):
    assert_fails_with(ValueError, "is a classification network; a segmentation network is needed", run_workflow,
                      BUNDLE, TRAIN, datalist=str(segmentation_example / "small_datalist.json"), num_classes=4,
                      model_name="group_resnet_light", run_dir=str(tmp_path / "run"))  # fmt: skip


def test_a_trained_run_exports_to_onnx_with_a_dynamic_batch(segmentation_run, tmp_path):
    """The docs' ONNX command, on the model of a run (TorchScript and verify_net_in_out: test_model_zoo.py)."""
    assert_onnx_export_matches(
        "sre_segmentation",
        segmentation_run,
        sre_unet_light(in_channels=1, out_channels=4),
        [1, 1, 16, 16, 16],
        tmp_path,
    )


def test_the_audit_of_a_run_reproduces_its_evaluation(segmentation_run, segmentation_example, tmp_path):
    """``python -m monai_sre audit`` on this bundle with a user's run: the classes come from the command line (the
    metadata describes the shipped model's), and the Dice per case equals the bundle's own evaluation (same seed)."""
    report, expected = audit_and_evaluation(
        BUNDLE, "haar-2", tmp_path, datalist=str(segmentation_example / "small_datalist.json"), num_classes=4,
        class_names=str(segmentation_example / "classes.json"), run_dir=str(segmentation_run),
    )  # fmt: skip
    assert report.settings["weights"] == str(segmentation_run / "models" / "model.pt")
    assert {f"dice_{name}" for name in SEGMENTATION_CLASSES[1:]} <= set(report.metrics)
    assert report.upright["dice"] == pytest.approx(expected["upright"]["dice"], abs=1e-6)
    assert report.values("dice") == pytest.approx([case["dice"] for case in expected["cases"]], abs=1e-6)
