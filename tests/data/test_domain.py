from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from monai_sre.data import (
    VolumeCheck,
    raise_if_refused,
    refuse_outside_domain,
    training_extent_mm,
    volume_extent_mm,
)


def _volume(path, shape, spacing, values=None):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 200 if values is None else values
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), path)
    return str(path)


def test_extent_is_the_largest_side_in_millimetres(tmp_path, anatomical_nii, ct_series):
    assert volume_extent_mm(_volume(tmp_path / "a.nii.gz", (30, 20, 10), (2.0, 3.0, 1.0))) == 60.0
    image = nib.load(anatomical_nii)
    assert volume_extent_mm(anatomical_nii) == pytest.approx(max(np.multiply(image.shape, image.header.get_zooms())))
    assert volume_extent_mm(ct_series) > 0  # a DICOM series folder: in-plane size and slice count
    assert training_extent_mm([{"image": str(anatomical_nii)}, _volume(tmp_path / "b.nii", (5, 5, 5), (1, 1, 1))])[
        0
    ] == pytest.approx(5.0)


def test_inputs_far_from_the_training_size_or_scale_are_refused_with_both_numbers(tmp_path):
    patch = _volume(tmp_path / "patch.nii.gz", (30, 30, 30), (2, 2, 2))
    head = _volume(tmp_path / "head.nii.gz", (100, 100, 100), (2, 2, 2))
    tiny = _volume(tmp_path / "tiny.nii.gz", (10, 10, 10), (2, 2, 2))
    scanner = _volume(
        tmp_path / "scanner.nii.gz", (30, 30, 30), (2, 2, 2), np.full((30, 30, 30), 9000.0) + np.arange(30.0)
    )
    check = VolumeCheck([{"image": p} for p in (patch, head, tiny, scanner)], [("gone.nii", "not found")])
    result = refuse_outside_domain(check, extent_mm=[60, 60], value_range=[0, 255], hint="use the map")
    assert result.good == [{"image": patch}]
    reasons = dict(result.bad)
    assert reasons["gone.nii"] == "not found"
    assert reasons[head].startswith("it spans 200 mm, much larger than the volumes the model was trained on (60 mm")
    assert "spans 20 mm, much smaller" in reasons[tiny] and reasons[tiny].endswith("cannot judge it (use the map)")
    assert "intensities span 9000..9029, outside the scale the model was trained on (0..255)" in reasons[scanner]
    assert refuse_outside_domain(check, extent_mm=[60, 60], tolerance=4).good[:3] == check.good[:3]


@pytest.mark.parametrize(
    "kwargs, pattern",
    [({"extent_mm": [60]}, "extent_mm must be"), ({"value_range": [5, 1]}, "value_range must be"),
     ({"extent_mm": [1, 2], "tolerance": 0.5}, "tolerance must be >= 1")],
)  # fmt: skip
def test_bad_domains_are_named(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        refuse_outside_domain(VolumeCheck([], []), **kwargs)


def test_a_run_that_refused_inputs_ends_with_one_message():
    raise_if_refused(VolumeCheck(["a"], []))  # nothing refused: nothing raised
    check = VolumeCheck(["a", "b"], [("c.nii", "truncated"), ("d.nii", "a 2D image")])
    with pytest.raises(ValueError, match=r"2 of 4 inputs were refused; the other 2 were predicted \(out.csv\)"):
        raise_if_refused(check, where="out.csv")
    with pytest.raises(SystemExit) as info:
        raise_if_refused(check, exit=True)
    assert "  - 'c.nii': truncated\n  - 'd.nii': a 2D image" in str(info.value.code)
