from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from monai_sre.data.tissue import TISSUE_ASSET

REQUIRES_TEMPLATE = pytest.mark.skipif(
    importlib.util.find_spec("nilearn") is None or importlib.util.find_spec("scipy") is None,
    reason="the dataset's source, the MNI template files in nilearn (and scipy), is not installed",
)


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("build_embedded_dataset")


def test_downsampling_averages_two_voxel_blocks_and_drops_an_odd_slice(script):
    volume = np.arange(5 * 4 * 2, dtype=np.uint8).reshape(5, 4, 2)
    out = script.downsample2(volume)
    assert out.shape == (2, 2, 1)
    assert out[1, 0, 0] == volume[2:4, 0:2, 0:2].mean()
    assert script.t1_volume_2mm(np.full((4, 4, 4), 300.0)).dtype == np.uint8  # clipped to the uint8 range


def test_candidates_follow_the_rules_and_keep_the_margin(script):
    pytest.importorskip("scipy")
    axis = np.arange(40) - 19.5
    radius = np.sqrt(sum(g**2 for g in np.meshgrid(axis, axis, axis, indexing="ij")))
    gm = np.where((radius >= 14) & (radius < 17), 1.0, 0.0)  # a cortex shell around white matter
    wm = np.where(radius < 14, 1.0, 0.0)
    cortical, deep, white, csf = script.tissue_candidates(gm, wm, 2.0, margin=5)
    assert len(cortical) and len(white) and not len(deep) and not len(csf)
    for voxels in (cortical, white):
        assert voxels.min() >= 5 and voxels.max() <= 40 - 5
    assert (radius[tuple(white.T)] < 14).all() and (radius[tuple(cortical.T)] >= 14).all()


@REQUIRES_TEMPLATE
def test_shipped_file_is_what_the_build_script_makes(tmp_path, script):
    output = tmp_path / "rebuilt.npz"
    subprocess.run([sys.executable, script.__file__, "--output", str(output)], check=True)
    with np.load(output) as rebuilt, np.load(TISSUE_ASSET) as shipped:
        assert sorted(rebuilt.files) == sorted(shipped.files)
        for key in shipped.files:
            np.testing.assert_array_equal(rebuilt[key], shipped[key], err_msg=key)
