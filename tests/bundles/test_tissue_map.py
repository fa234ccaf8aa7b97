"""The tissue bundle's ``tissue_map.json`` overlay: a whole T1 volume in, a NIfTI tissue map on its grid out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.bundle import ConfigWorkflow

from monai_sre.data import TISSUE_CLASSES
from tests.bundles.conftest import INFER, REPO, assert_fails_with, bundle_config, run_workflow

BUNDLE = "sre_resnet3d_tissue"
CONFIGS = (*INFER, "tissue_map")
META = REPO / "bundles" / BUNDLE / "configs" / "metadata.json"
# a real T1 (int16, LAS, 2 mm, 33 x 41 x 25: a slab through the ventricles) that nibabel ships for its tests
ANATOMICAL = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
COLIN27 = Path("/usr/share/mricron/templates")  # apt-get install mricron-data


def _folder(tmp_path: Path, *files: Path) -> Path:
    folder = tmp_path / "volumes"
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
    return folder


def _map(tmp_path: Path, source: Path, **overrides) -> tuple[nib.Nifti1Image, Path]:
    out = tmp_path / "out"
    run_workflow(
        BUNDLE, CONFIGS, workflow_type="infer", dataset_dir=str(_folder(tmp_path, source)), output_dir=str(out),
        **overrides,
    )  # fmt: skip
    stem = source.name.removesuffix(".gz").removesuffix(".nii")
    return nib.load(out / f"{stem}_tissue.nii.gz"), out / f"{stem}_probabilities.nii.gz"


def test_standard_inference_properties_are_present(tmp_path):
    workflow = ConfigWorkflow(
        config_file=bundle_config(BUNDLE, *CONFIGS), workflow_type="infer", meta_file=str(META),
        dataset_dir=str(_folder(tmp_path, ANATOMICAL)), output_dir=str(tmp_path / "out"),
    )  # fmt: skip
    workflow.initialize()
    assert not workflow.check_properties()


@pytest.mark.skipif(not ANATOMICAL.is_file(), reason="nibabel's test data is not installed")
def test_a_whole_volume_gives_a_tissue_map_on_the_input_grid(tmp_path):
    source = nib.load(ANATOMICAL)
    labels, probabilities = _map(tmp_path, ANATOMICAL, stride=4, save_probabilities=True)
    assert labels.shape == source.shape and labels.get_data_dtype() == np.uint8
    np.testing.assert_allclose(labels.affine, source.affine)  # LAS in, LAS out: Orientation and Spacing undone
    values = np.asarray(labels.dataobj)
    assert set(np.unique(values)) <= set(range(len(TISSUE_CLASSES) + 1))
    assert len(set(np.unique(values)) - {0}) > 1  # more than one tissue class
    maps = nib.load(probabilities)
    assert maps.shape == (*source.shape, len(TISSUE_CLASSES) + 1)  # background, then the four tissues
    np.testing.assert_allclose(maps.affine, source.affine)
    stack = np.asarray(maps.dataobj)
    np.testing.assert_allclose(stack.sum(-1), 1, atol=1e-4)
    np.testing.assert_array_equal(stack.argmax(-1), values)


def test_a_volume_whose_tissue_is_not_brighter_than_air_is_refused_naming_the_file(tmp_path):
    """Intensities all below zero (no MR has them; a CT of air would): no white-matter peak above 0."""
    values = np.random.default_rng(0).normal(-500, 50, (12, 12, 12)).astype(np.int16)
    dark = tmp_path / "dark.nii.gz"
    nib.save(nib.Nifti1Image(values, np.diag([2.0, 2.0, 2.0, 1.0])), dark)
    pattern = (
        r"intensities of '.*dark\.nii\.gz' onto the template: its white-matter peak -\d+(\.\d+)? is not above zero"
    )
    assert_fails_with(ValueError, pattern, _map, tmp_path, dark)
    assert not list((tmp_path / "out").glob("*.nii.gz"))


@pytest.mark.skipif(not ANATOMICAL.is_file(), reason="nibabel's test data is not installed")
def test_unreadable_volumes_are_reported_after_the_others_are_mapped(tmp_path):
    folder = _folder(tmp_path, ANATOMICAL)
    (folder / "broken.nii.gz").write_text("not an image")
    with pytest.raises(SystemExit, match=r"1 of 2 inputs were refused.*\n  - '.*broken\.nii\.gz'"):
        run_workflow(BUNDLE, CONFIGS, workflow_type="infer", dataset_dir=str(folder), output_dir=str(tmp_path / "out"),
                     stride=8)  # fmt: skip
    assert nib.load(tmp_path / "out" / "anatomical_tissue.nii.gz").shape == nib.load(ANATOMICAL).shape


@pytest.mark.skipif(not (COLIN27 / "ch2bet.nii.gz").is_file(), reason="needs mricron-data (Colin27)")
def test_colin27_map_is_plausible(tmp_path):
    """Skull-stripped Colin27 (1 mm, uint8, another scanner and brain than the template) at stride 4: white
    matter where the brain is brightest, grey matter where it is darker, CSF among the darkest voxels.
    15-35 s on 2 busy CPU cores (4253 patches; the group network takes about 2.5 times the SRE one's time)."""
    start = time.perf_counter()
    labels, _ = _map(tmp_path, COLIN27 / "ch2bet.nii.gz", stride=4)
    print(f"Colin27 map at stride 4: {time.perf_counter() - start:.1f} s")
    t1 = np.asarray(nib.load(COLIN27 / "ch2bet.nii.gz").dataobj).astype(float)
    values = np.asarray(labels.dataobj)
    assert values.shape == t1.shape
    brain = t1 > 0
    assert (values[brain] > 0).mean() > 0.95 and (values[~brain] > 0).mean() < 0.01  # the mask is the brain
    inside = brain & (values > 0)
    intensity, label = t1[inside], values[inside] - 1
    fractions = np.bincount(label, minlength=4) / label.size
    assert fractions.min() > 0.01, dict(zip(TISSUE_CLASSES, fractions))  # every class is found
    brightest = label[intensity >= np.quantile(intensity, 0.8)]
    assert (brightest == 2).mean() > 0.7, np.bincount(brightest, minlength=4)  # white matter
    darker = label[(intensity >= np.quantile(intensity, 0.2)) & (intensity < np.quantile(intensity, 0.6))]
    assert np.isin(darker, (0, 1)).mean() > 0.6, np.bincount(darker, minlength=4)  # grey matter
    darkest = label[intensity < np.quantile(intensity, 0.05)]
    assert (darkest == 3).mean() > 3 * fractions[3], np.bincount(darkest, minlength=4)  # CSF: among the darkest
    median = [np.median(intensity[label == k]) for k in range(4)]  # white > cortical, deep grey > internal CSF
    assert median[2] > max(median[0], median[1]) and min(median[0], median[1]) > median[3], median
