from __future__ import annotations

import numpy as np
import pytest

from monai_sre.networks.layers.bands import BandLayout

# DESIGN.md section 2: taps per band of the authors' default layout
AUTHORS_TABLE = [
    (3, 3, (1, 18)),
    (3, 5, (1, 18, 62)),
    (3, 7, (1, 26, 54, 98)),
    (3, 9, (1, 26, 54, 98, 210)),
    (2, 3, (1, 8)),
    (2, 5, (1, 8, 12)),
    (2, 7, (1, 8, 12, 16)),
    (2, 9, (1, 8, 12, 16, 32)),
    (1, 3, (1, 2)),
    (1, 5, (1, 2, 2)),
]


@pytest.mark.parametrize("spatial_dims, k, expected", AUTHORS_TABLE)
def test_default_layout_matches_authors_table(spatial_dims, k, expected):
    layout = BandLayout(spatial_dims, k)
    assert layout.num_bands == k // 2 + 1
    assert layout.band_sizes == expected


def _authors_masks(spatial_dims: int, k: int, num_bands: int) -> np.ndarray:
    """The authors' construction, re-derived independently: Euclidean distance transform, linspace edges."""
    from scipy import ndimage

    grid = np.ones((k,) * spatial_dims)
    grid[(k // 2,) * spatial_dims] = 0
    distance = ndimage.distance_transform_edt(grid)
    edges = np.linspace(distance.min(), k // 2 + 0.5, num_bands + 1)
    return np.stack([((distance >= lo) & (distance < hi)).reshape(-1) for lo, hi in zip(edges[:-1], edges[1:])])


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 3, 5, 7, 9])
def test_linear_layout_equals_authors_construction_for_every_valid_band_count(spatial_dims, k):
    checked = 0
    for num_bands in range(1, 12):
        masks = _authors_masks(spatial_dims, k, num_bands)
        if (masks.sum(1) == 0).any():  # the authors would leave a band empty: we refuse those (tested below)
            with pytest.raises(ValueError, match="without taps|num_bands must be between"):
                BandLayout(spatial_dims, k, num_bands=num_bands)
            continue
        np.testing.assert_array_equal(BandLayout(spatial_dims, k, num_bands=num_bands).basis(), masks)
        checked += 1
    assert checked >= 1


def test_integer_and_shell_layouts():
    integer = BandLayout(3, 7, band_layout="integer")
    assert integer.band_sizes == (1, 18, 62, 98)  # round(d) = 0, 1, 2, 3
    np.testing.assert_array_equal(np.round(integer.distances[integer.band_index == 2]).astype(int), 2)
    shell = BandLayout(3, 3, band_layout="shell")
    assert shell.band_sizes == (1, 6, 12)  # d = 0, 1, sqrt(2); corners (sqrt(3) >= 1.5) are zero
    assert BandLayout(2, 5, band_layout="shell").band_sizes == (1, 4, 4, 4, 8)
    assert BandLayout(3, 5, band_layout="integer", num_bands=2).band_sizes == (1, 18)


def test_anisotropic_spacing_measures_physical_distance():
    # spacing 1 x 1 x 2 mm: the tap one voxel away along the last axis is 2 mm away, like two voxels in-plane
    layout = BandLayout(3, (5, 5, 3), band_layout="shell", spacing=(1.0, 1.0, 2.0))
    flat = lambda *idx: np.ravel_multi_index(idx, (5, 5, 3))  # noqa: E731
    centre = (2, 2, 1)
    assert layout.band_index[flat(2, 2, 2)] == layout.band_index[flat(2, 4, 1)] == layout.band_index[flat(0, 2, 1)]
    assert layout.band_index[flat(2, 2, 2)] != layout.band_index[flat(2, 3, 1)]
    assert layout.band_index[flat(*centre)] == 0
    # only ratios matter
    np.testing.assert_array_equal(
        layout.basis(), BandLayout(3, (5, 5, 3), band_layout="shell", spacing=(0.5, 0.5, 1)).basis()
    )


def test_non_cubic_kernel_is_cut_at_the_inscribed_ball():
    layout = BandLayout(2, (3, 5))
    assert layout.radius == 1.5
    taps = layout.band_index.reshape(3, 5)
    assert (taps[:, 0] == -1).all() and (taps[:, 4] == -1).all()  # offsets of 2 along the long axis: d >= 1.5
    assert layout.band_sizes == (1, 8)
    # a flat 1 x 3 x 3 kernel inside a 3D conv keeps its in-plane bands
    assert BandLayout(3, (1, 3, 3)).band_sizes == (1, 8)


def test_projection_is_least_squares():
    layout = BandLayout(3, 5)
    dense = np.random.default_rng(0).normal(size=(4, layout.num_taps))
    expected = np.linalg.lstsq(layout.basis().T, dense.T, rcond=None)[0].T
    np.testing.assert_allclose(dense @ layout.projection(), expected, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(spatial_dims=4, kernel_size=3), "spatial_dims must be 1, 2 or 3, got 4"),
        (dict(spatial_dims=3, kernel_size=4), r"kernel_size must be odd .* got \(4, 4, 4\)"),
        (dict(spatial_dims=3, kernel_size=(3, 5)), r"kernel_size must be .* sequence of 3 .* got \(3, 5\)"),
        (dict(spatial_dims=3, kernel_size=3, num_bands=0), "num_bands must be between 1 and 3 .* got 0"),
        (dict(spatial_dims=3, kernel_size=3, num_bands=4), "num_bands must be between 1 and 3 .* got 4"),
        (dict(spatial_dims=3, kernel_size=3, num_bands=2.5), "num_bands must be an int or None, got 2.5"),
        (dict(spatial_dims=3, kernel_size=3, band_layout="gauss"), "gauss"),
        (dict(spatial_dims=3, kernel_size=3, spacing=(1, 1)), r"spacing must be .* sequence of 3 .* got \(1, 1\)"),
        (dict(spatial_dims=3, kernel_size=3, spacing=(1, 0, 1)), r"spacing must be finite and positive .* got"),
        (dict(spatial_dims=3, kernel_size=3, band_layout="shell", num_bands=2), "'shell' has exactly 3 bands"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BandLayout(**kwargs)
